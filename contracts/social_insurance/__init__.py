"""Contracts of the national insurance database (Cơ sở dữ liệu quốc gia về bảo hiểm): social insurance."""

from contracts.social_insurance.participant_v1 import (
    ContributionPeriod,
    Participant,
    ParticipantQuery,
    ParticipantStatus,
    ParticipationType,
)

__all__ = ["ContributionPeriod", "Participant", "ParticipantQuery", "ParticipantStatus", "ParticipationType"]
