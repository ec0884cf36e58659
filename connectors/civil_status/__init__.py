"""The electronic civil status database connector (``civil_status``), a configuration of the SQL connector."""

from .config import CivilStatusConnectorConfig
from .connector import CivilStatusConnector

__all__ = ["CivilStatusConnector", "CivilStatusConnectorConfig"]
