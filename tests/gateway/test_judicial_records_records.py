"""Reading and searching the judicial records database through the gateway, over HTTP with a token: the
simulated SOAP service started the way the demo starts it, read by the judicial_records connector."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from judicial_records_fixtures import CITIZENS, SEED, TODAY, requests
from sector_gateway import canary_found
from support import STATED, ClientCredentials, LiveServer, fetch_token

from gateway.app import create_app
from gateway.settings import Settings
from simulators.judicial_records_soap import STATUS_CODES
from simulators.sectors import SectorContext, load_sector_system

RECORDS = "/v1/databases/judicial_records/records"
SEARCH = "/v1/databases/judicial_records/search"


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with ExitStack() as stack:
        context = SectorContext(
            data_dir=tmp_path_factory.mktemp("judicial-records"), citizens=CITIZENS, seed=SEED, today=TODAY, stack=stack
        )
        system = load_sector_system("judicial_records")
        config = asyncio.run(system.start(context))
        assert asyncio.run(canary_found(system.connector, config))  # the health checks are deep
        settings = make_settings(connectors={"judicial_records": {"connector": system.connector, "config": config}})
        credentials = make_client("judicial_records:read", "judicial_records:search")
        with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:
            token = fetch_token(http, credentials)
            yield http, {"Authorization": f"Bearer {token}", **STATED}


def _search_all(http: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        response = http.post(SEARCH, json={**body, "cursor": cursor}, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if (cursor := page["next_cursor"]) is None:
            return items


def test_read_search_and_not_found(gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    http, headers = gateway
    stored = next(r for r in requests() if STATUS_CODES[r["trang_thai"]] == "issued")
    response = http.get(f"{RECORDS}/{stored['so_ho_so']}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {
        "request_number": stored["so_ho_so"],
        "applicant": {
            "personal_id": stored["so_dinh_danh"],
            "full_name": stored["ho_ten"],
            "date_of_birth": stored["ngay_sinh"],
            "gender": {1: "male", 2: "female"}[stored["gioi_tinh"]],
        },
        "certificate_type": stored["loai_phieu"],
        "purpose": stored["muc_dich"],
        "requested_on": stored["ngay_tiep_nhan"].isoformat(),
        "issued_on": stored["ngay_cap"].isoformat(),
        "status": "issued",
        "issuing_authority": stored["ma_co_quan"][3:],
        "states_criminal_record": stored["co_an_tich"],
    }

    person = stored["so_dinh_danh"]
    found = _search_all(http, headers, {"applicant_personal_id": person, "page_size": 1})
    expected = sorted(r["so_ho_so"] for r in requests() if r["so_dinh_danh"] == person)
    assert sorted(item["request_number"] for item in found) == expected
    issued = _search_all(http, headers, {"applicant_personal_id": person, "status": "issued"})
    assert {item["status"] for item in issued} == {"issued"}

    missing = http.get(f"{RECORDS}/LLTP-68-2020-999999", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "/problems/record-not-found"
    assert http.get(f"{RECORDS}/LLTP-68-2020-99", headers=headers).status_code == 422
    assert http.post(SEARCH, json={"status": "issued"}, headers=headers).status_code == 422
    assert http.get(f"{RECORDS}/{stored['so_ho_so']}").status_code == 401
