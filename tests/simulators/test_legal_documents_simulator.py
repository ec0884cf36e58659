"""The simulated legal normative documents database: numbering, dates and statuses follow the rules, and every
row maps to a valid contract record."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from connectors.legal_documents import mapping
from contracts.admin_units import ward_province
from contracts.legal_documents import LegalDocument
from simulators.legal_documents import (
    DOCUMENTS,
    PROVINCE,
    STATUS_CODES,
    generate_documents,
    seed_legal_documents,
)

TODAY = date(2026, 6, 30)
ROWS = generate_documents(seed=68, today=TODAY)


def test_numbers_are_serials_per_issuer_kind_and_year() -> None:
    numbers = Counter((row["ma_xa"], row["so_ky_hieu"]) for row in ROWS)
    assert max(numbers.values()) == 1
    by_issuer: dict[tuple[str | None, str, int], list[int]] = {}
    for row in ROWS:
        serial, year, symbol = row["so_ky_hieu"].split("/")
        assert int(year) == row["ngay_ban_hanh"].year
        assert symbol == {"QD": "QĐ-UBND", "NQ": "NQ-HĐND"}[row["loai_van_ban"]]
        by_issuer.setdefault((row["ma_xa"], row["loai_van_ban"], int(year)), []).append(int(serial))
    for serials in by_issuer.values():
        assert serials == list(range(1, len(serials) + 1))
    ids = [int(row["id_van_ban"]) for row in ROWS]
    assert ids == sorted(set(ids))


def test_dates_and_statuses() -> None:
    for row in ROWS:
        assert row["ngay_ban_hanh"] <= TODAY
        assert timedelta(days=10) <= row["ngay_hieu_luc"] - row["ngay_ban_hanh"] <= timedelta(days=20)
        status = STATUS_CODES[row["tinh_trang"]]
        assert (status == "not_yet_in_force") == (row["ngay_hieu_luc"] > TODAY)
        assert (status == "expired") == (row["ngay_het_hieu_luc"] is not None)
        if status == "expired":
            assert row["ngay_hieu_luc"] < row["ngay_het_hieu_luc"] <= TODAY
    statuses = Counter(STATUS_CODES[row["tinh_trang"]] for row in ROWS)
    assert all(statuses[status] for status in STATUS_CODES.values())
    old = [row for row in ROWS if row["ngay_ban_hanh"].year == TODAY.year - 9]
    recent = [row for row in ROWS if row["ngay_ban_hanh"].year == TODAY.year - 1]
    assert sum(r["tinh_trang"] == "4" for r in old) / len(old) > sum(r["tinh_trang"] == "4" for r in recent) / len(
        recent
    )


def test_communes_issue_documents_only_since_the_two_level_government() -> None:
    communal = [row for row in ROWS if row["ma_xa"] is not None]
    assert communal
    for row in communal:
        assert row["ngay_ban_hanh"] >= date(2025, 7, 1)
        assert ward_province(row["ma_xa"]) == row["ma_tinh"] == PROVINCE
        assert "xã" in row["trich_yeu"] or "phường" in row["trich_yeu"] or "đặc khu" in row["trich_yeu"]


def test_every_row_is_a_valid_record() -> None:
    for row in ROWS:
        data: dict[str, object] = {}
        for path, column in mapping.FIELDS.items():
            value = row[column]
            if value is None:
                continue
            value = mapping.VALUE_MAPS.get(path, {}).get(str(value), value)
            target = data
            *parents, leaf = path.split(".")
            for part in parents:
                target = target.setdefault(part, {})  # type: ignore[assignment]
            target[leaf] = value
        document = LegalDocument.model_validate(data)
        assert document.problems(TODAY) == []


def test_deterministic_and_seeded(tmp_path: Path) -> None:
    assert generate_documents(seed=68, today=TODAY) == ROWS
    assert generate_documents(seed=69, today=TODAY) != ROWS
    url = f"sqlite:///{tmp_path / 'legal.db'}"
    assert asyncio.run(seed_legal_documents(url, seed=68, today=TODAY)) == len(ROWS)
    assert asyncio.run(seed_legal_documents(url, seed=68, today=TODAY)) == len(ROWS)  # left alone
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(DOCUMENTS)).scalar_one() == len(ROWS)
    engine.dispose()
