"""Retrying a failed attempt: exponential backoff with full jitter, ``Retry-After`` honoured, never past the
call's deadline.

An adapter's call loop asks :meth:`Retrier.pause` after each failed attempt: it waits before the next attempt, or
raises the failure's error when there is none to make (the failure is not worth another attempt, the attempts
are spent, or the wait would overrun the deadline).
"""

from __future__ import annotations

import asyncio
import logging
import random

from .config import RetryPolicy
from .failures import Failure

__all__ = ["Retrier", "backoff_delay"]

logger = logging.getLogger(__name__)


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in
    ``[0, min(cap, base * 2**(attempt - 1))]`` after failed attempt number ``attempt`` (1-based)."""
    ceiling = min(policy.backoff_max_seconds, policy.backoff_base_seconds * 2 ** (attempt - 1))
    return rng.uniform(0, ceiling)


class Retrier:
    """Applies a :class:`RetryPolicy` to one connector's calls; safe to share between concurrent tasks.

    ``statuses`` are the policy's retried statuses, for :func:`connectors.http.failures.from_status`.
    """

    def __init__(self, policy: RetryPolicy, *, label: str, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.statuses = frozenset(policy.statuses)
        self._label = label
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security

    async def pause(self, failure: Failure, attempt: int, *, deadline: float) -> None:
        """Wait before the attempt after failed attempt number ``attempt`` (1-based), or raise ``failure.error``
        when no other attempt is to be made. The wait is the failure's ``Retry-After`` if it has one, else the
        backoff; ``deadline`` is on the running loop's clock."""
        if not (failure.retryable and attempt < self.policy.max_attempts):
            raise failure.error
        wait = failure.retry_after
        if wait is None:
            wait = backoff_delay(self.policy, attempt, self._rng)
        if wait >= deadline - asyncio.get_running_loop().time():
            raise failure.error  # waiting would overrun the deadline
        logger.debug("%s: attempt %d failed (%s); retrying in %.3f s", self._label, attempt, failure.error.reason, wait)
        await asyncio.sleep(wait)
