"""The admin API (``/v1/admin/clients``, ``/v1/admin/grants``) over HTTP, on the running gateway: the ``admin``
scope, creating, listing, changing, suspending clients, rotating secrets with an overlap, adding, listing and
revoking grants checked against the population connector, and its errors as problem details."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from support import STATED, ClientCredentials, fetch_token

from contracts.population import Citizen

CLIENTS = "/v1/admin/clients"
GRANTS = "/v1/admin/grants"
RECORDS = "/v1/databases/population/records"
PURPOSE = STATED["X-Purpose"]


@pytest.fixture(scope="module")
def admin(api: httpx.Client, make_client: Callable[..., ClientCredentials]) -> dict[str, str]:
    """The headers of a client holding the ``admin`` scope."""
    return {"Authorization": f"Bearer {fetch_token(api, make_client('admin'))}"}


def new_id() -> str:
    return f"adm-{uuid.uuid4().hex[:10]}"


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body


def error_locs(body: dict[str, Any]) -> list[list[Any]]:
    return [e["loc"] for e in body["errors"]]


def create(api: httpx.Client, admin: dict[str, str], **values: Any) -> dict[str, Any]:
    body = {"name": "Sở Tư pháp tỉnh Lâm Đồng", "client_id": new_id(), **values}
    response = api.post(CLIENTS, json=body, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def token_response(api: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return api.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))


def add_grant(api: httpx.Client, admin: dict[str, str], **values: Any) -> httpx.Response:
    return api.post(GRANTS, json={"database": "population", "operations": ["read"], **values}, headers=admin)


def no_secret_material(text: str, *secrets: str) -> None:
    assert "argon2" not in text
    assert "hmac-sha256" not in text
    assert "secret_hash" not in text
    for secret in secrets:
        assert secret not in text


# --- the admin scope ----------------------------------------------------------------------------------------------

ROUTES = [
    ("POST", CLIENTS),
    ("GET", CLIENTS),
    ("GET", f"{CLIENTS}/someone"),
    ("PATCH", f"{CLIENTS}/someone"),
    ("POST", f"{CLIENTS}/someone/suspend"),
    ("POST", f"{CLIENTS}/someone/activate"),
    ("POST", f"{CLIENTS}/someone/secret"),
    ("POST", GRANTS),
    ("GET", GRANTS),
    ("GET", f"{GRANTS}/1"),
    ("DELETE", f"{GRANTS}/1"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_admin_routes_need_a_token(api: httpx.Client, method: str, path: str) -> None:
    problem(api.request(method, path, json={}), 401, "invalid-token")


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_admin_routes_need_the_admin_scope(
    api: httpx.Client, reader: ClientCredentials, method: str, path: str
) -> None:
    headers = {"Authorization": f"Bearer {fetch_token(api, reader)}"}
    body = problem(api.request(method, path, json={}, headers=headers), 403, "insufficient-scope")
    assert body["required_scope"] == "admin"


# --- clients ------------------------------------------------------------------------------------------------------


def test_create_a_client_answers_its_secret_once(api: httpx.Client, admin: dict[str, str]) -> None:
    client_id = new_id()
    response = api.post(
        CLIENTS,
        json={
            "client_id": client_id,
            "name": "  Cổng dịch vụ công tỉnh Lâm Đồng ",
            "agency_code": "000.00.00.H41",
            "contact": "Phòng CNTT, 0263 3822 000",
            "scopes": ["audit", "population:read", "population:search", "population:read"],
            "rate_limit_per_second": 20,
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{CLIENTS}/{client_id}"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    secret = body.pop("client_secret")
    assert len(secret) >= 32
    assert body["client_id"] == client_id
    assert body["name"] == "Cổng dịch vụ công tỉnh Lâm Đồng"
    assert (body["agency_code"], body["status"], body["scopes"]) == ("000.00.00.H41", "active", ["audit"])
    assert (body["rate_limit_per_second"], body["rate_limit_per_day"]) == (20, None)
    assert body["token_scopes"] == ["audit", "population:read", "population:search"]
    # The data scopes became one grant on every field, requiring the purpose and the actor.
    (grant,) = body["grants"]
    assert grant["operations"] == ["read", "search"]
    assert (grant["fields"], grant["purposes"], grant["status"]) == (None, None, "active")
    assert grant["require_purpose"] and grant["require_actor"]
    assert [s["active"] for s in body["secrets"]] == [True]
    no_secret_material(response.text.replace(secret, ""))

    issued = token_response(api, client_id, secret)
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == "audit population:read population:search"
    shown = api.get(f"{CLIENTS}/{client_id}", headers=admin)
    assert shown.status_code == 200
    no_secret_material(shown.text, secret)
    assert shown.json() == body


def test_a_generated_client_id(api: httpx.Client, admin: dict[str, str]) -> None:
    response = api.post(CLIENTS, json={"name": "Sở Công Thương"}, headers=admin)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_id"].startswith("client-")
    assert (body["scopes"], body["grants"], body["token_scopes"]) == ([], [], [])


def test_a_taken_client_id_is_a_409(api: httpx.Client, admin: dict[str, str]) -> None:
    first = create(api, admin, scopes=["population:read"])
    again = api.post(CLIENTS, json={"client_id": first["client_id"], "name": "Other"}, headers=admin)
    body = problem(again, 409, "conflict")
    assert "already exists" in body["detail"]
    assert api.get(f"{CLIENTS}/{first['client_id']}", headers=admin).json()["name"] == first["name"]


@pytest.mark.parametrize(
    ("values", "loc"),
    [
        ({"client_id": "has space"}, ["body", "client_id"]),
        ({"client_id": "x" * 65}, ["body", "client_id"]),
        ({"name": "   "}, ["body", "name"]),
        ({"name": "n" * 201}, ["body", "name"]),
        ({"agency_code": "H41"}, ["body", "agency_code"]),
        ({"scopes": ["admin", "Population:Read"]}, ["body", "scopes", 1]),
        ({"scopes": ["population:delete"]}, ["body", "scopes", 0]),
        ({"scopes": ["land:read"]}, ["body", "database"]),
        ({"scopes": ["population:submit"]}, ["body", "operations", 0]),
        ({"rate_limit_per_second": 0}, ["body", "rate_limit_per_second"]),
        ({"secret_hash": "$argon2id$..."}, ["body", "secret_hash"]),
    ],
    ids=[
        "client-id-space",
        "client-id-long",
        "blank-name",
        "long-name",
        "agency-code",
        "scope-case",
        "scope-operation",
        "database-not-served",
        "operation-not-offered",
        "rate-limit",
        "unknown-member",
    ],
)
def test_an_invalid_client_is_a_422(
    api: httpx.Client, admin: dict[str, str], values: dict[str, Any], loc: list[Any]
) -> None:
    client_id = values.get("client_id", new_id())
    body = {"name": "Sở Xây dựng", **values, "client_id": client_id}
    answer = problem(api.post(CLIENTS, json=body, headers=admin), 422, "validation-error")
    assert loc in error_locs(answer)
    if "client_id" not in values:
        problem(api.get(f"{CLIENTS}/{client_id}", headers=admin), 404, "not-found")


def test_list_clients_and_filter_by_status(api: httpx.Client, admin: dict[str, str]) -> None:
    active = create(api, admin)
    suspended = create(api, admin)
    assert api.post(f"{CLIENTS}/{suspended['client_id']}/suspend", headers=admin).status_code == 200
    everyone = api.get(CLIENTS, headers=admin)
    assert everyone.status_code == 200
    no_secret_material(everyone.text, active["client_secret"], suspended["client_secret"])
    ids = [c["client_id"] for c in everyone.json()]
    assert ids == sorted(ids)
    assert {active["client_id"], suspended["client_id"]} <= set(ids)
    only = {c["client_id"]: c["status"] for c in api.get(CLIENTS, params={"status": "suspended"}, headers=admin).json()}
    assert only[suspended["client_id"]] == "suspended"
    assert active["client_id"] not in only
    assert set(only.values()) == {"suspended"}
    problem(api.get(CLIENTS, params={"status": "deleted"}, headers=admin), 422, "validation-error")


def test_an_unknown_client_is_a_404(api: httpx.Client, admin: dict[str, str]) -> None:
    for method, path in [
        ("GET", f"{CLIENTS}/nobody-here"),
        ("PATCH", f"{CLIENTS}/nobody-here"),
        ("POST", f"{CLIENTS}/nobody-here/suspend"),
        ("POST", f"{CLIENTS}/nobody-here/activate"),
        ("POST", f"{CLIENTS}/nobody-here/secret"),
        ("GET", f"{CLIENTS}/{'x' * 65}"),
    ]:
        response = api.request(method, path, json={"name": "x"} if method == "PATCH" else None, headers=admin)
        assert response.status_code in (404, 422), (method, path, response.text)
        problem(response, response.status_code, "not-found" if response.status_code == 404 else "validation-error")


def test_patch_changes_only_the_members_given(api: httpx.Client, admin: dict[str, str]) -> None:
    created = create(api, admin, agency_code="000.00.00.H41", contact="Phòng CNTT", scopes=["population:read"])
    path = f"{CLIENTS}/{created['client_id']}"
    response = api.patch(
        path,
        json={"name": "Sở Tư pháp", "contact": None, "rate_limit_per_day": 50_000, "scopes": ["audit"]},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["contact"], body["agency_code"]) == ("Sở Tư pháp", None, "000.00.00.H41")
    assert (body["rate_limit_per_second"], body["rate_limit_per_day"]) == (None, 50_000)
    assert body["scopes"] == ["audit"]
    assert body["token_scopes"] == ["audit", "population:read"]
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(created["updated_at"])
    assert body["created_at"] == created["created_at"]
    assert api.get(path, headers=admin).json() == body
    # The next token carries the new non-data scope.
    token = token_response(api, created["client_id"], created["client_secret"])
    assert token.json()["scope"] == "audit population:read"


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"name": None}, ["body", "name"]),
        ({"scopes": None}, ["body"]),
        ({"scopes": ["population:read"]}, ["body", "scopes", 0]),
        ({"agency_code": "000.00.00.h41"}, ["body", "agency_code"]),
        ({"rate_limit_per_second": -1}, ["body", "rate_limit_per_second"]),
        ({"status": "suspended"}, ["body", "status"]),
        ({"client_id": "renamed"}, ["body", "client_id"]),
    ],
    ids=["null-name", "null-scopes", "data-scope", "agency-code", "rate-limit", "status", "client-id"],
)
def test_an_invalid_patch_is_a_422_and_changes_nothing(
    api: httpx.Client, admin: dict[str, str], changes: dict[str, Any], loc: list[Any]
) -> None:
    created = create(api, admin)
    path = f"{CLIENTS}/{created['client_id']}"
    before = api.get(path, headers=admin).json()
    answer = problem(api.patch(path, json=changes, headers=admin), 422, "validation-error")
    assert loc in error_locs(answer)
    assert api.get(path, headers=admin).json() == before


def test_a_malformed_body_is_a_400_not_a_500(api: httpx.Client, admin: dict[str, str]) -> None:
    response = api.post(CLIENTS, content=b'{"name": ', headers={**admin, "Content-Type": "application/json"})
    problem(response, 400, "malformed-json")
    response = api.post(GRANTS, content=b"[1, 2", headers={**admin, "Content-Type": "application/json"})
    problem(response, 400, "malformed-json")


# --- suspension ---------------------------------------------------------------------------------------------------


def test_suspend_and_activate(api: httpx.Client, admin: dict[str, str], planted: Any) -> None:
    created = create(api, admin, scopes=["population:read"])
    client_id, secret = created["client_id"], created["client_secret"]
    token = token_response(api, client_id, secret).json()["access_token"]
    data = {"Authorization": f"Bearer {token}", **STATED}
    record = f"{RECORDS}/{planted.personal_ids[0]}"
    assert api.get(record, headers=data).status_code == 200

    suspended = api.post(f"{CLIENTS}/{client_id}/suspend", headers=admin)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    problem(api.get(record, headers=data), 401, "invalid-token")
    refused = problem(token_response(api, client_id, secret), 401, "oauth-error")
    assert refused["error"] == "invalid_client"
    # Suspending twice is harmless.
    assert api.post(f"{CLIENTS}/{client_id}/suspend", headers=admin).json()["status"] == "suspended"

    activated = api.post(f"{CLIENTS}/{client_id}/activate", headers=admin)
    assert activated.json()["status"] == "active"
    assert api.get(record, headers=data).status_code == 200
    assert token_response(api, client_id, secret).status_code == 200


def test_removing_a_scope_ends_it_for_the_tokens_issued_before(api: httpx.Client, admin: dict[str, str]) -> None:
    created = create(api, admin, scopes=["admin", "audit", "axis"])
    client_id = created["client_id"]
    token = token_response(api, client_id, created["client_secret"]).json()["access_token"]
    held = {"Authorization": f"Bearer {token}"}
    routes = {"admin": CLIENTS, "audit": "/v1/audit", "axis": "/v1/axis"}
    for path in routes.values():
        assert api.get(path, headers=held).status_code == 200, path

    def patch(scopes: list[str]) -> None:
        response = api.patch(f"{CLIENTS}/{client_id}", json={"scopes": scopes}, headers=admin)
        assert response.status_code == 200, response.text

    patch(["axis"])
    # The token still says admin and audit; the client no longer has them.
    problem(api.get(CLIENTS, headers=held), 403, "insufficient-scope")
    problem(
        api.post(CLIENTS, json={"name": "Escalation", "scopes": ["admin"]}, headers=held), 403, "insufficient-scope"
    )
    problem(api.get("/v1/audit", headers=held), 403, "insufficient-scope")
    assert api.get("/v1/axis", headers=held).status_code == 200
    patch([])
    problem(api.get("/v1/axis", headers=held), 403, "insufficient-scope")
    # Given back, a scope the token carries works again; one it never carried does not appear.
    patch(["audit"])
    assert api.get("/v1/audit", headers=held).status_code == 200
    problem(api.get(CLIENTS, headers=held), 403, "insufficient-scope")


# --- secrets ------------------------------------------------------------------------------------------------------


def test_rotation_without_overlap_ends_the_old_secret_at_once(api: httpx.Client, admin: dict[str, str]) -> None:
    created = create(api, admin, scopes=["population:read"])
    client_id, old = created["client_id"], created["client_secret"]
    response = api.post(f"{CLIENTS}/{client_id}/secret", json={"overlap_seconds": 0}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    rotated = response.json()
    assert set(rotated) == {"client_id", "client_secret", "previous_secrets_expire_at"}
    new = rotated["client_secret"]
    assert new != old
    refused = problem(token_response(api, client_id, old), 401, "oauth-error")
    assert refused["error"] == "invalid_client"
    assert token_response(api, client_id, new).status_code == 200
    # Without a body the overlap is 0 too.
    newer = api.post(f"{CLIENTS}/{client_id}/secret", headers=admin).json()["client_secret"]
    assert token_response(api, client_id, new).status_code == 401
    assert token_response(api, client_id, newer).status_code == 200
    detail = api.get(f"{CLIENTS}/{client_id}", headers=admin)
    no_secret_material(detail.text, old, new, newer)
    # Secrets that have expired are deleted at the next rotation: the one before stays, expired.
    assert [s["active"] for s in detail.json()["secrets"]] == [False, True]


def test_rotation_with_overlap_keeps_the_old_secret_until_it_ends(api: httpx.Client, admin: dict[str, str]) -> None:
    created = create(api, admin, scopes=["population:read"])
    client_id, old = created["client_id"], created["client_secret"]
    before = datetime.now(UTC)
    rotated = api.post(f"{CLIENTS}/{client_id}/secret", json={"overlap_seconds": 2}, headers=admin).json()
    until = datetime.fromisoformat(rotated["previous_secrets_expire_at"])
    assert before + timedelta(seconds=2) <= until <= datetime.now(UTC) + timedelta(seconds=2)
    secrets = api.get(f"{CLIENTS}/{client_id}", headers=admin).json()["secrets"]
    assert [(s["active"], s["expires_at"] is not None) for s in secrets] == [(True, True), (True, False)]
    assert token_response(api, client_id, old).status_code == 200
    assert token_response(api, client_id, rotated["client_secret"]).status_code == 200
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.2)
    refused = problem(token_response(api, client_id, old), 401, "oauth-error")
    assert refused["error"] == "invalid_client"
    assert token_response(api, client_id, rotated["client_secret"]).status_code == 200


def test_a_second_rotation_does_not_extend_an_overlap(api: httpx.Client, admin: dict[str, str]) -> None:
    created = create(api, admin)
    client_id, first = created["client_id"], created["client_secret"]
    second = api.post(f"{CLIENTS}/{client_id}/secret", json={"overlap_seconds": 3600}, headers=admin).json()
    third = api.post(f"{CLIENTS}/{client_id}/secret", json={"overlap_seconds": 0}, headers=admin).json()
    assert token_response(api, client_id, first).status_code == 401
    assert token_response(api, client_id, second["client_secret"]).status_code == 401
    assert token_response(api, client_id, third["client_secret"]).status_code == 200


@pytest.mark.parametrize("body", [{"overlap_seconds": -1}, {"overlap_seconds": 31 * 86400}, {"overlap": 5}])
def test_an_invalid_overlap_is_a_422(api: httpx.Client, admin: dict[str, str], body: dict[str, Any]) -> None:
    created = create(api, admin)
    response = api.post(f"{CLIENTS}/{created['client_id']}/secret", json=body, headers=admin)
    problem(response, 422, "validation-error")
    assert token_response(api, created["client_id"], created["client_secret"]).status_code == 200


# --- grants -------------------------------------------------------------------------------------------------------


def test_add_show_and_revoke_a_grant(api: httpx.Client, admin: dict[str, str]) -> None:
    client = create(api, admin)
    response = add_grant(
        api,
        admin,
        client_id=client["client_id"],
        operations=["search", "read", "search"],
        fields=["full_name", "date_of_birth", "permanent_address.ward_code", "full_name", "permanent_address"],
        purposes=["2.002154", "1.001612.000.00.00.H41"],
        valid_from="2026-01-01",
        valid_until="2027-12-31",
        note="Quyết định 123/QĐ-UBND",
    )
    assert response.status_code == 201, response.text
    grant = response.json()
    assert response.headers["location"] == f"{GRANTS}/{grant['id']}"
    assert grant["client_id"] == client["client_id"]
    assert grant["operations"] == ["read", "search"]
    assert grant["fields"] == ["date_of_birth", "full_name", "permanent_address"]
    assert grant["purposes"] == ["1.001612.000.00.00.H41", "2.002154"]
    # Dates are whole days in Viet Nam (UTC+7); the end is exclusive.
    assert datetime.fromisoformat(grant["valid_from"]) == datetime(2025, 12, 31, 17, tzinfo=UTC)
    assert datetime.fromisoformat(grant["valid_until"]) == datetime(2027, 12, 31, 17, tzinfo=UTC)
    assert grant["valid_until"].endswith("Z")
    assert (grant["require_purpose"], grant["require_actor"], grant["revoked_at"]) == (True, True, None)
    assert grant["note"] == "Quyết định 123/QĐ-UBND"
    expected_status = "active" if datetime.now(UTC) < datetime(2027, 12, 31, 17, tzinfo=UTC) else "expired"
    assert grant["status"] == expected_status

    assert api.get(f"{GRANTS}/{grant['id']}", headers=admin).json() == grant
    detail = api.get(f"{CLIENTS}/{client['client_id']}", headers=admin).json()
    assert detail["grants"] == [grant]

    revoked = api.delete(f"{GRANTS}/{grant['id']}", headers=admin)
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert body["status"] == "revoked"
    assert body["revoked_at"] is not None
    # Revoking again keeps the first revocation.
    assert api.delete(f"{GRANTS}/{grant['id']}", headers=admin).json() == body
    assert api.get(f"{GRANTS}/{grant['id']}", headers=admin).json() == body


def test_date_times_with_an_offset_are_kept_exactly(api: httpx.Client, admin: dict[str, str]) -> None:
    client = create(api, admin)
    grant = add_grant(
        api,
        admin,
        client_id=client["client_id"],
        valid_from="2026-03-01T08:00:00+07:00",
        valid_until="2026-03-01T17:30:00Z",
    ).json()
    assert datetime.fromisoformat(grant["valid_from"]) == datetime(2026, 3, 1, 1, tzinfo=UTC)
    assert datetime.fromisoformat(grant["valid_until"]) == datetime(2026, 3, 1, 17, 30, tzinfo=UTC)


def test_list_grants_by_client_database_and_activity(api: httpx.Client, admin: dict[str, str]) -> None:
    client = create(api, admin)
    other = create(api, admin, scopes=["population:read"])
    now = datetime.now(UTC)
    cid = client["client_id"]
    made = {
        "current": add_grant(api, admin, client_id=cid, fields=["full_name"]).json(),
        "expired": add_grant(api, admin, client_id=cid, valid_until=(now - timedelta(days=2)).isoformat()).json(),
        "pending": add_grant(api, admin, client_id=cid, valid_from=(now + timedelta(days=2)).isoformat()).json(),
        "revoked": add_grant(api, admin, client_id=cid, operations=["search"]).json(),
    }
    assert api.delete(f"{GRANTS}/{made['revoked']['id']}", headers=admin).status_code == 200
    statuses = {name: api.get(f"{GRANTS}/{g['id']}", headers=admin).json()["status"] for name, g in made.items()}
    assert statuses == {"current": "active", "expired": "expired", "pending": "pending", "revoked": "revoked"}

    def ids(**params: Any) -> list[int]:
        response = api.get(GRANTS, params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [g["id"] for g in response.json()]

    everything = ids(client_id=cid)
    assert everything == sorted(g["id"] for g in made.values())
    assert ids(client_id=cid, active="true") == [made["current"]["id"]]
    assert ids(client_id=cid, active="false") == [made[n]["id"] for n in ("expired", "pending", "revoked")]
    assert ids(client_id=cid, database="population") == everything
    assert ids(client_id=cid, database="civil_status") == []
    all_grants = ids()
    assert set(everything) < set(all_grants)
    assert {g["id"] for g in api.get(f"{CLIENTS}/{other['client_id']}", headers=admin).json()["grants"]} <= set(
        all_grants
    )
    problem(api.get(GRANTS, params={"active": "sometimes"}, headers=admin), 422, "validation-error")


def test_an_unknown_grant_is_a_404(api: httpx.Client, admin: dict[str, str]) -> None:
    problem(api.get(f"{GRANTS}/987654321", headers=admin), 404, "not-found")
    problem(api.delete(f"{GRANTS}/987654321", headers=admin), 404, "not-found")
    problem(api.get(f"{GRANTS}/not-a-number", headers=admin), 422, "validation-error")


@pytest.mark.parametrize(
    ("values", "loc"),
    [
        ({"client_id": "nobody-at-all"}, ["body", "client_id"]),
        ({"database": "land"}, ["body", "database"]),
        ({"database": "Population"}, ["body", "database"]),
        ({"operations": []}, ["body", "operations"]),
        ({"operations": ["read", "write"]}, ["body", "operations", 1]),
        ({"operations": ["read", "delete"]}, ["body"]),
        ({"operations": ["read", "submit"]}, ["body", "operations", 1]),
        ({"fields": []}, ["body", "fields"]),
        ({"fields": ["full_name", "fullname"]}, ["body", "fields", 1]),
        ({"fields": ["full_name.first"]}, ["body", "fields", 0]),
        ({"fields": ["permanent_address.street"]}, ["body", "fields", 0]),
        ({"fields": ["personal_id; DROP TABLE grants"]}, ["body", "fields", 0]),
        ({"purposes": ["1.001612", "thủ tục"]}, ["body", "purposes", 1]),
        ({"purposes": ["x" * 65]}, ["body", "purposes", 0]),
        ({"purposes": ["1.001612"], "require_purpose": False}, ["body"]),
        ({"valid_from": "2027-01-01", "valid_until": "2026-12-31"}, ["body"]),
        ({"valid_from": "2027-01-01", "valid_until": "2026-12-31T17:00:00Z"}, ["body"]),
        ({"valid_until": "2027-01-01T00:00:00"}, ["body", "valid_until"]),
        ({"valid_until": "31/12/2027"}, ["body", "valid_until"]),
        ({"valid_from": "0001-01-01T00:00:00+14:00"}, ["body", "valid_from"]),
        ({"valid_until": "9999-12-31T23:59:59-14:00"}, ["body", "valid_until"]),
        ({"valid_from": "0001-01-01"}, ["body", "valid_from"]),
        ({"valid_until": "9999-12-31"}, ["body", "valid_until"]),
        ({"note": "n" * 501}, ["body", "note"]),
        ({"revoked_at": None}, ["body", "revoked_at"]),
    ],
    ids=[
        "unknown-client",
        "database-not-served",
        "database-id",
        "no-operation",
        "unknown-operation",
        "delete-without-submit",
        "operation-not-offered",
        "no-field",
        "unknown-field",
        "path-into-a-scalar",
        "unknown-nested-field",
        "field-syntax",
        "purpose-format",
        "purpose-length",
        "purposes-without-purpose",
        "dates-reversed",
        "dates-reversed-mixed",
        "naive-date-time",
        "date-format",
        "start-before-year-1-in-utc",
        "end-after-year-9999-in-utc",
        "first-date-starts-before-year-1-in-utc",
        "last-date-ends-after-year-9999",
        "note-length",
        "unknown-member",
    ],
)
def test_an_invalid_grant_is_a_422_and_is_not_stored(
    api: httpx.Client, admin: dict[str, str], values: dict[str, Any], loc: list[Any]
) -> None:
    client = create(api, admin)
    response = add_grant(api, admin, **{"client_id": client["client_id"], **values})
    body = problem(response, 422, "validation-error")
    assert loc in error_locs(body)
    # The submitted values are not echoed back.
    for value in ("fullname", "thủ tục", "DROP TABLE", "31/12/2027"):
        assert value not in response.text
    assert api.get(GRANTS, params={"client_id": client["client_id"]}, headers=admin).json() == []


def test_the_first_and_last_storable_moments_are_valid_bounds(api: httpx.Client, admin: dict[str, str]) -> None:
    client = create(api, admin)
    response = add_grant(
        api, admin, client_id=client["client_id"], valid_from="0001-01-02", valid_until="9999-12-31T23:59:59Z"
    )
    assert response.status_code == 201, response.text
    grant = response.json()
    assert datetime.fromisoformat(grant["valid_from"]) == datetime(1, 1, 1, 17, tzinfo=UTC)
    assert datetime.fromisoformat(grant["valid_until"]) == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_the_same_grant_twice_is_a_409(api: httpx.Client, admin: dict[str, str]) -> None:
    client = create(api, admin)
    values = {"client_id": client["client_id"], "fields": ["full_name", "gender"], "purposes": [PURPOSE]}
    first = add_grant(api, admin, **values).json()
    body = problem(add_grant(api, admin, **{**values, "fields": ["gender", "full_name"]}), 409, "conflict")
    assert body["grant_id"] == first["id"]
    # Another purpose is another grant; so is the same one once the first is revoked.
    assert add_grant(api, admin, **{**values, "purposes": ["2.002154"]}).status_code == 201
    api.delete(f"{GRANTS}/{first['id']}", headers=admin)
    assert add_grant(api, admin, **values).status_code == 201


def test_every_contract_field_can_be_granted(api: httpx.Client, admin: dict[str, str]) -> None:
    client = create(api, admin)
    fields = sorted(Citizen.model_fields)
    response = add_grant(api, admin, client_id=client["client_id"], fields=fields)
    assert response.status_code == 201, response.text
    assert response.json()["fields"] == fields


def test_the_openapi_document_describes_the_admin_api(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths[CLIENTS]) == {"get", "post"}
    assert set(paths[f"{CLIENTS}/{{client_id}}"]) == {"get", "patch"}
    assert set(paths[f"{GRANTS}/{{grant_id}}"]) == {"get", "delete"}
    created = paths[GRANTS]["post"]["responses"]
    assert set(created) >= {"201", "401", "403", "409", "422"}
    assert "application/problem+json" in created["409"]["content"]
    schemas = document["components"]["schemas"]
    assert "client_secret" in schemas["ClientCreated"]["properties"]
    assert "secret_hash" not in str(schemas)
