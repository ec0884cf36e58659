"""The judicial records database connector."""

from __future__ import annotations

from connectors.soap import SoapConnector
from contracts.judicial_records import CertificateRequest, CertificateRequestQuery

from .config import JudicialRecordsConfig

__all__ = ["JudicialRecordsConnector"]


class JudicialRecordsConnector(SoapConnector):
    """Serves ``judicial_records.certificate_request`` records from the judicial records SOAP service.

    Lookup by request number (``LLTP-68-2025-000123``); search by the applicant's personal identification
    number, optionally with the request's status.
    """

    slug = "judicial_records"
    title = "Judicial records database"
    description = "Requests for judicial record certificates (Cơ sở dữ liệu lý lịch tư pháp), over SOAP."
    contract = CertificateRequest
    query_model = CertificateRequestQuery
    config_model = JudicialRecordsConfig
