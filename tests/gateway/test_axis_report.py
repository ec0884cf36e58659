"""The monthly connection report of the axis on a synthetic month of history with known answers: JSON through a
real gateway, text and HTML through the command, pruning of the history.

The history is written straight into the gateway's database (SQLite, or PostgreSQL when
``GATEWAY_TEST_DATABASE_URL`` is set): the month is the latest 30-day month, in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select
from support import (
    STATED,
    ClientCredentials,
    CommandResult,
    LiveServer,
    fetch_token,
    postgres_database,
    run_gateway_command,
)

from connectors.sql.urls import to_async_url
from gateway.audit.models import AuditEvent, AuditHead
from gateway.axis._history import prune_history
from gateway.axis.catalogue import load_catalogue
from gateway.axis.models import AxisCheckCount, AxisTransition
from gateway.axis.report import build_month_report, month_bounds
from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PROBLEM = "application/problem+json"


def latest_30_day_month(now: datetime) -> tuple[str, datetime, datetime]:
    local = now.astimezone(ZONE)
    year, month = local.year, local.month
    while True:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        start, end = month_bounds(year, month, ZONE)
        if end - start == timedelta(days=30):
            return f"{year:04d}-{month:02d}", start, end


MONTH, START, END = latest_30_day_month(datetime.now(UTC))
H = timedelta(hours=1)
D = timedelta(days=1)


@dataclass
class World:
    url: str
    settings: Settings
    operator: ClientCredentials


def _transition(database: str, at: datetime, state: str, cause: str | None = None) -> AxisTransition:
    return AxisTransition(database_id=database, at=at, state=state, cause=cause)


def _event(seq: int, database: str, at: datetime, outcome: str) -> AuditEvent:
    return AuditEvent(
        seq=seq,
        occurred_at=at,
        request_id=f"r{seq}",
        database=database,
        operation="read",
        record_ids=[],
        outcome=outcome,
        status={"allowed": 200, "refused": 403, "failed": 502}[outcome],
        latency_ms=1.0,
        response_sha256="0" * 64,
        prev_hash="0" * 64,
        hash=f"{seq:064d}",
    )


HISTORY = [
    # population: connected from before the month, down exactly 3 h 36 min on day 6 (0.5 % of 30 days)
    _transition("population", START - 10 * D, "connected"),
    _transition("population", START + 5 * D, "down", "connection refused by 10.0.0.5:5432"),
    _transition("population", START + 5 * D + 3 * H + timedelta(minutes=36), "connected"),
    # business: down since before the month until 01:00 on the 1st, degraded, then recovering (a state this
    # report knows nothing of) from two hours before the end, connected only after the month
    _transition("business", START - 2 * H, "down", "no answer in 5 s"),
    _transition("business", START + H, "degraded", "slow: p95 latency 1800 ms over 1000 ms"),
    _transition("business", END - 2 * H, "recovering", "recovering: 1 of 2 checks answered"),
    _transition("business", END + H, "connected"),
    # land: under maintenance all month
    _transition("land", START - 40 * D, "maintenance", "under maintenance"),
    # vehicles: first checked half way through the month
    _transition("vehicles", START + 15 * D, "connected"),
    # tax: a transition long after the month only
    _transition("tax", END + 3 * D, "pending", "no connector configured"),
]
CHECKS = [
    AxisCheckCount(database_id="population", hour=START - H, checks=50, failed=50),
    AxisCheckCount(database_id="population", hour=START, checks=240, failed=0),
    AxisCheckCount(database_id="population", hour=START + 5 * D, checks=240, failed=15),
    AxisCheckCount(database_id="population", hour=END - H, checks=240, failed=0),
    AxisCheckCount(database_id="population", hour=END, checks=99, failed=9),
    AxisCheckCount(database_id="business", hour=START + 3 * H, checks=10, failed=2),
]
EVENTS = [
    *(_event(10**9 + i, "population", START + D + i * H, "allowed") for i in range(7)),
    _event(10**9 + 10, "population", START + 2 * D, "refused"),
    _event(10**9 + 11, "population", START + 2 * D, "refused"),
    _event(10**9 + 12, "population", START + 5 * D + H, "failed"),
    _event(10**9 + 13, "population", START - timedelta(seconds=1), "failed"),
    _event(10**9 + 14, "population", END, "failed"),
    _event(10**9 + 15, "business", END - timedelta(minutes=1), "allowed"),
]


async def _seed(url: str) -> ClientCredentials:
    async with standalone_session(url) as session:
        for row in [*HISTORY, *CHECKS, *EVENTS]:
            session.add(row)
        session.add(AuditHead(id=1, seq=max(e.seq for e in EVENTS), hash=EVENTS[-1].hash, updated_at=END))
        await session.commit()
        client, secret = await create_client(session, name="Axis reader", scopes=["axis"], client_id="axis-reader")
        return ClientCredentials(client.client_id, secret)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("axis-report")
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")

    def build(url: str) -> World:
        migrations.upgrade(url)
        operator = asyncio.run(_seed(url))
        settings = Settings(data_dir=data_dir, database_url=url, log_format="console", log_level="WARNING")
        return World(url, settings, operator)

    if server:
        with postgres_database(server, prefix="gwaxrep") as url:
            yield build(url)
    else:
        yield build(str(to_async_url(f"sqlite:///{data_dir / 'gateway.db'}")))


def test_the_report_of_a_synthetic_month_through_the_api(world: World) -> None:
    with LiveServer(create_app(world.settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {fetch_token(http, world.operator)}", **STATED}
        response = http.get("/v1/axis/report", params={"month": MONTH}, headers=headers)
        assert response.status_code == 200, response.text
        report = response.json()
        # 9999-12 ends in the year 10000; "٢٠٢٦-01" and "2٠٢٦-01" are Arabic-Indic digits, not YYYY-MM.
        for bad in ("2026-13", "26-11", "november", f"{datetime.now(UTC).year + 1}-01", "9999-12", "2٠٢٦-01"):
            refused = http.get("/v1/axis/report", params={"month": bad}, headers=headers)
            assert refused.status_code == 422, (bad, refused.text)
            assert refused.headers["content-type"].startswith(PROBLEM)
            assert refused.json()["errors"][0]["loc"] == ["query", "month"]
        assert http.get("/v1/axis/report", params={"month": MONTH}).status_code == 401
        html = http.get("/v1/axis/report", params={"month": MONTH, "format": "html"}, headers=headers)
        assert html.headers["content-type"].startswith("text/html") and "Mất kết nối" in html.text

    assert report["month"] == MONTH and report["timezone"] == "Asia/Ho_Chi_Minh" and report["complete"] is True
    assert datetime.fromisoformat(report["start"]) == START and datetime.fromisoformat(report["end"]) == END
    assert (report["total"], report["connected_at_end"], report["target"]) == (16, 2, 16)
    databases = {db["id"]: db for db in report["databases"]}
    assert len(databases) == 16

    population = databases["population"]
    assert population["shares"]["down"] == pytest.approx(0.005)
    assert population["shares"]["connected"] == pytest.approx(0.995)
    assert population["seconds"]["down"] == 3 * 3600 + 36 * 60
    assert population["state_at_end"] == "connected"
    (incident,) = population["incidents"]
    assert datetime.fromisoformat(incident["start"]) == START + 5 * D
    assert datetime.fromisoformat(incident["end"]) == START + 5 * D + 3 * H + timedelta(minutes=36)
    assert incident["cause"] == "connection refused by 10.0.0.5:5432" and incident["state"] == "down"
    assert not incident["began_before"] and not incident["ongoing"]
    assert (population["checks"], population["checks_failed"]) == (720, 15)
    assert population["requests"] == 10
    assert population["requests_by_outcome"] == {"allowed": 7, "refused": 2, "failed": 1}
    assert population["error_ratio"] == pytest.approx(0.1)

    business = databases["business"]
    assert business["seconds"] == {"degraded": 30 * 86400 - 3 * 3600, "down": 3600, "recovering": 7200}
    assert business["connected_share"] == pytest.approx((30 * 86400 - 3 * 3600) / (30 * 86400))
    assert business["state_at_end"] == "recovering"
    first, last = business["incidents"]
    assert datetime.fromisoformat(first["start"]) == START and first["began_before"]
    assert first["duration_seconds"] == 3600 and first["cause"] == "no answer in 5 s"
    assert datetime.fromisoformat(last["end"]) == END and last["ongoing"] and last["state"] == "recovering"
    assert (business["checks"], business["requests"], business["error_ratio"]) == (10, 1, 0.0)

    assert databases["land"]["shares"] == {"maintenance": 1.0} and databases["land"]["incidents"] == []
    assert databases["vehicles"]["shares"] == {"connected": 0.5, "unknown": 0.5}
    for never in ("tax", "education"):
        assert databases[never]["shares"] == {"unknown": 1.0} and databases[never]["state_at_end"] == "unknown"
        assert (databases[never]["checks"], databases[never]["requests"]) == (0, 0)
        assert databases[never]["error_ratio"] is None
    assert report["states"] == ["connected", "degraded", "down", "maintenance", "recovering", "unknown"]
    assert (report["incidents"], report["checks"], report["requests"], report["requests_failed"]) == (3, 730, 11, 1)


def _cli(world: World, *args: str) -> CommandResult:
    """``gateway axis report ARGS``, in this process."""
    env = {
        **os.environ,
        "GATEWAY_DATA_DIR": str(world.settings.data_dir),
        "GATEWAY_DATABASE_URL": world.url,
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    return run_gateway_command(("axis", "report", *args), env=env, cwd=Path.cwd())


def test_the_report_as_text_through_the_command(world: World) -> None:
    result = _cli(world, "--month", MONTH)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "2/16 cơ sở dữ liệu đã kết nối vào cuối tháng (mục tiêu 16)" in lines
    assert "2 of 16 national databases connected at month end (target 16)" in lines
    population = next(line.split() for line in lines if line.startswith("population "))
    header = next(line.split() for line in lines if line.startswith("DATABASE"))
    assert header[:7] == ["DATABASE", "CONNECTED", "DEGRADED", "DOWN", "MAINTENANCE", "RECOVERING", "UNKNOWN"]
    assert population[1:6:] == ["99.5", "%", "0", "%", "0.5"]
    incident = next(line for line in lines if line.strip().startswith("population:"))
    start = (START + 5 * D).astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    assert f"Mất kết nối / Down {start}" in incident and "3 h 36 min" in incident
    assert incident.endswith("connection refused by 10.0.0.5:5432")
    assert any("business:" in line and "(began before)" in line and "1 h" in line for line in lines)
    assert any("business:" in line and "(not over)" in line and "Đang phục hồi / Recovering" in line for line in lines)
    for bad in ("2026-00", "soon"):
        refused = _cli(world, "--month", bad)
        assert refused.returncode == 2 and "error: month" in refused.stderr


class _Cells(HTMLParser):
    """The text of the elements with an id, and the cells of each table row with a ``data-database``."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}
        self.rows: list[tuple[str, list[str]]] = []
        self.lang = ""
        self._id: str | None = None
        self._row: tuple[str, list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang") or ""
        if found.get("id"):
            self._id = found["id"]
            self.ids[self._id or ""] = ""
        if tag == "tr" and found.get("data-database"):
            self._row = (found["data-database"] or "", [])
            self.rows.append(self._row)
        if tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._id = None
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._id is not None:
            self.ids[self._id] += data
        if self._cell is not None:
            self._cell.append(data)


def test_the_report_as_html_through_the_command(world: World, tmp_path: Path) -> None:
    target = tmp_path / "axis.html"
    result = _cli(world, "--month", MONTH, "--format", "html", "--output", str(target))
    assert result.returncode == 0, result.stderr
    page = target.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page and "https://" not in page
    parsed = _Cells()
    parsed.feed(page)
    assert parsed.lang == "vi"
    assert parsed.ids["headline"] == "2/16 cơ sở dữ liệu quốc gia đã kết nối vào cuối tháng (mục tiêu 16)"
    assert parsed.ids["headline-en"] == "2 of 16 national databases connected at month end (target 16)"
    assert page.index("Báo cáo kết nối trục tích hợp") < page.index("Integration axis connection report")
    rows = [cells for database, cells in parsed.rows if database == "population"]
    summary, incident = rows
    # name, bar, 6 states (connected ... unknown), at end, incidents, checks, requests, error ratio
    assert summary[2:8] == ["99.5 %", "0 %", "0.5 %", "0 %", "0 %", "0 %"]
    assert summary[8] == "Đã kết nối / Connected" and summary[9:] == ["1", "720 (15)", "10", "10 %"]
    assert incident[1] == "Mất kết nối / Down" and incident[4] == "3 h 36 min"
    assert incident[2] == (START + 5 * D).astimezone(ZONE).strftime("%d/%m/%Y %H:%M")
    assert incident[5] == "connection refused by 10.0.0.5:5432"
    business = [cells for database, cells in parsed.rows if database == "business"]
    assert "(từ tháng trước / from the month before)" in business[1][2]
    assert "(chưa kết thúc / not over)" in business[2][3] and business[2][1] == "Đang phục hồi / Recovering"
    assert "<svg" in page and "Không có dữ liệu" in page and "No data" in page


def test_pruning_keeps_the_state_at_the_cut_and_the_report_after_it(tmp_path: Path) -> None:
    url = str(to_async_url(f"sqlite:///{tmp_path / 'gateway.db'}"))
    migrations.upgrade(url)
    now = datetime(2026, 12, 6, 3, tzinfo=UTC)
    catalogue = load_catalogue(None)

    async def run() -> None:
        async with standalone_session(url) as session:
            for at, state in (
                (datetime(2025, 9, 1, tzinfo=UTC), "down"),
                (datetime(2025, 9, 20, tzinfo=UTC), "connected"),
                (datetime(2025, 10, 3, tzinfo=UTC), "down"),
                (datetime(2025, 10, 5, tzinfo=UTC), "connected"),
                (datetime(2026, 11, 10, tzinfo=UTC), "down"),
                (datetime(2026, 11, 10, 1, tzinfo=UTC), "connected"),
            ):
                session.add(_transition("population", at, state))
            session.add(_transition("land", datetime(2025, 1, 1, tzinfo=UTC), "maintenance"))
            for hour in (datetime(2025, 9, 1, tzinfo=UTC), datetime(2026, 11, 10, tzinfo=UTC)):
                session.add(AxisCheckCount(database_id="population", hour=hour, checks=5, failed=1))
            await session.commit()

            async def report(month: str) -> dict[str, object]:
                built = await build_month_report(
                    session, catalogue, month=month, zone=ZONE, target=16, retention_days=400, now=now
                )
                return built.model_dump(mode="json")

            before = [await report(month) for month in ("2025-11", "2026-11")]
            assert await prune_history(session, now, 400) == (3, 1)
            left = (await session.exec(select(AxisTransition))).all()
            kept = sorted((row.database_id, row.at, row.state) for row in left)
            assert kept[:2] == [
                ("land", datetime(2025, 1, 1, tzinfo=UTC), "maintenance"),
                ("population", datetime(2025, 10, 5, tzinfo=UTC), "connected"),
            ]
            assert len(kept) == 4
            after = [await report(month) for month in ("2025-11", "2026-11")]
            for old, new in zip(before, after, strict=True):
                old.pop("generated_at"), new.pop("generated_at")
                assert old == new
            november = after[1]["databases"]
            assert isinstance(november, list) and november[0]["seconds"]["down"] == 3600
            assert november[0]["checks"] == 5
            # before the retained history (400 days before now) the state is unknown, even if the rows are there
            first = after[0]["databases"]
            assert isinstance(first, list) and first[0]["seconds"]["unknown"] == 10 * 3600
            assert set(first[0]["seconds"]) == {"unknown", "connected"}
            early = (await report("2025-10"))["databases"]
            assert isinstance(early, list) and early[0]["shares"] == {"unknown": 1.0}
            assert await prune_history(session, now, 400) == (0, 0)

    asyncio.run(run())
