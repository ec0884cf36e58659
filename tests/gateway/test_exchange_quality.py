"""Data quality at the gate, end to end against a real gateway (uvicorn on 127.0.0.1) and a real sector database:
the population database flags records whose dates are implausible or stale and refuses names not normalised.

A flagged operation is accepted (202), delivered, and its findings (rule, field, finding) are on the receipt and
counted in ``gateway_exchange_quality_total``; a refused one gets the whole submission answered 422
``/problems/quality-refused`` naming the rule and the field (in Vietnamese too), and nothing is stored."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from support import STATED, ClientCredentials, LiveServer, empty_databases, fetch_token

from contracts.population import Citizen
from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import CONFIG_ENV, Settings
from gateway.exchange.models import ExchangeOperation, ExchangeReceipt
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from simulators.population import seed_population

RECORDS = "/v1/databases/population/records"
EXAMPLE = Citizen.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
NAMES = "population.citizen.names_normalised"
DATES = "population.citizen.dates_possible"
FRESH = "population.citizen.fresh"
GATE = {"population": {"names_normalised": "refuse", DATES: "flag", "fresh": "flag"}}


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with empty_databases(tmp_path_factory.mktemp("gate"), "qgateway", "qpopulation") as (gateway, population):
        migrations.upgrade(gateway)
        asyncio.run(seed_population(population, count=50, seed=5))
        yield gateway, population


@pytest.fixture(scope="module")
def live(make_settings: Callable[..., Settings], databases: tuple[str, str]) -> Iterator[LiveServer]:
    gateway, population = databases
    settings = make_settings(
        database_url=gateway,
        connectors={"population": {"config": {"url": population, "writes": {}}}},
        exchange_poll_seconds=0.05,
        quality_gate=GATE,
        quality_default_freshness_days=1460,
    )
    with LiveServer(create_app(settings)) as server:
        yield server


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def writer(client: httpx.Client, databases: tuple[str, str]) -> dict[str, str]:
    async def make() -> tuple[str, str]:
        async with standalone_session(databases[0]) as session:
            made, secret = await create_client(
                session, name="Quality gate test", scopes=["population:read", "population:submit"]
            )
            return made.client_id, secret

    client_id, secret = asyncio.run(make())
    token = fetch_token(client, ClientCredentials(client_id, secret))
    return {"Authorization": f"Bearer {token}", **STATED}


def citizen(personal_id: str, **changes: Any) -> dict[str, Any]:
    fields = {**EXAMPLE, "household_id": "HK068000123", "old_id_number": f"9{personal_id[-8:]}", **changes}
    fields.pop("personal_id")
    return fields


def op(kind: str, record_id: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"op": kind, "record_id": record_id, "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"}}
    if fields is not None:
        body["fields"] = fields
    return body


def submit(
    client: httpx.Client, headers: dict[str, str], operations: list[Any], key: str | None = None
) -> httpx.Response:
    return client.post(
        RECORDS, json={"operations": operations}, headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex}
    )


def quality_counts(client: httpx.Client) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("gateway_exchange_quality_total{") and 'database="population"' in line:
            outcome = line.split('outcome="')[1].split('"')[0]
            found[outcome] = float(line.rsplit(" ", 1)[1])
    return found


def read(client: httpx.Client, headers: dict[str, str], personal_id: str) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        response = client.get(f"{RECORDS}/{personal_id}", headers=headers)
        if response.status_code != 404 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def stored(gateway_url: str, record_ids: list[str]) -> tuple[int, int]:
    """Operations stored for these records, and receipts stored at all."""

    async def run() -> tuple[int, int]:
        async with standalone_session(gateway_url) as session:
            operations = await session.exec(
                select(ExchangeOperation).where(col(ExchangeOperation.record_id).in_(record_ids))
            )
            receipts = await session.exec(select(ExchangeReceipt))
            return len(operations.all()), len(receipts.all())

    return asyncio.run(run())


def test_a_flagged_submission_is_accepted_with_its_findings_on_the_receipt(
    client: httpx.Client, writer: dict[str, str]
) -> None:
    before = quality_counts(client).get("flagged", 0.0)
    old, clean, stale = "068100900001", "068185900002", "068185900003"
    operations = [
        op("create", old, citizen(old, date_of_birth="1900-05-01")),  # alive and over 120 years old
        op("create", clean, citizen(clean)),
        op("create", stale, citizen(stale, last_updated="2001-01-01T00:00:00+07:00")),
    ]
    response = submit(client, writer, operations)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert [entry["index"] for entry in receipt["accepted"]] == [0, 1, 2]
    (dates, fresh) = receipt["findings"]
    assert dates == {
        "index": 0,
        "record_id": old,
        "rule": DATES,
        "title": "Dates are possible",
        "title_vi": dates["title_vi"],
        "field": "date_of_birth",
        "finding": "date_of_birth: alive and older than 120 years",
        "action": "flag",
    }
    assert dates["title_vi"]
    assert (fresh["index"], fresh["record_id"], fresh["rule"], fresh["field"]) == (2, stale, FRESH, None)
    assert fresh["finding"].startswith("last updated ") and fresh["finding"].endswith("(target 1460 days)")
    # The receipt API shows the same findings, and the records are delivered as any other.
    again = client.get(f"/v1/receipts/{receipt['receipt_id']}", headers=writer)
    assert again.status_code == 200 and again.json()["findings"] == receipt["findings"]
    assert read(client, writer, old).json()["date_of_birth"] == "1900-05-01"
    assert quality_counts(client)["flagged"] == before + 2  # two operations flagged


def test_a_clean_submission_has_no_findings(client: httpx.Client, writer: dict[str, str]) -> None:
    clean = "068185900004"
    response = submit(client, writer, [op("create", clean, citizen(clean))])
    assert response.status_code == 202 and response.json()["findings"] == []


def test_a_refused_submission_is_a_422_naming_the_rule_and_field_and_nothing_is_stored(
    client: httpx.Client, writer: dict[str, str], databases: tuple[str, str]
) -> None:
    before = quality_counts(client).get("refused", 0.0)
    good, shouting = "068185900005", "068185900006"
    operations = [
        op("create", good, citizen(good)),
        op("create", shouting, citizen(shouting, full_name="NGUYỄN THỊ MAI")),
    ]
    receipts_before = stored(databases[0], [good, shouting])[1]
    response = submit(client, writer, operations, key="quality-refused-1")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "/problems/quality-refused"
    assert problem["title"] == "Refused for data quality"
    assert problem["detail"] == f"Operation 1 breaks the data-quality rule {NAMES} (full_name); nothing was stored."
    assert (problem["rule"], problem["field"]) == (NAMES, "full_name")
    assert problem["findings"] == [
        {
            "index": 1,
            "record_id": shouting,
            "rule": NAMES,
            "title": "Names are normalised",
            "title_vi": "Họ tên được chuẩn hóa",
            "field": "full_name",
            "finding": "full_name: all upper case",
            "action": "refuse",
        }
    ]
    assert "NGUYỄN" not in response.text  # the finding names the field, never the value
    # Nothing stored: no operation, no receipt, no record upstream, and the key is still free.
    assert stored(databases[0], [good, shouting]) == (0, receipts_before)
    assert client.get(f"{RECORDS}/{good}", headers=writer).status_code == 404
    assert quality_counts(client)["refused"] == before + 1

    vietnamese = submit(client, {**writer, "Accept-Language": "vi"}, operations)
    assert vietnamese.status_code == 422
    assert vietnamese.json()["title"] == "Bị từ chối vì chất lượng dữ liệu"
    assert vietnamese.json()["detail"] == (
        f"Thao tác 1 vi phạm quy tắc chất lượng dữ liệu {NAMES} (full_name); không có dữ liệu nào được lưu."
    )

    corrected = [operations[0], op("create", shouting, citizen(shouting, full_name="Nguyễn Thị Mai"))]
    accepted = submit(client, writer, corrected, key="quality-refused-1")
    assert accepted.status_code == 202, accepted.text
    assert "idempotent-replayed" not in accepted.headers
    assert read(client, writer, shouting).json()["full_name"] == "Nguyễn Thị Mai"


def test_an_update_is_judged_on_the_fields_it_changes(client: httpx.Client, writer: dict[str, str]) -> None:
    record = "068185900007"
    assert submit(client, writer, [op("create", record, citizen(record))]).status_code == 202
    # The stored record is stale-free and well named; an update of another field finds nothing.
    unrelated = submit(client, writer, [op("update", record, {"marital_status": "widowed"})])
    assert unrelated.status_code == 202 and unrelated.json()["findings"] == []
    renamed = submit(client, writer, [op("update", record, {"full_name": "nguyễn thị mai"})])
    assert renamed.status_code == 422
    assert (renamed.json()["rule"], renamed.json()["field"]) == (NAMES, "full_name")
    deleted = submit(client, writer, [op("delete", record)])
    assert deleted.status_code == 202 and deleted.json()["findings"] == []


def test_the_most_specific_setting_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        data_dir=tmp_path,
        quality_gate={"population": {"*": "flag", "fresh": "accept", NAMES: "refuse", "names_normalised": "flag"}},
    )
    assert settings.quality_action("population", NAMES) == "refuse"  # its id, before its short name
    assert settings.quality_action("population", FRESH) == "accept"  # its short name, before "*"
    assert settings.quality_action("population", DATES) == "flag"  # "*"
    assert settings.quality_action("land", "land.parcel.fresh") == "accept"  # no setting for the database
    config = tmp_path / "settings.toml"
    config.write_text('[quality_gate.population]\nnames_normalised = "refuse"\n"*" = "flag"\n', encoding="utf-8")
    monkeypatch.setenv(CONFIG_ENV, str(config))
    assert Settings(data_dir=tmp_path).quality_gate == {"population": {"names_normalised": "refuse", "*": "flag"}}
