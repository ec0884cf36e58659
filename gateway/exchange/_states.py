"""The states of an operation between intake and delivery."""

from __future__ import annotations

PENDING = "pending"
"""Waiting for its delivery (at ``next_attempt_at``)."""
DELIVERING = "delivering"
"""Claimed by a dispatcher until ``claimed_until``."""
DELIVERED = "delivered"
"""Applied by the sector system (or recognised there as applied before)."""
DEAD = "dead"
"""Dead-lettered: refused for good, or failed too many times; waits for an operator (``gateway exchange``)."""
DISMISSED = "dismissed"
"""A dead letter an operator dismissed (``gateway exchange dismiss``): never delivered, its field values erased."""

STATES = (PENDING, DELIVERING, DELIVERED, DEAD, DISMISSED)
#: Operations that still hold back the later operations of their record.
UNFINISHED = (PENDING, DELIVERING)
