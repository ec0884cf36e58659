"""Finding connector classes through the ``gateway.connectors`` entry-point group, and the contracts of other
distributions through ``gateway.contracts``.

A broken plugin (it fails to import, or what it names is not a :class:`~connectors.base.Connector`, or not a
contract of the name it is registered under) is logged and reported as a :class:`LoadFailure`; it never stops the
others from loading.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from contracts import Contract, register_contract

from .base import Connector

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
    return obj


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
        except Exception as exc:  # a plugin may fail in any way; it must not take the gateway down
            message = f"{type(exc).__name__}: {exc}"
            logger.error("connector %r (%s) failed to load: %s", name, ep.value, message)
            found.failures.append(LoadFailure(name, ep.value, message))
    return found


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
