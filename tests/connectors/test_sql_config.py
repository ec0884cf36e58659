"""Configuring the SQL connector and the population connector: mistakes are readable errors, never crashes.

Every bad configuration must raise :class:`ConnectorConfigError` (the gateway then reports the database as not
loaded) with a message naming what is wrong, and the database URL, which may carry a password, must never show.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from support import PlantedSearch

from connectors.base import ConnectorConfigError, OperationNotSupported
from connectors.population import PopulationConnector, PopulationConnectorConfig
from connectors.population import mapping as population_mapping
from connectors.sql import SqlConnector, SqlConnectorConfig
from contracts.population import Citizen, CitizenQuery

SECRET_URL = "postgresql://reader:S3cret-Pa55@sector-db.example:5432/population"
SECRETS = ("S3cret-Pa55", SECRET_URL, "reader:S3cret")


def _population(**overrides: Any) -> dict[str, Any]:
    return {"url": SECRET_URL, **overrides}


def _generic(**overrides: Any) -> dict[str, Any]:
    """The population table served through the generic connector."""
    return {
        "url": SECRET_URL,
        "contract": "population.citizen",
        "table": population_mapping.TABLE,
        "fields": dict(population_mapping.FIELDS),
        "value_maps": {k: dict(v) for k, v in population_mapping.VALUE_MAPS.items()},
        **overrides,
    }


def _config_error(connector: type[SqlConnector], raw: dict[str, Any]) -> ConnectorConfigError:
    with pytest.raises(ConnectorConfigError) as info:
        connector.from_config(raw)
    error = info.value
    text = " ".join([str(error), error.message, *error.errors])
    for secret in SECRETS:
        assert secret not in text, "the database URL leaked into a configuration error"
    assert error.message == str(error)
    return error


def test_the_defaults_are_valid() -> None:
    connector = PopulationConnector.from_config({"url": SECRET_URL})
    assert connector.config.table == "cong_dan"
    assert connector.contract is Citizen
    assert connector.query_model is CitizenQuery
    assert SqlConnector.from_config(_generic()).contract is Citizen


def test_missing_url() -> None:
    error = _config_error(PopulationConnector, {})
    assert "invalid configuration for connector 'population'" in error.message
    assert error.errors == ["url: Field required"]


@pytest.mark.parametrize(
    "table",
    [
        "cong_dan; DROP TABLE x",
        "a b",
        "",
        "1cong_dan",
        "cong-dan",
        '"cong_dan"',
        "công_dân",
        "x" * 64,
        "public.cong_dan",
    ],
)
def test_table_must_be_a_plain_identifier(table: str) -> None:
    error = _config_error(PopulationConnector, _population(table=table))
    assert error.errors and error.errors[0].startswith("table: ")
    assert "not a plain SQL identifier" in error.message


@pytest.mark.parametrize("schema", ["public; DROP SCHEMA x", "a b", "x.y"])
def test_schema_must_be_a_plain_identifier(schema: str) -> None:
    error = _config_error(PopulationConnector, _population(db_schema=schema))
    assert error.errors[0].startswith("db_schema: ")


@pytest.mark.parametrize("column", ["so_dinh_danh; DROP TABLE x", "so dinh danh", "so_dinh_danh--", "(select 1)"])
def test_mapped_columns_must_be_plain_identifiers(column: str) -> None:
    fields = {**population_mapping.FIELDS, "personal_id": column}
    error = _config_error(PopulationConnector, _population(fields=fields))
    assert error.errors[0].startswith("fields: ")
    assert repr(column) in error.message


def test_search_filter_columns_must_be_plain_identifiers() -> None:
    filters = {"full_name": {"column": "ho_ten OR 1=1", "match": "exact"}}
    error = _config_error(PopulationConnector, _population(search_filters=filters))
    assert error.errors[0].startswith("search_filters.full_name.column: ")


def test_search_filter_match_must_be_known() -> None:
    filters = {"full_name": {"column": "ho_ten", "match": "contains"}}
    error = _config_error(PopulationConnector, _population(search_filters=filters))
    assert error.errors[0].startswith("search_filters.full_name.match: ")
    assert "'exact' or 'prefix'" in error.message


@pytest.mark.parametrize("path", ["nickname", "permanent_address.street", "full_name.family", "hometown.ward_code.x"])
def test_field_path_not_in_the_contract(path: str) -> None:
    fields = {**population_mapping.FIELDS, path: "ho_ten"}
    error = _config_error(PopulationConnector, _population(fields=fields))
    assert "fields not in population.citizen@1" in error.message
    assert path in error.message


@pytest.mark.parametrize("path", ["permanent_address..line", ".full_name", "full name", "gender-code"])
def test_field_path_must_be_dotted_names(path: str) -> None:
    fields = {**population_mapping.FIELDS, path: "ho_ten"}
    error = _config_error(PopulationConnector, _population(fields=fields))
    assert "is not a field path" in error.message


def test_nested_field_paths_of_the_contract_are_accepted() -> None:
    fields = {**population_mapping.FIELDS, "hometown.province_name": "que_quan_tinh"}
    assert PopulationConnector.from_config(_population(fields=fields)).config.fields == fields


def test_mapping_without_the_record_key() -> None:
    fields = {k: v for k, v in population_mapping.FIELDS.items() if k != "personal_id"}
    error = _config_error(PopulationConnector, _population(fields=fields))
    assert "lacks the record key 'personal_id'" in error.message


def test_search_filter_for_a_field_the_query_lacks() -> None:
    filters = {**population_mapping.SEARCH_FILTERS, "gender": {"column": "gioi_tinh"}}
    error = _config_error(PopulationConnector, _population(search_filters=filters))
    assert "search filters for fields the query lacks: gender" in error.message


def test_value_map_for_a_field_that_is_not_mapped() -> None:
    value_maps = {**population_mapping.VALUE_MAPS, "gendre": {"1": "male"}}
    error = _config_error(PopulationConnector, _population(value_maps=value_maps))
    assert "gendre" in error.message


def test_unknown_time_zone() -> None:
    error = _config_error(PopulationConnector, _population(naive_datetime_timezone="Asia/Sai_Gon"))
    assert error.errors[0].startswith("naive_datetime_timezone: ")
    assert "IANA time zone" in error.message


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"url": SECRET_URL, "tabel": "cong_dan"}, "tabel"),
        ({"url": SECRET_URL, "timeout_seconds": 0}, "timeout_seconds"),
        ({"url": SECRET_URL, "timeout_seconds": "soon"}, "timeout_seconds"),
        ({"url": SECRET_URL, "pool_size": 0}, "pool_size"),
        ({"url": SECRET_URL, "fields": {"full_name": "ho_ten"}}, "personal_id"),
        ({"url": SECRET_URL, "fields": ["personal_id"]}, "fields"),
        ({"url": SECRET_URL, "value_maps": "gender"}, "value_maps"),
        ({"url": 42}, "url"),
        ({"url": None}, "url"),
        ({"url": {"host": "db"}}, "url"),
    ],
)
def test_wrong_types_and_values_are_config_errors(raw: dict[str, Any], field: str) -> None:
    error = _config_error(PopulationConnector, raw)
    assert field in error.message
    assert all(e.split(": ")[0] for e in error.errors)  # every listed error names where it is


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "postgresql://reader:S3cret-Pa55@sector-db.example:port/population",
        "nosuchdb://reader:S3cret-Pa55@sector-db.example/population",
        "mysql+pymysql://reader@127.0.0.1/population",  # a driver that is not asyncio
    ],
)
def test_unusable_url_is_a_config_error_without_the_url(url: str) -> None:
    error = _config_error(PopulationConnector, {"url": url})
    assert error.errors and error.errors[0].startswith("url: ")
    assert url not in error.message


@pytest.mark.parametrize("contract", ["nope", "population.citizen@99", "population.citizen@x", "", "@1"])
def test_generic_connector_with_an_unknown_contract(contract: str) -> None:
    error = _config_error(SqlConnector, _generic(contract=contract))
    assert error.message == f"invalid configuration for connector 'sql': unknown contract {contract!r}"
    assert error.errors == [f"unknown contract {contract!r}"]


def test_generic_connector_needs_a_contract() -> None:
    raw = _generic()
    del raw["contract"]
    error = _config_error(SqlConnector, raw)
    assert "needs a contract" in error.message


def test_generic_connector_search_filters_must_name_query_fields() -> None:
    filters = {**population_mapping.SEARCH_FILTERS, "household_id": {"column": "ma_ho"}}
    error = _config_error(SqlConnector, _generic(contract="population.citizen", search_filters=filters))
    assert "search filters for fields the query lacks: household_id" in error.message


@pytest.mark.anyio
async def test_generic_connector_searches_with_the_contracts_query_model(
    sector_url: str, planted: PlantedSearch
) -> None:
    generic = SqlConnector.from_config(
        _generic(url=sector_url, contract="population.citizen", search_filters=population_mapping.SEARCH_FILTERS)
    )
    assert generic.query_model is CitizenQuery
    query = CitizenQuery(full_name=planted.full_name.upper(), date_of_birth=str(planted.year))
    async with generic, PopulationConnector.from_config({"url": sector_url}) as population:
        page = await generic.search(query, limit=100)
        assert [r.record_id() for r in page.items] == list(planted.personal_ids)
        assert page.items == (await population.search(query, limit=100)).items


@pytest.mark.anyio
async def test_generic_connector_serves_records_but_not_search(sector_url: str, planted: PlantedSearch) -> None:
    generic = SqlConnector.from_config(_generic(url=sector_url, contract="population.citizen@1"))
    assert generic.contract is Citizen
    assert generic.query_model is None
    pid = planted.personal_ids[0]
    async with generic, PopulationConnector.from_config({"url": sector_url}) as population:
        record = await generic.get(pid)
        assert isinstance(record, Citizen)
        assert record == await population.get(pid)
        assert record.full_name == planted.full_name
        assert (await generic.check()).ok
        with pytest.raises(OperationNotSupported):
            await generic.search(CitizenQuery(old_id_number="123456789"), limit=10)
        with pytest.raises(OperationNotSupported):
            await generic.search(CitizenQuery.model_construct(), limit=10)  # not even a full scan


@pytest.mark.parametrize("model", [SqlConnectorConfig, PopulationConnectorConfig])
def test_url_is_a_secret_in_the_json_schema(model: type[SqlConnectorConfig]) -> None:
    schema = model.model_json_schema()
    url = schema["properties"]["url"]
    assert url["writeOnly"] is True
    assert url["format"] == "password"
    assert "url" in schema["required"]


def test_url_never_shows_in_the_config() -> None:
    config = PopulationConnector.from_config({"url": SECRET_URL}).config
    assert isinstance(config.url, SecretStr)
    assert config.url.get_secret_value() == SECRET_URL
    for text in (repr(config), str(config), config.model_dump_json(), repr(config.model_dump())):
        for secret in SECRETS:
            assert secret not in text
