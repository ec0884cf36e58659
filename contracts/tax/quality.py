"""Quality rules of ``tax.taxpayer``: an individual taxpayer is a citizen with the identity the population database
records, and is managed by a tax office of the province of their permanent residence (a move reached the tax
authority: live)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.quality import MoveRecorded, PersonIsCitizen, QualityRules, text

__all__ = ["QUALITY"]


def _office_province(record: Mapping[str, Any]) -> str | None:
    """The province of the managing tax office: the first two digits of its code."""
    office = record.get("managing_tax_office")
    code = text(office.get("code")) if isinstance(office, Mapping) else None
    return code[:2] if code is not None and len(code) == 5 and code.isdigit() else None


QUALITY = QualityRules(
    contract_name="tax.taxpayer",
    links=(
        PersonIsCitizen(person="individual"),
        MoveRecorded(
            person="individual",
            province=_office_province,
            what="managing tax office",
            what_vi="cơ quan thuế quản lý",
        ),
    ),
)
"""The declaration registered under ``gateway.quality_rules``."""
