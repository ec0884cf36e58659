"""The education (diplomas) database connector (``education``), a configuration of the SQL connector."""

from .config import EducationConnectorConfig
from .connector import EducationConnector

__all__ = ["EducationConnector", "EducationConnectorConfig"]
