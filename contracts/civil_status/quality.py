"""Quality rules of ``civil_status.registration``: one birth or death registration per person, a birth or a death
registered on or after the day it happened (correct), and the person registered is the population database's
citizen (live)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import date
from typing import Any

from contracts.quality import (
    Dimension,
    Identity,
    PersonIsCitizen,
    Problem,
    QualityRules,
    RecordCheck,
    Verdict,
    as_date,
    text,
)

__all__ = ["QUALITY"]


def _identity(record: Mapping[str, Any]) -> Hashable | None:
    kind, person = record.get("kind"), record.get("person")
    if kind not in ("birth", "death") or not isinstance(person, Mapping) or not text(person.get("personal_id")):
        return None
    return kind, text(person.get("personal_id"))


def _query(record: Mapping[str, Any]) -> dict[str, Any] | None:
    identity = _identity(record)
    return None if identity is None else {"kind": record["kind"], "personal_id": record["person"]["personal_id"]}


def _after_event(record: Mapping[str, Any], today: date) -> Verdict:
    registered = as_date(record.get("registration_date"))
    kind = record.get("kind")
    details = record.get(str(kind)) if kind in ("birth", "death") else None
    if registered is None or not isinstance(details, Mapping):
        return None
    happened = as_date(details.get("date_of_birth" if kind == "birth" else "date_of_death"))
    if happened is None:
        return None
    if registered < happened:
        return Problem(f"{kind} registered {(happened - registered).days} days before it happened")
    return True


QUALITY = QualityRules(
    contract_name="civil_status.registration",
    identity=Identity(_identity, "kind and person", "loại đăng ký, người được đăng ký", _query),
    checks=(
        RecordCheck(
            "registered_after_event",
            Dimension.CORRECT,
            "Registered on or after the event",
            "Ngày đăng ký không trước sự kiện",
            _after_event,
        ),
    ),
    links=(PersonIsCitizen(person="person"),),
)
"""The declaration registered under ``gateway.quality_rules``."""
