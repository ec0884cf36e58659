"""How the legal normative documents table (``van_ban_qppl``) maps to ``legal_documents.document``.

The column names and code lists are those of the sector system; the contract's are on the left. Province-level
documents have no commune (``ma_xa`` NULL), so their jurisdiction is the province alone.
"""

from __future__ import annotations

from typing import Any

TABLE = "van_ban_qppl"

FIELDS: dict[str, str] = {
    "document_id": "id_van_ban",
    "number": "so_ky_hieu",
    "document_type": "loai_van_ban",
    "issuing_body": "co_quan_ban_hanh",
    "jurisdiction.province_code": "ma_tinh",
    "jurisdiction.ward_code": "ma_xa",
    "title": "trich_yeu",
    "signed_on": "ngay_ban_hanh",
    "effective_on": "ngay_hieu_luc",
    "status": "tinh_trang",
    "expired_on": "ngay_het_hieu_luc",
}

VALUE_MAPS: dict[str, dict[str, Any]] = {
    "document_type": {"NQ": "resolution", "QD": "decision"},
    "issuing_body": {"HDND": "peoples_council", "UBND": "peoples_committee"},
    "status": {"1": "not_yet_in_force", "2": "in_force", "3": "partly_expired", "4": "expired"},
}

SEARCH_FILTERS: dict[str, dict[str, str | None]] = {
    "number": {"column": "so_ky_hieu", "match": "exact"},
    "province_code": {"column": "ma_tinh", "match": "exact"},
    "document_type": {"column": "loai_van_ban", "match": "exact"},
    "status": {"column": "tinh_trang", "match": "exact"},
}

#: The SQL connector's settings for this sector system: the defaults of the connector's configuration.
PRESET: dict[str, Any] = {"table": TABLE, "fields": FIELDS, "value_maps": VALUE_MAPS, "search_filters": SEARCH_FILTERS}
