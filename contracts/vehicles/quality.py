"""Quality rules of ``vehicles.registration``: a vehicle is identified by its frame number; the owner is a living
citizen with the identity the population database records, and no vehicle is registered after the owner's death."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import date
from typing import Any

from contracts.quality import Identity, NoIssueAfterDeath, PersonIsCitizen, QualityRules, as_date, text

__all__ = ["QUALITY"]


def _identity(record: Mapping[str, Any]) -> Hashable | None:
    frame = text(record.get("frame_number"))
    return frame.upper() if frame else None


def _query(record: Mapping[str, Any]) -> dict[str, Any] | None:
    frame = text(record.get("frame_number"))
    return {"frame_number": frame} if frame else None


def _registered(record: Mapping[str, Any]) -> list[date]:
    registered = as_date(record.get("registration_date"))
    return [registered] if registered is not None else []


QUALITY = QualityRules(
    contract_name="vehicles.registration",
    identity=Identity(_identity, "frame number", "số khung", _query),
    links=(
        NoIssueAfterDeath(person="owner", dates=_registered, what="vehicle registration"),
        PersonIsCitizen(person="owner"),
    ),
)
"""The declaration registered under ``gateway.quality_rules``."""
