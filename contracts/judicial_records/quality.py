"""Quality rules of ``judicial_records.certificate_request``: the applicant is a citizen with the identity the
population database records."""

from __future__ import annotations

from contracts.quality import PersonIsCitizen, QualityRules

__all__ = ["QUALITY"]

QUALITY = QualityRules(
    contract_name="judicial_records.certificate_request", links=(PersonIsCitizen(person="applicant"),)
)
"""The declaration registered under ``gateway.quality_rules``."""
