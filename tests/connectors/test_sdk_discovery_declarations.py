"""Discovery refuses a connector class whose declarations the gateway cannot serve, naming the distribution that
installed it, and loads the others: a ``contract`` that is not a contract (the gateway's routes and ``gateway
connector list`` crashed on it), one whose record key is not one of its fields, one claiming the name and version
of a registered contract with a class of its own, two plugins serving different classes under one contract name and
version (the catalogue would describe whichever came last), ``capabilities`` that are not Capability members.

The plugins are real (if tiny) installed distributions: a ``.dist-info`` folder and a module in a temporary
directory put on ``sys.path``, found by ``importlib.metadata`` exactly like an installed wheel."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import install_distribution
from typer.testing import CliRunner

from connectors.discovery import ENTRY_POINT_GROUP, discover_connectors

MODULE = "school_plugins_for_tests"
OTHER_MODULE = "school_plugins_elsewhere_for_tests"

SOURCE = '''
from typing import ClassVar

from pydantic import Field

from connectors.base import Capability, Connector, ConnectorConfig, HealthReport, HealthState, RecordNotFound
from contracts import Contract


class Diploma(Contract):
    contract_name: ClassVar[str] = "school_tests.diploma"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "code"
    code: str = Field(pattern=r"^D[0-9]+$", description="The diploma's code.")


class Citizen(Contract):
    """Claims the registered population.citizen@1 with a class of its own."""

    contract_name: ClassVar[str] = "population.citizen"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "personal_id"
    personal_id: str = Field(pattern=r"^[0-9]{12}$", description="The key.")


class Keyless(Contract):
    contract_name: ClassVar[str] = "school_tests.keyless"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "code"
    number: str = Field(description="Not the record key.")


class Unconstrained(Contract):
    """A record key with no constraint of its own: any text."""

    contract_name: ClassVar[str] = "school_tests.certificate"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "code"
    code: str = Field(description="The certificate's code.")


class Config(ConnectorConfig):
    pass


class Base(Connector[Config]):
    slug = "school"
    title = "School records (test plugin)"
    config_model = Config
    capabilities = frozenset({Capability.READ})

    async def health(self) -> HealthReport:
        return HealthReport(HealthState.UP)

    async def get(self, record_id: str) -> Diploma:
        raise RecordNotFound("nothing here")


class Sound(Base):
    contract = Diploma


class NotAContract(Base):
    contract = {"name": "school_tests.diploma"}


class KeyNotAField(Base):
    contract = Keyless


class Impersonates(Base):
    contract = Citizen


class AnyKey(Base):
    contract = Unconstrained


class OddCapabilities(Base):
    contract = Diploma
    capabilities = ["read"]


class NoContract(Base):
    """Names no contract, and its instances build none from their configuration either."""
'''

OTHER_SOURCE = '''
from typing import ClassVar

from pydantic import Field

from contracts import Contract
from school_plugins_for_tests import Base


class Diploma(Contract):
    """school_tests.diploma v1 again, another agency's class."""

    contract_name: ClassVar[str] = "school_tests.diploma"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "code"
    code: str = Field(description="The diploma's code.")


class Elsewhere(Base):
    contract = Diploma
'''

ENTRY_POINTS = f"""
[{ENTRY_POINT_GROUP}]
school_sound = {MODULE}:Sound
school_not_a_contract = {MODULE}:NotAContract
school_key_not_a_field = {MODULE}:KeyNotAField
school_impersonates = {MODULE}:Impersonates
school_odd_capabilities = {MODULE}:OddCapabilities
school_any_key = {MODULE}:AnyKey
school_no_contract = {MODULE}:NoContract
"""

OTHER_ENTRY_POINTS = f"""
[{ENTRY_POINT_GROUP}]
school_elsewhere = {OTHER_MODULE}:Elsewhere
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    install_distribution(tmp_path, "school-connectors", ENTRY_POINTS, modules={MODULE: textwrap.dedent(SOURCE)})
    install_distribution(
        tmp_path, "other-school-connectors", OTHER_ENTRY_POINTS, modules={OTHER_MODULE: textwrap.dedent(OTHER_SOURCE)}
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # also clears importlib's path and metadata caches
    yield tmp_path
    sys.modules.pop(MODULE, None)
    sys.modules.pop(OTHER_MODULE, None)


def test_declarations_the_gateway_cannot_serve_are_refused_naming_the_distribution(plugins: Path) -> None:
    wanted = {
        "school_sound",
        "school_not_a_contract",
        "school_key_not_a_field",
        "school_impersonates",
        "school_odd_capabilities",
        "population",
    }
    found = discover_connectors(only=wanted)
    assert set(found.connectors) == {"school_sound", "population"}
    errors = {failure.name: failure.error for failure in found.failures}
    assert set(errors) == wanted - {"school_sound", "population"}
    origin = "school-connectors 1.0"
    assert errors["school_not_a_contract"] == (
        f"TypeError: {origin} ({MODULE}:NotAContract): its contract {{'name': 'school_tests.diploma'}} is not a "
        "contracts.Contract subclass"
    )
    assert errors["school_key_not_a_field"].startswith(f"TypeError: {origin} ({MODULE}:KeyNotAField): its contract")
    assert "record_key 'code' is not one of its fields" in errors["school_key_not_a_field"]
    impersonates = errors["school_impersonates"]
    assert f"{origin} ({MODULE}:Impersonates): its contract {MODULE}.Citizen claims population.citizen@1" in (
        impersonates
    )
    assert "the registered contract contracts.population" in impersonates
    assert "capabilities ['read'] are not a frozenset" in errors["school_odd_capabilities"]


def test_two_plugins_serving_one_contract_version_with_different_classes_load_neither(plugins: Path) -> None:
    found = discover_connectors(only={"school_sound", "school_elsewhere", "population"})
    assert set(found.connectors) == {"population"}
    errors = {failure.name: failure.error for failure in found.failures}
    assert set(errors) == {"school_sound", "school_elsewhere"}
    message = errors["school_sound"]
    assert message == errors["school_elsewhere"]
    assert "the contract school_tests.diploma@1 is a different class in each of the connectors" in message
    assert f"other-school-connectors 1.0 ({OTHER_MODULE}:Elsewhere) serves it as {OTHER_MODULE}.Diploma" in message
    assert f"school-connectors 1.0 ({MODULE}:Sound) serves it as {MODULE}.Diploma" in message
    # Alone, each loads.
    assert set(discover_connectors(only={"school_sound"}).connectors) == {"school_sound"}


def test_the_connector_list_shows_the_refused_ones_as_broken(plugins: Path) -> None:
    from gateway.cli import app

    result = CliRunner().invoke(app, ["connector", "list"])
    assert result.exit_code == 0, result.output
    broken = {line.split()[0] for line in result.output.splitlines() if " BROKEN " in line}
    assert {"school_not_a_contract", "school_odd_capabilities", "school_sound", "school_elsewhere"} <= broken


def test_a_contract_whose_record_key_has_no_constraint_is_served(plugins: Path, tmp_path: Path) -> None:
    from gateway.core.settings import Settings
    from gateway.http.app import create_app

    found = discover_connectors(only={"school_any_key"})
    assert set(found.connectors) == {"school_any_key"}, found.failures
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}", connectors={"school_any_key": {"config": {}}}
    )
    app = create_app(settings)
    assert any(path.startswith("/v1/databases/school_any_key/") for path in app.openapi()["paths"])


def test_a_connector_that_builds_no_contract_is_a_database_not_loaded(plugins: Path, tmp_path: Path) -> None:
    """The gateway still starts, serving the others, and says why that database is missing."""
    from gateway.core.settings import Settings
    from gateway.http.app import create_app
    from gateway.records.registry import ConnectorRegistry

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        connectors={"school_no_contract": {"config": {}}, "school_sound": {"config": {}}},
    )
    registry = ConnectorRegistry.from_settings(settings)
    assert set(registry.databases) == {"school_sound"}
    assert registry.failures == {
        "school_no_contract": "the connector 'school_no_contract' built no contract (its contract is None)"
    }
    paths = create_app(settings).openapi()["paths"]
    assert any(path.startswith("/v1/databases/school_sound/") for path in paths)
