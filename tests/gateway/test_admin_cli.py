"""``gateway clients ...`` and ``gateway grants ...`` on the suite's gateway database, next to a running gateway:
what they change, what they print (never a secret hash, never a traceback), how they refuse bad input, and that the
gateway applies their changes. On PostgreSQL the gateway caches client access for an hour, so the changes can only
reach it through NOTIFY; on SQLite it does not cache.

The commands run in this process, through typer's runner, with the environment a user would give them (and nothing
else of the suite's): starting ``python -m gateway`` takes seconds each time. One test runs them as real
subprocesses (``tests/gateway/test_cli.py`` runs the command as a subprocess throughout)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from support import (
    TEST_DATA_KEY,
    ClientCredentials,
    CommandResult,
    LiveServer,
    PlantedSearch,
    fetch_token,
    run_gateway_command,
)

from gateway.core.db import create_engine
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.passwords import load_or_create_pepper

P1 = "1.001612"
ACTOR = "CB-068-0001"


@dataclass(frozen=True)
class Cli:
    """The ``gateway`` command with the environment ``env`` (and no other ``GATEWAY_`` variable), in ``cwd``: in
    this process through typer's runner, or, with ``as_subprocess``, as ``python -m gateway``."""

    env: dict[str, str]
    cwd: Path
    as_subprocess: bool = False

    def __call__(self, *args: str) -> CommandResult:
        result = self._subprocess(args) if self.as_subprocess else self._in_process(args)
        output = result.stdout + result.stderr
        assert "Traceback" not in output, output
        assert "$argon2" not in output
        assert "hmac-sha256$" not in output
        return result

    def _subprocess(self, args: tuple[str, ...]) -> CommandResult:
        done = subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )
        return CommandResult(done.returncode, done.stdout, done.stderr)

    def _in_process(self, args: tuple[str, ...]) -> CommandResult:
        return run_gateway_command(args, env=self.env, cwd=self.cwd)

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str, code: int = 1) -> str:
        result = self(*args)
        assert result.returncode == code, (result.stdout, result.stderr)
        return result.stderr

    def all_fail(self, *commands: tuple[str, ...]) -> list[str]:
        """Run independent commands (at once as subprocesses: each takes seconds to start); each must exit 1. Their
        stderr."""
        if not self.as_subprocess:
            return [self.fails(*args) for args in commands]
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            return list(pool.map(lambda args: self.fails(*args), commands))


@pytest.fixture(scope="module")
def cli(
    tmp_path_factory: pytest.TempPathFactory,
    gateway_database_url: str,
    sector_url: str,
    make_settings: Callable[..., Settings],
) -> Cli:
    """The command, configured only by the environment, on the suite's gateway database, with the secret pepper of
    the gateways under test (the secrets it makes must verify there)."""
    cwd = tmp_path_factory.mktemp("admin-cli")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_DATA_DIR": str(cwd),
            "GATEWAY_DATABASE_URL": gateway_database_url,
            "GATEWAY_CONNECTORS__POPULATION__CONFIG__URL": sector_url,
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_SECRET_PEPPER": load_or_create_pepper(make_settings()).decode(),
            "GATEWAY_DATA_KEY": TEST_DATA_KEY,
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return Cli(env, cwd)


def _listeners(url: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                found = await conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND query LIKE 'LISTEN %gateway_access%'"
                    )
                )
                return int(found.scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


@pytest.fixture(scope="module")
def live(make_settings: Callable[..., Settings], gateway_database_url: str) -> Iterator[httpx.Client]:
    """A gateway on the same database, caching access for an hour: the command line's changes reach it at once
    all the same (by NOTIFY on PostgreSQL; on SQLite, which has no notifications, it reads the clients changed
    lately every second)."""
    postgres = gateway_database_url.startswith("postgresql")
    before = _listeners(gateway_database_url) if postgres else 0
    with LiveServer(create_app(make_settings(access_cache_seconds=3600))) as server:
        deadline = time.monotonic() + 15
        while postgres and _listeners(gateway_database_url) <= before:
            assert time.monotonic() < deadline, "the gateway did not start listening"
            time.sleep(0.05)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield http


def new_id() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}"


def created(cli: Cli, *args: str) -> ClientCredentials:
    client_id = new_id()
    out = cli.ok("clients", "create", "Sở Giáo dục và Đào tạo", "--client-id", client_id, *args)
    secret = re.search(r"^client_secret:\s+(\S+)$", out, re.MULTILINE)
    assert secret
    return ClientCredentials(client_id, secret.group(1))


def eventually(check: Callable[[], bool], within: float = 5) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the running gateway did not apply the change"
        time.sleep(0.05)


def token_status(http: httpx.Client, credentials: ClientCredentials) -> int:
    return http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client_id, credentials.client_secret),
    ).status_code


# --- clients ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_subprocess", [False, True], ids=["in-process", "subprocess"])
def test_create_show_and_list_a_client(cli: Cli, as_subprocess: bool) -> None:
    cli = dataclasses.replace(cli, as_subprocess=as_subprocess)
    client = created(
        cli,
        "--scope",
        "population:read",
        "--scope",
        "audit",
        "--agency-code",
        "000.00.00.H41",
        "--contact",
        "Phòng CNTT",
        "--rate-limit-per-second",
        "15",
    )
    shown = cli.json("clients", "show", client.client_id)
    assert (shown["client_id"], shown["name"], shown["status"]) == (
        client.client_id,
        "Sở Giáo dục và Đào tạo",
        "active",
    )
    assert (shown["agency_code"], shown["contact"], shown["rate_limit_per_second"]) == (
        "000.00.00.H41",
        "Phòng CNTT",
        15,
    )
    assert shown["scopes"] == ["audit"]
    assert shown["token_scopes"] == ["audit", "population:read"]
    (grant,) = shown["grants"]
    assert (grant["database"], grant["operations"], grant["fields"]) == ("population", ["read"], None)
    assert "client_secret" not in shown

    text = cli.ok("clients", "show", client.client_id)
    assert re.search(r"^status:\s+active$", text, re.MULTILINE)
    assert re.search(r"^token_scopes:\s+audit population:read$", text, re.MULTILINE)
    assert re.search(rf"^\s+{grant['id']}\t{client.client_id}\tpopulation\tactive\tread\t\*\t\*", text, re.MULTILINE)
    assert client.client_secret not in text

    rows = [line.split("\t") for line in cli.ok("clients", "list").splitlines()]
    assert [client.client_id, "active", "audit population:read", "Sở Giáo dục và Đào tạo"] in rows
    listed = {c["client_id"]: c for c in cli.json("clients", "list")}
    assert listed[client.client_id]["agency_code"] == "000.00.00.H41"
    assert all("secret" not in key for c in listed.values() for key in c)


def test_update_a_client(cli: Cli) -> None:
    client = created(cli, "--scope", "population:read", "--agency-code", "000.00.00.H41", "--contact", "A")
    detail = cli.json(
        "clients",
        "update",
        client.client_id,
        "--name",
        "Sở GD&ĐT",
        "--contact",
        "",
        "--scope",
        "audit",
        "--rate-limit-per-day",
        "100000",
    )
    assert (detail["name"], detail["contact"], detail["agency_code"]) == ("Sở GD&ĐT", None, "000.00.00.H41")
    assert (detail["scopes"], detail["rate_limit_per_day"]) == (["audit"], 100000)
    detail = cli.json("clients", "update", client.client_id, "--rate-limit-per-day", "0", "--no-scopes")
    assert (detail["scopes"], detail["rate_limit_per_day"]) == ([], None)
    assert cli.json("clients", "show", client.client_id) == detail


INVALID_UPDATES = [
    (("--agency-code", "H41"), "agency_code ('H41'): invalid agency code"),
    (("--scope", "population:read"), "scopes.0 ('population:read'): only the scopes admin, audit and axis"),
    (("--name", " "), "name (' '): String should have at least 1 character"),
]


def test_an_invalid_update_is_refused(cli: Cli) -> None:
    client = created(cli, "--scope", "population:read")
    before = cli.json("clients", "show", client.client_id)
    refusals = cli.all_fail(*(("clients", "update", client.client_id, *args) for args, _ in INVALID_UPDATES))
    for (args, message), stderr in zip(INVALID_UPDATES, refusals, strict=True):
        assert message in stderr, (args, stderr)
    assert cli.json("clients", "show", client.client_id) == before


def test_an_update_without_changes_is_a_usage_error(cli: Cli) -> None:
    client = created(cli, "--scope", "population:read")
    assert "nothing to change" in cli.fails("clients", "update", client.client_id, code=2)


def test_unknown_clients_and_grants(cli: Cli) -> None:
    refusals = cli.all_fail(
        ("clients", "show", "nobody-here"),
        ("clients", "update", "nobody-here", "--name", "x"),
        ("clients", "suspend", "nobody-here"),
        ("clients", "activate", "nobody-here"),
        ("clients", "rotate-secret", "nobody-here"),
        ("grants", "show", "987654321"),
        ("grants", "revoke", "987654321"),
    )
    assert all("\nerror: There is no" in f"\n{stderr}" for stderr in refusals), refusals


def test_create_checks_data_scopes_against_the_served_databases(cli: Cli) -> None:
    ids = [new_id(), new_id()]
    land, submit = cli.all_fail(
        ("clients", "create", "X", "--scope", "land:read", "--client-id", ids[0]),
        ("clients", "create", "X", "--scope", "population:submit", "--client-id", ids[1]),
    )
    assert "serves no such database" in land
    assert "does not offer this operation" in submit
    assert not {c["client_id"] for c in cli.json("clients", "list")} & set(ids)


def test_suspend_and_activate_apply_to_the_running_gateway(
    cli: Cli, live: httpx.Client, planted: PlantedSearch
) -> None:
    client = created(cli, "--scope", "population:read")
    headers = {"Authorization": f"Bearer {fetch_token(live, client)}", "X-Purpose": P1, "X-Actor-Id": ACTOR}
    record = f"/v1/databases/population/records/{planted.personal_ids[0]}"
    assert live.get(record, headers=headers).status_code == 200

    assert cli.ok("clients", "suspend", client.client_id).strip() == f"client {client.client_id} is suspended"
    eventually(lambda: live.get(record, headers=headers).status_code == 401)
    assert token_status(live, client) == 401
    assert cli.json("clients", "show", client.client_id)["status"] == "suspended"
    assert [row for row in cli.ok("clients", "list", "--status", "suspended").splitlines() if client.client_id in row]

    assert cli.ok("clients", "activate", client.client_id).strip() == f"client {client.client_id} is active"
    eventually(lambda: live.get(record, headers=headers).status_code == 200)
    assert token_status(live, client) == 200


def test_rotate_secret(cli: Cli, live: httpx.Client) -> None:
    client = created(cli, "--scope", "population:read")
    result = cli("clients", "rotate-secret", client.client_id, "--overlap", "3600")
    assert result.returncode == 0, result.stderr
    secret = re.search(r"^client_secret:\s+(\S+)$", result.stdout, re.MULTILINE)
    assert secret
    second = ClientCredentials(client.client_id, secret.group(1))
    assert (result.stdout + result.stderr).count(second.client_secret) == 1
    until = re.search(r"stop working at (\S+)\.", result.stderr)
    assert until
    assert 3590 < (datetime.fromisoformat(until.group(1)) - datetime.now(UTC)).total_seconds() <= 3600
    assert token_status(live, client) == 200
    assert token_status(live, second) == 200

    out = cli.ok("clients", "rotate-secret", client.client_id)
    third = re.search(r"^client_secret:\s+(\S+)$", out, re.MULTILINE)
    assert third
    eventually(lambda: token_status(live, client) == 401)
    eventually(lambda: token_status(live, second) == 401)
    assert token_status(live, ClientCredentials(client.client_id, third.group(1))) == 200
    assert "--overlap" in cli.fails("clients", "rotate-secret", client.client_id, "--overlap", "-5", code=2)


# --- grants -------------------------------------------------------------------------------------------------------


def test_add_a_grant_and_the_running_gateway_applies_it(cli: Cli, live: httpx.Client, planted: PlantedSearch) -> None:
    client = created(cli, "--scope", "admin")
    grant = cli.json(
        "grants",
        "add",
        client.client_id,
        "population",
        "--operation",
        "read",
        "--operation",
        "search",
        "--field",
        "full_name",
        "--field",
        "date_of_birth",
        "--purpose",
        P1,
        "--valid-until",
        "2099-12-31",
        "--no-require-actor",
        "--note",
        "Công văn 45/UBND",
    )
    assert (grant["client_id"], grant["database"], grant["operations"]) == (
        client.client_id,
        "population",
        ["read", "search"],
    )
    assert (grant["fields"], grant["purposes"]) == (["date_of_birth", "full_name"], [P1])
    assert (grant["require_purpose"], grant["require_actor"], grant["status"]) == (True, False, "active")
    assert datetime.fromisoformat(grant["valid_until"]) == datetime(2099, 12, 31, 17, tzinfo=UTC)
    assert grant["note"] == "Công văn 45/UBND"

    token = fetch_token(live, client)
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": P1}
    record = f"/v1/databases/population/records/{planted.personal_ids[0]}"
    answer = live.get(record, headers=headers)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"personal_id", "full_name", "date_of_birth"}
    assert live.get(record, headers={**headers, "X-Purpose": "2.002154"}).status_code == 403

    shown = cli.ok("grants", "show", str(grant["id"]))
    assert re.search(r"^fields:\s+date_of_birth full_name$", shown, re.MULTILINE)
    assert re.search(r"^require:\s+X-Purpose$", shown, re.MULTILINE)
    assert cli.json("grants", "show", str(grant["id"])) == grant

    revoked = cli.ok("grants", "revoke", str(grant["id"]))
    assert revoked.startswith(f"grant {grant['id']} revoked at ")
    eventually(lambda: live.get(record, headers=headers).status_code == 403)
    assert live.get(record, headers=headers).json()["type"] == "/problems/access-denied"
    assert cli.json("grants", "show", str(grant["id"]))["status"] == "revoked"


def test_list_grants(cli: Cli) -> None:
    client = created(cli, "--scope", "population:search")
    past = cli.json("grants", "add", client.client_id, "population", "-o", "read", "--valid-until", "2020-01-01")
    rows = [line.split("\t") for line in cli.ok("grants", "list", "--client", client.client_id).splitlines()]
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), key=int)
    assert len(rows) == 2
    search, expired = rows
    assert search[1:7] == [client.client_id, "population", "active", "search", "*", "*"]
    assert expired[0] == str(past["id"])
    assert expired[3:5] == ["expired", "read"]
    assert expired[8] == "2020-01-01T17:00:00+00:00"
    active = cli.json("grants", "list", "--client", client.client_id, "--active")
    assert [g["operations"] for g in active] == [["search"]]
    inactive = cli.json("grants", "list", "--client", client.client_id, "--inactive")
    assert [g["id"] for g in inactive] == [past["id"]]
    assert cli.json("grants", "list", "--client", client.client_id, "--database", "civil_status") == []


INVALID_GRANTS = [
    (("population", "-o", "read", "-f", "full_name", "-f", "fullname"), ["fields.1 ('fullname')", "Not a field"]),
    (("population", "-o", "submit"), ["operations.0 ('submit')", "does not offer"]),
    (("population", "-o", "write"), ["operations.0 ('write')"]),
    (("population", "-o", "delete"), ["a grant with delete also needs submit"]),
    (("land", "-o", "read"), ["serves no such database"]),
    (("population", "-o", "read", "--valid-until", "31/12/2027"), ["valid_until ('31/12/2027')"]),
    (("population", "-o", "read", "--valid-until", "2027-12-31T00:00:00"), ["date-time with its UTC offset"]),
    (("population", "-o", "read", "-p", P1, "--no-require-purpose"), ["require_purpose cannot be false"]),
    (("population", "-o", "read", "-p", "thủ tục 1"), ["purposes.0 ('thủ tục 1')", "procedure code"]),
]


def test_an_invalid_grant_is_refused(cli: Cli) -> None:
    client = created(cli, "--scope", "admin")
    refusals = cli.all_fail(*(("grants", "add", client.client_id, *args) for args, _ in INVALID_GRANTS))
    for (args, messages), stderr in zip(INVALID_GRANTS, refusals, strict=True):
        for message in messages:
            assert message in stderr, (args, stderr)
    assert cli.json("grants", "list", "--client", client.client_id) == []


def test_a_grant_for_an_unknown_client_is_refused(cli: Cli) -> None:
    assert "There is no client with this id" in cli.fails("grants", "add", "nobody-here", "population", "-o", "read")


def test_the_same_grant_twice_is_refused(cli: Cli) -> None:
    client = created(cli, "--scope", "admin")
    args = ("grants", "add", client.client_id, "population", "-o", "read", "-f", "gender")
    cli.ok(*args)
    assert "already in place" in cli.fails(*args)


def test_the_groups_show_their_commands(cli: Cli) -> None:
    for group, commands in [
        ("clients", ("create", "list", "show", "update", "suspend", "activate", "rotate-secret")),
        ("grants", ("add", "list", "show", "revoke")),
    ]:
        result = cli(group)
        output = result.stdout + result.stderr
        for command in commands:
            assert command in output, (group, command)
