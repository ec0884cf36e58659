"""Quality rules of ``driving_licences.licence``: the holder is a living citizen with the identity the population
database records, and no licence class was issued after the holder's death."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from contracts.quality import NoIssueAfterDeath, PersonIsCitizen, QualityRules, as_date

__all__ = ["QUALITY"]


def _issued(record: Mapping[str, Any]) -> list[date]:
    classes = record.get("classes")
    if not isinstance(classes, list):
        return []
    found = [as_date(c.get("issue_date")) for c in classes if isinstance(c, Mapping)]
    return [d for d in found if d is not None]


QUALITY = QualityRules(
    contract_name="driving_licences.licence",
    links=(
        NoIssueAfterDeath(person="holder", dates=_issued, what="licence class"),
        PersonIsCitizen(person="holder"),
    ),
)
"""The declaration registered under ``gateway.quality_rules``."""
