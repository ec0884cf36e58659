"""How the gateway's ``rest`` connector is configured for the simulated population API (its integration guide).

:func:`rest_connector_config` returns the configuration as plain data, the way an agency would write it in the
gateway's settings (``GATEWAY_CONNECTORS``): the contract field each part of the API's citizen object fills, the
API's code lists, its pagination and credentials. Served through it, a citizen is the same ``population.citizen``
record as the one the SQL connector reads from the database behind the API.
"""

from __future__ import annotations

from typing import Any, Literal

from .app import MAX_PAGE_SIZE, ApiCredentials
from .records import GENDERS, MARITAL_STATUSES, RELATIONS

__all__ = ["AUTH_SCHEMES", "FIELDS", "PAGINATIONS", "VALUE_MAPS", "rest_connector_config"]

AuthScheme = Literal["access_key", "oauth2_client_credentials", "bearer", "api_key"]
Style = Literal["page", "offset", "cursor", "link", "post"]
AUTH_SCHEMES: tuple[AuthScheme, ...] = ("access_key", "oauth2_client_credentials", "bearer", "api_key")
PAGINATIONS: tuple[Style, ...] = ("page", "offset", "cursor", "link", "post")

#: Contract field path -> JMESPath into the API's citizen object.
FIELDS: dict[str, str] = {
    "personal_id": "so_dinh_danh",
    "old_id_number": "so_cmnd",
    "full_name": "ho_va_ten",
    "gender": "gioi_tinh",
    "date_of_birth": "ngay_sinh",
    "ethnicity": "dan_toc.ma",
    "nationality": "quoc_tich",
    "place_of_birth_registration.province_code": "noi_dang_ky_khai_sinh.ma_tinh",
    "place_of_birth_registration.ward_code": "noi_dang_ky_khai_sinh.ma_xa",
    "hometown.province_code": "que_quan.ma_tinh",
    "hometown.ward_code": "que_quan.ma_xa",
    "permanent_address.line": "noi_thuong_tru.chi_tiet",
    "permanent_address.ward_code": "noi_thuong_tru.ma_xa",
    "permanent_address.province_code": "noi_thuong_tru.ma_tinh",
    "current_address.line": "noi_o_hien_tai.chi_tiet",
    "current_address.ward_code": "noi_o_hien_tai.ma_xa",
    "current_address.province_code": "noi_o_hien_tai.ma_tinh",
    "household_id": "ho_gia_dinh.so_ho",
    "relation_to_head": "ho_gia_dinh.quan_he_voi_chu_ho",
    "marital_status": "tinh_trang_hon_nhan",
    "date_of_death": "ngay_mat",
    "last_updated": "ngay_cap_nhat",
}

_CONTRACT_GENDERS = {1: "male", 2: "female"}
_CONTRACT_MARITAL = {1: "single", 2: "married", 3: "divorced", 4: "widowed"}
_CONTRACT_RELATIONS = {
    1: "head",
    2: "spouse",
    3: "child",
    4: "parent",
    5: "grandparent",
    6: "grandchild",
    7: "sibling",
    9: "other",
}

#: Contract field path -> {the API's code: contract value}.
VALUE_MAPS: dict[str, dict[str, Any]] = {
    "gender": {GENDERS[k]: v for k, v in _CONTRACT_GENDERS.items()},
    "marital_status": {MARITAL_STATUSES[k]: v for k, v in _CONTRACT_MARITAL.items()},
    "relation_to_head": {RELATIONS[k]: v for k, v in _CONTRACT_RELATIONS.items()},
}

_FILTERS = {"full_name": "ho_ten", "date_of_birth": "ngay_sinh", "old_id_number": "so_cmnd"}


def _search(style: Style) -> dict[str, Any]:
    common = {"filters": dict(_FILTERS), "max_page_size": MAX_PAGE_SIZE}
    match style:
        case "page" | "post":
            pagination = {
                "style": "page",
                "page_param": "trang",
                "size_param": "so_ban_ghi",
                "total": "du_lieu.tong_so",
            }
            path = "/api/v1/cong-dan" if style == "page" else "/api/v1/tra-cuu"
            method = "GET" if style == "page" else "POST"
            return {**common, "path": path, "method": method, "items": "du_lieu.danh_sach", "pagination": pagination}
        case "offset":
            pagination = {"style": "offset", "offset_param": "vi_tri", "limit_param": "gioi_han"}
            return {**common, "path": "/api/v1/tra-cuu/vi-tri", "items": "du_lieu", "pagination": pagination}
        case "cursor":
            pagination = {
                "style": "cursor",
                "cursor_param": "con_tro",
                "size_param": "so_ban_ghi",
                "next_cursor": "con_tro_tiep",
            }
            return {**common, "path": "/api/v1/tra-cuu/con-tro", "items": "du_lieu", "pagination": pagination}
        case "link":
            pagination = {"style": "link", "size_param": "so_ban_ghi"}
            return {**common, "path": "/api/v1/tra-cuu/lien-ket", "items": "du_lieu", "pagination": pagination}
    raise ValueError(f"unknown pagination style {style!r}")  # pragma: no cover


def _auth(scheme: AuthScheme, credentials: ApiCredentials) -> dict[str, Any]:
    match scheme:
        case "access_key":
            return {
                "type": "access_key",
                "app_name": credentials.app_name,
                "access_key": credentials.access_key,
                "secret_key": credentials.secret_key,
            }
        case "oauth2_client_credentials":
            return {
                "type": "oauth2_client_credentials",
                "token_url": "/oauth2/token",
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
            }
        case "bearer":
            return {"type": "bearer", "token": credentials.bearer_token}
        case "api_key":
            return {"type": "api_key", "header": "X-API-Key", "key": credentials.api_key}
    raise ValueError(f"unknown authentication scheme {scheme!r}")  # pragma: no cover


def rest_connector_config(
    base_url: str,
    *,
    auth: AuthScheme = "access_key",
    pagination: Style = "page",
    credentials: ApiCredentials | None = None,
    not_found: Literal["status", "body"] = "status",
    **overrides: Any,
) -> dict[str, Any]:
    """The ``rest`` connector's configuration for the API at ``base_url``.

    ``auth`` and ``pagination`` pick among the schemes and styles the API offers (``post``: numbered pages of a
    ``POST`` search); ``not_found`` must match the API's own setting; ``overrides`` replace top-level settings
    (``timeout_seconds=0.5``, ``ca_bundle=...``).
    """
    get: dict[str, Any] = {"path": "/api/v1/cong-dan/{record_id}", "record": "du_lieu"}
    if not_found == "body":
        get["not_found_when"] = "ma_loi == '01'"
    get["error_when"] = "ma_loi != '00' && ma_loi != '01'"
    return {
        "base_url": base_url,
        "contract": "population.citizen",
        "auth": _auth(auth, credentials or ApiCredentials()),
        "get": get,
        "search": _search(pagination),
        "ping": {"path": "/api/v1/trang-thai"},
        "fields": dict(FIELDS),
        "value_maps": {path: dict(codes) for path, codes in VALUE_MAPS.items()},
        **overrides,
    }
