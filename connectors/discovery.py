"""Finding connector classes through the ``gateway.connectors`` entry-point group, and the contracts of other
distributions through ``gateway.contracts``.

A broken plugin (it fails to import, or what it names is not a :class:`~connectors.base.Connector`, or not a
contract of the name it is registered under) is logged and reported as a :class:`LoadFailure`; it never stops the
others from loading. So is a connector class whose declarations the gateway could not serve: a ``contract`` that is
not a valid :class:`~contracts.Contract` (or that claims the name and version of another class), a ``query_model``
that is not a :class:`~contracts.ContractQuery`, ``capabilities`` that are not :class:`~connectors.base.Capability`
members.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from contracts import Contract, ContractQuery, contract_versions, get_contract, register_contract
from contracts.registry import ContractRegistry

from .base import Capability, Connector

ENTRY_POINT_GROUP = "gateway.connectors"
#: The entry-point group of contracts: name = the contract's name, value = ``"package.module:Class"``, so that the
#: generic adapters (``sql``, ``rest``, ``soap``) serve another distribution's contract by its name.
CONTRACTS_ENTRY_POINT_GROUP = "gateway.contracts"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """An entry point (a connector, a contract) that could not be loaded, and why."""

    name: str
    target: str
    error: str


@dataclass(slots=True)
class Discovery:
    """The connector classes found, by entry-point name, and the entry points that failed."""

    connectors: dict[str, type[Connector]] = field(default_factory=dict)  # type: ignore[type-arg]
    failures: list[LoadFailure] = field(default_factory=list)


def _load(ep: EntryPoint) -> type[Connector]:  # type: ignore[type-arg]
    obj = ep.load()
    if not (isinstance(obj, type) and issubclass(obj, Connector)):
        raise TypeError(f"{ep.value} is not a Connector subclass")
    for attribute in ("slug", "title", "config_model"):
        if not hasattr(obj, attribute):
            raise TypeError(f"{ep.value} lacks the class attribute {attribute!r}")
    _check_declarations(obj, ep)
    return obj


def _check_declarations(cls: type[Connector], ep: EntryPoint) -> None:  # type: ignore[type-arg]
    """Refuse (``TypeError``, naming the distribution) a class whose declarations the gateway cannot serve: its
    routes, its catalogue of contracts and ``gateway connector list`` read them as they are."""
    origin = entry_point_origin(ep)
    contract = getattr(cls, "contract", None)
    if contract is not None:  # the generic adapters take theirs from their configuration
        if not (isinstance(contract, type) and issubclass(contract, Contract)):
            raise TypeError(f"{origin}: its contract {contract!r} is not a contracts.Contract subclass")
        try:
            ContractRegistry().register(contract)  # a name, a version and a record key that is one of its fields
        except TypeError as exc:
            raise TypeError(f"{origin}: its contract is not one the gateway can serve: {exc}") from None
        name, version = contract.contract_name, contract.contract_version
        if version in contract_versions(name) and (registered := get_contract(name, version)) is not contract:
            raise TypeError(
                f"{origin}: its contract {_qualified(contract)} claims {name}@{version}, which is the registered "
                f"contract {_qualified(registered)}: the gateway would describe one and serve the other; serve the "
                "registered class, or give yours a version (or a name) of its own"
            )
    query_model = getattr(cls, "query_model", None)
    if query_model is not None and not (isinstance(query_model, type) and issubclass(query_model, ContractQuery)):
        raise TypeError(f"{origin}: its query_model {query_model!r} is not a contracts.ContractQuery subclass")
    capabilities = getattr(cls, "capabilities", None)
    if not (isinstance(capabilities, frozenset) and all(isinstance(c, Capability) for c in capabilities)):
        raise TypeError(
            f"{origin}: its capabilities {capabilities!r} are not a frozenset of connectors.base.Capability members"
        )


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def entry_point_origin(ep: EntryPoint) -> str:
    """Where an entry point comes from, for an operator: its distribution's name and version, and its target."""
    dist = ep.dist
    return f"{dist.name} {dist.version} ({ep.value})" if dist is not None else ep.value


def registrations(group: str, *, only: Collection[str] | None = None) -> dict[str, dict[str, EntryPoint]]:
    """Each name registered in the entry-point group ``group`` (of ``only``, when given), sorted, with its distinct
    targets: one distribution found twice on the path counts once; two naming different targets are a conflict."""
    by_name: dict[str, dict[str, EntryPoint]] = {}
    for ep in entry_points(group=group):
        if only is None or ep.name in only:
            by_name.setdefault(ep.name, {}).setdefault(ep.value, ep)
    return dict(sorted(by_name.items()))


def discover_connectors(*, only: Collection[str] | None = None) -> Discovery:
    """Load the connector classes registered under ``gateway.connectors``.

    ``only`` restricts loading to those entry-point names (the others are not even imported). A name that two
    installed distributions register for different classes loads neither: it is a :class:`LoadFailure` naming
    both, for which one serves a database must be the operator's choice, never the order the distributions
    happen to be found in.
    """
    found = Discovery()
    loaded_from: dict[str, EntryPoint] = {}
    for name, targets in registrations(ENTRY_POINT_GROUP, only=only).items():
        if len(targets) > 1:
            origins = sorted(entry_point_origin(ep) for ep in targets.values())
            message = (
                f"the connector name {name!r} is registered by more than one installed distribution: "
                f"{'; '.join(origins)}; uninstall one of them, or rename its entry point"
            )
            logger.error("connector %r not loaded: %s", name, message)
            found.failures.append(LoadFailure(name, ", ".join(sorted(targets)), message))
            continue
        (ep,) = targets.values()
        try:
            found.connectors[name] = _load(ep)
            loaded_from[name] = ep
        except Exception as exc:  # a plugin may fail in any way; it must not take the gateway down
            message = f"{type(exc).__name__}: {exc}"
            logger.error("connector %r (%s) failed to load: %s", name, entry_point_origin(ep), message)
            found.failures.append(LoadFailure(name, ep.value, message))
    _refuse_contract_clashes(found, loaded_from)
    return found


def _refuse_contract_clashes(found: Discovery, origins: Mapping[str, EntryPoint]) -> None:
    """Unload the connectors whose contracts are different classes under one name and version: which of them the
    gateway's catalogue describes must not depend on the order the connectors were found in."""
    by_id: dict[tuple[str, int], dict[type[Contract], list[str]]] = {}
    for name, cls in found.connectors.items():
        contract = getattr(cls, "contract", None)
        if contract is not None:
            key = (contract.contract_name, contract.contract_version)
            by_id.setdefault(key, {}).setdefault(contract, []).append(name)
    for (contract_name, version), classes in sorted(by_id.items()):
        if len(classes) < 2:
            continue
        names = sorted(name for served in classes.values() for name in served)
        claims = "; ".join(
            sorted(
                f"{entry_point_origin(origins[name])} serves it as {_qualified(contract)}"
                for contract, served in classes.items()
                for name in served
            )
        )
        message = (
            f"the contract {contract_name}@{version} is a different class in each of the connectors {names}: "
            f"{claims}; give each its own version (or name), or have them serve one class"
        )
        for name in names:
            logger.error("connector %r not loaded: %s", name, message)
            del found.connectors[name]
            found.failures.append(LoadFailure(name, origins[name].value, message))


def discover_contracts() -> list[LoadFailure]:
    """Import and register the contracts other distributions declare under ``gateway.contracts`` (the entry
    point's name is the contract's name; its value the :class:`~contracts.Contract` class). Registering a class
    again is harmless, so this may run more than once; what could not be registered is returned (and logged): an
    import error, a value that is not a contract of that name, a name two distributions declare with different
    classes, or a (name, version) already registered by another class."""
    failures = []
    for name, targets in registrations(CONTRACTS_ENTRY_POINT_GROUP).items():
        if len(targets) > 1:
            origins = sorted(entry_point_origin(ep) for ep in targets.values())
            message = (
                f"the contract {name!r} is declared by more than one installed distribution: {'; '.join(origins)}; "
                "uninstall one of them"
            )
            logger.error("contract %r not loaded: %s", name, message)
            failures.append(LoadFailure(name, ", ".join(sorted(targets)), message))
            continue
        (ep,) = targets.values()
        try:
            found = ep.load()
            if not (isinstance(found, type) and issubclass(found, Contract)):
                raise TypeError(f"{ep.value} is not a contracts.Contract subclass")
            if getattr(found, "contract_name", None) != name:
                raise TypeError(f"{ep.value} is the contract {getattr(found, 'contract_name', None)!r}, not {name!r}")
            register_contract(found)
        except Exception as exc:  # a plugin may fail in any way; it must not take the gateway down
            message = f"{type(exc).__name__}: {exc}"
            logger.error("contract %r (%s) failed to load: %s", name, ep.value, message)
            failures.append(LoadFailure(name, ep.value, message))
    return failures
