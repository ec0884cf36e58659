"""Finding connectors through the ``gateway.connectors`` entry points, broken third-party plugins included.

The third-party plugins are a real (if tiny) installed distribution: a ``.dist-info`` folder and a module in a
temporary directory put on ``sys.path``, found by ``importlib.metadata`` exactly like an installed wheel.
"""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from support import install_distribution

from connectors.base import Connector
from connectors.discovery import ENTRY_POINT_GROUP, LoadFailure, discover_connectors
from connectors.population import PopulationConnector
from connectors.rest import RestConnector
from connectors.sql import SqlConnector

PLUGIN_MODULE = "agency_land_connector_for_tests"
#: The connectors this project's own distribution registers.
BUILT_INS = {
    ep.name for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.dist is not None and ep.dist.name == "axis-gateway"
}

PLUGIN_SOURCE = '''
"""A third-party connector that works."""

from connectors.base import Capability, Connector, ConnectorConfig, HealthReport, HealthState, RecordNotFound
from contracts.population import Citizen


class LandConfig(ConnectorConfig):
    endpoint: str = "http://land.example"


class LandConnector(Connector[LandConfig]):
    slug = "agency_land"
    title = "Land register (test plugin)"
    contract = Citizen
    config_model = LandConfig
    capabilities = frozenset({Capability.READ})

    async def health(self) -> HealthReport:
        return HealthReport(HealthState.UP)

    async def get(self, record_id: str) -> Citizen:
        raise RecordNotFound("nothing here")


class Incomplete(Connector[LandConfig]):
    """A Connector subclass that forgot its metadata."""

    capabilities = frozenset({Capability.READ})

    async def health(self) -> HealthReport:
        return HealthReport(HealthState.UP)

    async def get(self, record_id: str) -> Citizen:
        raise RecordNotFound("nothing here")
'''

ENTRY_POINTS = f"""
[{ENTRY_POINT_GROUP}]
broken = no_such_module_for_tests:Connector
notaconnector = json:loads
incomplete = {PLUGIN_MODULE}:Incomplete
agency_land = {PLUGIN_MODULE}:LandConnector

[console_scripts]
not-a-connector = json:loads
"""


def _install_fake_distribution(root: Path) -> None:
    modules = {PLUGIN_MODULE: textwrap.dedent(PLUGIN_SOURCE)}
    install_distribution(root, "broken-agency-connector", ENTRY_POINTS.lstrip(), modules=modules)


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake distribution, installed for one test; the module it imports is forgotten afterwards."""
    _install_fake_distribution(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # also clears importlib's path and metadata caches
    yield tmp_path
    sys.modules.pop(PLUGIN_MODULE, None)


def test_finds_the_installed_connectors() -> None:
    found = discover_connectors()
    assert found.connectors["sql"] is SqlConnector
    assert found.connectors["population"] is PopulationConnector
    assert found.connectors["rest"] is RestConnector
    assert found.failures == []


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        ({"population"}, {"population"}),
        (["sql", "population"], {"sql", "population"}),
        (set(), set()),
        ({"nope"}, set()),
    ],
)
def test_only_restricts_loading(only: set[str], expected: set[str]) -> None:
    found = discover_connectors(only=only)
    assert set(found.connectors) == expected
    assert found.failures == []


def test_a_broken_plugin_does_not_stop_the_others(fake_plugins: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="connectors.discovery"):
        found = discover_connectors()

    assert found.connectors["sql"] is SqlConnector
    assert found.connectors["population"] is PopulationConnector
    land = found.connectors["agency_land"]
    assert issubclass(land, Connector) and land.slug == "agency_land"
    assert land.__module__ == PLUGIN_MODULE
    assert {"sql", "population", "rest", "soap"} <= BUILT_INS
    assert set(found.connectors) == BUILT_INS | {"agency_land"}

    failures = {f.name: f for f in found.failures}
    assert set(failures) == {"broken", "notaconnector", "incomplete"}
    assert all(isinstance(f, LoadFailure) for f in found.failures)
    assert failures["broken"].target == "no_such_module_for_tests:Connector"
    assert failures["broken"].error.startswith("ModuleNotFoundError: ")
    assert "no_such_module_for_tests" in failures["broken"].error
    assert failures["notaconnector"].error == "TypeError: json:loads is not a Connector subclass"
    assert failures["incomplete"].error.startswith("TypeError: ")
    assert "lacks the class attribute 'slug'" in failures["incomplete"].error

    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    for name in failures:
        assert any(f"connector {name!r}" in r.getMessage() for r in logged), name


def test_the_built_in_connector_still_builds_beside_broken_plugins(fake_plugins: Path) -> None:
    found = discover_connectors(only={"population", "agency_land"})
    connector = found.connectors["population"].from_config({"url": "sqlite:///unused.db"})
    assert isinstance(connector, PopulationConnector)
    land = found.connectors["agency_land"].from_config({})
    assert land.config.endpoint == "http://land.example"  # type: ignore[attr-defined]


def test_only_does_not_import_the_others(fake_plugins: Path) -> None:
    found = discover_connectors(only={"sql"})
    assert set(found.connectors) == {"sql"}
    assert found.failures == []  # the broken entry points were not even loaded
    assert PLUGIN_MODULE not in sys.modules


def test_a_plugin_installed_for_a_test_leaves_nothing_behind(tmp_path: Path) -> None:
    _install_fake_distribution(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(tmp_path))
        assert "agency_land" in discover_connectors().connectors
        sys.modules.pop(PLUGIN_MODULE, None)
    found = discover_connectors()
    assert set(found.connectors) == BUILT_INS
    assert found.failures == []
    assert str(tmp_path) not in sys.path


def test_a_name_two_distributions_register_loads_neither(fake_plugins: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Another agency's package claims the name of a built-in connector, and of its own plugin's.
    install_distribution(
        fake_plugins,
        "agency-population-override",
        f"[{ENTRY_POINT_GROUP}]\npopulation = {PLUGIN_MODULE}:LandConnector\n"
        f"agency_land = {PLUGIN_MODULE}:Incomplete\n",
    )
    with caplog.at_level(logging.ERROR, logger="connectors.discovery"):
        found = discover_connectors(only={"population", "agency_land", "sql"})

    assert set(found.connectors) == {"sql"}
    failures = {f.name: f for f in found.failures}
    assert set(failures) == {"population", "agency_land"}
    population = failures["population"].error
    assert "registered by more than one installed distribution" in population
    assert "axis-gateway" in population and "connectors.population:PopulationConnector" in population
    assert "agency-population-override 1.0" in population and f"{PLUGIN_MODULE}:LandConnector" in population
    assert "broken-agency-connector 1.0" in failures["agency_land"].error
    assert any("connector 'population' not loaded" in r.getMessage() for r in caplog.records)
    # Neither class was even imported: nothing of the contested name ran.
    assert PLUGIN_MODULE not in sys.modules


def test_a_name_registered_twice_for_the_same_class_loads_it(fake_plugins: Path) -> None:
    # The same entry point seen through two distributions (a package installed twice) is not a conflict.
    install_distribution(
        fake_plugins, "agency-land-again", f"[{ENTRY_POINT_GROUP}]\nagency_land = {PLUGIN_MODULE}:LandConnector\n"
    )
    found = discover_connectors(only={"agency_land"})
    assert found.connectors["agency_land"].__name__ == "LandConnector"
    assert found.failures == []


def test_the_connector_list_keeps_its_columns_apart_whatever_the_names() -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    result = CliRunner().invoke(app, ["connector", "list"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line and "BROKEN" not in line]
    assert len(rows) >= len(BUILT_INS)
    # Every column starts where it does on every other row, two spaces at least after the longest value before it.
    for column in (1, 2, 3):
        starts = set()
        for row in rows:
            fields = row.split()
            starts.add(row.index(fields[column], row.index(fields[column - 1]) + len(fields[column - 1])))
        assert len(starts) == 1, (column, rows)
    longest = max(len(row.split()[1]) for row in rows)  # driving_licences' class, over 60 characters
    assert longest > 60
