"""Passive evidence of a connection's health: the outcome and latency of real calls and of health checks over a
time window (the last ``window_seconds``, whatever the number of samples), kept by each gateway process."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def p95(latencies: Sequence[float]) -> float | None:
    """The 95th percentile (nearest rank) of ``latencies``, ``None`` when there are none."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """What the window holds: calls through the gateway, how many failed (sector system failures), how many were
    answered with records breaking the contract, and the p95 latency of calls and good checks."""

    calls: int
    failures: int
    violations: int
    p95_seconds: float | None

    @property
    def error_ratio(self) -> float:
        """Failed calls over calls (0 without calls)."""
        return self.failures / self.calls if self.calls else 0.0

    @property
    def violation_ratio(self) -> float:
        """Calls answered with contract-breaking records over calls (0 without calls)."""
        return self.violations / self.calls if self.calls else 0.0


class Evidence:
    """The samples of one connection's window. Not thread-safe: used from the event loop only."""

    __slots__ = ("_calls", "_checks", "_clock")

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # (when, latency seconds or None, failed, violation)
        self._calls: deque[tuple[float, float | None, bool, bool]] = deque()
        # (when, latency seconds)
        self._checks: deque[tuple[float, float]] = deque()

    def record_call(self, latency_seconds: float | None, *, failed: bool, violation: bool) -> None:
        """One call through the gateway and how it ended."""
        self._calls.append((self._clock(), latency_seconds, failed, violation))
        if len(self._calls) > 100_000:
            self._calls.popleft()

    def record_check(self, latency_seconds: float) -> None:
        """The latency of one good health check."""
        self._checks.append((self._clock(), latency_seconds))
        if len(self._checks) > 100_000:
            self._checks.popleft()

    def clear_calls(self) -> None:
        """Forget the calls (a new circuit starts afresh)."""
        self._calls.clear()

    def summary(self, window_seconds: float, *, max_latencies: int = 100_000) -> WindowSummary:
        """The window's counts; samples older than ``window_seconds`` are dropped."""
        horizon = self._clock() - window_seconds
        for samples in (self._calls, self._checks):
            while samples and samples[0][0] < horizon:
                samples.popleft()
        latencies = [latency for _, latency, failed, _ in self._calls if latency is not None and not failed]
        latencies += [latency for _, latency in self._checks]
        return WindowSummary(
            calls=len(self._calls),
            failures=sum(1 for _, _, failed, _ in self._calls if failed),
            violations=sum(1 for _, _, _, violation in self._calls if violation),
            p95_seconds=p95(latencies[-max_latencies:]),
        )
