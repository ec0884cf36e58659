"""Quality rules of ``legal_documents.document``: a document whose day of effect has come is no longer marked as
not yet in force (live)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from contracts.quality import Dimension, Problem, QualityRules, RecordCheck, Verdict, as_date

__all__ = ["QUALITY"]


def _status_current(record: Mapping[str, Any], today: date) -> Verdict:
    effective = as_date(record.get("effective_on"))
    if effective is None or record.get("status") is None:
        return None
    if record["status"] == "not_yet_in_force" and effective <= today:
        late = (today - effective).days
        return Problem(f"status: not yet in force {late} days after effective_on", weight=max(1, late))
    return True


QUALITY = QualityRules(
    contract_name="legal_documents.document",
    checks=(
        RecordCheck(
            "status_current",
            Dimension.LIVE,
            "The status follows the day of effect",
            "Tình trạng hiệu lực được cập nhật",
            _status_current,
        ),
    ),
)
"""The declaration registered under ``gateway.quality_rules``."""
