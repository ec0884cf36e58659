"""Quality rules of ``business.enterprise``: the legal representative is a citizen with the identity the population
database records."""

from __future__ import annotations

from contracts.quality import PersonIsCitizen, QualityRules

__all__ = ["QUALITY"]

QUALITY = QualityRules(contract_name="business.enterprise", links=(PersonIsCitizen(person="legal_representative"),))
"""The declaration registered under ``gateway.quality_rules``."""
