"""Finding connector classes through the ``gateway.connectors`` entry-point group.

A broken plugin (it fails to import, or what it names is not a :class:`~connectors.base.Connector`) is logged
and reported as a :class:`LoadFailure`; it never stops the others from loading.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from .base import Connector

ENTRY_POINT_GROUP = "gateway.connectors"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """A connector entry point that could not be loaded, and why."""

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


def discover_connectors(*, only: Collection[str] | None = None) -> Discovery:
    """Load the connector classes registered under ``gateway.connectors``.

    ``only`` restricts loading to those entry-point names (the others are not even imported).
    """
    found = Discovery()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if only is not None and ep.name not in only:
            continue
        if ep.name in found.connectors:
            logger.warning("connector entry point %r is registered twice; keeping the first", ep.name)
            continue
        try:
            found.connectors[ep.name] = _load(ep)
        except Exception as exc:  # a plugin may fail in any way; it must not take the gateway down
            message = f"{type(exc).__name__}: {exc}"
            logger.error("connector %r (%s) failed to load: %s", ep.name, ep.value, message)
            found.failures.append(LoadFailure(ep.name, ep.value, message))
    return found
