"""Reading a database's change feed: the operations applied, in the order they were applied."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.core.problems import InvalidCursor
from gateway.exchange.models import ExchangeChange, ExchangeFeed
from gateway.identity.access import Decision

#: A feed position as a cursor spells it: ASCII digits only (``str.isdigit`` and ``int`` also take "²" and "٣"),
#: at most 18 of them, within the BIGINT positions are stored as.
CURSOR = re.compile(r"[0-9]{1,18}")


def parse_cursor(cursor: str | None) -> int:
    """The feed position after which to read: ``0`` (the start) when there is no cursor."""
    if cursor is None or cursor == "":
        return 0
    if CURSOR.fullmatch(cursor) is None:
        raise InvalidCursor("The cursor is not a position of this change feed.")
    return int(cursor)


async def feed_end(session: AsyncSession, database_id: str) -> int:
    """The position of the last change of ``database_id``'s feed (``0`` while it is empty)."""
    feed = await session.get(ExchangeFeed, database_id)
    return 0 if feed is None else feed.position


def beyond_end(after: int, end: int) -> InvalidCursor:
    """The error for a cursor past the feed's last position: the feed never gave it, or the gateway's database was
    restored from a backup older than it, and reading on from it would skip the changes made since."""
    return InvalidCursor(
        f"The cursor is beyond the end of this change feed (its last position is {end}): the feed never gave it, or "
        "the gateway's database was restored from an earlier backup. Read again from a cursor the feed gave, or "
        "without one."
    )


async def check_cursor(session: AsyncSession, database_id: str, after: int) -> None:
    """:class:`InvalidCursor` when ``after`` is beyond the end of ``database_id``'s feed."""
    if after > 0 and after > (end := await feed_end(session, database_id)):
        raise beyond_end(after, end)


async def read_changes(
    session: AsyncSession, database_id: str, *, after: int, limit: int, decision: Decision
) -> dict[str, Any]:
    """The changes among the next ``limit`` after position ``after``; the changed fields are those the reader's grant
    covers, at its depth: of an object written whole, a reader granted some of its fields sees those fields' paths.
    An update of none of the fields a field-limited reader may read is left out (``next_cursor`` moves past it).

    :class:`InvalidCursor` when ``after`` is beyond the end of the feed (positions are given in commit order and
    never removed, without gaps but where a dispatcher started, and beyond every earlier one after a restore: see
    :func:`gateway.exchange.dispatcher.feed_floor`; such a cursor was never given)."""
    rows = (
        await session.exec(
            select(ExchangeChange)
            .where(col(ExchangeChange.database_id) == database_id, col(ExchangeChange.position) > after)
            .order_by(col(ExchangeChange.position))
            .limit(limit + 1)
        )
    ).all()
    if not rows:
        await check_cursor(session, database_id, after)
    read = rows[:limit]
    changes = []
    for row in read:
        visible = decision.visible_paths(row.changed_fields)
        if row.kind == "update" and not visible and decision.fields is not None:
            # An update of fields the reader may not read is not shown: that the record changed, and when, is
            # itself something of those fields (a date of death written is a death).
            continue
        changes.append(
            {
                "cursor": str(row.position),
                "record_id": row.record_id,
                "op": row.kind,
                "changed_fields": visible,
                "changed_at": row.changed_at.isoformat() if row.changed_at else None,
                "applied_at": row.delivered_at.isoformat(),
            }
        )
    # The position of the last change read, shown or not: the next page starts after the changes left out.
    next_cursor = str(read[-1].position) if read else str(after)
    return {"changes": changes, "next_cursor": next_cursor, "more": len(rows) > limit}
