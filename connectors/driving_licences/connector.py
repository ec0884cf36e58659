"""The national driving licence database connector."""

from __future__ import annotations

from connectors.rest import RestConnector
from contracts.driving_licences import DrivingLicence, DrivingLicenceQuery

from .config import DrivingLicencesConnectorConfig


class DrivingLicencesConnector(RestConnector):
    """Serves ``driving_licences.licence`` records from the national driving licence database's REST API.

    Lookup by the 12-digit licence number; search by the holder's personal identification number.
    """

    slug = "driving_licences"
    title = "National driving licence database"
    description = "Driving licences, their classes and holders (Cơ sở dữ liệu giấy phép lái xe)."
    contract = DrivingLicence
    query_model = DrivingLicenceQuery
    config_model = DrivingLicencesConnectorConfig
