"""The business registration connector."""

from __future__ import annotations

from connectors.rest import RestConnector
from contracts.business import Enterprise, EnterpriseQuery

from .config import BusinessConnectorConfig


class BusinessConnector(RestConnector):
    """Serves ``business.enterprise`` records from the national business registry's REST API.

    Lookup by 10-digit enterprise code (tax code); search by part of the name and/or by the legal
    representative's personal identification number.
    """

    slug = "business"
    title = "National business registration database"
    description = (
        "Enterprises of the national business registration database (Cơ sở dữ liệu quốc gia về đăng ký doanh nghiệp)."
    )
    contract = Enterprise
    query_model = EnterpriseQuery
    config_model = BusinessConnectorConfig
