"""The health insurance connector."""

from __future__ import annotations

from connectors.rest import RestConnector
from contracts.health_insurance import HealthInsuranceCard, HealthInsuranceCardQuery

from .config import HealthInsuranceConnectorConfig


class HealthInsuranceConnector(RestConnector):
    """Serves ``health_insurance.card`` records from Vietnam Social Security's REST API.

    Lookup by card code (the 10-digit social insurance code, or an older 15-character code); search by social
    insurance code, personal identification number, or full name with date of birth.
    """

    slug = "health_insurance"
    title = "National insurance database: health insurance cards"
    description = (
        "Health insurance cards and their validity (Cơ sở dữ liệu quốc gia về bảo hiểm), from Vietnam Social Security."
    )
    contract = HealthInsuranceCard
    query_model = HealthInsuranceCardQuery
    config_model = HealthInsuranceConnectorConfig
