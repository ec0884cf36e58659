"""Writes are checked at the depth reads are: a grant limited to fields does not delete whole records, a grant on
a nested field does not rewrite its object, a create writes only granted fields, and the change feed shows a
reader only the changed paths its grant covers. Against a real gateway (uvicorn on 127.0.0.1) and the SQL
population connector, on SQLite or PostgreSQL (GATEWAY_TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import sqlalchemy as sa
from exchange_fixtures import (
    live_exchange_gateway,
    make_exchange_client,
    seeded_row,
)
from support import STATED, fetch_token, run_gateway_command

from contracts.population import Citizen
from gateway.core.db import create_engine
from simulators.population import CITIZENS

RECORDS = "/v1/databases/population/records"
CHANGES = "/v1/databases/population/changes"
GRANTS = "/v1/admin/grants"
EXAMPLE = cast(dict[str, Any], Citizen.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
ADDRESS = ["province_code", "ward_code", "province_name", "ward_name", "line"]


databases, settings, http, admin = live_exchange_gateway("exgr", citizens=40, seed=23, exchange_poll_seconds=0.05)


@pytest.fixture(scope="module")
def full(http: httpx.Client, databases: tuple[str, str]) -> dict[str, str]:
    """A client granted read and submit on every field."""
    credentials = make_exchange_client(databases[0], "population:read", "population:submit")
    return {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}


@pytest.fixture(scope="module")
def grantee(http: httpx.Client, admin: dict[str, str], databases: tuple[str, str]) -> Callable[..., dict[str, str]]:
    """A new client with one grant (through the admin API): its request headers."""

    def make(operations: list[str], fields: list[str] | None) -> dict[str, str]:
        credentials = make_exchange_client(databases[0])
        body = {"client_id": credentials.client_id, "database": "population", "operations": operations}
        response = http.post(GRANTS, json={**body, "fields": fields}, headers=admin)
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}

    return make


def _row(url: str, personal_id: str) -> dict[str, Any] | None:
    async def run() -> dict[str, Any] | None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                row = (await conn.execute(sa.select(CITIZENS).where(CITIZENS.c.so_dinh_danh == personal_id))).first()
                return None if row is None else dict(row._mapping)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _op(op: str, record_id: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"op": op, "record_id": record_id, "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"}}
    if fields is not None:
        body["fields"] = fields
    return body


def _submit(http: httpx.Client, headers: dict[str, str], *operations: dict[str, Any]) -> httpx.Response:
    return http.post(
        RECORDS, json={"operations": list(operations)}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )


def _delivered(http: httpx.Client, headers: dict[str, str], response: httpx.Response) -> list[str]:
    assert response.status_code == 202, response.text
    receipt_id = response.json()["receipt_id"]
    deadline = time.monotonic() + 20
    while True:
        states = [e["state"] for e in http.get(f"/v1/receipts/{receipt_id}", headers=headers).json()["accepted"]]
        if set(states) <= {"delivered", "dead"} or time.monotonic() > deadline:
            return states
        time.sleep(0.05)


def _refused(response: httpx.Response) -> dict[str, Any]:
    """The problem of the single operation of a refused submission."""
    assert response.status_code == 422, response.text
    (rejected,) = response.json()["rejected"]
    problem: dict[str, Any] = rejected["problem"]
    return problem


def _address(row: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The stored permanent address (province, ward, line) of a sector row."""
    return row["thuong_tru_tinh"], row["thuong_tru_xa"], row["thuong_tru_chi_tiet"]


def _place(http: httpx.Client, full: dict[str, str], personal_id: str) -> tuple[str, str]:
    """The province and ward codes of a citizen's permanent address, as the contract gives them."""
    address = http.get(f"{RECORDS}/{personal_id}", headers=full).json()["permanent_address"]
    return address["province_code"], address["ward_code"]


def _new_citizen(personal_id: str) -> dict[str, Any]:
    fields = {**EXAMPLE, "household_id": "HK068000123", "old_id_number": f"8{personal_id[-8:]}"}
    fields.pop("personal_id")
    # The names of the province and ward are derived from their codes: left out, nothing asks to write them.
    address: dict[str, Any] = EXAMPLE["permanent_address"]
    fields["permanent_address"] = {k: v for k, v in address.items() if not k.endswith("_name")}
    return fields


def test_a_grant_limited_to_fields_cannot_delete_a_record(
    http: httpx.Client, grantee: Callable[..., dict[str, str]], databases: tuple[str, str]
) -> None:
    headers = grantee(["submit"], ["full_name"])
    citizen = seeded_row(databases[1], 0)["so_dinh_danh"]
    problem = _refused(_submit(http, headers, _op("delete", citizen)))
    assert problem["status"] == 403 and problem["type"].endswith("/access-denied")
    assert "delete" in problem["detail"]
    assert _row(databases[1], citizen) is not None
    # Writing the granted field is still allowed.
    renamed = _submit(http, headers, _op("update", citizen, {"full_name": "Trần Văn Bình"}))
    assert _delivered(http, headers, renamed) == ["delivered"]
    assert _row(databases[1], citizen)["ho_ten"] == "Trần Văn Bình"  # type: ignore[index]


def test_the_delete_operation_lets_a_limited_grant_delete(
    http: httpx.Client, grantee: Callable[..., dict[str, str]], admin: dict[str, str], databases: tuple[str, str]
) -> None:
    headers = grantee(["submit", "delete"], ["full_name"])
    citizen = seeded_row(databases[1], 1)["so_dinh_danh"]
    assert _delivered(http, headers, _submit(http, headers, _op("delete", citizen))) == ["delivered"]
    assert _row(databases[1], citizen) is None
    alone = http.post(
        GRANTS, json={"client_id": "nobody-needed", "database": "population", "operations": ["delete"]}, headers=admin
    )
    assert alone.status_code == 422 and "submit" in alone.text


def test_a_grant_on_every_field_deletes(http: httpx.Client, full: dict[str, str], databases: tuple[str, str]) -> None:
    citizen = seeded_row(databases[1], 2)["so_dinh_danh"]
    assert _delivered(http, full, _submit(http, full, _op("delete", citizen))) == ["delivered"]
    assert _row(databases[1], citizen) is None


def test_a_grant_on_a_nested_field_cannot_rewrite_its_object(
    http: httpx.Client, grantee: Callable[..., dict[str, str]], full: dict[str, str], databases: tuple[str, str]
) -> None:
    headers = grantee(["read", "submit"], ["permanent_address.province_code"])
    before = seeded_row(databases[1], 3)
    citizen = before["so_dinh_danh"]
    province, ward = _place(http, full, citizen)
    attack = {"province_code": province, "ward_code": ward, "line": "1 Đường Giả Mạo"}
    problem = _refused(_submit(http, headers, _op("update", citizen, {"permanent_address": attack})))
    assert problem["status"] == 403 and "permanent_address" in problem["detail"]
    # Only the granted leaf given: the object would still be replaced, its other fields cleared.
    leaf_only = {"permanent_address": {"province_code": province}}
    problem = _refused(_submit(http, headers, _op("update", citizen, leaf_only)))
    assert problem["status"] == 403 and "replaces permanent_address whole" in problem["detail"]
    after = _row(databases[1], citizen)
    assert after is not None and _address(after) == _address(before)
    # What the grant allows still works: reading the leaf.
    read = http.get(f"{RECORDS}/{citizen}", headers=headers)
    assert read.status_code == 200 and read.json()["permanent_address"] == {"province_code": province}


def test_an_object_is_updated_under_a_grant_on_it_or_on_each_of_its_fields(
    http: httpx.Client, grantee: Callable[..., dict[str, str]], full: dict[str, str], databases: tuple[str, str]
) -> None:
    for index, fields in ((4, ["permanent_address"]), (5, [f"permanent_address.{leaf}" for leaf in ADDRESS])):
        headers = grantee(["submit"], fields)
        before = seeded_row(databases[1], index)
        province, ward = _place(http, full, before["so_dinh_danh"])
        moved = {"permanent_address": {"province_code": province, "ward_code": ward, "line": f"{index} Lê Lợi"}}
        response = _submit(http, headers, _op("update", before["so_dinh_danh"], moved))
        assert _delivered(http, headers, response) == ["delivered"]
        after = _row(databases[1], before["so_dinh_danh"])
        assert after is not None and _address(after)[1:] == (before["thuong_tru_xa"], f"{index} Lê Lợi")
        assert after["ho_ten"] == before["ho_ten"]


def test_a_create_needs_every_nested_field_it_writes_granted(
    http: httpx.Client, grantee: Callable[..., dict[str, str]], databases: tuple[str, str]
) -> None:
    top = [name for name in Citizen.model_fields if name != "permanent_address"]
    record, other = "068185990001", "068185990002"
    partial = grantee(["submit"], [*top, "permanent_address.province_code", "permanent_address.ward_code"])
    problem = _refused(_submit(http, partial, _op("create", record, _new_citizen(record))))
    assert problem["status"] == 403 and "permanent_address.line" in problem["detail"]
    assert _row(databases[1], record) is None
    enough = grantee(["submit"], [*top, "permanent_address.province_code", "permanent_address.ward_code",
                                  "permanent_address.line"])  # fmt: skip
    assert _delivered(http, enough, _submit(http, enough, _op("create", other, _new_citizen(other)))) == ["delivered"]
    assert _row(databases[1], other) is not None


def test_the_change_feed_shows_changed_fields_at_the_readers_depth(
    http: httpx.Client, grantee: Callable[..., dict[str, str]], full: dict[str, str], databases: tuple[str, str]
) -> None:
    start = http.get(CHANGES, headers=full, params={"limit": 100}).json()["next_cursor"]
    before = seeded_row(databases[1], 6)
    province, ward = _place(http, full, before["so_dinh_danh"])
    change = {
        "full_name": "Lê Thị Lan",
        "permanent_address": {"province_code": province, "ward_code": ward, "line": "9"},
    }
    assert _delivered(http, full, _submit(http, full, _op("update", before["so_dinh_danh"], change))) == ["delivered"]

    def seen(headers: dict[str, str]) -> list[list[str]]:
        changes = http.get(CHANGES, headers=headers, params={"after": start}).json()["changes"]
        return [c["changed_fields"] for c in changes if c["record_id"] == before["so_dinh_danh"]]

    assert seen(full) == [["full_name", "permanent_address"]]
    assert seen(grantee(["read"], ["permanent_address.province_code"])) == [["permanent_address.province_code"]]
    assert seen(grantee(["read"], ["full_name"])) == [["full_name"]]
    # An update of none of its fields is not shown to a field-limited reader (that the record changed, and when,
    # is something of those fields), and its cursor moves past it all the same.
    hidden = grantee(["read"], ["gender"])
    assert seen(hidden) == []
    shown = http.get(CHANGES, headers=full, params={"after": start}).json()
    page = http.get(CHANGES, headers=hidden, params={"after": start}).json()
    assert page["next_cursor"] == shown["next_cursor"] != str(start)


def test_the_command_line_adds_a_grant_with_delete(tmp_path: Path, databases: tuple[str, str]) -> None:
    credentials = make_exchange_client(databases[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_DATABASE_URL": databases[0],
        "GATEWAY_CONNECTORS__POPULATION__CONFIG__URL": databases[1],
        "GATEWAY_CONNECTORS__POPULATION__CONFIG__WRITES": "{}",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    base = [sys.executable, "-m", "gateway", "grants", "add", credentials.client_id, "population", "-f", "full_name"]
    added = subprocess.run(
        [*base, "-o", "submit", "-o", "delete", "--json"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    assert '"delete"' in added.stdout and '"submit"' in added.stdout
    refused = subprocess.run([*base, "-o", "delete"], check=False, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "submit" in refused.stderr, refused.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--valid-from", "0001-01-01T00:00:00+14:00"),
        ("--valid-until", "9999-12-31T23:59:59-14:00"),
        ("--valid-from", "0001-01-01"),
        ("--valid-until", "9999-12-31"),
    ],
)
def test_the_command_line_refuses_a_validity_the_database_cannot_store(
    tmp_path: Path, databases: tuple[str, str], option: str, value: str
) -> None:
    """A clear error naming the option's value and the range, exit 1, no traceback, and no grant."""
    credentials = make_exchange_client(databases[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_DATABASE_URL": databases[0], "GATEWAY_LOG_LEVEL": "WARNING"}
    args = ("grants", "add", credentials.client_id, "population", "-o", "read", option, value)
    result = run_gateway_command(args, env=env, cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert f"{option.removeprefix('--').replace('-', '_')} ('{value}')" in result.stderr
    assert "9999" in result.stderr
    listed = run_gateway_command(("grants", "list", "--client", credentials.client_id), env=env, cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout == ""
