"""The conformance kit applied to the legal documents connector on SQLite and on PostgreSQL (the local server;
skipped when it is down, failed under CI=true), both seeded by its simulator."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import pytest
from sector_conformance import SqlSector, postgres_test_class, sqlite_test_class

from connectors.legal_documents import LegalDocumentsConnector
from connectors.testing import SearchCase
from contracts.legal_documents import DocumentStatus, DocumentType, LegalDocumentQuery
from simulators.legal_documents import generate_documents, seed_legal_documents

TODAY = date(2026, 6, 30)


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return generate_documents(seed=68, today=TODAY)


@pytest.fixture(scope="module")
def known_ids(documents: list[dict[str, Any]]) -> list[str]:
    communal = next(r for r in documents if r["ma_xa"] is not None)
    expired = next(r for r in documents if r["tinh_trang"] == "4")
    return [documents[0]["id_van_ban"], expired["id_van_ban"], communal["id_van_ban"], documents[-1]["id_van_ban"]]


@pytest.fixture(scope="module")
def searches(documents: list[dict[str, Any]]) -> list[SearchCase]:
    number = documents[len(documents) // 2]["so_ky_hieu"]
    numbered = [r["id_van_ban"] for r in documents if r["so_ky_hieu"] == number]
    in_force = [r["id_van_ban"] for r in documents if r["loai_van_ban"] == "NQ" and r["tinh_trang"] == "2"]
    resolutions = LegalDocumentQuery(
        province_code="68", document_type=DocumentType.RESOLUTION, status=DocumentStatus.IN_FORCE
    )
    return [
        SearchCase(LegalDocumentQuery(number=number), numbered),
        SearchCase(resolutions, in_force),
        SearchCase(
            LegalDocumentQuery(province_code="68", status=DocumentStatus.NOT_YET_IN_FORCE),
            [r["id_van_ban"] for r in documents if r["tinh_trang"] == "1"],
        ),
        SearchCase(LegalDocumentQuery(province_code="01"), []),
    ]


@pytest.fixture(scope="module")
def sql_sector() -> SqlSector:
    return SqlSector("legal_documents", "van_ban_qppl", functools.partial(seed_legal_documents, seed=68, today=TODAY))


TestLegalDocumentsOnSqlite = sqlite_test_class(
    LegalDocumentsConnector,
    missing_id="999999999",
    invalid_configs=[{"url": "sqlite:///x.db", "table": "van_ban; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="legal_documents",
)

TestLegalDocumentsOnPostgres = postgres_test_class(
    LegalDocumentsConnector, missing_id="999999999", entry_point="legal_documents"
)


def test_the_search_cases_find_records(searches: list[SearchCase]) -> None:
    """Guards the cases above: the first three find records, so an empty answer would be a failure."""
    assert all(case.expected_ids for case in searches[:3])
