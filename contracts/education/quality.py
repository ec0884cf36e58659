"""Quality rules of ``education.diploma``: the holder is a citizen with the identity the population database
records, and no diploma was issued after the holder's death."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from contracts.quality import NoIssueAfterDeath, PersonIsCitizen, QualityRules, as_date

__all__ = ["QUALITY"]


def _issued(record: Mapping[str, Any]) -> list[date]:
    issued = as_date(record.get("issued_on"))
    return [issued] if issued is not None else []


QUALITY = QualityRules(
    contract_name="education.diploma",
    links=(
        PersonIsCitizen(person="holder"),
        NoIssueAfterDeath(person="holder", dates=_issued, what="diploma"),
    ),
)
"""The declaration registered under ``gateway.quality_rules``."""
