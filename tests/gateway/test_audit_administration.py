"""What an administrator did is in the audit trail, whether through the admin API or the command line: the action
(``grant.add``, ``client.suspend``...), the client acted on (``target_client``) and what changed (``change``:
identifiers only, never a secret nor free text that may name a person). A refused admin request names what it asked
for; ``GET /v1/audit?target=...&action=...`` and ``gateway audit events`` answer "who gave this client access to
this field, and when".

The commands run in this process (``support.run_gateway_command``), on the suite's gateway database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from audit_events import run_sql, the_event
from support import (
    ClientCredentials,
    CommandResult,
    PlantedSearch,
    fetch_token,
    gateway_command,
    public_pem,
)

from gateway.audit.administration import ROUTE_ACTIONS, operating_system_user
from gateway.audit.storage import EVENTS

CLIENTS = "/v1/admin/clients"
GRANTS = "/v1/admin/grants"
PURPOSE = "1.001612.000.00.00.H41"
#: Free text that names a person: kept in the client or the grant, never in the trail.
CONTACT = "Ông Nguyễn Văn Phúc, 0912 345 678"
NOTE = "Quyết định số 12/QĐ-UBND do bà Trần Thị Hạnh ký"
GRANT = {"database": "population", "operations": ["read"], "fields": ["full_name", "date_of_birth"]}


def new_id() -> str:
    return f"adm-{uuid.uuid4().hex[:12]}"


def request_id() -> str:
    return f"admin-audit-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def admin(make_client: Callable[..., ClientCredentials]) -> ClientCredentials:
    return make_client("admin")


@pytest.fixture(scope="module")
def admin_headers(api: httpx.Client, admin: ClientCredentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(api, admin)}"}


@pytest.fixture(scope="module")
def audit_headers(api: httpx.Client, make_client: Callable[..., ClientCredentials]) -> dict[str, str]:
    return {"Authorization": f"Bearer {fetch_token(api, make_client('audit'))}"}


def administered(url: str, target: str) -> list[dict[str, Any]]:
    """The events naming ``target`` as the client acted on, oldest first."""
    return run_sql(url, sa.select(EVENTS).where(EVENTS.c.target_client == target).order_by(EVENTS.c.seq))


def no_person_nor_secret(events: list[dict[str, Any]], *secrets: str) -> None:
    text = json.dumps(events, default=str, ensure_ascii=False)
    for forbidden in (CONTACT, NOTE, "Nguyễn", "Trần", "hmac-sha256$", "PRIVATE KEY", *secrets):
        assert forbidden not in text


# --- the admin API ------------------------------------------------------------------------------------------------


def test_who_gave_a_client_which_fields_and_when(
    api: httpx.Client,
    admin: ClientCredentials,
    admin_headers: dict[str, str],
    audit_headers: dict[str, str],
    gateway_database_url: str,
) -> None:
    target = new_id()
    created = api.post(
        CLIENTS, json={"client_id": target, "name": "Sở Tư pháp", "contact": CONTACT}, headers=admin_headers
    )
    assert created.status_code == 201, created.text
    rid = request_id()
    body = {"client_id": target, **GRANT, "purposes": [PURPOSE], "note": NOTE, "valid_until": "2027-12-31"}
    added = api.post(GRANTS, json=body, headers={**admin_headers, "X-Request-Id": rid})
    assert added.status_code == 201, added.text
    grant = added.json()

    event = the_event(gateway_database_url, rid)
    assert (event["client_id"], event["operation"], event["outcome"], event["status"]) == (
        admin.client_id,
        "admin",
        "allowed",
        201,
    )
    assert (event["action"], event["target_client"]) == ("grant.add", target)
    assert event["change"] == {
        "grant_id": grant["id"],
        "client_id": target,
        "database": "population",
        "operations": ["read"],
        "fields": ["date_of_birth", "full_name"],
        "purposes": [PURPOSE],
        "require_purpose": True,
        "require_actor": True,
        "valid_from": None,
        "valid_until": "2027-12-31T17:00:00.000000Z",  # through that day, Viet Nam time
    }
    no_person_nor_secret(administered(gateway_database_url, target), created.json()["client_secret"])

    # The auditor's question, through the audit API: who gave this client access, to which fields, when.
    found = api.get("/v1/audit", params={"target": target, "action": "grant.add"}, headers=audit_headers)
    assert found.status_code == 200, found.text
    (item,) = found.json()["items"]
    assert (item["request_id"], item["client_id"], item["action"], item["target_client"]) == (
        rid,
        admin.client_id,
        "grant.add",
        target,
    )
    assert item["change"]["fields"] == ["date_of_birth", "full_name"]
    everything = api.get("/v1/audit", params={"target": target, "order": "asc"}, headers=audit_headers).json()
    assert [e["action"] for e in everything["items"]] == ["client.create", "grant.add"]


def test_each_change_through_the_api_says_what_it_changed(
    api: httpx.Client, admin_headers: dict[str, str], gateway_database_url: str
) -> None:
    target = new_id()
    body = {
        "client_id": target,
        "name": "Cổng dịch vụ công",
        "contact": CONTACT,
        "agency_code": "000.00.00.H41",
        "scopes": ["population:read"],
    }
    created = api.post(CLIENTS, json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    (data_grant,) = created.json()["grants"]
    patch = {"contact": "Bà Lê Thị Mai", "scopes": ["audit"], "rate_limit_per_day": 5000}
    assert api.patch(f"{CLIENTS}/{target}", json=patch, headers=admin_headers).status_code == 200
    assert api.post(f"{CLIENTS}/{target}/suspend", headers=admin_headers).status_code == 200
    assert api.post(f"{CLIENTS}/{target}/activate", headers=admin_headers).status_code == 200
    rotated = api.post(f"{CLIENTS}/{target}/secret", json={"overlap_seconds": 60}, headers=admin_headers)
    assert rotated.status_code == 200
    key = api.post(f"{CLIENTS}/{target}/keys", json={"pem": public_pem(), "kid": f"k-{target}"}, headers=admin_headers)
    assert key.status_code == 201, key.text
    assert api.delete(f"{CLIENTS}/{target}/keys/k-{target}", headers=admin_headers).status_code == 204
    for _ in range(2):
        assert api.delete(f"{GRANTS}/{data_grant['id']}", headers=admin_headers).status_code == 200
    assert api.get(f"{CLIENTS}/{target}", headers=admin_headers).status_code == 200

    events = administered(gateway_database_url, target)
    assert [e["action"] for e in events] == [
        "client.create",
        "client.update",
        "client.suspend",
        "client.activate",
        "secret.rotate",
        "key.register",
        "key.revoke",
        "grant.revoke",
        "grant.revoke",
        "client.show",
    ]
    create, update, suspend, activate, secret, registered, revoked, revoke, again, show = (e["change"] for e in events)
    assert create["client_id"] == target and create["agency_code"] == "000.00.00.H41"
    # The data scope made a grant on every field, for any purpose: the trail says so.
    assert [(g["grant_id"], g["database"], g["operations"], g["fields"], g["purposes"]) for g in create["grants"]] == [
        (data_grant["id"], "population", ["read"], None, None)
    ]
    # The contact changed (said), its value is not kept; the scopes and the limit are, before and after.
    assert update == {
        "client_id": target,
        "members": ["contact", "rate_limit_per_day", "scopes"],
        "values": {"rate_limit_per_day": 5000, "scopes": ["audit"]},
        "previous": {"rate_limit_per_day": None, "scopes": []},
    }
    assert (suspend["status"], suspend["previous_status"]) == ("suspended", "active")
    assert (activate["status"], activate["previous_status"]) == ("active", "suspended")
    assert secret["overlap_seconds"] == 60 and secret["previous_secrets_expire_at"].endswith("Z")
    assert (registered["kid"], registered["algorithm"]) == (f"k-{target}", "ES256")
    assert (revoked["kid"], revoked["already_revoked"]) == (f"k-{target}", False)
    assert (revoke["grant_id"], revoke["already_revoked"], again["already_revoked"]) == (data_grant["id"], False, True)
    assert show is None
    assert all(e["outcome"] == "allowed" for e in events)
    no_person_nor_secret(events, created.json()["client_secret"], rotated.json()["client_secret"])


def test_lists_through_the_api_name_what_they_listed(
    api: httpx.Client, admin_headers: dict[str, str], gateway_database_url: str
) -> None:
    rids = [request_id() for _ in range(2)]
    target = new_id()
    listed = api.get(GRANTS, params={"client_id": target}, headers={**admin_headers, "X-Request-Id": rids[0]})
    assert listed.status_code == 200
    assert api.get(CLIENTS, headers={**admin_headers, "X-Request-Id": rids[1]}).status_code == 200
    grants, clients = (the_event(gateway_database_url, rid) for rid in rids)
    assert (grants["action"], grants["target_client"], grants["change"]) == ("grant.list", target, None)
    assert (clients["action"], clients["target_client"], clients["change"]) == ("client.list", None, None)


def test_refused_admin_requests_name_what_they_asked_for(
    api: httpx.Client,
    admin_headers: dict[str, str],
    make_client: Callable[..., ClientCredentials],
    gateway_database_url: str,
) -> None:
    target = new_id()
    assert api.post(CLIENTS, json={"client_id": target, "name": "Sở Y tế"}, headers=admin_headers).status_code == 201
    outsider = make_client("audit")  # no admin scope
    outsider_headers = {"Authorization": f"Bearer {fetch_token(api, outsider)}"}
    grant = {"client_id": target, **GRANT}
    assert api.post(GRANTS, json=grant, headers=admin_headers).status_code == 201

    cases: list[tuple[str, str, dict[str, Any] | None, dict[str, str], int, str | None, str, dict[str, Any] | None]] = [
        # method, path, body, headers, status, target, action, change
        ("POST", GRANTS, grant, outsider_headers, 403, target, "grant.add", None),
        ("POST", f"{CLIENTS}/{target}/suspend", None, outsider_headers, 403, target, "client.suspend", None),
        ("POST", f"{CLIENTS}/{target}/suspend", None, {}, 401, target, "client.suspend", None),
        ("POST", GRANTS, grant, admin_headers, 409, target, "grant.add", None),
        ("POST", GRANTS, {**grant, "fields": ["no_such_field"]}, admin_headers, 422, target, "grant.add", None),
        ("POST", GRANTS, {**grant, "operations": ["fly"]}, admin_headers, 422, target, "grant.add", None),
        ("POST", GRANTS, {**grant, "client_id": "bad id\n"}, admin_headers, 422, None, "grant.add", None),
        ("POST", CLIENTS, {"client_id": target, "name": "Sở Y tế"}, admin_headers, 409, target, "client.create", None),
        (
            "POST",
            f"{CLIENTS}/nobody-{target}/suspend",
            None,
            admin_headers,
            404,
            f"nobody-{target}",
            "client.suspend",
            None,
        ),
        ("PATCH", f"{CLIENTS}/bad*id", {"name": "x"}, admin_headers, 404, None, "client.update", None),
        ("DELETE", f"{GRANTS}/2147483000", None, admin_headers, 404, None, "grant.revoke", {"grant_id": 2147483000}),
        (
            "DELETE",
            f"{CLIENTS}/{target}/keys/no-such-kid",
            None,
            admin_headers,
            404,
            target,
            "key.revoke",
            {"kid": "no-such-kid"},
        ),
        (
            "PUT",
            "/v1/admin/axis/nowhere/maintenance",
            {"maintenance": True},
            admin_headers,
            404,
            None,
            "axis.maintenance",
            {"database": "nowhere"},
        ),
    ]
    for method, path, body, headers, status, named, action, change in cases:
        rid = request_id()
        response = api.request(method, path, json=body, headers={**headers, "X-Request-Id": rid})
        assert response.status_code == status, (method, path, response.text)
        event = the_event(gateway_database_url, rid)
        assert (event["outcome"], event["status"]) == ("refused", status)
        assert (event["action"], event["target_client"], event["change"]) == (action, named, change), (method, path)


def test_every_admin_route_names_its_action(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    routes = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith("/v1/admin")
        for method in operations
    }
    assert routes == set(ROUTE_ACTIONS)


def test_a_data_exchange_names_no_administration(
    api: httpx.Client, bearer: dict[str, str], gateway_database_url: str, planted: PlantedSearch
) -> None:
    rid = request_id()
    path = f"/v1/databases/population/records/{planted.personal_ids[0]}"
    response = api.get(path, headers={**bearer, "X-Request-Id": rid})
    assert response.status_code == 200
    event = the_event(gateway_database_url, rid)
    assert (event["operation"], event["action"], event["target_client"], event["change"]) == ("read", None, None, None)


def test_the_audit_api_refuses_malformed_target_and_action(api: httpx.Client, audit_headers: dict[str, str]) -> None:
    for params in ({"target": "bad id"}, {"target": "x"}, {"action": "Grant Add"}, {"action": "grant;drop"}):
        response = api.get("/v1/audit", params=params, headers=audit_headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_pages_of_one_target(api: httpx.Client, admin_headers: dict[str, str], audit_headers: dict[str, str]) -> None:
    target = new_id()
    assert (
        api.post(CLIENTS, json={"client_id": target, "name": "Sở Xây dựng"}, headers=admin_headers).status_code == 201
    )
    for _ in range(2):
        assert api.post(f"{CLIENTS}/{target}/suspend", headers=admin_headers).status_code == 200
    seen: list[str] = []
    params: dict[str, Any] = {"target": target, "limit": 1, "order": "asc"}
    while True:
        page = api.get("/v1/audit", params=params, headers=audit_headers)
        assert page.status_code == 200, page.text
        seen += [item["action"] for item in page.json()["items"]]
        if page.json()["next_cursor"] is None:
            break
        params["cursor"] = page.json()["next_cursor"]
    assert seen == ["client.create", "client.suspend", "client.suspend"]


# --- the command line ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway_cli(
    tmp_path_factory: pytest.TempPathFactory, gateway_database_url: str, sector_url: str
) -> Callable[..., CommandResult]:
    """``gateway ARGS`` in this process, configured only by the environment, on the suite's gateway database."""
    return gateway_command(
        tmp_path_factory.mktemp("admin-audit-cli"),
        database_url=gateway_database_url,
        connectors__population__config__url=sector_url,
    )


def ok(result: CommandResult) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_command_lines_changes_are_in_the_trail(
    gateway_cli: Callable[..., CommandResult], gateway_database_url: str, tmp_path: Path
) -> None:
    target = new_id()
    out = ok(
        gateway_cli(
            "clients",
            "create",
            "Sở Tài chính",
            "--client-id",
            target,
            "--scope",
            "population:read",
            "--contact",
            CONTACT,
        )
    )
    secret = next(line.split()[1] for line in out.splitlines() if line.startswith("client_secret:"))
    grant_out = ok(
        gateway_cli(
            "grants",
            "add",
            target,
            "population",
            "-o",
            "read",
            "-f",
            "full_name",
            "-f",
            "date_of_birth",
            "-p",
            PURPOSE,
            "--note",
            NOTE,
            "--json",
        )
    )
    grant_id = json.loads(grant_out)["id"]
    ok(gateway_cli("clients", "update", target, "--contact", "Bà Lê Thị Mai", "--scope", "audit"))
    ok(gateway_cli("clients", "suspend", target))
    ok(gateway_cli("clients", "activate", target))
    rotated = ok(gateway_cli("clients", "rotate-secret", target, "--overlap", "30"))
    new_secret = next(line.split()[1] for line in rotated.splitlines() if line.startswith("client_secret:"))
    pem = tmp_path / "key.pem"
    pem.write_text(public_pem())
    ok(gateway_cli("keys", "register", target, "--file", str(pem), "--kid", f"k-{target}"))
    ok(gateway_cli("keys", "revoke", f"k-{target}", "--client", target))
    ok(gateway_cli("grants", "revoke", str(grant_id)))
    assert gateway_cli("grants", "revoke", "2147483000").returncode == 1  # refused: nothing changed, nothing recorded

    events = administered(gateway_database_url, target)
    assert [e["action"] for e in events] == [
        "client.create",
        "grant.add",
        "client.update",
        "client.suspend",
        "client.activate",
        "secret.rotate",
        "key.register",
        "key.revoke",
        "grant.revoke",
    ]
    for event in events:
        assert event["client_id"] is None
        assert event["actor"] == operating_system_user()
        assert event["request_id"].startswith("cli-")
        assert (event["operation"], event["outcome"], event["status"]) == ("admin", "allowed", 0)
    assert len({e["request_id"] for e in events}) == len(events)
    added = events[1]["change"]
    assert added == {
        "grant_id": grant_id,
        "client_id": target,
        "database": "population",
        "operations": ["read"],
        "fields": ["date_of_birth", "full_name"],
        "purposes": [PURPOSE],
        "require_purpose": True,
        "require_actor": True,
        "valid_from": None,
        "valid_until": None,
    }
    assert events[2]["change"]["members"] == ["contact", "scopes"]
    assert events[5]["change"]["overlap_seconds"] == 30
    assert events[8]["change"]["already_revoked"] is False
    no_person_nor_secret(events, secret, new_secret)


def test_the_command_line_and_the_api_describe_a_grant_alike(
    api: httpx.Client,
    admin_headers: dict[str, str],
    gateway_cli: Callable[..., CommandResult],
    gateway_database_url: str,
) -> None:
    by_api, by_cli = new_id(), new_id()
    for client_id in (by_api, by_cli):
        assert (
            api.post(CLIENTS, json={"client_id": client_id, "name": "Sở Nội vụ"}, headers=admin_headers).status_code
            == 201
        )
    body = {"client_id": by_api, **GRANT, "purposes": [PURPOSE], "valid_from": "2027-01-01", "require_actor": False}
    assert api.post(GRANTS, json=body, headers=admin_headers).status_code == 201
    ok(
        gateway_cli(
            "grants",
            "add",
            by_cli,
            "population",
            "-o",
            "read",
            "-f",
            "full_name",
            "-f",
            "date_of_birth",
            "-p",
            PURPOSE,
            "--valid-from",
            "2027-01-01",
            "--no-require-actor",
        )
    )
    (api_event,) = [e for e in administered(gateway_database_url, by_api) if e["action"] == "grant.add"]
    (cli_event,) = [e for e in administered(gateway_database_url, by_cli) if e["action"] == "grant.add"]

    def alike(change: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in change.items() if k not in ("grant_id", "client_id")}

    assert alike(api_event["change"]) == alike(cli_event["change"])
    assert alike(cli_event["change"])["valid_from"] == "2026-12-31T17:00:00.000000Z"


def test_gateway_audit_events_answers_who_gave_access(
    api: httpx.Client,
    admin: ClientCredentials,
    admin_headers: dict[str, str],
    gateway_cli: Callable[..., CommandResult],
) -> None:
    target = new_id()
    assert api.post(CLIENTS, json={"client_id": target, "name": "Sở Công an"}, headers=admin_headers).status_code == 201
    assert api.post(GRANTS, json={"client_id": target, **GRANT}, headers=admin_headers).status_code == 201
    ok(gateway_cli("clients", "suspend", target))

    lines = ok(gateway_cli("audit", "events", "--target", target, "--oldest-first")).splitlines()
    assert [line.split("\t")[6:8] for line in lines] == [
        ["client.create", target],
        ["grant.add", target],
        ["client.suspend", target],
    ]
    granted = lines[1].split("\t")
    assert (granted[3], granted[5], granted[8], granted[9]) == (admin.client_id, "admin", "allowed", "201")
    assert json.loads(granted[11])["fields"] == ["date_of_birth", "full_name"]
    by_command = lines[2].split("\t")
    assert (by_command[2][:4], by_command[3], by_command[4]) == ("cli-", "-", operating_system_user())

    page = json.loads(ok(gateway_cli("audit", "events", "--target", target, "--action", "grant.add", "--json")))
    (item,) = page["items"]
    assert (item["action"], item["target_client"], item["change"]["database"]) == ("grant.add", target, "population")

    refused = gateway_cli("audit", "events", "--action", "Grant Add")
    assert refused.returncode == 1
    assert "action" in refused.stderr and "Traceback" not in refused.stderr


def test_a_refused_command_records_nothing(
    gateway_cli: Callable[..., CommandResult], gateway_database_url: str
) -> None:
    target = new_id()
    result = gateway_cli("grants", "add", target, "population", "-o", "read")  # no such client
    assert result.returncode == 1
    assert "There is no client with this id." in result.stderr
    assert administered(gateway_database_url, target) == []
