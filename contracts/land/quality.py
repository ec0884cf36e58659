"""Quality rules of ``land.parcel``: the holder (and the co-holder) of the land use rights are citizens with the
identity the population database records."""

from __future__ import annotations

from contracts.quality import PersonIsCitizen, QualityRules

__all__ = ["QUALITY"]

QUALITY = QualityRules(contract_name="land.parcel", links=(PersonIsCitizen(person="owner"),))
"""The declaration registered under ``gateway.quality_rules``."""
