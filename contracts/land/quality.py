"""Quality rules of ``land.parcel``: the holder of the land use rights is a citizen with the identity the population
database records, and no certificate was issued after the holder's death."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from contracts.quality import NoIssueAfterDeath, PersonIsCitizen, QualityRules, as_date

__all__ = ["QUALITY"]


def _issued(record: Mapping[str, Any]) -> list[date]:
    issued = as_date(record.get("certificate_issue_date"))
    return [issued] if issued is not None else []


QUALITY = QualityRules(
    contract_name="land.parcel",
    links=(
        PersonIsCitizen(person="owner"),
        NoIssueAfterDeath(person="owner", dates=_issued, what="land use right certificate"),
    ),
)
"""The declaration registered under ``gateway.quality_rules``."""
