"""A background loop over a failing database logs one line when the failures start and one when they end, with
the failed rounds counted, and no traceback per round (the webhook sender here, on a database whose tables are
missing until it is migrated; the other loops use the same :class:`gateway.outages.LoopErrors`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway import migrations
from gateway.db import create_engine, create_sessionmaker
from gateway.exchange.webhooks import WebhookSender
from gateway.logs import configure_logging
from gateway.outages import DATABASE
from gateway.services.access import AccessControl
from gateway.settings import Settings

POLL = 0.02


def lines(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_loop_over_a_failing_database_logs_the_outage_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    settings = Settings(data_dir=tmp_path, database_url=url, exchange_poll_seconds=POLL, log_format="json")
    configure_logging(level="INFO", fmt="json")
    DATABASE.succeeded()  # no outage left over from another test

    async def run() -> float:
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        sender = WebhookSender(settings=settings, sessionmaker=sessionmaker, access=AccessControl(sessionmaker))
        sender.start()
        began = time.monotonic()
        await asyncio.sleep(1.0)  # about 50 rounds, each failing: the tables are missing
        await asyncio.to_thread(migrations.upgrade, url)
        deadline = time.monotonic() + 10
        while DATABASE.ongoing:
            assert time.monotonic() < deadline
            await asyncio.sleep(POLL)
        await sender.close()
        await engine.dispose()
        return time.monotonic() - began

    asyncio.run(run())
    output = capsys.readouterr().err
    logged = lines(output)
    assert "Traceback" not in output
    down = [line for line in logged if line["event"] == "gateway database unavailable"]
    back = [line for line in logged if line["event"] == "gateway database available again"]
    assert len(down) == 1 and down[0]["part"] == "webhook", down
    assert down[0]["error"].startswith("OperationalError")
    assert "no such table" not in output  # the error's text (its SQL) is not logged
    assert len(back) == 1, back
    assert back[0]["failed_rounds"] >= 20
    assert back[0]["by_part"] == {"webhook": back[0]["failed_rounds"]}
    assert len([line for line in logged if line["level"] == "error"]) == 1
