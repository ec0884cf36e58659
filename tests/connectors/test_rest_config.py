"""The REST connector's configuration: what it refuses, and how clearly, without quoting secrets."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import ConnectorConfigError
from connectors.rest import RestConnector, RestConnectorConfig
from simulators.population_api import rest_connector_config

BASE = "https://csdl-dan-cu.example/lgsp"


def build(**changes: Any) -> RestConnector:
    config = rest_connector_config(BASE, auth="oauth2_client_credentials")
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = config
        for part in parents:
            target = target[part]
        target[leaf] = value
    return RestConnector.from_config(config)


def refused(**changes: Any) -> ConnectorConfigError:
    with pytest.raises(ConnectorConfigError) as info:
        build(**changes)
    return info.value


def test_the_simulator_configuration_is_valid() -> None:
    connector = build()
    assert connector.contract.contract_id() == "population.citizen@1"
    assert connector.query_model is not None and connector.query_model.__name__ == "CitizenQuery"
    assert connector.config.base_url == BASE
    assert connector.config.http_transport == "aiohttp"


@pytest.mark.parametrize(
    ("base_url", "words"),
    [
        ("ftp://host/x", "http:// or https://"),
        ("https://user:pass@host", "no credentials"),
        ("https://host/x?key=1", "no query"),
        ("host/x", "http:// or https://"),
    ],
)
def test_base_urls_refused(base_url: str, words: str) -> None:
    error = refused(base_url=base_url)
    assert words in error.message
    assert "pass" not in error.message.replace("password", "")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/api/v1/cong-dan", "needs the placeholder"),
        ("/api/{record_id}/{record_id}", "exactly one"),
        ("/api/{id}", "exactly one"),
        ("api/{record_id}", "starts with '/'"),
        ("//evil.example/{record_id}", "no '//'"),
        ("/api/{record_id}?x=1", "query"),
    ],
)
def test_record_path_templates(path: str, words: str) -> None:
    assert words in refused(get__path=path).message


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"get__record": "du_lieu[?"}, "JMESPath"),
        ({"fields": {"personal_id": "so_dinh_danh", "full_name": "ho_va_ten["}}, "JMESPath"),
        ({"fields": {"personal_id": "so_dinh_danh", "no_such_field": "x"}}, "fields not in population.citizen@1"),
        ({"fields": {"full_name": "ho_va_ten"}}, "lacks the record key 'personal_id'"),
        ({"value_maps": {"blood_type": {"A": "a"}}}, "value maps for fields the mapping lacks"),
        ({"search__filters": {"gender": "gioi_tinh"}}, "search filters for fields the query lacks: gender"),
        ({"headers": {"Authorization": "Bearer x"}}, "cannot be fixed headers"),
        ({"headers": {"Bad Header": "x"}}, "not an HTTP header name"),
        ({"retry": {"statuses": [404]}}, "only 429 and 5xx"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"search__pagination": {"style": "sideways"}}, "search.pagination"),
        ({"auth": {"type": "kerberos"}}, "auth"),
        ({"auth__token_url": "ftp://idp/token"}, "token endpoint"),
        ({"naive_datetime_timezone": "Mars/Olympus"}, "IANA time zone"),
        ({"ping__expect_status": [500]}, "between 200 and 499"),
        ({"contract": "population.citizen@9"}, "unknown contract"),
    ],
)
def test_mistakes_are_named(changes: dict[str, Any], words: str) -> None:
    error = refused(**changes)
    assert words in error.message, error.message
    assert error.message.startswith("invalid configuration for connector 'rest'")
    assert "sim-client-secret" not in error.message + " ".join(error.errors)


def test_secrets_are_secret() -> None:
    connector = build()
    text = repr(connector.config) + connector.config.model_dump_json()
    assert "sim-client-secret" not in text


def test_every_setting_is_documented_in_the_schema() -> None:
    schema = RestConnectorConfig.model_json_schema()
    definitions = [schema, *schema["$defs"].values()]
    missing = [
        f"{d.get('title')}.{name}"
        for d in definitions
        for name, prop in d.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert missing == []
    assert {"page", "offset", "cursor", "link"} <= {
        d["properties"]["style"]["const"] for d in schema["$defs"].values() if "style" in d.get("properties", {})
    }
