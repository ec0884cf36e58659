"""A scan whose cross-database rules another database leaves unanswered is not stored as if it were complete.

The simulated population, civil status and vehicle registration databases (SQLite files), the population database
then made unreachable (its file does not exist) or seeded with records that break its contract: a vehicle whose
owner the population database could not answer about is *unverified* for the rules asking it, never passed; a scan
with more than a small share of those is refused (:class:`IncompleteScan`), and the scores, the history, the
monthly figures and the metrics stay those of the last complete scan, from ``gateway quality scan`` as from the
scans the gateway runs itself. The gateway's own database is SQLite, and PostgreSQL when it is reachable."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from support import postgres_database, run_gateway_command

from connectors.base import Connector
from connectors.discovery import discover_connectors
from connectors.errors import ContractViolation, UpstreamTimeout, UpstreamUnavailable
from connectors.sql.urls import to_async_url
from contracts.dates import vietnam_today
from gateway.core import migrations
from gateway.core.db import standalone_session, utcnow
from gateway.core.logs import configure_logging
from gateway.core.settings import Settings
from gateway.quality._storage import read_scores
from gateway.quality.history import month_start, read_history
from gateway.quality.html import render_html
from gateway.quality.lookups import GIVE_UP_AFTER, connector_lookups
from gateway.quality.monthly import build_month_quality
from gateway.quality.report import build_report
from gateway.quality.rules import Dimension, LookupUnanswered
from gateway.quality.service import (
    UNANSWERED_TOLERANCE,
    UNVERIFIED_TOLERANCE,
    IncompleteScan,
    quality_snapshot,
    scan_database,
    scan_unscanned,
)
from gateway.records.registry import ConnectorRegistry
from simulators.defects import PopulationDefects
from simulators.sectors import SectorContext, load_sector_system

CITIZENS = 600
SEED = 68
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
#: Where the population database is not: every question to it fails (UpstreamUnavailable), as in the review.
UNREACHABLE = "sqlite+aiosqlite:////nonexistent/population.db"
LINKS = ("vehicles.registration.person_is_citizen", "vehicles.registration.no_issue_after_death")


@dataclass(frozen=True)
class Sectors:
    """The simulated databases' connector configurations: ``population`` clean, ``population_unreadable`` with
    10 % and ``population_few_unreadable`` with 2 % of its records breaking the contract (a wrong year of
    birth), the same people."""

    configs: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def sectors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sectors]:
    import asyncio

    today = vietnam_today()

    async def start(stack: ExitStack) -> dict[str, dict[str, Any]]:
        clean = SectorContext(
            data_dir=tmp_path_factory.mktemp("sectors"), citizens=CITIZENS, seed=SEED, today=today, stack=stack
        )
        configs = {db: dict(await load_sector_system(db).start(clean)) for db in ("population", "civil_status")}
        configs["vehicles"] = dict(await load_sector_system("vehicles").start(clean))
        for name, rate in (("population_unreadable", 0.1), ("population_few_unreadable", 0.02)):
            defective = SectorContext(
                data_dir=tmp_path_factory.mktemp(name),
                citizens=CITIZENS,
                seed=SEED,
                today=today,
                stack=stack,
                defects=PopulationDefects(birth_year_mismatch=rate),
            )
            configs[name] = dict(await load_sector_system("population").start(defective))
        return configs

    with ExitStack() as stack:
        yield Sectors(asyncio.run(start(stack)))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def gateway_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway database of this module's own, migrated, on each backend."""
    if request.param == "sqlite":
        url = str(to_async_url(f"sqlite:///{tmp_path_factory.mktemp('unanswered-db') / 'gateway.db'}"))
        migrations.upgrade(url)
        yield url
    else:
        with postgres_database(prefix="gwqunans") as url:
            migrations.upgrade(url)
            yield url


def connector(name: str, config: dict[str, Any]) -> Connector[Any]:
    """A connector of the installed ``name`` (``population``, ``vehicles``...) on ``config``."""
    found: type[Connector[Any]] = discover_connectors(only={name}).connectors[name]
    return found.from_config(config)


async def stored_state(url: str, database_id: str) -> dict[str, Any]:
    """Everything published about a database: its stored scores, its history, the metrics' counts and last scan
    time, and its figures in this month's report."""
    async with standalone_session(url) as session:
        scores = await read_scores(session, database_id)
        history = await read_history(session, database_id=database_id)
        snapshot = await quality_snapshot(session, [database_id])
        now = utcnow()
        month = await build_month_quality(
            session, start=month_start(now, ZONE), end=now + timedelta(seconds=1), zone=ZONE
        )
    return {
        "scores": scores,
        "history": history,
        "metrics": {key: value for key, value in snapshot.counts.items() if key[0] == database_id},
        "last_scan": snapshot.last_scan.get(database_id),
        "month": [db.model_dump() for db in month.databases if db.id == database_id],
    }


async def scan(url: str, database: str, vehicles: Any, settings: Settings, lookups: Any) -> Any:
    """A scan of the vehicles records as ``database``, all of them, with ``lookups``."""
    async with standalone_session(url) as session:
        return await scan_database(
            session,
            database_id=database,
            connector=vehicles,
            settings=settings,
            lookups=lookups,
            sample_size=10 * CITIZENS,
        )


def settings_for(url: str, tmp: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp, database_url=url, quality_default_freshness_days=1460, **values)


@pytest.mark.anyio
async def test_a_scan_the_population_database_does_not_answer_is_not_stored(
    sectors: Sectors, gateway_db: str, tmp_path: Path
) -> None:
    settings = settings_for(gateway_db, tmp_path)
    database = "vehicles_population_down"
    async with AsyncExitStack() as stack:
        vehicles = await stack.enter_async_context(connector("vehicles", sectors.configs["vehicles"]))
        population = await stack.enter_async_context(connector("population", sectors.configs["population"]))
        down = await stack.enter_async_context(connector("population", {"url": UNREACHABLE}))
        civil_status = await stack.enter_async_context(connector("civil_status", sectors.configs["civil_status"]))
        complete = await scan(gateway_db, database, vehicles, settings, connector_lookups(population, civil_status))
        for rule_id in LINKS:
            assert complete.rules[rule_id].checked > 0 and complete.rules[rule_id].unverified == 0, rule_id
        before = await stored_state(gateway_db, database)
        assert before["scores"]["scan"].records == complete.records
        assert before["month"] and before["month"][0]["scores"][Dimension.LIVE] is not None

        with pytest.raises(IncompleteScan) as refused:
            await scan(gateway_db, database, vehicles, settings, connector_lookups(down, civil_status))
    incomplete = refused.value
    assert incomplete.database_id == database
    assert incomplete.databases == incomplete.unanswered_by == ["population"]
    assert [rule.rule_id for rule in incomplete.rules] == sorted(LINKS, key=list(incomplete.evaluation.rules).index)
    for rule in incomplete.rules:
        # Every record the rule applies to is unverified, none passed: the population database did not answer.
        assert rule.checked == rule.failed == 0
        assert rule.unverified == rule.unanswered == rule.applies == complete.records
        assert rule.causes == {("population", "UpstreamUnavailable"): complete.records}
    evaluation = incomplete.evaluation
    live, correct = evaluation.dimensions[Dimension.LIVE], evaluation.dimensions[Dimension.CORRECT]
    assert (live.checked, live.unverified) == (0, complete.records)  # the identity rule is the only live one
    assert correct.checked == correct.failed  # only the records known to fail another rule are judged
    assert correct.unverified == complete.records - correct.failed
    message = incomplete.message
    assert message.startswith("scan not stored (the scores stored before are kept): population did not answer")
    assert f"{LINKS[0]} could not verify {complete.records:,} of the {complete.records:,} records" in message
    assert f"(population: UpstreamUnavailable {complete.records:,})" in message
    assert message.endswith(f"make population reachable, and scan {database} again")
    # Nothing published changed: the scores, the history, the metrics, the month's figures.
    assert await stored_state(gateway_db, database) == before


@pytest.mark.anyio
async def test_records_the_population_database_cannot_read_are_unverified_and_too_many_refuse_the_scan(
    sectors: Sectors, gateway_db: str, tmp_path: Path
) -> None:
    settings = settings_for(gateway_db, tmp_path)
    database = "vehicles_unreadable"
    async with AsyncExitStack() as stack:
        vehicles = await stack.enter_async_context(connector("vehicles", sectors.configs["vehicles"]))
        civil_status = await stack.enter_async_context(connector("civil_status", sectors.configs["civil_status"]))
        few = await stack.enter_async_context(connector("population", sectors.configs["population_few_unreadable"]))
        many = await stack.enter_async_context(connector("population", sectors.configs["population_unreadable"]))
        stored = await scan(gateway_db, database, vehicles, settings, connector_lookups(few, civil_status))
        before = await stored_state(gateway_db, database)
        with pytest.raises(IncompleteScan) as refused:
            await scan(gateway_db, database, vehicles, settings, connector_lookups(many, civil_status))
    # A few owners whose population record breaks the contract: unverified (not an outage), within the tolerance.
    for rule_id in LINKS:
        rule = stored.rules[rule_id]
        assert 0 < rule.unverified <= UNVERIFIED_TOLERANCE * rule.applies, (rule_id, rule.unverified, rule.applies)
        assert rule.unanswered == 0
        assert rule.causes == {("population", "ContractViolation"): rule.unverified}
        assert rule.checked == rule.applies - rule.unverified
    identity = stored.rules[LINKS[0]]
    live = stored.dimensions[Dimension.LIVE]
    assert (live.checked, live.unverified) == (identity.checked, identity.unverified)
    # What is stored is what the scan judged, and how many it could not: the unverified records are neither passed
    # nor failed, and the report says how many there were.
    scores = before["scores"]["scan"]
    assert scores.dimensions == {d: type(c)(c.checked, c.failed, c.unverified) for d, c in stored.dimensions.items()}
    assert {r.rule_id: (r.checked, r.failed, r.unverified) for r in scores.rules} == {
        r.rule_id: (r.checked, r.failed, r.unverified) for r in stored.rules.values()
    }
    async with standalone_session(gateway_db) as session:
        report = await build_report(session, database, name=None, name_vi=None)
    assert report is not None and report.scan is not None
    reported = {rule.id: rule.unverified for rule in report.scan.rules}
    assert {rule_id: reported[rule_id] for rule_id in LINKS} == {r: stored.rules[r].unverified for r in LINKS}
    (live_reported,) = [d for d in report.scan.dimensions if d.dimension is Dimension.LIVE]
    assert live_reported.unverified == live.unverified > 0
    page = render_html(report)
    assert "Chưa kiểm chứng được" in page and "Unverified" in page
    # Ten in a hundred: more than a small share, the scan is refused and nothing changes.
    incomplete = refused.value
    assert (incomplete.databases, incomplete.unanswered_by) == (["population"], [])
    assert {rule.rule_id for rule in incomplete.rules} == set(LINKS)
    assert incomplete.message.startswith(
        "scan not stored (the scores stored before are kept): population answered with records its contract refuses"
    )
    assert "correct those records of population (its own scan counts them)" in incomplete.message
    assert "reachable" not in incomplete.message
    for rule in incomplete.rules:
        assert rule.unverified > UNVERIFIED_TOLERANCE * rule.applies and rule.unanswered == 0
        assert set(rule.causes) == {("population", "ContractViolation")}
    assert await stored_state(gateway_db, database) == before


@pytest.mark.anyio
async def test_a_scan_stops_asking_a_database_that_does_not_answer(
    sectors: Sectors, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert UNANSWERED_TOLERANCE <= UNVERIFIED_TOLERANCE <= 0.05  # a small share
    ids = [f"068185{i:06d}" for i in range(200)]  # no such citizens
    for config, asked in (({"url": UNREACHABLE}, GIVE_UP_AFTER), (sectors.configs["population"], len(ids))):
        async with connector("population", config) as population:
            calls: list[str] = []
            get = population.get

            async def counted(key: str, get: Any = get, calls: list[str] = calls) -> Any:
                calls.append(key)
                return await get(key)

            monkeypatch.setattr(population, "get", counted)
            lookups = connector_lookups(population)
            assert lookups.citizen is not None
            for personal_id in ids:
                if asked == len(ids):
                    assert await lookups.citizen(personal_id) is None  # an answer: "no such citizen"
                    continue
                with pytest.raises(LookupUnanswered) as unanswered:
                    await lookups.citizen(personal_id)
                assert (unanswered.value.database, unanswered.value.reason) == ("population", "UpstreamUnavailable")
                assert unanswered.value.outage
        # Down: asked until it failed GIVE_UP_AFTER times in a row, then not again. Up: asked every time.
        assert len(calls) == asked


@pytest.mark.anyio
async def test_only_outages_in_a_row_make_a_scan_stop_asking(sectors: Sectors, monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer ("no such citizen") or a record that breaks the contract between outages starts the count again:
    a database failing now and then is asked every time; given up, it is given up for the rest of the scan, each
    question left unanswered for the reason of the last outage. (Outages of some records only are injected: the
    simulated database is up.)"""
    runs = [
        *[("down", UpstreamUnavailable)] * (GIVE_UP_AFTER - 1),
        ("answer", None),
        *[("down", UpstreamUnavailable)] * (GIVE_UP_AFTER - 1),
        ("unreadable", ContractViolation),
        *[("down", UpstreamUnavailable)] * (GIVE_UP_AFTER - 1),
        ("down", UpstreamTimeout),
        *[("left", None)] * 5,
    ]
    ids = {f"068185{i:06d}": failure for i, (_kind, failure) in enumerate(runs)}  # no such citizens
    async with connector("population", sectors.configs["population"]) as population:
        calls: list[str] = []
        get = population.get

        async def failing(key: str) -> Any:
            calls.append(key)
            failure = ids[key]
            if failure is not None:
                raise failure("injected")
            return await get(key)

        monkeypatch.setattr(population, "get", failing)
        lookups = connector_lookups(population)
        assert lookups.citizen is not None
        for (kind, _failure), personal_id in zip(runs, ids, strict=True):
            if kind == "answer":
                assert await lookups.citizen(personal_id) is None
                continue
            with pytest.raises(LookupUnanswered) as unanswered:
                await lookups.citizen(personal_id)
            outage, reason = unanswered.value.outage, unanswered.value.reason
            if kind == "unreadable":
                assert (outage, reason) == (False, "ContractViolation")
            elif kind == "left":
                assert (outage, reason) == (True, "UpstreamTimeout")
            else:
                assert outage
    assert len(calls) == len(runs) - 5


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The gateway's log events (structlog through the standard library, as the gateway sets it up), the logging
    set up before restored afterwards."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    configure_logging(level="INFO", fmt="json")
    try:
        with caplog.at_level(logging.INFO):
            yield caplog
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


@pytest.mark.anyio
async def test_the_gateways_own_scans_do_not_store_what_the_population_database_left_unanswered(
    sectors: Sectors, gateway_db: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    def registry(population: dict[str, Any]) -> tuple[Settings, ConnectorRegistry]:
        connectors = {
            "population": {"config": population},
            "civil_status": {"config": sectors.configs["civil_status"]},
            "vehicles": {"config": sectors.configs["vehicles"]},
        }
        settings = settings_for(gateway_db, tmp_path, connectors=connectors)
        return settings, ConnectorRegistry.from_settings(settings)

    settings, down = registry({"url": UNREACHABLE})
    await down.start()
    try:
        async with standalone_session(gateway_db) as session:
            assert await scan_unscanned(session, down, settings, databases=("vehicles",)) == []
    finally:
        await down.close()
    logged = [record.msg for record in logs.records if isinstance(record.msg, dict)]
    (warning,) = [event for event in logged if str(event["event"]).startswith("data-quality scan not stored")]
    assert warning["level"] == "warning" and warning["database"] == "vehicles"
    assert warning["unanswered_by"] == ["population"] and warning["unreadable_in"] == []
    assert set(warning["rules"]) == set(LINKS)
    assert "scan not stored" in warning["error"]
    async with standalone_session(gateway_db) as session:
        assert await read_scores(session, "vehicles") == {}
        assert await read_history(session, database_id="vehicles") == []

    settings, up = registry(sectors.configs["population"])
    await up.start()
    try:
        async with standalone_session(gateway_db) as session:
            assert await scan_unscanned(session, up, settings, databases=("vehicles",)) == ["vehicles"]
    finally:
        await up.close()
    async with standalone_session(gateway_db) as session:
        assert (await read_scores(session, "vehicles"))["scan"].records > 0


def test_gateway_quality_scan_says_why_it_stored_nothing(sectors: Sectors, tmp_path: Path) -> None:
    """The review's reproduction: ``gateway quality scan vehicles`` with the population database's URL pointing
    nowhere."""
    url = str(to_async_url(f"sqlite:///{tmp_path / 'gateway.db'}"))
    migrations.upgrade(url)
    connectors = {db: {"config": sectors.configs[db]} for db in ("population", "civil_status", "vehicles")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_DATA_DIR": str(tmp_path),
            "GATEWAY_DATABASE_URL": url,
            "GATEWAY_CONNECTORS": json.dumps(connectors),
            "GATEWAY_LOG_LEVEL": "WARNING",
            "PYTHONIOENCODING": "utf-8",
        }
    )

    def gateway(*args: str, **more: str) -> tuple[int, str, str]:
        result = run_gateway_command(args, cwd=tmp_path, env={**env, **more})
        assert "Traceback" not in result.stderr, result.stderr
        return result.returncode, result.stdout, result.stderr

    code, out, err = gateway("quality", "scan", "vehicles", "--sample", "20000")
    assert code == 0, err
    assert "scores stored" in out
    code, before, err = gateway("quality", "report", "vehicles")
    assert code == 0, err

    code, out, err = gateway(
        "quality", "scan", "vehicles", "--sample", "20000", GATEWAY_CONNECTORS__POPULATION__CONFIG__URL=UNREACHABLE
    )
    assert code == 1
    assert "scores stored" not in out
    assert "scan not stored (the scores stored before are kept): population did not answer" in err
    assert "could not be read" not in err  # vehicles was read: population did not answer its rules
    assert "vehicles.registration.person_is_citizen could not verify" in err
    assert "population: UpstreamUnavailable" in err
    code, after, err = gateway("quality", "report", "vehicles")
    assert code == 0, err
    kept, now = json.loads(before), json.loads(after)
    assert now["scan"] == kept["scan"]
    assert now["trend"] == kept["trend"]

    # The population connector configured but not loadable (its URL not a database URL): its rules' records are
    # unverified, not left out, and the scan is refused as when the database is down.
    code, out, err = gateway(
        "quality", "scan", "vehicles", "--sample", "20000", GATEWAY_CONNECTORS__POPULATION__CONFIG__URL="not a url"
    )
    assert code == 1, out
    assert "scores stored" not in out
    assert "population did not answer" in err and "population: ConnectorNotLoaded" in err
    code, after, err = gateway("quality", "report", "vehicles")
    assert code == 0, err
    assert json.loads(after)["scan"] == kept["scan"]
