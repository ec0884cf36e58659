"""The conformance kit's test classes for the sector connectors, built the same way for every sector.

A sector's conformance module (``test_conformance_<sector>.py``) gives only what is particular to its connector:
the sector's data, its ``known_ids`` and ``searches`` fixtures, the keys and configurations of its case, and what
the sector system is. The rest comes from here and from the fixtures of ``tests/connectors/conftest.py``:

* a SQL sector connector gives a module fixture ``sql_sector`` (a :class:`SqlSector`: its name, its table and how
  to seed an empty database) and gets its tests on SQLite (:func:`sqlite_test_class`: the seeded file, a missing
  one, a locked copy, a copy whose view fails, a file that is not a database) and on PostgreSQL
  (:func:`postgres_test_class`: a seeded scratch database on the local server with a view that takes three
  seconds to read, a closed port, accounts refused);
* a connector of a simulated HTTP system gives a module fixture ``simulated_api`` (what makes the system: called
  with no argument, or with ``misbehaviour=`` for the instance that never answers) and gets its tests from
  :func:`simulated_test_class`, one class per way of configuring the connector (``make_config``), with the server,
  an instance of it that hangs, a closed port, the requests' headers and the misbehaviour switch.

Import it as ``sector_conformance`` (``tests/`` is on pytest's ``pythonpath``, as for the other support modules);
the fixtures it names are defined in ``tests/connectors/conftest.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.base import Connector
from connectors.testing import ConnectorConformance, connector_test_class, fixture
from contracts.population import Citizen

__all__ = [
    "NEW_CITIZEN",
    "POPULATION_ON_A_SERVER",
    "SLOW_TIMEOUT_SECONDS",
    "UNREACHABLE_TIMEOUT_SECONDS",
    "SqlSector",
    "base_url_config",
    "postgres_test_class",
    "simulated_test_class",
    "sqlite_test_class",
]

UNREACHABLE_TIMEOUT_SECONDS = 2
"""The timeout of the configurations pointing where nothing answers (a closed port refuses at once)."""
SLOW_TIMEOUT_SECONDS = 0.5
"""The timeout of the configurations pointing at a system that answers too late (the kit's deadline checks)."""


@dataclass(frozen=True)
class SqlSector:
    """A SQL sector's database, as the fixtures of ``tests/connectors/conftest.py`` make it: ``name`` names its
    files and scratch databases, ``table`` is the table the connector reads (the failing and slow views read it),
    and ``seed`` fills an empty database at a URL (``sqlite:///...``, or the asyncpg URL of a PostgreSQL one).
    Without ``seed``, the module gives the seeded SQLite file itself (its fixture ``sql_sector_file``)."""

    name: str
    table: str
    seed: Callable[[str], Awaitable[None]] | None = None

    @property
    def slow_view(self) -> str:
        """The PostgreSQL view of :attr:`table` that takes three seconds to read."""
        return f"{self.table}_cham"


def _test_class(
    connector_class: type[Connector[Any]], defaults: Mapping[str, Any], arguments: Mapping[str, Any]
) -> type[ConnectorConformance]:
    case = {"known_ids": fixture("known_ids"), "searches": fixture("searches"), **defaults, **arguments}
    return connector_test_class(connector_class, **case)


def sqlite_test_class(connector_class: type[Connector[Any]], **arguments: Any) -> type[ConnectorConformance]:
    """The kit's tests of ``connector_class`` on the SQLite database of the module's ``sql_sector``: the module's
    ``known_ids`` and ``searches`` fixtures, the seeded file, a file that does not exist (unreachable), a copy that
    another connection holds locked (slow), and the failing copies; ``arguments`` (the kit's, by name) add to these
    or replace them (``missing_id``, ``entry_point``, ``invalid_configs``, another ``config``...)."""
    defaults = {
        "config": {"url": fixture("sql_sector_sqlite_url")},
        "unreachable_config": {"url": fixture("sql_sector_missing_url")},
        "slow_config": {"url": fixture("sql_sector_locked_url"), "timeout_seconds": SLOW_TIMEOUT_SECONDS},
        "failing_configs": fixture("sql_sector_sqlite_failing"),
    }
    return _test_class(connector_class, defaults, arguments)


def postgres_test_class(connector_class: type[Connector[Any]], **arguments: Any) -> type[ConnectorConformance]:
    """The kit's tests of ``connector_class`` on a PostgreSQL database of the module's ``sql_sector`` (the local
    server; skipped when it is down, failed under CI=true): the module's ``known_ids`` and ``searches`` fixtures,
    the seeded scratch database, a closed port (unreachable), the view that takes three seconds to read (slow),
    and the failing view and refused accounts; ``arguments`` (the kit's, by name) add to these or replace them."""
    defaults = {
        "config": {"url": fixture("sql_sector_postgres_url")},
        "unreachable_config": {
            "url": fixture("sql_sector_closed_postgres_url"),
            "connect_timeout_seconds": UNREACHABLE_TIMEOUT_SECONDS,
        },
        "slow_config": fixture("sql_sector_postgres_slow_config"),
        "failing_configs": fixture("sql_sector_postgres_failing"),
    }
    return _test_class(connector_class, defaults, arguments)


def base_url_config(auth: Mapping[str, Any]) -> Callable[..., dict[str, Any]]:
    """The ``make_config`` of a REST sector connector: ``base_url`` and ``auth`` (a copy of it each time), then
    the options given (``timeout_seconds``...)."""

    def make(url: str, **options: Any) -> dict[str, Any]:
        return {"base_url": url, "auth": copy.deepcopy(dict(auth)), **options}

    return make


def simulated_test_class(
    connector_class: type[Connector[Any]],
    *,
    make_config: Callable[..., dict[str, Any]],
    slow_options: Mapping[str, Any] | None = None,
    **arguments: Any,
) -> type[ConnectorConformance]:
    """The kit's tests of ``connector_class`` against the simulated system of the module's ``simulated_api``,
    configured by ``make_config`` (a URL, then options such as ``timeout_seconds``): the served system, a closed
    port (unreachable, a 2 s timeout), the instance that never answers (slow, 0.5 s, with ``slow_options``), the
    headers the system received and its misbehaviour switch, and the module's ``known_ids`` and ``searches``
    fixtures; ``arguments`` (the kit's, by name) add to these or replace them.

    Each class has its own configurations (class fixtures), so a module may configure one system several ways;
    the servers are the module's. The class is marked ``live_server``: it uses a server on a loopback socket."""
    slow = dict(slow_options or {})

    def simulated_config(cls: type, simulated_url: str) -> dict[str, Any]:
        return make_config(simulated_url)

    def simulated_unreachable_config(cls: type, closed_http_url: str) -> dict[str, Any]:
        return make_config(closed_http_url, timeout_seconds=UNREACHABLE_TIMEOUT_SECONDS)

    def simulated_slow_config(cls: type, simulated_hanging_url: str) -> dict[str, Any]:
        return make_config(simulated_hanging_url, **slow, timeout_seconds=SLOW_TIMEOUT_SECONDS)

    defaults = {
        "config": fixture("simulated_config"),
        "unreachable_config": fixture("simulated_unreachable_config"),
        "slow_config": fixture("simulated_slow_config"),
        "received_headers": fixture("simulated_received_headers"),
        "fail_upstream": fixture("simulated_fail_upstream"),
    }
    kit_class = _test_class(connector_class, defaults, arguments)
    configs = {
        function.__name__: pytest.fixture(scope="class")(classmethod(function))
        for function in (simulated_config, simulated_unreachable_config, simulated_slow_config)
    }
    configured = type(kit_class.__name__, (kit_class,), {"__doc__": kit_class.__doc__, **configs})
    return pytest.mark.live_server(configured)


NEW_CITIZEN: dict[str, Any] = {
    **Citizen.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
    "household_id": "HK068000123",
}
"""The population record the kit's write-path checks create (the contract's example, with a household)."""

POPULATION_ON_A_SERVER: dict[str, Any] = {
    "known_ids": fixture("population_server_known_ids"),
    "missing_id": "068099000000",
    "searches": fixture("population_server_searches"),
    "entry_point": "population",
    "new_record": NEW_CITIZEN,
    "update": {"marital_status": "married", "date_of_death": "2026-01-02"},
}
"""The kit's arguments for the population connector on a database server (PostgreSQL, MariaDB) holding the
shared population sector (``population_sector``), besides the configurations: the keys, the searches and the
record it writes."""
