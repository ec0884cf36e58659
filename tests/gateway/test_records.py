"""Reading and searching the population database through the gateway, over HTTP with a token."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from support import ClientCredentials, PlantedSearch, fetch_token

from contracts.population import Citizen
from gateway.core.db import create_engine
from simulators.population import CITIZENS

RECORDS = "/v1/databases/population/records"
SEARCH = "/v1/databases/population/search"


def _rows(url: str, *where: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(sa.select(CITIZENS).where(*where).order_by(CITIZENS.c.so_dinh_danh))
                return [dict(row) for row in result.mappings()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_read_one_citizen(api: httpx.Client, bearer: dict[str, str], sector_url: str) -> None:
    row = _rows(sector_url, CITIZENS.c.so_cmnd.is_not(None), CITIZENS.c.noi_o_xa.is_not(None))[0]
    response = api.get(f"{RECORDS}/{row['so_dinh_danh']}", headers=bearer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    citizen = Citizen.model_validate(body)
    assert citizen.personal_id == row["so_dinh_danh"]
    assert body["full_name"] == row["ho_ten"]
    assert body["old_id_number"] == row["so_cmnd"]
    assert body["gender"] == {1: "male", 2: "female"}[row["gioi_tinh"]]
    assert body["date_of_birth"] == row["ngay_sinh"]
    assert body["permanent_address"]["ward_code"] == row["thuong_tru_xa"]
    assert body["permanent_address"]["line"] == row["thuong_tru_chi_tiet"]
    assert body["current_address"]["ward_code"] == row["noi_o_xa"]
    assert body["household_id"] == row["ma_ho"]
    assert body["last_updated"].endswith("Z") or body["last_updated"].endswith("+00:00")


def test_every_field_of_the_contract_is_present(api: httpx.Client, bearer: dict[str, str], sector_url: str) -> None:
    row = _rows(sector_url, CITIZENS.c.ngay_mat.is_not(None))[0]
    body = api.get(f"{RECORDS}/{row['so_dinh_danh']}", headers=bearer).json()
    assert set(body) == set(Citizen.model_fields)
    assert body["date_of_death"] == row["ngay_mat"].isoformat() if hasattr(row["ngay_mat"], "isoformat") else True


def test_unknown_citizen_is_404(api: httpx.Client, bearer: dict[str, str]) -> None:
    response = api.get(f"{RECORDS}/068099000000", headers=bearer)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/record-not-found"


@pytest.mark.parametrize(
    "personal_id",
    ["123", "06809900000a", "0680990000001", "000099000000", "097099000000", "%20068099000000", "' OR 1=1 --"],
)
def test_malformed_personal_id_is_422(api: httpx.Client, bearer: dict[str, str], personal_id: str) -> None:
    response = api.get(f"{RECORDS}/{personal_id}", headers=bearer)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "/problems/validation-error"
    assert body["errors"][0]["loc"] == ["path", "personal_id"]


def test_read_needs_the_read_scope(
    api: httpx.Client, make_client: Callable[..., ClientCredentials], planted: PlantedSearch
) -> None:
    searcher = make_client("population:search")
    token = fetch_token(api, searcher)
    response = api.get(f"{RECORDS}/{planted.personal_ids[0]}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/insufficient-scope"


def test_search_needs_the_search_scope(
    api: httpx.Client, make_client: Callable[..., ClientCredentials], planted: PlantedSearch
) -> None:
    token = fetch_token(api, make_client("population:read"))
    response = api.post(
        SEARCH,
        json={"full_name": planted.full_name, "date_of_birth": str(planted.year)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403


def _search_all(api: httpx.Client, bearer: dict[str, str], body: dict[str, Any]) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    cursor = None
    while True:
        response = api.post(SEARCH, json={**body, "cursor": cursor}, headers=bearer)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        ids.extend(item["personal_id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, pages


@pytest.mark.parametrize("page_size", [1, 7, 25, 100])
def test_search_by_name_and_year_walks_every_page_once(
    api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch, page_size: int
) -> None:
    ids, pages = _search_all(
        api, bearer, {"full_name": planted.full_name, "date_of_birth": str(planted.year), "page_size": page_size}
    )
    assert ids == list(planted.personal_ids)
    assert pages == max(1, -(-len(planted.personal_ids) // page_size))


def test_search_by_name_and_exact_date(
    api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch, sector_url: str
) -> None:
    row = _rows(sector_url, CITIZENS.c.so_dinh_danh == planted.personal_ids[3])[0]
    exact = row["ngay_sinh"]
    same_day = [
        r["so_dinh_danh"] for r in _rows(sector_url, CITIZENS.c.ho_ten == planted.full_name) if r["ngay_sinh"] == exact
    ]
    response = api.post(SEARCH, json={"full_name": planted.full_name, "date_of_birth": exact}, headers=bearer)
    assert response.status_code == 200
    assert [i["personal_id"] for i in response.json()["items"]] == same_day
    assert planted.personal_ids[3] in same_day


def test_search_accepts_the_vietnamese_date_forms(
    api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch
) -> None:
    iso = api.post(
        SEARCH,
        json={"full_name": planted.full_name, "date_of_birth": str(planted.year), "page_size": 100},
        headers=bearer,
    )
    vn = api.post(
        SEARCH,
        json={"full_name": planted.full_name, "date_of_birth": f"00/00/{planted.year}", "page_size": 100},
        headers=bearer,
    )
    assert vn.status_code == 200
    assert vn.json()["items"] == iso.json()["items"]


def test_search_normalises_the_name(api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch) -> None:
    import unicodedata

    decomposed = "  " + unicodedata.normalize("NFD", planted.full_name).replace(" ", "   ") + " "
    response = api.post(SEARCH, json={"full_name": decomposed, "date_of_birth": str(planted.year)}, headers=bearer)
    assert response.status_code == 200
    assert response.json()["items"]


def test_search_by_old_id_card_number(api: httpx.Client, bearer: dict[str, str], sector_url: str) -> None:
    row = _rows(sector_url, CITIZENS.c.so_cmnd.is_not(None))[0]
    response = api.post(SEARCH, json={"old_id_number": row["so_cmnd"]}, headers=bearer)
    assert response.status_code == 200
    page = response.json()
    assert [item["personal_id"] for item in page["items"]] == [row["so_dinh_danh"]]
    assert page["next_cursor"] is None


def test_search_without_a_match_is_an_empty_page(api: httpx.Client, bearer: dict[str, str]) -> None:
    response = api.post(SEARCH, json={"old_id_number": "999999999"}, headers=bearer)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"full_name": "Trần Thị Mẫu"},
        {"date_of_birth": "1990"},
        {"old_id_number": "12345"},
        {"full_name": "Tr4n", "date_of_birth": "1990"},
        {"full_name": "Trần Thị Mẫu", "date_of_birth": "1990-02-30"},
        {"old_id_number": "250123456", "page_size": 0},
        {"old_id_number": "250123456", "page_size": 101},
        {"old_id_number": "250123456", "page_size": "many"},
        {"old_id_number": "250123456", "unknown_field": 1},
        {"old_id_number": ["250123456"]},
    ],
)
def test_bad_search_is_422(api: httpx.Client, bearer: dict[str, str], body: dict[str, Any]) -> None:
    response = api.post(SEARCH, json=body, headers=bearer)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    assert problem["errors"]
    for error in problem["errors"]:
        assert set(error) == {"loc", "msg", "type"}


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"old_id_number": "250123456",}', b"\xff\xfe"])
def test_malformed_json_is_400(api: httpx.Client, bearer: dict[str, str], raw: bytes) -> None:
    response = api.post(SEARCH, content=raw, headers={**bearer, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/problems/malformed-json"


def test_cursor_of_another_search_is_refused(api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch) -> None:
    first = api.post(
        SEARCH,
        json={"full_name": planted.full_name, "date_of_birth": str(planted.year), "page_size": 2},
        headers=bearer,
    ).json()
    assert first["next_cursor"]
    response = api.post(
        SEARCH,
        json={"full_name": planted.full_name, "date_of_birth": str(planted.year + 1), "cursor": first["next_cursor"]},
        headers=bearer,
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-cursor"


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", "WzEsInBvcHVsYXRpb24iXQ", "W251bGxd"])
def test_garbage_cursor_is_refused(
    api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch, cursor: str
) -> None:
    response = api.post(
        SEARCH,
        json={"full_name": planted.full_name, "date_of_birth": str(planted.year), "cursor": cursor},
        headers=bearer,
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/problems/invalid-cursor"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forgeries(genuine: str, query_fingerprint: str) -> dict[str, str]:
    """Cursors a caller could make from a genuine one: its payload changed under the same tag, its tag changed,
    no tag at all, and the earlier untagged form with an inner cursor of the caller's choosing."""
    encoded, _, tag = genuine.partition(".")
    payload = orjson.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    changed = _b64(orjson.dumps([*payload[:3], "\u00b2"]))
    flipped = ("A" if tag[0] != "A" else "B") + tag[1:]  # the first character: all six of its bits count
    return {
        "payload changed, tag kept": f"{changed}.{tag}",
        "tag changed": f"{encoded}.{flipped}",
        "no tag": encoded,
        "untagged, inner of the caller's choosing": _b64(orjson.dumps([1, "population", query_fingerprint, "2"])),
        "a Unicode digit as inner cursor": _b64(orjson.dumps([payload[0], "population", query_fingerprint, "\u0663"])),
    }


def test_a_cursor_the_gateway_did_not_give_never_reaches_the_connector(
    api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch
) -> None:
    body = {"full_name": planted.full_name, "date_of_birth": str(planted.year), "page_size": 2}
    first = api.post(SEARCH, json=body, headers=bearer).json()
    genuine = first["next_cursor"]
    assert genuine and "." in genuine
    encoded = genuine.partition(".")[0]
    fingerprint = orjson.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))[2]
    assert api.post(SEARCH, json={**body, "cursor": genuine}, headers=bearer).status_code == 200
    for kind, forged in _forgeries(genuine, fingerprint).items():
        response = api.post(SEARCH, json={**body, "cursor": forged}, headers=bearer)
        assert response.status_code == 400, (kind, response.text)
        assert response.json()["type"] == "/problems/invalid-cursor", kind


def test_data_requests_are_counted_per_database_and_operation(api: httpx.Client, bearer: dict[str, str]) -> None:
    def value(prefix: str) -> float:
        for line in api.get("/metrics").text.splitlines():
            if line.startswith(prefix):
                return float(line.split()[-1])
        return 0.0

    series = 'gateway_requests_total{code="404",database="population",operation="read"}'
    before = value(series)
    api.get(f"{RECORDS}/068099000001", headers=bearer)
    assert value(series) == before + 1
    assert value('gateway_upstream_request_duration_seconds_count{database="population"}') > 0
