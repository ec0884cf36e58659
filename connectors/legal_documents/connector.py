"""The legal normative documents database connector."""

from __future__ import annotations

from connectors.sql import SqlConnector
from contracts.legal_documents import LegalDocument, LegalDocumentQuery

from .config import LegalDocumentsConnectorConfig

__all__ = ["LegalDocumentsConnector"]


class LegalDocumentsConnector(SqlConnector):
    """Serves ``legal_documents.document`` records from the province's legal normative documents table.

    Lookup by the database's document id; search by exact number (``12/2025/QĐ-UBND``) or by province, each
    optionally narrowed to a document type and a status.
    """

    slug = "legal_documents"
    title = "Legal normative documents database"
    description = "Resolutions and decisions of the province and its communes (Cơ sở dữ liệu văn bản QPPL)."
    contract = LegalDocument
    query_model = LegalDocumentQuery
    config_model = LegalDocumentsConnectorConfig
