"""Diplomas through the gateway, over HTTP with a token: read, search, unknown and malformed number."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sector_gateway import sector_gateway
from support import ClientCredentials

from gateway.settings import Settings
from simulators.education import generate_diplomas, seed_education

COUNT = 600
TODAY = date(2026, 6, 30)
BASE = "/v1/databases/education"


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    path: Path = tmp_path_factory.mktemp("education-e2e") / "education.db"
    asyncio.run(seed_education(f"sqlite:///{path}", count=COUNT, seed=68, today=TODAY))
    with sector_gateway(make_settings, make_client, "education", {"url": f"sqlite:///{path}"}) as served:
        yield served


def _search_all(http: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = http.post(f"{BASE}/search", json={**body, "cursor": cursor}, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if (cursor := page["next_cursor"]) is None:
            return items


def test_read_search_and_not_found(gateway: tuple[httpx.Client, dict[str, str]]) -> None:
    http, headers = gateway
    rows = generate_diplomas(COUNT, seed=68, today=TODAY)
    stored = next(r for r in rows if r["cap_hoc"] == "DH")
    response = http.get(f"{BASE}/records/{stored['so_hieu']}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "diploma_number": stored["so_hieu"],
        "holder": {
            "personal_id": stored["so_dinh_danh"],
            "full_name": stored["ho_ten"],
            "date_of_birth": stored["ngay_sinh"],
            "gender": {1: "male", 2: "female"}[stored["gioi_tinh"]],
        },
        "level": "bachelor",
        "school_name": stored["ten_truong"],
        "major": stored["nganh"],
        "graduation_year": stored["nam_tot_nghiep"],
        "classification": {"XS": "excellent", "G": "very_good", "K": "good", "TB": "average"}[stored["xep_loai"]],
        "issued_on": stored["ngay_cap"].isoformat(),
    }

    holder = stored["so_dinh_danh"]
    found = _search_all(http, headers, {"holder_personal_id": holder, "page_size": 1})
    assert sorted(item["diploma_number"] for item in found) == sorted(
        r["so_hieu"] for r in rows if r["so_dinh_danh"] == holder
    )
    assert len(found) >= 3  # lower and upper secondary before the bachelor's
    secondary = _search_all(http, headers, {"holder_personal_id": holder, "level": "upper_secondary"})
    assert [item["level"] for item in secondary] == ["upper_secondary"]

    missing = http.get(f"{BASE}/records/DH-TDL-1999-999999", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/record-not-found"
    assert http.get(f"{BASE}/records/DH-TDL-1999", headers=headers).status_code == 422
    assert http.post(f"{BASE}/search", json={"level": "master"}, headers=headers).status_code == 422
