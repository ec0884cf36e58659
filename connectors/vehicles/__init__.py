"""The national vehicle registration database connector (``vehicles``), a configuration of the SQL connector."""

from .config import VehiclesConnectorConfig
from .connector import VehiclesConnector

__all__ = ["VehiclesConnector", "VehiclesConnectorConfig"]
