"""The taxpayer status connector (``tax``): the tax authority's REST API, through the REST connector."""

from .config import TaxConnectorConfig
from .connector import TaxConnector

__all__ = ["TaxConnector", "TaxConnectorConfig"]
