"""The national population database connector."""

from __future__ import annotations

from connectors.sql import SqlConnector
from contracts.population import Citizen, CitizenQuery

from .config import PopulationConnectorConfig


class PopulationConnector(SqlConnector):
    """Serves ``population.citizen`` records from the national population database's citizen table.

    Lookup by 12-digit personal identification number; search by full name plus date of birth (exact date,
    or year or month only) and/or by the old 9-digit identity card number.
    """

    slug = "population"
    title = "National population database"
    description = "Citizens of the national population database (Cơ sở dữ liệu quốc gia về dân cư)."
    contract = Citizen
    query_model = CitizenQuery
    config_model = PopulationConnectorConfig
