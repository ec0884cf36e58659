"""The national population database connector (``population``), a configuration of the SQL connector."""

from .config import PopulationConnectorConfig
from .connector import PopulationConnector

__all__ = ["PopulationConnector", "PopulationConnectorConfig"]
