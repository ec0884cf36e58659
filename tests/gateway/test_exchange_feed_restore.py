"""A change feed restored from a backup goes on beyond every position it gave before the restore: each dispatcher's
start moves the feed on to that moment's first position. A reader (or a subscription kept outside the gateway)
holding a cursor given before the restore reads the changes made since, instead of skipping as many of them as the
backup lacked. On SQLite or PostgreSQL (GATEWAY_TEST_DATABASE_URL), gateways in process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from audit_events import run_sql
from exchange_fixtures import (
    CHANGES,
    exchange_databases,
    make_exchange_client,
    operation,
    seeded_personal_ids,
    submit,
    wait_delivered,
    writable_population,
)
from support import STATED, InProcessGateway, fetch_token

from gateway.core.settings import Settings
from gateway.exchange.dispatcher import FEED_POSITIONS_PER_MILLISECOND
from gateway.http.app import create_app


def _update(http: httpx.Client, headers: dict[str, str], personal_id: str, status: str) -> None:
    answer = submit(http, headers, [operation("update", personal_id, {"marital_status": status})])
    assert answer.status_code == 202, answer.text
    body = wait_delivered(http, headers, answer.json()["receipt_id"])
    assert [entry["state"] for entry in body["accepted"]] == ["delivered"], body


def _changes(http: httpx.Client, headers: dict[str, str], after: str) -> dict[str, Any]:
    page = http.get(CHANGES, headers=headers, params={"after": after})
    assert page.status_code == 200, page.text
    return dict(page.json())


def test_a_cursor_given_before_a_restore_reads_the_changes_made_since(
    tmp_path_factory: pytest.TempPathFactory, make_settings: Callable[..., Settings]
) -> None:
    with exchange_databases(tmp_path_factory, "exfr", citizens=6, seed=41) as (gateway_url, population_url):
        settings = make_settings(
            database_url=gateway_url, connectors=writable_population(population_url), exchange_poll_seconds=0.05
        )
        ids = seeded_personal_ids(population_url)
        credentials = make_exchange_client(gateway_url, "population:read", "population:submit")
        with InProcessGateway(create_app(settings)) as gateway, gateway.client() as http:
            headers = {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}
            _update(http, headers, ids[0], "married")
            backup = _changes(http, headers, "0")
            (first,) = backup["changes"]
            # The dispatcher's start moved the empty feed on to that moment's first position.
            assert int(first["cursor"]) % FEED_POSITIONS_PER_MILLISECOND == 1
            backed_up = int(first["cursor"])  # a backup of the gateway's database is taken here
            for personal_id in ids[1:3]:
                _update(http, headers, personal_id, "divorced")
            seen = _changes(http, headers, str(backed_up))
            assert len(seen["changes"]) == 2
            reader_cursor = str(seen["next_cursor"])  # a reader keeps this, outside the gateway

        # Every gateway process stopped, the database is restored from the backup: its feed ends where it did then.
        run_sql(gateway_url, sa.text(f"DELETE FROM exchange_changes WHERE position > {backed_up}"))
        run_sql(gateway_url, sa.text(f"UPDATE exchange_feeds SET position = {backed_up}"))

        with InProcessGateway(create_app(settings)) as gateway, gateway.client() as http:
            headers = {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}
            _update(http, headers, ids[3], "widowed")
            page = _changes(http, headers, reader_cursor)
            assert [change["record_id"] for change in page["changes"]] == [ids[3]]
            assert int(page["next_cursor"]) > int(reader_cursor)
            # The restored feed reads on as before from its own cursors, with a jump where the gateway started.
            whole = _changes(http, headers, "0")
            assert [change["record_id"] for change in whole["changes"]] == [ids[0], ids[3]]
