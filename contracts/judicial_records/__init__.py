"""Contracts of the judicial records database (Cơ sở dữ liệu lý lịch tư pháp)."""

from contracts.judicial_records.certificate_request_v1 import (
    CertificateRequest,
    CertificateRequestQuery,
    CertificateType,
    RequestStatus,
)

__all__ = ["CertificateRequest", "CertificateRequestQuery", "CertificateType", "RequestStatus"]
