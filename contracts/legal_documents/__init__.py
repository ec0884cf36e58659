"""Contracts of the province's legal normative documents database (Cơ sở dữ liệu văn bản quy phạm pháp luật)."""

from contracts.legal_documents.document_v1 import (
    DocumentStatus,
    DocumentType,
    IssuingBody,
    LegalDocument,
    LegalDocumentQuery,
)

__all__ = ["DocumentStatus", "DocumentType", "IssuingBody", "LegalDocument", "LegalDocumentQuery"]
