"""Quality rules of ``education.diploma``: the holder is a citizen with the identity the population database
records."""

from __future__ import annotations

from contracts.quality import PersonIsCitizen, QualityRules

__all__ = ["QUALITY"]

QUALITY = QualityRules(contract_name="education.diploma", links=(PersonIsCitizen(person="holder"),))
"""The declaration registered under ``gateway.quality_rules``."""
