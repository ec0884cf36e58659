"""The social insurance connector."""

from __future__ import annotations

from connectors.rest import RestConnector
from contracts.social_insurance import Participant, ParticipantQuery

from .config import SocialInsuranceConnectorConfig


class SocialInsuranceConnector(RestConnector):
    """Serves ``social_insurance.participant`` records from Vietnam Social Security's REST API.

    Lookup by 10-digit social insurance code; search by personal identification number, or by full name with
    date of birth (exact, or year or month only).
    """

    slug = "social_insurance"
    title = "National insurance database: social insurance"
    description = (
        "Social insurance participants and their contribution periods (Cơ sở dữ liệu quốc gia về bảo hiểm), "
        "from Vietnam Social Security."
    )
    contract = Participant
    query_model = ParticipantQuery
    config_model = SocialInsuranceConnectorConfig
