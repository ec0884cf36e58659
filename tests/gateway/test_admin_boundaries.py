"""The admin API's boundaries, over HTTP against a gateway on 127.0.0.1 with a database of its own (so that it
knows every admin client): identifiers matched whole (a trailing line break is not part of an id), free text
without control or invisible characters, malformed ids answered as unknown rather than handed to the database
(PostgreSQL refuses NUL), and the last active admin client kept (the API cannot lock itself out); the command line
may still suspend it, and says what that leaves, and it prints what a row holds without letting it drive the
terminal."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from audit_events import the_event
from support import TEST_DATA_KEY, ClientCredentials, LiveServer, empty_databases, fetch_token, run_gateway_command

from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.identity.passwords import load_or_create_pepper

CLIENTS = "/v1/admin/clients"
GRANTS = "/v1/admin/grants"
#: A public key (RFC 7517, appendix A.1).
P256_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}
#: Characters that could forge lines, drive a terminal or hide text, in the places an admin writes free text.
UNPRINTABLE = {
    "line break": "Sở Y tế\nstatus:       active",
    "carriage return": "Sở\rY tế",
    "terminal escape": "Sở \x1b[2J\x1b[31mY tế",
    "NUL": "Sở\x00Y tế",
    "bidi override": "Sở Y tế \u202eexe.gnp",
    "zero-width space only": "\u200b",
    "line separator": "Sở\u2028Y tế",
}


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway database of this module's own, migrated, with no client in it."""
    with empty_databases(tmp_path_factory.mktemp("admin-scope"), "adminscope") as (url,):
        migrations.upgrade(url)
        yield url


def new_client(url: str, *scopes: str, client_id: str | None = None) -> ClientCredentials:
    async def run() -> ClientCredentials:
        async with standalone_session(url) as session:
            client, secret = await create_client(
                session, name="Admin scope", scopes=scopes, client_id=client_id or f"as-{uuid.uuid4().hex[:10]}"
            )
            return ClientCredentials(client.client_id, secret)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def settings(
    make_settings: Callable[..., Settings], database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return make_settings(database_url=database_url, data_dir=tmp_path_factory.mktemp("admin-scope-data"))


@pytest.fixture(scope="module")
def http(settings: Settings) -> Iterator[httpx.Client]:
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def root(database_url: str) -> ClientCredentials:
    """The module's first admin client (the only one unless a test adds others)."""
    return new_client(database_url, "admin")


def bearer(http: httpx.Client, credentials: ClientCredentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(http, credentials)}"}


@pytest.fixture(scope="module")
def admin(http: httpx.Client, root: ClientCredentials) -> dict[str, str]:
    return bearer(http, root)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def client_ids(http: httpx.Client, admin: dict[str, str]) -> set[str]:
    response = http.get(CLIENTS, headers=admin)
    assert response.status_code == 200, response.text
    return {c["client_id"] for c in response.json()}


# --- identifiers are matched whole --------------------------------------------------------------------------------


@pytest.mark.parametrize("client_id", ["agency-1\n", "agency-2\r\n", "agency-3\x00"])
def test_a_client_id_with_a_trailing_line_break_or_nul_is_refused(
    http: httpx.Client, admin: dict[str, str], client_id: str
) -> None:
    body = problem(http.post(CLIENTS, json={"client_id": client_id, "name": "Sở Y tế"}, headers=admin), 422)
    assert body["errors"][0]["loc"] == ["body", "client_id"]
    assert client_id.strip("\r\n\x00") not in {c.strip() for c in client_ids(http, admin)}


@pytest.mark.parametrize(
    ("member", "value"),
    [("purposes", ["1.001612\n"]), ("fields", ["full_name\n"]), ("database", "population\n")],
)
def test_grant_values_with_a_trailing_line_break_are_refused(
    http: httpx.Client, admin: dict[str, str], database_url: str, member: str, value: object
) -> None:
    client = new_client(database_url)
    body = {"client_id": client.client_id, "database": "population", "operations": ["read"], member: value}
    found = problem(http.post(GRANTS, json=body, headers=admin), 422)
    assert found["errors"][0]["loc"][:2] == ["body", member]
    assert http.get(GRANTS, params={"client_id": client.client_id}, headers=admin).json() == []


def test_a_data_scope_with_a_trailing_line_break_is_refused(http: httpx.Client, admin: dict[str, str]) -> None:
    body = {"name": "Sở Y tế", "scopes": ["population:read\n"]}
    assert problem(http.post(CLIENTS, json=body, headers=admin), 422)["errors"][0]["loc"] == ["body", "scopes", 0]


# --- free text ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", UNPRINTABLE.values(), ids=UNPRINTABLE.keys())
def test_names_contacts_and_notes_refuse_control_and_invisible_characters(
    http: httpx.Client, admin: dict[str, str], database_url: str, text: str
) -> None:
    client_id = f"as-{uuid.uuid4().hex[:10]}"
    for body in ({"client_id": client_id, "name": text}, {"client_id": client_id, "name": "ok", "contact": text}):
        problem(http.post(CLIENTS, json=body, headers=admin), 422)
    assert client_id not in client_ids(http, admin)
    existing = new_client(database_url)
    for change in ({"name": text}, {"contact": text}):
        problem(http.patch(f"{CLIENTS}/{existing.client_id}", json=change, headers=admin), 422)
    shown = http.get(f"{CLIENTS}/{existing.client_id}", headers=admin).json()
    assert (shown["name"], shown["contact"]) == ("Admin scope", None)
    grant = {"client_id": existing.client_id, "database": "population", "operations": ["read"], "note": text}
    problem(http.post(GRANTS, json=grant, headers=admin), 422)
    assert shown["grants"] == []


def test_vietnamese_text_and_punctuation_stay_allowed(http: httpx.Client, admin: dict[str, str]) -> None:
    name = "Sở Tư pháp tỉnh Lâm Đồng — Phòng Hành chính (tư pháp)"
    created = http.post(CLIENTS, json={"name": name, "contact": "Ông Nguyễn Văn A, 0263 3822 000"}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == name


# --- malformed ids are unknown ones ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{"client_id": "a\x00b"}, {"database": "a\x00b"}, {"client_id": "x\n"}])
def test_grant_filters_that_name_no_possible_client_or_database_find_nothing(
    http: httpx.Client, admin: dict[str, str], params: dict[str, str]
) -> None:
    response = http.get(GRANTS, params=params, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == []


def test_a_grant_for_a_malformed_client_id_is_a_422(http: httpx.Client, admin: dict[str, str]) -> None:
    body = {"client_id": "a\x00b", "database": "population", "operations": ["read"]}
    assert problem(http.post(GRANTS, json=body, headers=admin), 422)["errors"][0]["loc"] == ["body", "client_id"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{CLIENTS}/a%00b/keys"),
        ("POST", f"{CLIENTS}/a%00b/keys"),
        ("DELETE", f"{CLIENTS}/a%00b/keys/k1"),
        ("DELETE", f"{CLIENTS}/{{client}}/keys/k%00"),
        ("DELETE", f"{CLIENTS}/{{client}}/keys/k%0A"),
    ],
)
def test_key_routes_answer_a_malformed_client_or_key_id_with_a_404(
    http: httpx.Client, admin: dict[str, str], root: ClientCredentials, method: str, path: str
) -> None:
    response = http.request(method, path.format(client=root.client_id), json={"jwk": P256_JWK}, headers=admin)
    problem(response, 404)


def test_a_jwk_whose_own_kid_ends_in_a_line_break_is_refused_not_stored(
    http: httpx.Client, admin: dict[str, str], database_url: str
) -> None:
    client = new_client(database_url)
    jwk = {**P256_JWK, "kid": "agency-key\n"}
    found = problem(http.post(f"{CLIENTS}/{client.client_id}/keys", json={"jwk": jwk}, headers=admin), 422)
    assert found["errors"][0]["loc"] == ["body", "kid"]
    assert http.get(f"{CLIENTS}/{client.client_id}/keys", headers=admin).json() == []


def test_the_location_of_a_key_is_its_id_escaped(http: httpx.Client, admin: dict[str, str], database_url: str) -> None:
    client = new_client(database_url)
    body = {"jwk": P256_JWK, "kid": "key#2027/01?v=1"}
    created = http.post(f"{CLIENTS}/{client.client_id}/keys", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{CLIENTS}/{client.client_id}/keys/key%232027%2F01%3Fv%3D1"
    assert http.delete(created.headers["location"], headers=admin).status_code == 204
    assert http.get(f"{CLIENTS}/{client.client_id}/keys", headers=admin).json()[0]["revoked_at"] is not None


# --- the last admin -------------------------------------------------------------------------------------------------


def test_the_last_active_admin_cannot_be_suspended_or_lose_its_scope_through_the_api(
    http: httpx.Client, admin: dict[str, str], root: ClientCredentials, database_url: str
) -> None:
    request_id = f"last-admin-{uuid.uuid4().hex[:8]}"
    refused = http.post(f"{CLIENTS}/{root.client_id}/suspend", headers={**admin, "X-Request-Id": request_id})
    assert problem(refused, 409)["type"] == "/problems/conflict"
    event = the_event(database_url, request_id)
    assert (event["client_id"], event["operation"], event["status"], event["reason"]) == (
        root.client_id,
        "admin",
        409,
        "conflict",
    )
    for scopes in ([], ["audit", "axis"]):
        problem(http.patch(f"{CLIENTS}/{root.client_id}", json={"scopes": scopes}, headers=admin), 409)
    shown = http.get(f"{CLIENTS}/{root.client_id}", headers=admin).json()
    assert (shown["status"], shown["scopes"]) == ("active", ["admin"])
    # Other changes to it, and keeping the scope, are still allowed.
    changed = http.patch(f"{CLIENTS}/{root.client_id}", json={"scopes": ["admin", "audit"]}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert http.patch(f"{CLIENTS}/{root.client_id}", json={"scopes": ["admin"]}, headers=admin).status_code == 200


def test_an_admin_may_be_suspended_while_another_stays(
    http: httpx.Client, admin: dict[str, str], database_url: str
) -> None:
    other = new_client(database_url, "admin")
    assert http.post(f"{CLIENTS}/{other.client_id}/suspend", headers=admin).status_code == 200
    # A suspended admin is not one that keeps the API usable: the root is the last active one again.
    assert http.patch(f"{CLIENTS}/{other.client_id}", json={"scopes": []}, headers=admin).status_code == 200


def test_two_admins_suspending_each_other_at_once_leave_one(
    http: httpx.Client, admin: dict[str, str], root: ClientCredentials, database_url: str
) -> None:
    first, second = new_client(database_url, "admin"), new_client(database_url, "admin")
    headers = {first.client_id: bearer(http, first), second.client_id: bearer(http, second)}
    # The root steps aside (two admins remain), then the two suspend each other.
    assert http.post(f"{CLIENTS}/{root.client_id}/suspend", headers=headers[first.client_id]).status_code == 200
    try:
        pairs = [(first, second), (second, first)]
        with ThreadPoolExecutor(2) as pool:
            statuses = list(
                pool.map(
                    lambda pair: (
                        http.post(
                            f"{CLIENTS}/{pair[1].client_id}/suspend", headers=headers[pair[0].client_id]
                        ).status_code
                    ),
                    pairs,
                )
            )
        # The second to be served finds itself suspended (401), or no admin to spare (409): never both suspended.
        assert sorted(statuses) in ([200, 401], [200, 409]), statuses
    finally:
        survivor = next(
            c for c in (first, second) if http.get(CLIENTS, headers=headers[c.client_id]).status_code == 200
        )
        assert http.post(f"{CLIENTS}/{root.client_id}/activate", headers=headers[survivor.client_id]).status_code == 200
        # The root is the only active admin again.
        assert http.post(f"{CLIENTS}/{survivor.client_id}/suspend", headers=admin).status_code == 200
    active = {c["client_id"] for c in http.get(CLIENTS, params={"status": "active"}, headers=admin).json()}
    assert not active & {first.client_id, second.client_id}


# --- the command line -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_env(
    settings: Settings, database_url: str, sector_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_DATA_DIR": str(tmp_path_factory.mktemp("admin-scope-cli")),
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_CONNECTORS__POPULATION__CONFIG__URL": sector_url,
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_SECRET_PEPPER": load_or_create_pepper(settings).decode(),
            "GATEWAY_DATA_KEY": TEST_DATA_KEY,
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return env


def test_the_command_line_suspends_the_last_admin_and_says_what_that_leaves(
    http: httpx.Client, admin: dict[str, str], root: ClientCredentials, cli_env: dict[str, str], database_url: str
) -> None:
    cwd = Path(cli_env["GATEWAY_DATA_DIR"])
    active = {c["client_id"] for c in http.get(CLIENTS, params={"status": "active"}, headers=admin).json()}
    admins = [c for c in active if "admin" in http.get(f"{CLIENTS}/{c}", headers=admin).json()["scopes"]]
    assert admins == [root.client_id]
    suspended = run_gateway_command(("clients", "suspend", root.client_id), env=cli_env, cwd=cwd)
    try:
        assert suspended.returncode == 0, suspended.stderr
        assert "no active client holds the admin scope" in suspended.stderr
        # Changes to clients that were not the last admin say nothing of it (a gateway run without admin clients).
        other = new_client(database_url, "audit")
        for args in (
            ("suspend", other.client_id),
            ("activate", other.client_id),
            ("update", other.client_id, "-s", "axis"),
        ):
            quiet = run_gateway_command(("clients", *args), env=cli_env, cwd=cwd)
            assert quiet.returncode == 0, quiet.stderr
            assert "admin scope" not in quiet.stderr
    finally:
        activated = run_gateway_command(("clients", "activate", root.client_id), env=cli_env, cwd=cwd)
        assert activated.returncode == 0, activated.stderr
    assert "admin scope" not in activated.stderr


def test_the_command_line_prints_stored_text_without_its_control_characters(
    http: httpx.Client, admin: dict[str, str], database_url: str, cli_env: dict[str, str]
) -> None:
    """A row written before the checks (or by hand) is shown, escaped: it cannot clear the screen, colour the
    output or add a line that looks like another client or member."""
    client = new_client(database_url)
    name, contact = "Sở\x1b[2J\x1b[31m Y tế\nfake-client\tactive", "Phòng\rCNTT\u202e"

    async def write() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text("UPDATE clients SET name = :name, contact = :contact WHERE client_id = :id"),
                    {"name": name, "contact": contact, "id": client.client_id},
                )
        finally:
            await engine.dispose()

    asyncio.run(write())
    cwd = Path(cli_env["GATEWAY_DATA_DIR"])
    listed = run_gateway_command(("clients", "list"), env=cli_env, cwd=cwd)
    shown = run_gateway_command(("clients", "show", client.client_id), env=cli_env, cwd=cwd)
    for result in (listed, shown):
        assert result.returncode == 0, result.stderr
        for char in "\x1b\r\u202e":
            assert char not in result.stdout
    line = next(line for line in listed.stdout.splitlines() if line.startswith(client.client_id))
    assert "\\x1b[2J" in line and "fake-client" in line
    assert not any(line.startswith("fake-client") for line in listed.stdout.splitlines())
    assert "Phòng\\rCNTT" in shown.stdout
    as_json = run_gateway_command(("clients", "show", client.client_id, "--json"), env=cli_env, cwd=cwd)
    assert '"name": "Sở\\u001b[2J\\u001b[31m Y tế\\nfake-client\\tactive"' in as_json.stdout


def test_the_command_line_refuses_contradictory_scope_options(
    http: httpx.Client, admin: dict[str, str], database_url: str, cli_env: dict[str, str]
) -> None:
    client = new_client(database_url, "audit")
    args = ("clients", "update", client.client_id, "--scope", "axis", "--no-scopes")
    result = run_gateway_command(args, env=cli_env, cwd=Path(cli_env["GATEWAY_DATA_DIR"]))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "--scope" in result.stderr and "--no-scopes" in result.stderr
    assert http.get(f"{CLIENTS}/{client.client_id}", headers=admin).json()["scopes"] == ["audit"]


# --- grants asked for at once -------------------------------------------------------------------------------------


def test_the_same_grant_asked_for_several_times_at_once_is_stored_once(
    http: httpx.Client, admin: dict[str, str], database_url: str
) -> None:
    """Else revoking the grant an admin sees would leave its twin in force."""
    client = new_client(database_url)
    body = {"client_id": client.client_id, "database": "population", "operations": ["read"], "fields": ["full_name"]}
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(lambda _: http.post(GRANTS, json=body, headers=admin).status_code, range(6)))
    assert statuses == [201, 409, 409, 409, 409, 409]
    stored = http.get(GRANTS, params={"client_id": client.client_id}, headers=admin).json()
    assert len(stored) == 1
    assert http.delete(f"{GRANTS}/{stored[0]['id']}", headers=admin).status_code == 200
    assert http.get(GRANTS, params={"client_id": client.client_id, "active": "true"}, headers=admin).json() == []


@pytest.mark.parametrize("command", ["show", "revoke"])
def test_the_command_line_bounds_grant_ids_as_the_api_does(
    http: httpx.Client, admin: dict[str, str], cli_env: dict[str, str], command: str
) -> None:
    """A grant id beyond 32 bits is a usage error (PostgreSQL would fail the query), as it is a 422 in the API."""
    assert http.get(f"{GRANTS}/3000000000", headers=admin).status_code == 422
    result = run_gateway_command(("grants", command, "3000000000"), env=cli_env, cwd=Path(cli_env["GATEWAY_DATA_DIR"]))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert "2147483647" in result.stderr


def test_the_command_line_says_when_a_grant_is_not_checked_against_its_connector(
    http: httpx.Client, admin: dict[str, str], database_url: str, cli_env: dict[str, str]
) -> None:
    """A database configured whose connector does not load takes grants unchecked: the command says so, and stays
    quiet for a database it did check."""
    env = {**cli_env, "GATEWAY_CONNECTORS__LAND__CONNECTOR": "no-such-connector"}
    cwd = Path(cli_env["GATEWAY_DATA_DIR"])
    client = new_client(database_url)
    unchecked = run_gateway_command(
        ("grants", "add", client.client_id, "land", "-o", "read", "-f", "parcel_owner"), env=env, cwd=cwd
    )
    assert unchecked.returncode == 0, unchecked.stderr
    assert "warning: the land database's connector did not load" in unchecked.stderr
    checked = run_gateway_command(("grants", "add", client.client_id, "population", "-o", "read"), env=env, cwd=cwd)
    assert checked.returncode == 0, checked.stderr
    assert "warning" not in checked.stderr
    created = run_gateway_command(("clients", "create", "Sở Tài nguyên", "-s", "land:read"), env=env, cwd=cwd)
    assert created.returncode == 0, created.stderr
    assert "warning: the land database's connector did not load" in created.stderr
