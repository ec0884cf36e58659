"""axis-gateway connector for the provincial database of cadres, civil servants and public employees
(database id ``civil_servants``), written as another agency would, outside the gateway's own packages."""

from .config import CivilServantsConfig
from .connector import CivilServantsConnector
from .contract import Category, Official, OfficialQuery

__all__ = ["Category", "CivilServantsConfig", "CivilServantsConnector", "Official", "OfficialQuery"]
