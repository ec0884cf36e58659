"""Data quality over time: every scan appends its scores to the history (SQLite and PostgreSQL), the history is
pruned after its retention, and a synthetic history of months, written in bulk, renders as a trend with the right
figures in the quality report, in the monthly axis report (JSON, text, HTML) and through
``GET /v1/quality/history`` on a real gateway."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from support import ClientCredentials, LiveServer, fetch_token, postgres_database

from connectors.population import PopulationConnector
from connectors.sql.urls import to_async_url
from gateway.axis.catalogue import load_catalogue
from gateway.axis.html import render_report_html
from gateway.axis.report import AxisMonthReport, build_month_report, month_bounds
from gateway.cli.axis import report_text
from gateway.core import migrations
from gateway.core.db import create_engine, create_sessionmaker, standalone_session
from gateway.core.settings import Settings
from gateway.quality._storage import replace_counts
from gateway.quality.evaluate import DimensionCount, Evaluation
from gateway.quality.history import HistoryRetention, read_history
from gateway.quality.html import render_html
from gateway.quality.models import QualityHistory
from gateway.quality.report import build_report
from gateway.quality.rules import Dimension
from gateway.quality.service import scan_database
from simulators.population import seed_population

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TABLE = QualityHistory.__table__  # type: ignore[attr-defined]
MONTHS = 6
SCANS_PER_MONTH = 3


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def history_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway database of this module's own, migrated, on each backend."""
    if request.param == "sqlite":
        url = str(to_async_url(f"sqlite:///{tmp_path_factory.mktemp('history-db') / 'gateway.db'}"))
        migrations.upgrade(url)
        yield url
    else:
        with postgres_database(prefix="gwqhist") as url:
            migrations.upgrade(url)
            yield url


def recent_months(now: datetime, count: int) -> list[tuple[str, datetime, datetime]]:
    """The ``count`` months before the current one (in Viet Nam), oldest first: (YYYY-MM, start, end)."""
    local = now.astimezone(ZONE)
    found = []
    for back in range(count, 0, -1):
        index = local.year * 12 + local.month - 1 - back
        year, month = index // 12, index % 12 + 1
        start, end = month_bounds(year, month, ZONE)
        found.append((f"{year:04d}-{month:02d}", start, end))
    return found


def expected(database_index: int, month_index: int, dimension: Dimension) -> float:
    """The score of the last scan of a month: every database gets cleaner month over month."""
    base = {Dimension.CORRECT: 0.80, Dimension.COMPLETE: 0.70, Dimension.CLEAN: 0.60, Dimension.LIVE: 0.50}[dimension]
    return round(base + 0.03 * month_index + 0.01 * database_index, 4)


def synthetic_rows(databases: list[str], months: list[tuple[str, datetime, datetime]]) -> list[dict[str, Any]]:
    """Three scans a month per database (the last one has the month's figure; earlier ones score lower), with the
    dimensions' and two rules' scores."""
    rows = []
    for d_index, database in enumerate(databases):
        for m_index, (_, start, _) in enumerate(months):
            for scan in range(SCANS_PER_MONTH):
                at = start + timedelta(days=3 + 9 * scan, hours=d_index)
                last = scan == SCANS_PER_MONTH - 1
                for dimension in Dimension:
                    value = expected(d_index, m_index, dimension) - (0 if last else 0.05)
                    failed = round(1000 * (1 - value))
                    rows.append(
                        {
                            "database_id": database,
                            "source": "scan",
                            "dimension": dimension.value,
                            "rule_id": "",
                            "checked": 1000,
                            "failed": failed,
                            "value": value,
                            "sample_size": 1000,
                            "recorded_at": at,
                        }
                    )
                for rule in ("contract_valid", "names_normalised"):
                    rows.append(
                        {
                            "database_id": database,
                            "source": "scan",
                            "dimension": "correct" if rule == "contract_valid" else "clean",
                            "rule_id": f"{database}.{rule}",
                            "checked": 1000,
                            "failed": 10,
                            "value": 0.99,
                            "sample_size": 1000,
                            "recorded_at": at,
                        }
                    )
    return rows


async def insert_rows(url: str, rows: list[dict[str, Any]]) -> None:
    async with standalone_session(url) as session:
        await session.exec(sa.insert(TABLE).values(rows))  # type: ignore[call-overload]
        await session.commit()


# --- every scan is kept ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_scan_appends_its_scores_to_the_history(history_db: str, tmp_path: Path) -> None:
    sector = f"sqlite:///{tmp_path / 'population.db'}"
    await seed_population(sector, count=120, seed=11)
    settings = Settings(data_dir=tmp_path, database_url=history_db, quality_default_freshness_days=1460)
    connector = PopulationConnector.from_config({"url": sector})
    async with connector, standalone_session(history_db) as session:
        first = await scan_database(
            session, database_id="population_hist", connector=connector, settings=settings, sample_size=50
        )
        second = await scan_database(
            session, database_id="population_hist", connector=connector, settings=settings, sample_size=500
        )
    async with standalone_session(history_db) as session:
        points = await read_history(session, database_id="population_hist")
        dimensions_only = await read_history(session, database_id="population_hist", rules=False)
    times = sorted({point.recorded_at for point in points})
    assert len(times) == 2
    for moment, evaluation, size in zip(times, (first, second), (50, 500), strict=True):
        scan = [point for point in points if point.recorded_at == moment]
        assert {point.sample_size for point in scan} == {size}
        dims = {point.dimension: point for point in scan if point.rule is None}
        assert set(dims) == set(Dimension)
        for dimension, count in evaluation.dimensions.items():
            assert (dims[dimension].checked, dims[dimension].failed, dims[dimension].value) == (
                count.checked,
                count.failed,
                count.ratio,
            )
        rules = {point.rule: point for point in scan if point.rule is not None}
        assert set(rules) == set(evaluation.rules)
        for rule_id, count in evaluation.rules.items():
            assert (rules[rule_id].checked, rules[rule_id].failed) == (count.checked, count.failed)
            assert rules[rule_id].dimension == count.dimension
    assert [point for point in points if point.rule is None] == dimensions_only


@pytest.mark.anyio
async def test_the_history_is_pruned_after_its_retention(history_db: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    rows = synthetic_rows(["retained_db"], [("", now - timedelta(days=60), now), ("", now - timedelta(days=10), now)])
    await insert_rows(history_db, rows)
    settings = Settings(data_dir=tmp_path, database_url=history_db, quality_history_retention_days=30)
    async with standalone_session(history_db) as session:
        before = await read_history(session, database_id="retained_db")
    assert min(point.recorded_at for point in before) < now - timedelta(days=30)
    engine = create_engine(history_db)
    try:
        retention = HistoryRetention(settings=settings, sessionmaker=create_sessionmaker(engine))
        assert await retention.lease.hold()  # the lease row exists (migration 0012)
        deleted = await retention.run_once()
        await retention.lease.release()
    finally:
        await engine.dispose()
    async with standalone_session(history_db) as session:
        after = await read_history(session, database_id="retained_db")
    assert deleted >= len(before) - len(after) > 0
    assert after and all(point.recorded_at >= now - timedelta(days=30) for point in after)
    assert len(after) == len([p for p in before if p.recorded_at >= now - timedelta(days=30)])


# --- a synthetic history of months renders as a trend ---------------------------------------------------------------


class Trend(HTMLParser):
    """The polylines of the trend charts (by class) and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, list[int]] = {}
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "polyline" and (values.get("class") or "").startswith("trend-"):
            self.lines.setdefault(str(values["class"]), []).append(len(str(values["points"]).split()))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Trend:
    parser = Trend()
    parser.feed(page)
    return parser


@pytest.mark.anyio
async def test_a_synthetic_history_renders_as_a_trend_in_the_quality_report(history_db: str) -> None:
    now = datetime.now(UTC)
    months = recent_months(now, MONTHS)
    databases = ["trend_db"]
    await insert_rows(history_db, synthetic_rows(databases, months))
    async with standalone_session(history_db) as session:
        evaluation = Evaluation(records=1000, rules={}, dimensions={d: DimensionCount(1000, 1) for d in Dimension})
        await replace_counts(
            session,
            database_id="trend_db",
            source="scan",
            contract="population.citizen@1",
            evaluation=evaluation,
            started_at=now,
            now=now,
            sample_size=1000,
        )
        await session.commit()
        report = await build_report(session, "trend_db")
    assert report is not None
    assert [month.month for month in report.trend] == [name for name, _, _ in months]
    for m_index, month in enumerate(report.trend):
        assert month.scans == SCANS_PER_MONTH
        assert month.dimensions == {d: pytest.approx(expected(0, m_index, d)) for d in Dimension}
    page = parse(render_html(report))
    assert page.lines == {f"trend-{d.value}": [MONTHS] for d in Dimension}
    text = "".join(page.text)
    assert "Xu hướng theo tháng" in text and "Trend by month" in text
    # The last month's figures and their change from the month before (+3 points a month).
    assert f"{expected(0, MONTHS - 1, Dimension.CORRECT) * 100:.1f} %" in text
    assert "(+3.0)" in text
    assert "script" not in page.tags and "http" not in render_html(report).replace("http-equiv", "")


def test_the_monthly_report_has_the_months_data_quality_beside_the_connections(history_db: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    months = recent_months(now, MONTHS)
    catalogue = load_catalogue(Settings().axis_catalogue_path)
    databases = [entry.id for entry in catalogue.databases][:3]
    last = months[-1][0]

    async def reports(url: str) -> tuple[AxisMonthReport, AxisMonthReport]:
        await insert_rows(url, synthetic_rows(databases, months))
        async with standalone_session(url) as session:
            report = await build_month_report(
                session, catalogue, month=last, zone=ZONE, target=16, retention_days=400, now=now
            )
            earlier = await build_month_report(
                session, catalogue, month=months[0][0], zone=ZONE, target=16, retention_days=400, now=now
            )
        return report, earlier

    # A fresh database of its own: this test's rows only.
    with fresh_database(history_db, tmp_path) as url:
        report, earlier = asyncio.run(reports(url))
    quality = report.quality
    assert quality is not None
    assert [entry.id for entry in quality.databases] == databases  # in the catalogue's order
    assert quality.months[-1] == last and len(quality.months) == 12
    assert [month.month for month in quality.trend] == [name for name, _, _ in months]
    assert quality.scanned == 3
    for d_index, entry in enumerate(quality.databases):
        assert entry.name == catalogue.get(entry.id).name_vi  # type: ignore[union-attr]
        assert entry.scans == SCANS_PER_MONTH
        for dimension in Dimension:
            assert entry.scores[dimension] == pytest.approx(expected(d_index, MONTHS - 1, dimension))
            assert entry.previous[dimension] == pytest.approx(expected(d_index, MONTHS - 2, dimension))
            assert entry.change[dimension] == pytest.approx(0.03)
    for dimension in Dimension:
        mean = sum(expected(i, MONTHS - 1, dimension) for i in range(3)) / 3
        assert quality.average[dimension] == pytest.approx(mean)
        assert quality.average_change[dimension] == pytest.approx(0.03)
    # The first month of the history: no month before it, so no change.
    assert earlier.quality is not None
    assert [month.month for month in earlier.quality.trend] == [months[0][0]]
    assert all(change is None for entry in earlier.quality.databases for change in entry.change.values())

    page = parse(render_report_html(report))
    assert page.lines == {f"trend-{d.value}": [MONTHS] for d in Dimension}
    text = "".join(page.text)
    assert "Chất lượng dữ liệu" in text and "Data quality" in text
    assert "Báo cáo kết nối trục tích hợp" in text  # the connections stay on the same page
    assert f"{expected(0, MONTHS - 1, Dimension.LIVE) * 100:.1f} %" in text

    lines = report_text(report).splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["DATABASE", "SCANS"])
    first = lines[header + 1].split()
    assert first[:2] == [databases[0], str(SCANS_PER_MONTH)]
    assert f"{expected(0, MONTHS - 1, Dimension.CORRECT) * 100:.1f}" in first
    assert "(+3.0)" in first
    assert lines[header + 4].split()[0] == "mean"


@contextmanager
def fresh_database(like: str, tmp_path: Path) -> Iterator[str]:
    """A new, migrated gateway database on the backend of ``like``."""
    if like.startswith("postgresql"):
        with postgres_database(prefix="gwqmonth") as url:
            migrations.upgrade(url)
            yield url
    else:
        url = str(to_async_url(f"sqlite:///{tmp_path / 'month.db'}"))
        migrations.upgrade(url)
        yield url


# --- the API ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def officer(make_client: Callable[..., ClientCredentials]) -> ClientCredentials:
    return make_client("axis")


def test_the_history_api_gives_the_points_and_the_months(
    server: LiveServer,
    http: httpx.Client,
    gateway_database_url: str,
    officer: ClientCredentials,
    make_client: Callable[..., ClientCredentials],
) -> None:
    months = recent_months(datetime.now(UTC), 3)
    asyncio.run(insert_rows(gateway_database_url, synthetic_rows(["qhist_api"], months)))
    headers = {"Authorization": f"Bearer {fetch_token(http, officer)}"}
    response = http.get("/v1/quality/history", params={"database": "qhist_api"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    per_scan = len(Dimension) + 2
    assert len(body["points"]) == 3 * SCANS_PER_MONTH * per_scan and not body["truncated"]
    assert {point["database"] for point in body["points"]} == {"qhist_api"}
    assert body["timezone"] == "Asia/Ho_Chi_Minh"
    assert [month["month"] for month in body["months"]] == [name for name, _, _ in months]
    assert body["months"][-1]["dimensions"]["correct"] == pytest.approx(expected(0, 2, Dimension.CORRECT))

    # A period: the middle month only, dimension scores only.
    _, start, end = months[1]
    period = {"database": "qhist_api", "from": start.isoformat(), "to": end.isoformat(), "rules": "false"}
    middle = http.get("/v1/quality/history", params=period, headers=headers).json()
    assert len(middle["points"]) == SCANS_PER_MONTH * len(Dimension)
    assert all(point["rule"] is None for point in middle["points"])
    assert [month["month"] for month in middle["months"]] == [months[1][0]]
    # A date without a time or zone: midnight UTC.
    dated = http.get(
        "/v1/quality/history", params={"database": "qhist_api", "from": f"{end.date():%Y-%m-%d}"}, headers=headers
    )
    assert dated.status_code == 200 and dated.json()["from"].startswith(f"{end.date():%Y-%m-%d}T00:00:00")
    limited = http.get("/v1/quality/history", params={"database": "qhist_api", "limit": 5}, headers=headers).json()
    assert len(limited["points"]) == 5 and limited["truncated"]

    backwards = http.get(
        "/v1/quality/history", params={"from": end.isoformat(), "to": start.isoformat()}, headers=headers
    )
    assert backwards.status_code == 200 and backwards.json()["points"] == backwards.json()["months"] == []
    malformed = http.get("/v1/quality/history", params={"from": "last month"}, headers=headers)
    assert malformed.status_code == 422
    # A misspelt database is not an empty history: 404 (a database of the catalogue never scanned is empty).
    misspelt = http.get("/v1/quality/history", params={"database": "qhist_apu"}, headers=headers)
    assert misspelt.status_code == 404 and misspelt.json()["type"].endswith("/problems/not-found")
    unscanned = http.get("/v1/quality/history", params={"database": "land"}, headers=headers)
    assert unscanned.status_code == 200 and unscanned.json()["points"] == []

    assert http.get("/v1/quality/history").status_code == 401
    reader = make_client("population:read")
    refused = http.get("/v1/quality/history", headers={"Authorization": f"Bearer {fetch_token(http, reader)}"})
    assert refused.status_code == 403
    assert re.search(r"/problems/insufficient-scope$", refused.json()["type"])
