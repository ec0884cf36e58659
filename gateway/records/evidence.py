"""Passive evidence of a connection's health: the outcome and latency of real calls and of health checks over a
time window (the last ``window_seconds``, whatever the number of samples), kept by each gateway process in memory
bounded by the window, whatever the traffic."""

from __future__ import annotations

import heapq
import math
import time
from array import array
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.records.repeats import RecentKeys

#: How many broken records' keys (hashes) a connection's evidence remembers, at most.
MAX_REMEMBERED_VIOLATIONS = 10_000


def p95(latencies: Sequence[float]) -> float | None:
    """The 95th percentile (nearest rank) of ``latencies``, ``None`` when there are none."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class OperationWindow:
    """The calls of one operation (``read``, ``search``) in a window, and how many failed."""

    operation: str
    calls: int
    failures: int

    @property
    def error_ratio(self) -> float:
        """Failed calls over calls (0 without calls)."""
        return self.failures / self.calls if self.calls else 0.0


def operation_windows(counts: Mapping[str, Sequence[int]]) -> tuple[OperationWindow, ...]:
    """The windows of ``counts`` (operation -> ``[calls, failures]``), by operation name."""
    return tuple(OperationWindow(operation, calls, failures) for operation, (calls, failures) in sorted(counts.items()))


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """What the window holds: calls through the gateway, how many failed (sector system failures), how many were
    answered with records breaking the contract, and the p95 latency of calls and good checks; ``operations``, the
    calls and failures of each operation (a search failing every time is lost among many good reads otherwise)."""

    calls: int
    failures: int
    violations: int
    p95_seconds: float | None
    operations: tuple[OperationWindow, ...] = ()

    def failing_operation(self, min_calls: int, ratio: float) -> OperationWindow | None:
        """The operation with at least ``min_calls`` calls whose share of failures is highest and at least
        ``ratio``, if any."""
        failing = [op for op in self.operations if op.calls >= min_calls and op.error_ratio >= ratio]
        return max(failing, key=lambda op: op.error_ratio, default=None)

    @property
    def error_ratio(self) -> float:
        """Failed calls over calls (0 without calls)."""
        return self.failures / self.calls if self.calls else 0.0

    @property
    def violation_ratio(self) -> float:
        """Calls answered with contract-breaking records over calls (0 without calls)."""
        return self.violations / self.calls if self.calls else 0.0


class _Samples:
    """The newest ``capacity`` samples ``(when, value)``, oldest first, as two arrays of doubles: 16 bytes a sample,
    where a deque of tuples of floats takes about 110 (a worker keeps up to ``latency_window`` of them for each
    database, for calls and for checks)."""

    __slots__ = ("_capacity", "_size", "_start", "_values", "_whens")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._whens = array("d")
        self._values = array("d")
        # The samples are the slots start, start + 1, ... (modulo capacity), size of them. Until the arrays are
        # full (no slot reused yet), start + size is their length: a new sample is appended.
        self._start = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, when: float, value: float) -> None:
        """Add the newest sample, dropping the oldest when full."""
        if len(self._whens) < self._capacity:
            self._whens.append(when)
            self._values.append(value)
            self._size += 1
            return
        if self._size < self._capacity:  # room left by samples dropped as too old
            slot = (self._start + self._size) % self._capacity
            self._size += 1
        else:
            slot = self._start
            self._start = (self._start + 1) % self._capacity
        self._whens[slot] = when
        self._values[slot] = value

    def drop_before(self, horizon: float) -> None:
        """Drop the samples taken before ``horizon``."""
        whens, capacity = self._whens, self._capacity
        while self._size and whens[self._start] < horizon:
            self._start = (self._start + 1) % capacity
            self._size -= 1

    def clear(self) -> None:
        """Drop every sample."""
        self._whens, self._values = array("d"), array("d")
        self._start = self._size = 0

    def __iter__(self) -> Iterator[tuple[float, float]]:
        whens, values, capacity = self._whens, self._values, self._capacity
        for offset in range(self._size):
            slot = (self._start + offset) % capacity
            yield whens[slot], values[slot]


class Evidence:
    """The evidence of one connection's window. Not thread-safe: used from the event loop only.

    Its memory is bounded by the window, not by the traffic: calls are counted in slices of ``slice_seconds``
    (a slice counts while any of it is inside the window), and only the newest ``max_latencies`` latencies of calls
    and of checks are kept, each with its time (the p95 is over those of the window).

    A record that breaks the contract counts as a violation once per ``repeat_seconds`` (the window), however often
    it is asked for: the violation ratio says how much of the sector system's data breaks the contract, and any
    client allowed to read one broken record could otherwise take the connection ``down`` by reading it again
    and again. Calls that answered only records counted already count as calls, not as violations. The records
    remembered (a hash of their key, never the key) are the newest :data:`MAX_REMEMBERED_VIOLATIONS`."""

    __slots__ = (
        "_call_latencies",
        "_check_latencies",
        "_clock",
        "_keep_seconds",
        "_slice",
        "_slices",
        "_violated",
        "_wall_clock",
        "last_answered",
    )

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        slice_seconds: float = 1.0,
        max_latencies: int = 1000,
        wall_clock: Callable[[], float] = time.time,
        repeat_seconds: float | None = None,
    ) -> None:
        self._clock = clock
        # The broken records whose violation was counted within the window (none remembered without a window).
        self._violated = None if repeat_seconds is None else RecentKeys(repeat_seconds, MAX_REMEMBERED_VIOLATIONS)
        self._wall_clock = wall_clock
        #: When (seconds since the epoch) a call was last answered well: not failed, no record breaking the
        #: contract. Kept beyond the window: the axis says since when a connection's calls fail.
        self.last_answered: float | None = None
        self._slice = slice_seconds
        # [slice index, calls, failures, violations, {operation: [calls, failures]}], oldest first
        self._slices: deque[list[Any]] = deque()
        # (when, latency seconds) of good calls and of checks, the newest max_latencies of each
        self._call_latencies = _Samples(max_latencies)
        self._check_latencies = _Samples(max_latencies)
        # Slices older than the longest window asked for go when a new slice starts (a day until a summary).
        self._keep_seconds = 86400.0

    @classmethod
    def for_window(
        cls, window_seconds: float, max_latencies: int, *, clock: Callable[[], float] = time.monotonic
    ) -> Evidence:
        """Evidence sized for a window: slices of a twentieth of it (at most a second)."""
        return cls(
            clock=clock,
            slice_seconds=min(1.0, window_seconds / 20),
            max_latencies=max_latencies,
            repeat_seconds=window_seconds,
        )

    def record_call(
        self,
        latency_seconds: float | None,
        *,
        failed: bool,
        violation: bool,
        records: Collection[str] = (),
        operation: str = "read",
    ) -> None:
        """One call of ``operation`` through the gateway and how it ended; ``records``: the keys of the records of
        a ``violation`` that broke the contract, when they are known (a record counted within the window counts no
        more)."""
        now = self._clock()
        counted = violation and (self._violated is None or self._violated.fresh(now, records))
        index = math.floor(now / self._slice)
        slices = self._slices
        if slices and slices[-1][0] == index:
            current = slices[-1]
        else:
            oldest = index - math.ceil(self._keep_seconds / self._slice)
            while slices and slices[0][0] < oldest:
                slices.popleft()
            current = [index, 0, 0, 0, {}]
            slices.append(current)
        current[1] += 1
        counts = current[4].get(operation)
        if counts is None:
            counts = current[4][operation] = [0, 0]
        counts[0] += 1
        if failed:
            current[2] += 1
            counts[1] += 1
        elif latency_seconds is not None:
            self._call_latencies.append(now, latency_seconds)
        if counted:
            current[3] += 1
        if not violation and not failed:
            self.last_answered = self._wall_clock()

    def record_check(self, latency_seconds: float) -> None:
        """The latency of one good health check."""
        self._check_latencies.append(self._clock(), latency_seconds)

    def clear_calls(self) -> None:
        """Forget the calls (a new circuit starts afresh)."""
        self._slices.clear()
        self._call_latencies.clear()
        if self._violated is not None:
            self._violated.clear()

    def summary(self, window_seconds: float, *, max_latencies: int = 100_000) -> WindowSummary:
        """The window's counts; evidence older than ``window_seconds`` is dropped."""
        self._keep_seconds = max(window_seconds, self._slice)
        horizon = self._clock() - window_seconds
        slices = self._slices
        while slices and (slices[0][0] + 1) * self._slice <= horizon:
            slices.popleft()
        for samples in (self._call_latencies, self._check_latencies):
            samples.drop_before(horizon)
        latest = heapq.merge(self._call_latencies, self._check_latencies)  # both in time order
        latencies = [latency for _, latency in latest]
        operations: dict[str, list[int]] = {}
        for piece in slices:
            for operation, (calls, failures) in piece[4].items():
                total = operations.setdefault(operation, [0, 0])
                total[0] += calls
                total[1] += failures
        return WindowSummary(
            calls=sum(s[1] for s in slices),
            failures=sum(s[2] for s in slices),
            violations=sum(s[3] for s in slices),
            p95_seconds=p95(latencies[-max_latencies:]),
            operations=operation_windows(operations),
        )
