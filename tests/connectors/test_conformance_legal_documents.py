"""The conformance kit applied to the legal documents connector on SQLite and on PostgreSQL (the local server;
skipped when it is down, failed under CI=true), both seeded by its simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sector_sql_fixtures import (
    create_slow_view,
    locked_sqlite_copy,
    postgres_failing_configs,
    sqlite_failing_configs,
)
from support import free_port, postgres_database

from connectors.legal_documents import LegalDocumentsConnector
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.legal_documents import DocumentStatus, DocumentType, LegalDocumentQuery
from simulators.legal_documents import generate_documents, seed_legal_documents

TODAY = date(2026, 6, 30)
SLOW_VIEW = "van_ban_qppl_cham"


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
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("legal-documents") / "legal_documents.db"
    asyncio.run(seed_legal_documents(f"sqlite:///{path}", seed=68, today=TODAY))
    return path


@pytest.fixture(scope="module")
def sqlite_url(database: Path) -> str:
    return f"sqlite:///{database}"


@pytest.fixture(scope="module")
def locked_sqlite_url(database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with locked_sqlite_copy(database, tmp_path_factory.mktemp("locked") / "legal_documents.db") as url:
        yield url


@pytest.fixture(scope="module")
def sqlite_failing(database: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[UpstreamFailure, Any]:
    """The database failing as the conformance kit asks (a view whose reading fails, a file that is not one)."""
    return sqlite_failing_configs(database, tmp_path_factory.mktemp("failing"), "van_ban_qppl")


@pytest.fixture(scope="module")
def missing_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('missing') / 'absent' / 'legal_documents.db'}"


TestLegalDocumentsOnSqlite = connector_test_class(
    LegalDocumentsConnector,
    config={"url": fixture("sqlite_url")},
    known_ids=fixture("known_ids"),
    missing_id="999999999",
    unreachable_config={"url": fixture("missing_sqlite_url")},
    slow_config={"url": fixture("locked_sqlite_url"), "timeout_seconds": 0.5},
    failing_configs=fixture("sqlite_failing"),
    searches=fixture("searches"),
    invalid_configs=[{"url": "sqlite:///x.db", "table": "van_ban; DROP TABLE x"}, {"url": "not a url"}],
    entry_point="legal_documents",
)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_database(prefix="legaldocs") as url:
        asyncio.run(seed_legal_documents(url, seed=68, today=TODAY))
        create_slow_view(url, "van_ban_qppl", SLOW_VIEW)
        yield url


@pytest.fixture(scope="module")
def postgres_failing(postgres_url: str) -> Iterator[dict[UpstreamFailure, Any]]:
    """The database failing as the conformance kit asks (a view whose reading fails, accounts refused)."""
    with postgres_failing_configs(postgres_url, "van_ban_qppl") as configs:
        yield configs


@pytest.fixture(scope="module")
def closed_port_url() -> str:
    return f"postgresql://reader:pa55word@127.0.0.1:{free_port()}/vbqppl"


TestLegalDocumentsOnPostgres = connector_test_class(
    LegalDocumentsConnector,
    config={"url": fixture("postgres_url")},
    known_ids=fixture("known_ids"),
    missing_id="999999999",
    unreachable_config={"url": fixture("closed_port_url"), "connect_timeout_seconds": 2},
    slow_config={"url": fixture("postgres_url"), "table": SLOW_VIEW, "timeout_seconds": 0.5},
    failing_configs=fixture("postgres_failing"),
    searches=fixture("searches"),
    entry_point="legal_documents",
)


def test_the_search_cases_find_records(searches: list[SearchCase]) -> None:
    """Guards the cases above: the first three find records, so an empty answer would be a failure."""
    assert all(case.expected_ids for case in searches[:3])
