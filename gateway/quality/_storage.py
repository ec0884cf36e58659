"""Keeping data-quality counts in the gateway's database and reading them back.

A scan *replaces* its source's counts (``scan``: the last scan stands for the database); submitted records *add*
to theirs (``submitted``), with atomic increments so that every gateway process can count at once. The worst
records are kept per rule: the scan's ten, or the ten heaviest of all submissions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.quality.evaluate import WORST_PER_RULE, DimensionCount, Evaluation, WorstRecord
from gateway.quality.models import QualityDimensionCount, QualityRuleCount, QualityScore, QualityWorstRecord
from gateway.quality.rules import Dimension

__all__ = [
    "SOURCES",
    "StoredRule",
    "StoredScores",
    "add_counts",
    "read_dimension_counts",
    "read_scores",
    "replace_counts",
]

SCAN: Final = "scan"
SUBMITTED: Final = "submitted"
SOURCES: Final = (SCAN, SUBMITTED)
"""Where counts come from: a sampled scan of the sector system, or the records agencies submitted."""

_SCORES = QualityScore.__table__  # type: ignore[attr-defined]
_DIMENSIONS = QualityDimensionCount.__table__  # type: ignore[attr-defined]
_RULES = QualityRuleCount.__table__  # type: ignore[attr-defined]
_WORST = QualityWorstRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class StoredRule:
    """One rule's stored counts and worst records."""

    rule_id: str
    dimension: Dimension
    checked: int
    failed: int
    worst: list[WorstRecord]
    unverified: int = 0


@dataclass(frozen=True, slots=True)
class StoredScores:
    """One database's stored counts from one source."""

    database_id: str
    source: str
    contract: str
    records: int
    sample_size: int | None
    started_at: datetime
    updated_at: datetime
    dimensions: dict[Dimension, DimensionCount] = field(default_factory=dict)
    rules: list[StoredRule] = field(default_factory=list)


def _count_rows(
    key: dict[str, str], evaluation: Evaluation, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of ``evaluation``'s dimensions, rules and worst records, each starting with ``key``."""
    dimensions = [
        {**key, "dimension": d.value, "checked": c.checked, "failed": c.failed, "unverified": c.unverified}
        for d, c in evaluation.dimensions.items()
    ]
    rules = [
        {
            **key,
            "rule_id": r.rule_id,
            "dimension": r.dimension.value,
            "checked": r.checked,
            "failed": r.failed,
            "unverified": r.unverified,
        }
        for r in evaluation.rules.values()
    ]
    worst = [
        {
            **key,
            "rule_id": count.rule_id,
            "record_ref": item.record[:64],
            "detail": item.detail[:500],
            "weight": item.weight,
            "seen_at": now,
        }
        for count in evaluation.rules.values()
        for item in count.worst
    ]
    return dimensions, rules, worst


async def replace_counts(
    session: AsyncSession,
    *,
    database_id: str,
    source: str,
    contract: str,
    evaluation: Evaluation,
    started_at: datetime,
    now: datetime,
    sample_size: int | None = None,
) -> None:
    """Replace a source's counts of a database with those of ``evaluation`` (a scan). Does not commit."""
    for model in (QualityScore, QualityDimensionCount, QualityRuleCount, QualityWorstRecord):
        await session.exec(delete(model).where(col(model.database_id) == database_id, col(model.source) == source))
    key = {"database_id": database_id, "source": source}
    score = {
        **key,
        "contract": contract,
        "records": evaluation.records,
        "sample_size": sample_size,
        "started_at": started_at,
        "updated_at": now,
    }
    dimensions, rules, worst = _count_rows(key, evaluation, now)
    for table, rows in ((_SCORES, [score]), (_DIMENSIONS, dimensions), (_RULES, rules), (_WORST, worst)):
        if rows:
            await session.exec(sa.insert(table).values(rows))


def _upsert(session: AsyncSession, table: sa.Table, rows: Sequence[dict[str, Any]], adds: Sequence[str]) -> Any:
    """``INSERT ... ON CONFLICT (primary key) DO UPDATE`` adding ``adds`` columns (PostgreSQL and SQLite)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(list(rows))
    updates = {name: table.c[name] + statement.excluded[name] for name in adds}
    if "updated_at" in table.c:
        updates["updated_at"] = statement.excluded.updated_at
    return statement.on_conflict_do_update(index_elements=list(table.primary_key.columns), set_=updates)


async def add_counts(
    session: AsyncSession, *, database_id: str, source: str, contract: str, evaluation: Evaluation, now: datetime
) -> None:
    """Add ``evaluation``'s counts to a source's counts of a database (submitted records), keeping the ten worst
    records of each rule. Atomic increments: safe from concurrent processes. Does not commit."""
    if not evaluation.records:
        return
    key = {"database_id": database_id, "source": source}
    score = {**key, "contract": contract, "records": evaluation.records, "started_at": now, "updated_at": now}
    dimensions, rules, worst = _count_rows(key, evaluation, now)
    await session.exec(_upsert(session, _SCORES, [score], ["records"]))
    await session.exec(_upsert(session, _DIMENSIONS, dimensions, ["checked", "failed", "unverified"]))
    await session.exec(_upsert(session, _RULES, rules, ["checked", "failed", "unverified"]))
    if not worst:
        return
    await session.exec(sa.insert(_WORST).values(worst))
    for rule_id in sorted({row["rule_id"] for row in worst}):
        same = (_WORST.c.database_id == database_id, _WORST.c.source == source, _WORST.c.rule_id == rule_id)
        kept = sa.select(_WORST.c.id).where(*same).order_by(_WORST.c.weight.desc(), _WORST.c.id.desc())
        await session.exec(
            sa.delete(_WORST).where(*same, _WORST.c.id.not_in(kept.limit(WORST_PER_RULE).scalar_subquery()))
        )


async def read_scores(session: AsyncSession, database_id: str) -> dict[str, StoredScores]:
    """The stored counts of a database, by source (absent sources left out)."""
    found: dict[str, StoredScores] = {}
    scores = (await session.exec(select(QualityScore).where(col(QualityScore.database_id) == database_id))).all()
    for score in scores:
        found[score.source] = StoredScores(**score.model_dump())
    if not found:
        return found
    dims = await session.exec(
        select(QualityDimensionCount).where(col(QualityDimensionCount.database_id) == database_id)
    )
    for row in dims.all():
        if row.source in found and row.dimension in Dimension.__members__.values():
            found[row.source].dimensions[Dimension(row.dimension)] = DimensionCount(
                row.checked, row.failed, row.unverified
            )
    worst: dict[tuple[str, str], list[WorstRecord]] = {}
    worst_rows = await session.exec(
        select(QualityWorstRecord)
        .where(col(QualityWorstRecord.database_id) == database_id)
        .order_by(col(QualityWorstRecord.weight).desc(), col(QualityWorstRecord.id))
    )
    for item in worst_rows.all():
        bucket = worst.setdefault((item.source, item.rule_id), [])
        if len(bucket) < WORST_PER_RULE:
            bucket.append(WorstRecord(item.record_ref, item.detail, item.weight))
    rules = await session.exec(
        select(QualityRuleCount)
        .where(col(QualityRuleCount.database_id) == database_id)
        .order_by(col(QualityRuleCount.rule_id))
    )
    for rule in rules.all():
        if rule.source in found and rule.dimension in Dimension.__members__.values():
            found[rule.source].rules.append(
                StoredRule(
                    rule.rule_id,
                    Dimension(rule.dimension),
                    rule.checked,
                    rule.failed,
                    worst.get((rule.source, rule.rule_id), []),
                    rule.unverified,
                )
            )
    return found


async def read_dimension_counts(session: AsyncSession) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(database, source, dimension) -> (checked, failed) for every database: what the metrics export."""
    rows = (await session.exec(select(QualityDimensionCount))).all()
    return {(r.database_id, r.source, r.dimension): (r.checked, r.failed) for r in rows}


async def read_scan_times(session: AsyncSession) -> dict[str, float]:
    """Database -> Unix time of its last scan."""
    rows = (await session.exec(select(QualityScore).where(col(QualityScore.source) == SCAN))).all()
    return {r.database_id: r.updated_at.timestamp() for r in rows}
