"""Legal normative documents through the gateway, over HTTP with a token: read, search, unknown and malformed id."""

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
from simulators.legal_documents import generate_documents, seed_legal_documents

TODAY = date(2026, 6, 30)
BASE = "/v1/databases/legal_documents"


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[..., Settings],
    make_client: Callable[..., ClientCredentials],
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    path: Path = tmp_path_factory.mktemp("legal-documents-e2e") / "legal_documents.db"
    asyncio.run(seed_legal_documents(f"sqlite:///{path}", seed=68, today=TODAY))
    with sector_gateway(make_settings, make_client, "legal_documents", {"url": f"sqlite:///{path}"}) as served:
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
    rows = generate_documents(seed=68, today=TODAY)
    stored = next(r for r in rows if r["tinh_trang"] == "4" and r["loai_van_ban"] == "NQ")
    response = http.get(f"{BASE}/records/{stored['id_van_ban']}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "document_id": stored["id_van_ban"],
        "number": stored["so_ky_hieu"],
        "document_type": "resolution",
        "issuing_body": "peoples_council",
        "jurisdiction": {"province_code": "68", "ward_code": None, "province_name": "Lâm Đồng", "ward_name": None},
        "title": stored["trich_yeu"],
        "signed_on": stored["ngay_ban_hanh"].isoformat(),
        "effective_on": stored["ngay_hieu_luc"].isoformat(),
        "status": "expired",
        "expired_on": stored["ngay_het_hieu_luc"].isoformat(),
    }

    found = _search_all(http, headers, {"number": stored["so_ky_hieu"], "page_size": 1})
    assert stored["id_van_ban"] in [item["document_id"] for item in found]
    assert {item["number"] for item in found} == {stored["so_ky_hieu"]}
    pending = _search_all(http, headers, {"province_code": "68", "status": "not_yet_in_force", "page_size": 3})
    assert sorted(item["document_id"] for item in pending) == sorted(
        r["id_van_ban"] for r in rows if r["tinh_trang"] == "1"
    )

    missing = http.get(f"{BASE}/records/999999999", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/record-not-found"
    assert http.get(f"{BASE}/records/0123", headers=headers).status_code == 422
    assert http.post(f"{BASE}/search", json={"status": "expired"}, headers=headers).status_code == 422
