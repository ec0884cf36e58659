"""Calls about the same record, told apart from calls about others: one client asking for one record again and
again must weigh as one call about it, not as many, where a count speaks for the whole connection (the evidence's
contract violations, the circuit breaker's failures)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

__all__ = ["RecentKeys"]


class RecentKeys:
    """The keys counted within the last ``seconds`` (a hash of each, never the key: they may be personal data), the
    newest ``limit`` of them."""

    __slots__ = ("_seen", "limit", "seconds")

    def __init__(self, seconds: float, limit: int) -> None:
        self.seconds = seconds
        self.limit = limit
        # hash of a key -> when it was last seen, oldest first
        self._seen: OrderedDict[int, float] = OrderedDict()

    def fresh(self, now: float, keys: Collection[str]) -> bool:
        """Whether one of ``keys`` was not counted within the last ``seconds`` before ``now`` (``True`` for no keys:
        nothing tells the call apart); those are remembered as counted now. A key asked for without end counts once
        every ``seconds``."""
        if not keys:
            return True
        seen = self._seen
        horizon = now - self.seconds
        while seen and next(iter(seen.values())) < horizon:
            seen.popitem(last=False)
        fresh = False
        for key in keys:
            marker = hash(key)
            last = seen.get(marker)
            if last is None or last < horizon:
                fresh = True
                seen[marker] = now
                seen.move_to_end(marker)
        while len(seen) > self.limit:
            seen.popitem(last=False)
        return fresh

    def clear(self) -> None:
        """Forget every key."""
        self._seen.clear()
