"""A background loop whose rounds keep failing logs one line (with its traceback) when the failures start and one
when they end, with the failed rounds counted, not a traceback per round: the webhook sender here, on a database
whose tables are missing until it is migrated (a fault, not an outage: an unreachable database is logged without
any traceback, see test_database_outage.py). The other loops use the same :class:`gateway.core.outages.LoopErrors`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.core import migrations
from gateway.core.db import create_engine, create_sessionmaker
from gateway.core.logs import configure_logging
from gateway.core.outages import Outage, database_outage
from gateway.core.settings import Settings
from gateway.exchange.webhooks import WebhookSender
from gateway.identity.access import AccessControl
from gateway.identity.datakeys import DataKeys

POLL = 0.02


def lines(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_loop_failing_round_after_round_logs_once_and_sums_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    settings = Settings(data_dir=tmp_path, database_url=url, exchange_poll_seconds=POLL, log_format="json")
    configure_logging(level="INFO", fmt="json")
    capsys.readouterr()

    async def run() -> float:
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        sender = WebhookSender(
            settings=settings,
            sessionmaker=sessionmaker,
            access=AccessControl(sessionmaker),
            data_keys=DataKeys.from_settings(settings),
        )
        sender.start()
        began = time.monotonic()
        await asyncio.sleep(1.0)  # about 50 rounds, each failing: the tables are missing
        await asyncio.to_thread(migrations.upgrade, url)
        await asyncio.sleep(0.5)  # rounds succeed again
        await sender.close()
        await engine.dispose()
        return time.monotonic() - began

    asyncio.run(run())
    output = capsys.readouterr().err
    logged = lines(output)
    failed = [line for line in logged if line["event"] == "webhook round failed"]
    again = [line for line in logged if line["event"] == "webhook rounds succeed again"]
    assert len(failed) == 1, failed
    assert failed[0]["error"].startswith("OperationalError")
    assert len([line for line in output.splitlines() if "Traceback" in line]) == 1  # the first failure's, once
    assert len(again) == 1, again
    assert again[0]["failed_rounds"] >= 20
    assert len([line for line in logged if line["level"] == "error"]) == 1
    assert not [line for line in logged if line["event"].startswith("gateway database")]  # not an outage


def test_each_database_has_its_own_outage_whatever_its_driver(capsys: pytest.CaptureFixture[str]) -> None:
    """A process serving two gateways (as the tests do) keeps their outages apart: a success on one database does
    not end the other's outage; the same database named with another driver is the same record."""
    configure_logging(level="INFO", fmt="json")
    first = database_outage("postgresql://gateway@127.0.0.1:5432/first")
    assert database_outage("postgresql+asyncpg://gateway@127.0.0.1:5432/first") is first
    second = database_outage("postgresql+asyncpg://gateway@127.0.0.1:5432/second")
    assert second is not first
    capsys.readouterr()

    first.failed("exchange dispatch", ConnectionRefusedError())
    second.succeeded("signing keys")
    assert first.ongoing
    first.succeeded("audit")
    assert not first.ongoing
    logged = lines(capsys.readouterr().err)
    assert [line["event"] for line in logged] == ["gateway database unavailable", "gateway database available again"]
    assert logged[1]["reached_by"] == "audit"
    assert logged[1]["by_part"] == {"exchange dispatch": 1}


def test_a_long_attempt_begun_during_an_outage_does_not_start_another(capsys: pytest.CaptureFixture[str]) -> None:
    """A verification of the audit chain runs for seconds in a child process: begun during an outage, it may fail
    after another part has seen the database back. That failure belongs to the outage that is over; a failure of
    an attempt begun after the recovery starts a new one."""
    configure_logging(level="INFO", fmt="json")
    outage = Outage("gateway database")
    capsys.readouterr()

    outage.failed("exchange dispatch", ConnectionRefusedError())
    verification_began = time.monotonic()
    outage.succeeded("audit")
    outage.failed("audit verification", ConnectionRefusedError(), began=verification_began)
    assert not outage.ongoing
    assert [line["event"] for line in lines(capsys.readouterr().err)] == [
        "gateway database unavailable",
        "gateway database available again",
    ]

    outage.failed("audit verification", ConnectionRefusedError(), began=time.monotonic())
    assert outage.ongoing
    assert [line["part"] for line in lines(capsys.readouterr().err)] == ["audit verification"]
