"""Probes of the sector systems shared by the readiness requests of one process (``/readyz``).

Each connector's probe is made once and answered to every request made while it runs and for a short while after
it ended, so that requests cannot multiply calls to a sector system by their rate. A probe outlives the requests
that wait for it: one that has no answer within a request's budget goes on to its connector's own deadline, shared
with the next requests, never cancelled (a connector cancelled in a driver's call may leave its connection broken)
and never waited for by each of them in turn.

Not a library's cache: the async caches that share one call between concurrent callers (``async-lru``) hold one
waiter per caller until the call ends and cancel it when the last caller gives up, which a probe must outlive.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from connectors.base import Connector, HealthReport

__all__ = ["SharedProbes"]

Check = Callable[[Connector[Any]], Awaitable[HealthReport]]


class SharedProbes:
    """Each connector's probe, shared by the callers asking while it runs and for ``reuse_seconds`` after it
    ended. Keyed by the connector's identity (a connector need not be hashable), checked through a weak reference
    (a connector of a gateway gone is not kept, nor mistaken)."""

    def __init__(self, reuse_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.reuse_seconds = reuse_seconds
        self._clock = clock
        self._probes: dict[int, tuple[weakref.ref[Any], asyncio.Future[HealthReport], float | None]] = {}

    def probe(self, connector: Connector[Any], check: Check) -> asyncio.Future[HealthReport]:
        """The probe of ``connector`` under way or ended less than ``reuse_seconds`` ago, else a new one made by
        ``check(connector)`` (the caller's context, request id and deadline included, is the probe's)."""
        known = self._probes.get(id(connector))
        if known is not None and known[0]() is connector:
            _ref, task, ended = known
            if ended is None or self._clock() - ended < self.reuse_seconds:
                return task
        task = asyncio.ensure_future(check(connector))
        key = id(connector)
        self._probes[key] = (weakref.ref(connector, lambda _gone: self._probes.pop(key, None)), task, None)
        task.add_done_callback(functools.partial(self._ended, key))
        return task

    def _ended(self, key: int, task: asyncio.Future[HealthReport]) -> None:
        known = self._probes.get(key)
        if known is not None and known[1] is task:
            self._probes[key] = (known[0], task, self._clock())
        if not task.cancelled():
            task.exception()  # retrieved: a probe nobody waited for to the end
