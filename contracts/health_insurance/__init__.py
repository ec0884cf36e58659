"""Contracts of the national insurance database (Cơ sở dữ liệu quốc gia về bảo hiểm): health insurance cards."""

from contracts.health_insurance.card_v1 import (
    CardStatus,
    CareFacility,
    HealthCardCode,
    HealthInsuranceCard,
    HealthInsuranceCardQuery,
)

__all__ = ["CardStatus", "CareFacility", "HealthCardCode", "HealthInsuranceCard", "HealthInsuranceCardQuery"]
