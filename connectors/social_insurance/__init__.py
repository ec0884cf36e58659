"""The social insurance connector (``social_insurance``): Vietnam Social Security's REST API, through the REST
connector."""

from .config import SocialInsuranceConnectorConfig
from .connector import SocialInsuranceConnector

__all__ = ["SocialInsuranceConnector", "SocialInsuranceConnectorConfig"]
