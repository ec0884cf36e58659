"""The taxpayer status connector."""

from __future__ import annotations

from connectors.rest import RestConnector
from contracts.tax import Taxpayer, TaxpayerQuery

from .config import TaxConnectorConfig


class TaxConnector(RestConnector):
    """Serves ``tax.taxpayer`` records from the tax authority's REST API.

    Lookup by tax code: an enterprise's 10-digit code (its enterprise code), or an individual's 12-digit personal
    identification number; search by part of the name, optionally only organisations or only individuals.
    """

    slug = "tax"
    title = "Taxpayer register"
    description = "Taxpayers' registration status and managing tax office, from the tax authority."
    contract = Taxpayer
    query_model = TaxpayerQuery
    config_model = TaxConnectorConfig
