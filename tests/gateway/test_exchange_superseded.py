"""An older change delivered late does not overwrite a newer one: operations reach the sector system in the order
they were accepted, and when a change already applied to the same record was made later (its ``changed_at``), an
update or a delete made earlier is superseded. Wholly (a delete, an update of no field left) it is dead-lettered,
``not delivered: superseded ...``; in part, the fields a later update wrote are not sent, and the operation says
which. A real gateway (uvicorn on 127.0.0.1) accepts the submissions without dispatching them; a dispatcher then
delivers each round, on SQLite or PostgreSQL (GATEWAY_TEST_DATABASE_URL)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from exchange_fixtures import (
    CHANGES,
    RECORDS,
    dispatch_due,
    live_exchange_gateway,
    make_exchange_client,
    operation_outcomes,
    seeded_personal_ids,
)
from support import STATED, fetch_token

from gateway.core.settings import Settings

databases, settings, http, admin = live_exchange_gateway("exss", citizens=12, seed=37, exchange_dispatch=False)

EARLIER = "2026-11-20T09:00:00+07:00"
LATER = "2026-11-20T03:00:00Z"  # 10:00 in Hà Nội: an hour after EARLIER


def _operation(kind: str, record_id: str, fields: dict[str, Any] | None, changed_at: str) -> dict[str, Any]:
    operation: dict[str, Any] = {"op": kind, "record_id": record_id, "metadata": {"changed_at": changed_at}}
    if fields is not None:
        operation["fields"] = fields
    return operation


def _submit(http: httpx.Client, headers: dict[str, str], operations: list[dict[str, Any]]) -> str:
    response = http.post(
        RECORDS, json={"operations": operations}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 202, response.text
    assert not response.json().get("rejected"), response.text
    return str(response.json()["receipt_id"])


def test_an_older_change_delivered_late_does_not_overwrite_a_newer_one(
    http: httpx.Client, settings: Settings, databases: tuple[str, str]
) -> None:
    credentials = make_exchange_client(databases[0], "population:read", "population:submit")
    headers = {"Authorization": f"Bearer {fetch_token(http, credentials)}", **STATED}
    whole, part, deleted, in_order, same_moment = seeded_personal_ids(databases[1])[:5]
    start = http.get(CHANGES, headers=headers, params={"limit": 100}).json()["next_cursor"]

    # First delivered: the changes made later.
    first = _submit(
        http,
        headers,
        [
            _operation("update", whole, {"full_name": "Nguyễn Văn Mới"}, LATER),
            _operation("update", part, {"full_name": "Trần Thị Mới"}, LATER),
            _operation("update", deleted, {"marital_status": "married"}, LATER),
            _operation("update", in_order, {"full_name": "Lê Văn Trước"}, EARLIER),
            _operation("update", same_moment, {"full_name": "Phạm Văn Một"}, LATER),
        ],
    )
    dispatch_due(settings)
    assert [state for state, _ in operation_outcomes(databases[0], first)] == ["delivered"] * 5

    # Then what was changed earlier (a system syncing what it recorded offline), and two that are not older.
    second = _submit(
        http,
        headers,
        [
            _operation("update", whole, {"full_name": "Nguyễn Văn Cũ"}, EARLIER),
            _operation("update", part, {"full_name": "Trần Thị Cũ", "marital_status": "divorced"}, EARLIER),
            _operation("delete", deleted, None, EARLIER),
            _operation("update", in_order, {"full_name": "Lê Văn Sau"}, LATER),
            _operation("update", same_moment, {"full_name": "Phạm Văn Hai"}, "2026-11-20T10:00:00+07:00"),
        ],
    )
    dispatch_due(settings)
    outcomes = operation_outcomes(databases[0], second)
    superseded = "by a change of the record made later (a later changed_at) and applied already"
    assert outcomes[0] == ("dead", f"not delivered: superseded, {superseded}")
    assert outcomes[1] == ("delivered", f"applied in part: full_name not sent, {superseded}")
    assert outcomes[2] == ("dead", f"not delivered: superseded, {superseded}")
    assert outcomes[3] == ("delivered", None)
    assert outcomes[4] == ("delivered", None)  # made at the same moment: not older, applied in order

    def record(personal_id: str) -> dict[str, Any]:
        answer = http.get(f"{RECORDS}/{personal_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    assert record(whole)["full_name"] == "Nguyễn Văn Mới"
    assert (record(part)["full_name"], record(part)["marital_status"]) == ("Trần Thị Mới", "divorced")
    assert record(deleted)["marital_status"] == "married"  # still there: its deletion was made before
    assert record(in_order)["full_name"] == "Lê Văn Sau"
    assert record(same_moment)["full_name"] == "Phạm Văn Hai"

    # The feed holds what was applied: the part of the second update that was sent, nothing of what was not.
    changes = http.get(CHANGES, headers=headers, params={"after": start, "limit": 100}).json()["changes"]
    second_round = [(c["record_id"], c["op"], c["changed_fields"]) for c in changes[5:]]
    applied = [(part, "update", ["marital_status"]), (in_order, "update", ["full_name"])]
    assert sorted(second_round) == sorted([*applied, (same_moment, "update", ["full_name"])])

    # The receipt tells the sender the same.
    receipt = http.get(f"/v1/receipts/{second}", headers=headers)
    assert receipt.status_code == 200, receipt.text
    shown = [(operation["state"], operation["last_error"]) for operation in receipt.json()["accepted"]]
    assert shown == outcomes
