"""The simulated tax authority API: taxpayer status, with its own conventions.

=========================================  ================================================================
route                                      what it does
=========================================  ================================================================
``GET /api/v1/trang-thai-he-thong``        status (the health check)
``GET /api/v1/nguoi-nop-thue/{mst}``       one taxpayer: ``{"code": "00", "data": {...}}``; unknown: 404 with
                                           ``"code": "04"``
``GET /api/v1/nguoi-nop-thue``             search by ``ten`` (part of the name, at least 2 characters) and
                                           optionally ``loai`` (``TC`` organisations, ``CN`` individuals);
                                           ``limit`` records after the opaque ``cursor``, with ``next_cursor``
``GET /api/v1/danh-sach-nguoi-nop-thue``   every taxpayer, numbered pages ``trang`` (from 1) of ``so_ban_ghi``,
                                           with ``tong_so``
``/_simulator/...``                        control: ``misbehave`` (POST), ``stats`` (GET), ``reset`` (POST)
=========================================  ================================================================

Every ``/api`` route needs the fixed bearer token. Pages hold at most 50 taxpayers, ordered by tax code.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.names import normalize_name

from ..http.misbehaviour import Misbehaviour
from ..record_api import ApiAuth, BadParameter, RecordApi, integer_param, json_response

__all__ = ["DEFAULT_AUTH", "MAX_PAGE_SIZE", "TaxApi"]

MAX_PAGE_SIZE = 50
#: The API's authentication: a fixed bearer token (test credentials).
DEFAULT_AUTH = ApiAuth(scheme="bearer", token="sim-tax-token")  # noqa: S106


def _failure(code: str, message: str, status: int) -> Response:
    return json_response({"code": code, "desc": message, "data": None}, status)


def _encode(key: str) -> str:
    return base64.urlsafe_b64encode(f"sau:{key}".encode()).decode().rstrip("=")


def _decode(token: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadParameter("cursor không hợp lệ") from None
    if not decoded.startswith("sau:"):
        raise BadParameter("cursor không hợp lệ")
    return decoded[4:]


class TaxApi(RecordApi):
    """The tax authority's API over taxpayers (records of :func:`~simulators.tax_api.records.build_taxpayers`)."""

    malformed_body: ClassVar[bytes] = b'{"code":"00","data":{"mst":"58'
    unauthorized_body: ClassVar[dict[str, Any]] = {"code": "401", "desc": "Không có quyền truy cập", "data": None}
    realm: ClassVar[str] = "thue"

    def __init__(
        self,
        taxpayers: Mapping[str, dict[str, Any]],
        *,
        auth: ApiAuth = DEFAULT_AUTH,
        misbehaviour: Misbehaviour | None = None,
        max_page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.records = dict(taxpayers)
        self.max_page_size = max_page_size
        self._codes = sorted(self.records)
        self._names = {code: normalize_name(r["ten_nnt"]) for code, r in self.records.items()}
        super().__init__(auth=auth, misbehaviour=misbehaviour)

    def routes(self) -> list[Route]:
        """The API's data routes."""
        return [
            Route("/api/v1/trang-thai-he-thong", self._status, methods=["GET"]),
            Route("/api/v1/danh-sach-nguoi-nop-thue", self._listing, methods=["GET"]),
            Route("/api/v1/nguoi-nop-thue/{mst}", self._taxpayer, methods=["GET"]),
            Route("/api/v1/nguoi-nop-thue", self._search, methods=["GET"]),
        ]

    def taxpayer(self, code: str, *, violating: bool = False) -> dict[str, Any]:
        """The published taxpayer ``code`` (an organisation's marked as an individual's when ``violating``)."""
        record = self.records[code]
        if not violating:
            return record
        broken = copy.deepcopy(record)
        broken["loai_nnt"] = "TC" if broken["loai_nnt"] == "CN" else "CN"
        return broken

    async def _status(self, request: Request) -> Response:
        if (refused := self.refused(request, "status")) is not None:
            return refused
        return json_response({"code": "00", "desc": "Hệ thống hoạt động", "data": {"so_nnt": len(self._codes)}})

    async def _taxpayer(self, request: Request) -> Response:
        if (refused := self.refused(request, "taxpayer")) is not None:
            return refused
        code = request.path_params["mst"]
        if code not in self.records:
            return _failure("04", "Không tìm thấy người nộp thuế", 404)
        data = self.taxpayer(code, violating=self.violating(request))
        return json_response({"code": "00", "desc": "Thành công", "data": data})

    async def _listing(self, request: Request) -> Response:
        if (refused := self.refused(request, "listing")) is not None:
            return refused
        try:
            codes = self.window(
                self._codes, request.query_params, page="trang", size="so_ban_ghi", max_size=self.max_page_size
            )
        except BadParameter as exc:
            return _failure("02", str(exc), 400)
        items = [self.taxpayer(code, violating=self.violating(request)) for code in codes]
        return json_response({"code": "00", "data": items, "tong_so": len(self._codes)})

    async def _search(self, request: Request) -> Response:
        if (refused := self.refused(request, "search")) is not None:
            return refused
        params = request.query_params
        try:
            name, kind = params.get("ten"), params.get("loai")
            if name is None or len(name.strip()) < 2:
                raise BadParameter("ten: ít nhất 2 ký tự")
            if kind is not None and kind not in {"TC", "CN"}:
                raise BadParameter("loai: TC hoặc CN")
            size = integer_param(params, "limit", 20, 1, self.max_page_size)
            cursor = params.get("cursor")
            after = _decode(cursor) if cursor else None
        except BadParameter as exc:
            return _failure("02", str(exc), 400)
        wanted = normalize_name(name)
        found = [
            code
            for code in self._codes
            if (after is None or code > after)
            and wanted in self._names[code]
            and (kind is None or self.records[code]["loai_nnt"] == kind)
        ]
        chosen = found[:size]
        violating = self.violating(request)
        following = _encode(chosen[-1]) if len(found) > size else None
        items = [self.taxpayer(code, violating=violating) for code in chosen]
        return json_response({"code": "00", "data": items, "next_cursor": following})
