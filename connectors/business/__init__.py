"""The business registration connector (``business``): the national business registry's REST API, through the
REST connector."""

from .config import BusinessConnectorConfig
from .connector import BusinessConnector

__all__ = ["BusinessConnector", "BusinessConnectorConfig"]
