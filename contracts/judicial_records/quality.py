"""Quality rules of ``judicial_records.certificate_request``: the applicant is a citizen with the identity the
population database records, and no request was received after the applicant's death."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from contracts.quality import NoIssueAfterDeath, PersonIsCitizen, QualityRules, as_date

__all__ = ["QUALITY"]


def _received(record: Mapping[str, Any]) -> list[date]:
    received = as_date(record.get("requested_on"))
    return [received] if received is not None else []


QUALITY = QualityRules(
    contract_name="judicial_records.certificate_request",
    links=(
        PersonIsCitizen(person="applicant"),
        NoIssueAfterDeath(person="applicant", dates=_received, what="certificate request"),
    ),
)
"""The declaration registered under ``gateway.quality_rules``."""
