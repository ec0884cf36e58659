"""Quality rules of ``health_insurance.card``: the insured person is a citizen with the identity the population
database records, and no card became valid after the holder's death."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from contracts.quality import NoIssueAfterDeath, PersonIsCitizen, QualityRules, as_date

__all__ = ["QUALITY"]


def _valid_from(record: Mapping[str, Any]) -> list[date]:
    start = as_date(record.get("valid_from"))
    return [start] if start is not None else []


QUALITY = QualityRules(
    contract_name="health_insurance.card",
    links=(
        PersonIsCitizen(person="holder"),
        NoIssueAfterDeath(person="holder", dates=_valid_from, what="health insurance card"),
    ),
)
"""The declaration registered under ``gateway.quality_rules``."""
