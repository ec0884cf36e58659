"""The data-quality report of one database: scores per dimension and rule, the worst records, from each source.

:func:`build_report` reads what is stored; the report is printed as JSON (its pydantic model) or rendered as a
self-contained HTML page (:func:`gateway.quality.html.render_html`).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import UnknownContract, get_contract
from gateway.core.db import utcnow
from gateway.quality._storage import SOURCES, StoredScores, read_scores
from gateway.quality.domain import rules_for
from gateway.quality.history import MonthScores, month_start, monthly_scores, read_history
from gateway.quality.rules import Dimension, Rule

__all__ = ["DimensionScore", "QualityReport", "RuleScore", "SourceReport", "WorstRecordOut", "build_report"]


class DimensionScore(BaseModel):
    """One dimension's share of passing records."""

    dimension: Dimension
    title_vi: str
    checked: int = Field(
        description="Records judged: failing a rule of the dimension, or passing every one that applies to them (a "
        "record failing none that a rule could not verify, another database not answering, is not counted)."
    )
    failed: int = Field(description="Records failing at least one of its rules.")
    unverified: int = Field(
        0,
        description="Records failing none of its rules that a rule could not verify (another database gave no "
        "usable answer): neither passing nor failing, left out of the ratio.",
    )
    ratio: float | None = Field(description="Share of checked records that pass; null when none was checked.")


class WorstRecordOut(BaseModel):
    """A failed record, its key masked."""

    record: str = Field(description="The record key, masked (068*******45).")
    detail: str
    weight: float


class RuleScore(BaseModel):
    """One rule's counts and its worst records."""

    id: str
    dimension: Dimension
    title: str
    title_vi: str
    checked: int
    failed: int
    unverified: int = Field(
        0, description="Records the rule applies to that it could not verify (another database gave no usable answer)."
    )
    ratio: float | None
    worst: list[WorstRecordOut]


class SourceReport(BaseModel):
    """What one source (``scan`` or ``submitted``) measured."""

    source: str
    contract: str
    records: int = Field(description="Records evaluated (sampled, or submitted since started_at).")
    sample_size: int | None = Field(description="Records a scan asked for (null for submitted records).")
    started_at: datetime
    updated_at: datetime
    dimensions: list[DimensionScore]
    rules: list[RuleScore]


class QualityReport(BaseModel):
    """The data-quality report of one national database."""

    database: str
    name: str | None = None
    name_vi: str | None = None
    generated_at: datetime
    scan: SourceReport | None = None
    submitted: SourceReport | None = None
    trend: list[MonthScores] = Field(
        default_factory=list,
        description="The last twelve months (oldest first): each month's dimension scores from its last scan.",
    )


def _ratio(checked: int, failed: int) -> float | None:
    return (checked - failed) / checked if checked else None


def _known_rules(contract_id: str) -> dict[str, Rule]:
    name, _, version = contract_id.partition("@")
    try:
        contract = get_contract(name, int(version) if version else None)
    except (UnknownContract, ValueError):
        return {}
    return {rule.id: rule for rule in rules_for(contract)}


def _source_report(stored: StoredScores) -> SourceReport:
    known = _known_rules(stored.contract)
    order = {rule_id: index for index, rule_id in enumerate(known)}
    rules = sorted(stored.rules, key=lambda r: (order.get(r.rule_id, len(order)), r.rule_id))
    return SourceReport(
        source=stored.source,
        contract=stored.contract,
        records=stored.records,
        sample_size=stored.sample_size,
        started_at=stored.started_at,
        updated_at=stored.updated_at,
        dimensions=[
            DimensionScore(
                dimension=dimension,
                title_vi=dimension.title_vi,
                checked=stored.dimensions[dimension].checked,
                failed=stored.dimensions[dimension].failed,
                unverified=stored.dimensions[dimension].unverified,
                ratio=stored.dimensions[dimension].ratio,
            )
            for dimension in Dimension
            if dimension in stored.dimensions
        ],
        rules=[
            RuleScore(
                id=rule.rule_id,
                dimension=rule.dimension,
                title=known[rule.rule_id].title if rule.rule_id in known else rule.rule_id,
                title_vi=known[rule.rule_id].title_vi if rule.rule_id in known else rule.rule_id,
                checked=rule.checked,
                failed=rule.failed,
                unverified=rule.unverified,
                ratio=_ratio(rule.checked, rule.failed),
                worst=[WorstRecordOut(record=w.record, detail=w.detail, weight=w.weight) for w in rule.worst],
            )
            for rule in rules
        ],
    )


#: The province's time zone, in which the trend's months begin and end unless told otherwise.
VIETNAM_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TREND_MONTHS = 12


async def build_report(
    session: AsyncSession,
    database_id: str,
    *,
    name: str | None = None,
    name_vi: str | None = None,
    zone: tzinfo = VIETNAM_ZONE,
) -> QualityReport | None:
    """The report of ``database_id`` from its stored counts, with the trend of its last twelve months of scans
    (months in ``zone``); ``None`` when nothing was measured yet."""
    stored = await read_scores(session, database_id)
    if not stored:
        return None
    sources = {source: _source_report(stored[source]) for source in SOURCES if source in stored}
    now = utcnow()
    history = await read_history(
        session, database_id=database_id, since=month_start(now, zone, months_back=TREND_MONTHS - 1), rules=False
    )
    return QualityReport(
        database=database_id,
        name=name,
        name_vi=name_vi,
        generated_at=now,
        scan=sources.get("scan"),
        submitted=sources.get("submitted"),
        trend=monthly_scores(history, zone).get(database_id, []),
    )
