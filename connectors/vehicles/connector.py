"""The national vehicle registration database connector."""

from __future__ import annotations

from connectors.sql import SqlConnector
from contracts.vehicles import VehicleRegistration, VehicleRegistrationQuery

from .config import VehiclesConnectorConfig


class VehiclesConnector(SqlConnector):
    """Serves ``vehicles.registration`` records from the national vehicle registration database.

    Lookup by licence plate written without spaces (``49A-123.45``, ``49B1-234.56``); search by the owner's
    personal id, the engine number or the frame number.
    """

    slug = "vehicles"
    title = "National vehicle registration database"
    description = "Registered road vehicles and their owners (Cơ sở dữ liệu đăng ký phương tiện giao thông)."
    contract = VehicleRegistration
    query_model = VehicleRegistrationQuery
    config_model = VehiclesConnectorConfig
