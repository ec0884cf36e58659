"""A data request states one purpose and one actor: ``X-Purpose`` or ``X-Actor-Id`` given twice is a 400
``bad-header`` naming it, on the lean read path as on the other data routes, whichever of the two values a grant
would allow (the gateway followed the first; a proxy, a platform or their logs may follow the last)."""

from __future__ import annotations

import httpx
import pytest
from support import STATED, PlantedSearch

PURPOSE, ACTOR = STATED["X-Purpose"], STATED["X-Actor-Id"]
OTHER_PURPOSE = "2.002154.000.00.00.H41"


@pytest.mark.parametrize(
    ("repeated", "values"),
    [
        ("X-Purpose", (PURPOSE, OTHER_PURPOSE)),
        ("X-Purpose", (OTHER_PURPOSE, PURPOSE)),
        ("X-Purpose", (PURPOSE, PURPOSE)),
        ("X-Actor-Id", (ACTOR, "CB-068-0002")),
    ],
)
def test_a_repeated_purpose_or_actor_is_refused(
    api: httpx.Client, token: str, planted: PlantedSearch, repeated: str, values: tuple[str, str]
) -> None:
    headers = [("Authorization", f"Bearer {token}")]
    headers += [(name, value) for name, value in STATED.items() if name != repeated]
    headers += [(repeated, value) for value in values]
    read = api.get(f"/v1/databases/population/records/{planted.personal_ids[0]}", headers=headers)
    search = api.post(
        "/v1/databases/population/search",
        json={"full_name": planted.full_name, "date_of_birth": str(planted.year)},
        headers=headers,
    )
    for response in (read, search):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/bad-header"
        assert response.json()["header"] == repeated


def test_one_purpose_and_one_actor_are_served(api: httpx.Client, token: str, planted: PlantedSearch) -> None:
    headers = {"Authorization": f"Bearer {token}", **STATED}
    read = api.get(f"/v1/databases/population/records/{planted.personal_ids[0]}", headers=headers)
    assert read.status_code == 200, read.text
    assert read.json()["personal_id"] == planted.personal_ids[0]
