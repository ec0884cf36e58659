"""The national land database connector (``land``), a configuration of the SQL connector."""

from .config import LandConnectorConfig
from .connector import LandConnector

__all__ = ["LandConnector", "LandConnectorConfig"]
