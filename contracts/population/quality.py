"""Quality rules of ``population.citizen``: a complete citizen record has a household, a relation to its head and a
marital status; a person is identified by name, date of birth, gender and birth province; a death registered in
the civil status database is recorded here (live)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from contracts.names import normalize_name
from contracts.quality import DeathRecorded, Identity, QualityRules, as_partial_date

__all__ = ["QUALITY"]


def _identity(record: Mapping[str, Any]) -> Hashable | None:
    name, born = record.get("full_name"), as_partial_date(record.get("date_of_birth"))
    if not isinstance(name, str) or born is None or record.get("gender") is None:
        return None
    registered = record.get("place_of_birth_registration")
    province = registered.get("province_code") if isinstance(registered, Mapping) else None
    return normalize_name(name), str(born), str(record["gender"]), province


def _query(record: Mapping[str, Any]) -> dict[str, Any] | None:
    name, born = record.get("full_name"), as_partial_date(record.get("date_of_birth"))
    return {"full_name": name, "date_of_birth": str(born)} if isinstance(name, str) and born is not None else None


QUALITY = QualityRules(
    contract_name="population.citizen",
    expected_fields=("household_id", "relation_to_head", "marital_status"),
    identity=Identity(
        _identity,
        "name, birth date, gender, birth province",
        "họ tên, ngày sinh, giới tính, nơi đăng ký khai sinh",
        _query,
    ),
    links=(DeathRecorded(source="civil_status.registration"),),
)
"""The declaration registered under ``gateway.quality_rules``."""
