"""Reading the audit trail a test's gateway wrote, straight from its database."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from gateway.audit.storage import EVENTS
from gateway.core.db import create_engine


def run_sql(url: str, statement: Any) -> list[dict[str, Any]]:
    """Run ``statement`` on the database at ``url`` (committed); its rows, if it returns any."""

    async def run() -> list[dict[str, Any]]:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(statement)
                return [dict(row) for row in result.mappings()] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def events_of(url: str, request_id: str) -> list[dict[str, Any]]:
    """The audit events of the request ``request_id``."""
    return run_sql(url, sa.select(EVENTS).where(EVENTS.c.request_id == request_id))


def the_event(url: str, request_id: str) -> dict[str, Any]:
    """The one audit event of the request ``request_id`` (fails when there is not exactly one)."""
    events = events_of(url, request_id)
    assert len(events) == 1, events
    return events[0]
