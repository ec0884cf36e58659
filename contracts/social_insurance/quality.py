"""Quality rules of ``social_insurance.participant``: the insured person is a citizen with the identity the
population database records, and a death the population database records reached the insurance book (live)."""

from __future__ import annotations

from contracts.quality import DeathRecorded, PersonIsCitizen, QualityRules

__all__ = ["QUALITY"]

QUALITY = QualityRules(
    contract_name="social_insurance.participant",
    links=(
        PersonIsCitizen(person="participant"),
        DeathRecorded(source="population.citizen", person="participant", field="date_of_death"),
    ),
)
"""The declaration registered under ``gateway.quality_rules``."""
