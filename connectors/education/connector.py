"""The education (diplomas) database connector."""

from __future__ import annotations

from connectors.sql import SqlConnector
from contracts.education import Diploma, DiplomaQuery

from .config import EducationConnectorConfig

__all__ = ["EducationConnector"]


class EducationConnector(SqlConnector):
    """Serves ``education.diploma`` records from the education database's diplomas table.

    Lookup by diploma number (``THPT-68-2019-001234``); search by the holder's personal identification number,
    optionally with the level.
    """

    slug = "education"
    title = "Diplomas database"
    description = "Diplomas of the national education system (Cơ sở dữ liệu văn bằng, chứng chỉ)."
    contract = Diploma
    query_model = DiplomaQuery
    config_model = EducationConnectorConfig
