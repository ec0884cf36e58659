"""The health insurance connector (``health_insurance``): Vietnam Social Security's card API, through the REST
connector."""

from .config import HealthInsuranceConnectorConfig
from .connector import HealthInsuranceConnector

__all__ = ["HealthInsuranceConnector", "HealthInsuranceConnectorConfig"]
