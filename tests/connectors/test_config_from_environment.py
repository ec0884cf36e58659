"""A connector's settings given as environment variables (``GATEWAY_CONNECTORS__<ID>__CONFIG__<SETTING>``) arrive
as text: a structured setting (a mapping, a list, a model: the ``sql`` adapter's ``fields`` and ``search_filters``,
the ``rest`` adapter's ``auth``) is read from its JSON text, as the gateway's own settings are; a text setting is
never decoded, and text that is not JSON is refused by the setting's own validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from connectors.base import ConnectorConfig, ConnectorConfigError
from connectors.rest import RestConnector
from connectors.sql import SqlConnector
from gateway.core.settings import Settings

FIELDS = '{"personal_id": "so_dinh_danh", "full_name": "ho_ten", "date_of_birth": "ngay_sinh"}'
FILTERS = '{"full_name": {"column": "ho_ten"}}'


def sql_config(url: str) -> dict[str, object]:
    return {"url": url, "contract": "population.citizen", "table": "cong_dan"}


def test_structured_settings_are_read_from_json_text(tmp_path: Path) -> None:
    config = {**sql_config(f"sqlite:///{tmp_path / 'db.sqlite'}"), "fields": FIELDS, "search_filters": FILTERS}
    connector = SqlConnector.from_config(config)
    assert connector.config.fields["full_name"] == "ho_ten"
    assert connector.config.search_filters["full_name"].column == "ho_ten"


def test_a_model_setting_is_read_from_json_text() -> None:
    connector = RestConnector.from_config(
        {
            "base_url": "https://dancu.example.gov.vn",
            "contract": "population.citizen",
            "get": '{"path": "/cong-dan/{record_id}"}',
            "fields": FIELDS,
            "auth": '{"type": "bearer", "token": "t0ken-value"}',
        }
    )
    assert connector.config.get.path == "/cong-dan/{record_id}"
    assert connector.config.auth is not None and connector.config.auth.type == "bearer"


def test_the_environment_configures_the_sql_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's settings hand the connector the environment's text; the connector reads the JSON."""
    prefix = "GATEWAY_CONNECTORS__CROPS__"
    monkeypatch.setenv(prefix + "CONNECTOR", "sql")
    monkeypatch.setenv(prefix + "CONFIG__URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv(prefix + "CONFIG__CONTRACT", "population.citizen")
    monkeypatch.setenv(prefix + "CONFIG__TABLE", "cong_dan")
    monkeypatch.setenv(prefix + "CONFIG__FIELDS", FIELDS)
    monkeypatch.setenv(prefix + "CONFIG__SEARCH_FILTERS", FILTERS)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    settings = Settings()
    connector = SqlConnector.from_config(settings.connectors["crops"].config)
    assert connector.config.fields == {
        "personal_id": "so_dinh_danh",
        "full_name": "ho_ten",
        "date_of_birth": "ngay_sinh",
    }


class TextAndMapping(ConnectorConfig):
    note: str = Field(default="", description="Free text, braces included.")
    either: str | dict[str, str] = Field(default="", description="Text or a mapping: taken as given.")
    labels: dict[str, str] = Field(default_factory=dict, description="A mapping.")


def test_text_settings_are_never_decoded() -> None:
    config = TextAndMapping.model_validate({"note": '{"a": "b"}', "either": '{"a": "b"}', "labels": '{"a": "b"}'})
    assert config.note == '{"a": "b"}'
    assert config.either == '{"a": "b"}'
    assert config.labels == {"a": "b"}


def test_text_that_is_not_json_is_refused_by_the_setting(tmp_path: Path) -> None:
    config = {**sql_config(f"sqlite:///{tmp_path / 'db.sqlite'}"), "fields": "{personal_id: so_dinh_danh"}
    with pytest.raises(ConnectorConfigError) as caught:
        SqlConnector.from_config(config)
    assert any(error.startswith("fields:") for error in caught.value.errors), caught.value.errors
