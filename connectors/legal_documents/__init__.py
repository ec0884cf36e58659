"""The legal normative documents database connector (``legal_documents``), a configuration of the SQL connector."""

from .config import LegalDocumentsConnectorConfig
from .connector import LegalDocumentsConnector

__all__ = ["LegalDocumentsConnector", "LegalDocumentsConnectorConfig"]
