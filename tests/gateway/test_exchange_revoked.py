"""What a client left queued is delivered only while it may still write it: an operation accepted (202) under the
grants then in force is dead-lettered, not delivered, when its client has been suspended since, or its grants no
longer allow it (revoked, or narrowed to other fields). Suspending a compromised client stops the writes it queued
while the sector system was down. A real gateway (uvicorn on 127.0.0.1) accepts the submissions without
dispatching them; a dispatcher with the clients' live access then delivers them, on SQLite or PostgreSQL
(GATEWAY_TEST_DATABASE_URL)."""

from __future__ import annotations

import uuid

import httpx
from exchange_fixtures import (
    dispatch_due,
    live_exchange_gateway,
    make_exchange_client,
    operation_outcomes,
    seeded_personal_ids,
)
from support import STATED, fetch_token

from gateway.core.settings import Settings

RECORDS = "/v1/databases/population/records"
CITIZENS = 20
SEED = 31


databases, settings, http, admin = live_exchange_gateway(
    "exrv",
    citizens=CITIZENS,
    seed=SEED,
    exchange_dispatch=False,  # as if the sector system were down: what is accepted waits
)


def _update(http: httpx.Client, headers: dict[str, str], personal_id: str, name: str) -> str:
    operation = {
        "op": "update",
        "record_id": personal_id,
        "fields": {"full_name": name},
        "metadata": {"changed_at": "2026-11-20T08:00:00+07:00"},
    }
    response = http.post(
        RECORDS, json={"operations": [operation]}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["receipt_id"])


def test_writes_queued_by_a_client_suspended_or_stripped_since_are_not_delivered(
    http: httpx.Client, settings: Settings, databases: tuple[str, str]
) -> None:
    admin = {"Authorization": f"Bearer {fetch_token(http, make_exchange_client(databases[0], 'admin'))}"}

    def writer(fields: list[str] | None) -> tuple[str, dict[str, str], str]:
        credentials = make_exchange_client(databases[0])
        grant = {"client_id": credentials.client_id, "database": "population", "operations": ["submit"]}
        response = http.post("/v1/admin/grants", json={**grant, "fields": fields}, headers=admin)
        assert response.status_code == 201, response.text
        headers = {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}
        return credentials.client_id, headers, str(response.json()["id"])

    ids = seeded_personal_ids(databases[1])
    _, kept, _ = writer(None)
    suspended_id, suspended, _ = writer(None)
    _, revoked, revoked_grant = writer(None)
    narrowed_id, narrowed, narrowed_grant = writer(["full_name"])
    receipts = {
        "kept": _update(http, kept, ids[0], "Nguyễn Văn Giữ"),
        "suspended": _update(http, suspended, ids[1], "Trần Văn Một"),
        "revoked": _update(http, revoked, ids[2], "Trần Văn Hai"),
        "narrowed": _update(http, narrowed, ids[3], "Trần Văn Ba"),
    }
    # While the sector system is down, the operator acts on three of the clients.
    assert http.post(f"/v1/admin/clients/{suspended_id}/suspend", headers=admin).status_code == 200
    for grant_id in (revoked_grant, narrowed_grant):
        assert http.delete(f"/v1/admin/grants/{grant_id}", headers=admin).status_code in (200, 204)
    other = {"client_id": narrowed_id, "database": "population", "operations": ["submit"], "fields": ["gender"]}
    assert http.post("/v1/admin/grants", json=other, headers=admin).status_code == 201
    dispatch_due(settings)
    outcomes = {name: operation_outcomes(databases[0], receipt)[0] for name, receipt in receipts.items()}
    assert outcomes["kept"] == ("delivered", None)
    for name in ("suspended", "revoked", "narrowed"):
        state, error = outcomes[name]
        assert state == "dead" and error is not None and error.startswith("not delivered: "), (name, outcomes[name])
    assert "suspended" in (outcomes["suspended"][1] or "")
    assert "no longer allow" in (outcomes["revoked"][1] or "")
    assert "full_name" in (outcomes["narrowed"][1] or "")
    # The sector system received only the write of the client still allowed to make it.
    reader = {
        "Authorization": f"Bearer {fetch_token(http, make_exchange_client(databases[0], 'population:read'))}",
        **STATED,
    }
    names = [http.get(f"{RECORDS}/{personal_id}", headers=reader).json().get("full_name") for personal_id in ids[:4]]
    assert names[0] == "Nguyễn Văn Giữ" and not {"Trần Văn Một", "Trần Văn Hai", "Trần Văn Ba"} & set(names)
