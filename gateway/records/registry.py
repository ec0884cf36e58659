"""The national databases this gateway serves: connector instances built from the settings.

A database whose connector is missing, broken or misconfigured is logged and recorded in ``failures``; the
gateway still starts and serves the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Capability, Connector, ConnectorError
from connectors.discovery import discover_connectors
from contracts import Contract
from gateway.core import metrics
from gateway.core.logs import get_logger
from gateway.core.settings import DATABASE_ID, CircuitPolicy, HealthPolicy, Settings
from gateway.records.circuit import CircuitBreaker, CircuitState
from gateway.records.evidence import Evidence

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Database:
    """One served national database: its id (in URLs, scopes and metric labels), its connector, how its health is
    checked, the circuit breaker of its connection and the passive evidence of its calls in this process."""

    id: str
    connector: Connector  # type: ignore[type-arg]
    health: HealthPolicy
    circuit: CircuitBreaker
    evidence: Evidence = field(default_factory=Evidence)

    @property
    def operations(self) -> tuple[str, ...]:
        """The operations a grant may allow: ``read`` always (with the change feed when there is one),
        ``search`` and ``submit`` (with ``delete``) when the connector offers them (:meth:`Connector.offers`)."""
        offered = ("read", "search") if self.connector.offers(Capability.SEARCH) else ("read",)
        return (*offered, "submit", "delete") if self.connector.offers(Capability.SUBMIT) else offered

    def scope(self, operation: str) -> str:
        """The token scope an operation on this database needs (``population:read``)."""
        return f"{self.id}:{operation}"


def new_circuit(database: str, policy: CircuitPolicy) -> CircuitBreaker:
    """A circuit breaker whose state is exported as ``gateway_circuit_state``."""
    gauge = metrics.circuit_state(database)

    def export(state: CircuitState) -> None:
        gauge.set(int(state))
        if state is not CircuitState.CLOSED:
            log.warning("circuit state changed", database=database, state=state.name.lower())

    return CircuitBreaker(database, policy, on_change=export)


@dataclass(slots=True)
class ConnectorRegistry:
    """The loaded databases by id, and why the others could not be loaded (``failures``), with the contract of
    those whose contract is known all the same (``unloaded_contracts``: the connector class is installed, and its
    configuration or the class names the contract)."""

    databases: dict[str, Database] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    unloaded_contracts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectorRegistry:
        """Discover connector classes and build one instance per enabled database of the settings."""
        registry = cls()
        enabled = {db_id: inst for db_id, inst in settings.connectors.items() if inst.enabled}
        wanted = {inst.connector or db_id for db_id, inst in enabled.items()}
        if settings.connector_plugins is not None:
            wanted &= set(settings.connector_plugins)
        found = discover_connectors(only=wanted)
        plugin_errors = {f.name: f.error for f in found.failures}
        for db_id, inst in sorted(enabled.items()):
            name = inst.connector or db_id
            if not DATABASE_ID.fullmatch(db_id):
                registry._fail(db_id, f"invalid database id {db_id!r}")
                continue
            connector_class = found.connectors.get(name)
            if connector_class is None:
                registry._fail(db_id, plugin_errors.get(name, f"no connector named {name!r} is installed"))
                continue
            try:
                connector = connector_class.from_config(inst.config)
            except Exception as exc:  # a third-party connector may fail in any way
                registry._fail(
                    db_id, exc.message if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
                )
                if (contract := _contract_name(connector_class, inst.config)) is not None:
                    registry.unloaded_contracts[db_id] = contract
                continue
            contract = getattr(connector, "contract", None)
            if not (isinstance(contract, type) and issubclass(contract, Contract)):
                registry._fail(db_id, f"the connector {name!r} built no contract (its contract is {contract!r})")
                continue
            evidence = Evidence.for_window(inst.health.window_seconds, inst.health.latency_window)
            circuit = new_circuit(db_id, inst.circuit)
            registry.databases[db_id] = Database(db_id, connector, inst.health, circuit, evidence)
        return registry

    def _fail(self, db_id: str, reason: str) -> None:
        log.error("database not loaded", database=db_id, reason=reason)
        self.failures[db_id] = reason

    async def start(self) -> None:
        """Start every connector (connectors open their connections lazily)."""
        for database in self.databases.values():
            await database.connector.start()

    async def close(self) -> None:
        """Close every connector, even when one fails to close."""
        for database in self.databases.values():
            try:
                await database.connector.close()
            except Exception:
                log.exception("connector failed to close", database=database.id)


def _contract_name(connector_class: type[Connector[Any]], config: Mapping[str, Any]) -> str | None:
    """The name of the contract a connector that could not be built would have served: its configuration's
    ``contract`` (``name`` or ``name@version``), else its class's own contract, if either says."""
    named = config.get("contract")
    if isinstance(named, str) and named:
        return named.partition("@")[0]
    contract = getattr(connector_class, "contract", None)
    name = getattr(contract, "contract_name", None)
    return name if isinstance(name, str) else None
