"""The simulated population API's own view of a citizen: its JSON shape, code lists, dates, and searches.

The national population database's ``cong_dan`` rows (see :mod:`simulators.population`) are published by this
API the way a sector system would: Vietnamese field names grouped into objects, its own code lists
(``NAM``/``NU``, ``DA_KET_HON``...), dates of birth written ``dd/mm/yyyy`` with ``00`` for an unknown day or
month, timestamps in UTC. Nothing here knows the gateway's contracts: the REST connector's configuration does
the translation (see :mod:`simulators.population_api.connector_config`).
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

__all__ = [
    "GENDERS",
    "MARITAL_STATUSES",
    "RELATIONS",
    "CitizenIndex",
    "load_rows",
    "normalize_name",
    "to_api",
    "vietnamese_date",
]

#: gioi_tinh: the database's code -> the API's.
GENDERS: Final[dict[int, str]] = {1: "NAM", 2: "NU"}
#: tinh_trang_hon_nhan: the database's code -> the API's.
MARITAL_STATUSES: Final[dict[int, str]] = {1: "CHUA_KET_HON", 2: "DA_KET_HON", 3: "LY_HON", 4: "GOA"}
#: quan_he_chu_ho: the database's code -> the API's.
RELATIONS: Final[dict[int, str]] = {
    1: "CHU_HO",
    2: "VO_CHONG",
    3: "CON",
    4: "CHA_ME",
    5: "ONG_BA",
    6: "CHAU",
    7: "ANH_CHI_EM",
    9: "KHAC",
}

Row = Mapping[str, Any]


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Every ``cong_dan`` row of the SQLite file at ``path`` (opened read-only), ordered by personal id."""
    connection = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        connection.row_factory = sqlite3.Row
        cursor = connection.execute("SELECT * FROM cong_dan ORDER BY so_dinh_danh")
        return [dict(row) for row in cursor]
    finally:
        connection.close()


def vietnamese_date(value: str) -> str:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` written as the API does: ``dd/mm/yyyy``, ``00`` when unknown."""
    parts = value.split("-")
    year, month, day = parts[0], parts[1] if len(parts) > 1 else "00", parts[2] if len(parts) > 2 else "00"
    return f"{day}/{month}/{year}"


def _timestamp(value: Any) -> str | None:
    """UTC ISO 8601 (the database keeps UTC; SQLite hands it back as text without a zone)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _day(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _code(codes: Mapping[int, str], value: Any) -> str:
    # A code the list does not know is published as it is stored (the sector system does not check).
    return codes.get(value, str(value)) if isinstance(value, int) else str(value)


def _area(province: Any, ward: Any, line: Any = ...) -> dict[str, Any] | None:
    if province is None and ward is None and line in (None, ...):
        return None
    area: dict[str, Any] = {"ma_tinh": province, "ma_xa": ward}
    if line is not ...:
        area["chi_tiet"] = line
    return area


def to_api(row: Row) -> dict[str, Any]:
    """The API's JSON object of one ``cong_dan`` row."""
    return {
        "so_dinh_danh": row["so_dinh_danh"],
        "so_cmnd": row["so_cmnd"],
        "ho_va_ten": row["ho_ten"],
        "gioi_tinh": _code(GENDERS, row["gioi_tinh"]),
        "ngay_sinh": vietnamese_date(row["ngay_sinh"]),
        "dan_toc": {"ma": row["ma_dan_toc"]},
        "quoc_tich": row["ma_quoc_tich"],
        "noi_dang_ky_khai_sinh": _area(row["dk_khai_sinh_tinh"], row["dk_khai_sinh_xa"]),
        "que_quan": _area(row["que_quan_tinh"], row["que_quan_xa"]),
        "noi_thuong_tru": _area(row["thuong_tru_tinh"], row["thuong_tru_xa"], row["thuong_tru_chi_tiet"]),
        "noi_o_hien_tai": _area(row["noi_o_tinh"], row["noi_o_xa"], row["noi_o_chi_tiet"]),
        "ho_gia_dinh": {"so_ho": row["ma_ho"], "quan_he_voi_chu_ho": _code(RELATIONS, row["quan_he_chu_ho"])},
        "tinh_trang_hon_nhan": _code(MARITAL_STATUSES, row["tinh_trang_hon_nhan"]),
        "ngay_mat": _day(row["ngay_mat"]),
        "ngay_cap_nhat": _timestamp(row["ngay_cap_nhat"]),
    }


def normalize_name(value: str) -> str:
    """How the API compares names: Unicode NFC, spaces collapsed, letter case ignored (diacritics kept)."""
    return " ".join(unicodedata.normalize("NFC", value).split()).casefold()


class CitizenIndex:
    """The rows by personal id, by old id card number and by name, and the API's search semantics."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows: dict[str, Row] = {row["so_dinh_danh"]: row for row in rows}
        self._ids = sorted(self.rows)
        self._by_old_id: dict[str, str] = {r["so_cmnd"]: pid for pid, r in self.rows.items() if r["so_cmnd"]}
        self._by_name: dict[str, list[str]] = defaultdict(list)
        for pid in self._ids:
            self._by_name[normalize_name(self.rows[pid]["ho_ten"])].append(pid)

    def search(self, *, name: str | None, born: str | None, old_id: str | None) -> Sequence[str]:
        """Personal ids matching every criterion given, in order.

        ``born`` is ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` and matches dates of birth that begin with it.
        The caller checks that the combination is allowed (name and date of birth, or old id card number).
        """
        if old_id is not None:
            found = self._by_old_id.get(old_id)
            candidates: Sequence[str] = [found] if found else []
        else:
            candidates = self._by_name.get(normalize_name(name or ""), [])
        return [
            pid
            for pid in candidates
            if (name is None or normalize_name(self.rows[pid]["ho_ten"]) == normalize_name(name))
            and (born is None or str(self.rows[pid]["ngay_sinh"]).startswith(born))
        ]
