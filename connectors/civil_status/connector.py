"""The electronic civil status database connector."""

from __future__ import annotations

from connectors.sql import SqlConnector
from contracts.civil_status import CivilStatusRegistration, CivilStatusRegistrationQuery

from .config import CivilStatusConnectorConfig


class CivilStatusConnector(SqlConnector):
    """Serves ``civil_status.registration`` records (births, marriages, deaths) from the electronic civil status
    database's registrations table.

    Lookup by registration id (``KS-24781-1985-000123``); search by the registered person's personal id (births
    and deaths), by a spouse's (marriages), optionally narrowed to one kind.
    """

    slug = "civil_status"
    title = "Electronic civil status database"
    description = "Birth, marriage and death registrations (Cơ sở dữ liệu hộ tịch điện tử)."
    contract = CivilStatusRegistration
    query_model = CivilStatusRegistrationQuery
    config_model = CivilStatusConnectorConfig
