"""One client's queue of operations waiting for delivery is bounded (``GATEWAY_EXCHANGE_CLIENT_QUEUE_MAX``), so that a
client submitting faster than the sector system takes its operations does not make every other client's wait behind
it. A real gateway (uvicorn on 127.0.0.1) accepts submissions without delivering them (the sector system does not
drain: the queue only grows), with a bound of four operations and submissions of at most three; a dispatcher of the
test's drains the queue when a test says so. A submission past the bound is refused whole (429
``exchange-queue-full``, ``Retry-After``), nothing stored; the other clients still submit and are delivered; a
repetition of an accepted submission is still answered with its receipt; once its queue drains, the client submits
again. On SQLite, or PostgreSQL with GATEWAY_TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from exchange_fixtures import (
    dispatch_due,
    live_exchange_gateway,
    make_exchange_client,
    operation,
    sector_row,
    seeded_row,
)
from pydantic import ValidationError
from sqlmodel import col, func, select
from support import STATED, fetch_token

from gateway.core import metrics
from gateway.core.db import create_engine, standalone_session
from gateway.core.problems import PROBLEM_MEDIA_TYPE
from gateway.core.settings import Settings
from gateway.exchange.intake import unfinished_operations, unfinished_query
from gateway.exchange.models import ExchangeReceipt

RECORDS = "/v1/databases/population/records"
#: The bound on one client's unfinished operations, and the most operations a submission carries.
BOUND, BATCH = 4, 3
MARITAL = ["single", "married", "divorced", "widowed"]


databases, settings, http, admin = live_exchange_gateway(
    "excq",
    citizens=10,
    seed=47,
    exchange_dispatch=False,  # the sector system takes nothing until the test's dispatcher drains the queue
    exchange_batch_max=BATCH,
    exchange_client_queue_max=BOUND,
)


def _writer(http: httpx.Client, url: str) -> tuple[dict[str, str], str]:
    """A new client that may submit to the population database: its request headers and its id."""
    credentials = make_exchange_client(url, "population:read", "population:submit")
    return {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}, credentials.client_id


def _updates(record: str, count: int) -> list[dict[str, Any]]:
    return [operation("update", record, {"marital_status": MARITAL[i % len(MARITAL)]}) for i in range(count)]


def _submit(
    http: httpx.Client, headers: dict[str, str], operations: list[Any], key: str | None = None
) -> httpx.Response:
    return http.post(
        RECORDS, json={"operations": operations}, headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex}
    )


def _accepted(response: httpx.Response) -> list[int]:
    assert response.status_code == 202, response.text
    return [entry["operation_id"] for entry in response.json()["accepted"]]


def _unfinished(url: str, client_id: str) -> int:
    async def run() -> int:
        async with standalone_session(url) as session:
            return await unfinished_operations(session, client_id, "population")

    return asyncio.run(run())


def _receipts(url: str, client_id: str) -> int:
    async def run() -> int:
        async with standalone_session(url) as session:
            query = select(func.count()).where(col(ExchangeReceipt.client_id) == client_id)
            return (await session.exec(query)).one()

    return asyncio.run(run())


def _full(http: httpx.Client, url: str, record: str) -> tuple[dict[str, str], str, httpx.Response]:
    """A new client whose queue holds its bound (one submission of three operations, one of one): its headers, its
    client id and the answer to its last accepted submission."""
    headers, client_id = _writer(http, url)
    _accepted(_submit(http, headers, _updates(record, BATCH)))
    last = _submit(http, headers, _updates(record, BOUND - BATCH))
    _accepted(last)
    assert _unfinished(url, client_id) == BOUND
    return headers, client_id, last


def test_a_submission_past_the_clients_bound_is_refused_whole(http: httpx.Client, databases: tuple[str, str]) -> None:
    url, record = databases[0], seeded_row(databases[1], 0)["so_dinh_danh"]
    headers, client_id = _writer(http, url)
    _accepted(_submit(http, headers, _updates(record, BATCH)))
    refused_before = metrics.EXCHANGE_QUEUE_FULL.labels("population", client_id)._value.get()

    # Three wait; two more would make five: the submission is refused whole, not cut to the one that fits.
    refused = _submit(http, headers, _updates(record, 2))
    assert refused.status_code == 429, refused.text
    assert refused.headers["Content-Type"].startswith(PROBLEM_MEDIA_TYPE)
    assert int(refused.headers["Retry-After"]) > 0
    problem = refused.json()
    assert problem["type"] == "/problems/exchange-queue-full"
    assert (problem["unfinished"], problem["limit"], problem["submitted"]) == (BATCH, BOUND, 2)
    assert f"{BATCH} operations of this client" in problem["detail"]
    assert f"at most {BOUND} may wait" in problem["detail"]
    assert _unfinished(url, client_id) == BATCH
    assert _receipts(url, client_id) == 1  # no receipt stored for the refused one
    assert metrics.EXCHANGE_QUEUE_FULL.labels("population", client_id)._value.get() == refused_before + 1

    # The one that fits is accepted; then the queue is full, and a single operation more is refused (in Vietnamese
    # when asked).
    _accepted(_submit(http, headers, _updates(record, 1)))
    full = _submit(http, {**headers, "Accept-Language": "vi"}, _updates(record, 1))
    assert full.status_code == 429, full.text
    assert full.json()["title"] == "Quá nhiều thao tác đang chờ chuyển tới hệ thống chuyên ngành"
    assert f"còn {BOUND} thao tác đang chờ" in full.json()["detail"]
    assert _unfinished(url, client_id) == BOUND


def test_other_clients_still_submit_and_are_delivered(
    http: httpx.Client, settings: Settings, databases: tuple[str, str]
) -> None:
    url = databases[0]
    flooding, _, _ = _full(http, url, seeded_row(databases[1], 1)["so_dinh_danh"])
    assert _submit(http, flooding, _updates(seeded_row(databases[1], 1)["so_dinh_danh"], 1)).status_code == 429

    other = seeded_row(databases[1], 2)["so_dinh_danh"]
    writer, _ = _writer(http, url)
    response = _submit(http, writer, [operation("update", other, {"full_name": "Trần Thị Bình"})])
    _accepted(response)
    dispatch_due(settings)
    receipt = http.get(response.headers["Location"], headers=writer).json()
    assert [entry["state"] for entry in receipt["accepted"]] == ["delivered"]
    assert sector_row(databases[1], other)["ho_ten"] == "Trần Thị Bình"  # type: ignore[index]


def test_the_refused_client_submits_again_once_its_queue_drains(
    http: httpx.Client, settings: Settings, databases: tuple[str, str]
) -> None:
    url, record = databases[0], seeded_row(databases[1], 3)["so_dinh_danh"]
    headers, client_id, _ = _full(http, url, record)
    key = uuid.uuid4().hex
    late = [operation("update", record, {"marital_status": "widowed"})]
    assert _submit(http, headers, late, key).status_code == 429

    dispatch_due(settings)
    assert _unfinished(url, client_id) == 0
    # The same request again, with the same key, as the problem says: accepted now (not a repetition: the refused
    # one stored nothing), and delivered.
    again = _submit(http, headers, late, key)
    _accepted(again)
    assert "Idempotent-Replayed" not in again.headers
    dispatch_due(settings)
    assert sector_row(databases[1], record)["tinh_trang_hon_nhan"] == 4  # type: ignore[index]


def test_a_repetition_of_an_accepted_submission_is_answered_while_the_queue_is_full(
    http: httpx.Client, databases: tuple[str, str]
) -> None:
    url, record = databases[0], seeded_row(databases[1], 4)["so_dinh_danh"]
    headers, client_id, last = _full(http, url, record)
    key = last.request.headers["Idempotency-Key"]
    operations = _updates(record, BOUND - BATCH)

    replayed = _submit(http, headers, operations, key)
    assert replayed.status_code == 202, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["receipt_id"] == last.json()["receipt_id"]
    assert _unfinished(url, client_id) == BOUND
    # The same key with other operations is still the reuse it was, not a full queue.
    reused = _submit(http, headers, _updates(record, 2), key)
    assert reused.status_code == 422 and reused.json()["type"] == "/problems/idempotency-key-reused"


def test_concurrent_submissions_of_one_client_do_not_pass_the_bound_together(
    http: httpx.Client, databases: tuple[str, str]
) -> None:
    url, record = databases[0], seeded_row(databases[1], 5)["so_dinh_danh"]
    headers, client_id = _writer(http, url)

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=str(http.base_url), timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        RECORDS,
                        json={"operations": _updates(record, BATCH)},
                        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                    )
                    for _ in range(8)
                )
            )

    answers = asyncio.run(run())
    assert sorted(answer.status_code for answer in answers) == [202] + [429] * 7, [a.text for a in answers]
    assert _unfinished(url, client_id) == BATCH


def test_the_count_is_read_from_the_client_queue_index(databases: tuple[str, str]) -> None:
    url = databases[0]

    async def plan() -> str:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                query = unfinished_query("some-client", "population").compile(
                    dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                )
                if conn.dialect.name == "sqlite":
                    rows = (await conn.execute(sa.text(f"EXPLAIN QUERY PLAN {query}"))).all()
                    return " ".join(str(row[-1]) for row in rows)
                await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # a tiny table: make the choice
                rows = (await conn.execute(sa.text(f"EXPLAIN {query}"))).all()
                return " ".join(str(row[0]) for row in rows)
        finally:
            await engine.dispose()

    assert "ix_exchange_operations_client_queue" in asyncio.run(plan())


@pytest.mark.parametrize(
    ("bound", "valid"), [(0, True), (BATCH, True), (10_000, True), (BATCH - 1, False), (-1, False)]
)
def test_the_bound_is_none_or_holds_a_full_submission(
    make_settings: Callable[..., Settings], bound: int, valid: bool
) -> None:
    if valid:
        assert (
            make_settings(exchange_batch_max=BATCH, exchange_client_queue_max=bound).exchange_client_queue_max == bound
        )
        return
    with pytest.raises(ValidationError, match="exchange_client_queue_max"):
        make_settings(exchange_batch_max=BATCH, exchange_client_queue_max=bound)


def test_the_default_bound_is_ten_thousand(make_settings: Callable[..., Settings]) -> None:
    assert make_settings().exchange_client_queue_max == 10_000
