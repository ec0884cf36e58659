"""The national driving licence database connector (``driving_licences``), a configuration of the REST connector."""

from .config import DrivingLicencesConnectorConfig
from .connector import DrivingLicencesConnector

__all__ = ["DrivingLicencesConnector", "DrivingLicencesConnectorConfig"]
