"""The simulated national business registry API: a Starlette application with the registry's own conventions.

=====================================  ====================================================================
route                                  what it does
=====================================  ====================================================================
``GET /api/he-thong/tinh-trang``       status (the health check)
``GET /api/doanh-nghiep/{ma_so}``      one enterprise: ``{"Success": true, "Data": {...}}``; unknown: 404
                                       with ``"ErrorCode": "NOT_FOUND"``
``GET /api/doanh-nghiep``              search by ``TenDoanhNghiep`` (part of the Vietnamese or English name)
                                       and/or ``NguoiDaiDien`` (the representative's personal id); numbered
                                       pages ``PageIndex`` (from 1) of ``PageSize``, with ``TotalCount``
``GET /api/dong-bo/doanh-nghiep``      every enterprise (the listing of the synchronisation service), numbered
                                       pages ``PageIndex`` (from 1) of ``PageSize``, with ``TotalCount``
``/_simulator/...``                    control: ``misbehave`` (POST), ``stats`` (GET), ``reset`` (POST)
=====================================  ====================================================================

Every ``/api`` route needs the ``X-Api-Key`` header. Pages hold at most 50 enterprises, ordered by code.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.names import normalize_name

from ..http.misbehaviour import Misbehaviour
from ..record_api import ApiAuth, BadParameter, RecordApi, integer_param, json_response
from .records import to_api

__all__ = ["DEFAULT_AUTH", "MAX_PAGE_SIZE", "BusinessApi"]

MAX_PAGE_SIZE = 50
#: The API's authentication: an API key in ``X-Api-Key`` (test credentials).
DEFAULT_AUTH = ApiAuth(scheme="api_key", header="X-Api-Key", key="sim-business-key")


def _failure(code: str, message: str, status: int) -> Response:
    return json_response({"Success": False, "ErrorCode": code, "Message": message, "Data": None}, status)


class BusinessApi(RecordApi):
    """The registry's API over enterprises (rows of :func:`~simulators.enterprises.generate_enterprises`)."""

    malformed_body: ClassVar[bytes] = b'{"Success":true,"Data":{"MaSoDoanhNghiep":"58'
    unauthorized_body: ClassVar[dict[str, Any]] = {
        "Success": False,
        "ErrorCode": "UNAUTHORIZED",
        "Message": "Thiếu hoặc sai khóa API",
        "Data": None,
    }
    realm: ClassVar[str] = "dang-ky-doanh-nghiep"

    def __init__(
        self,
        enterprises: Iterable[Mapping[str, Any]],
        *,
        auth: ApiAuth = DEFAULT_AUTH,
        misbehaviour: Misbehaviour | None = None,
        max_page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.records = {e["ma_so_dn"]: to_api(e) for e in enterprises}
        self.max_page_size = max_page_size
        self._codes = sorted(self.records)
        self._names = {
            code: [normalize_name(r["TenTiengViet"]), normalize_name(r["TenTiengAnh"] or "")]
            for code, r in self.records.items()
        }
        super().__init__(auth=auth, misbehaviour=misbehaviour)

    def routes(self) -> list[Route]:
        """The API's data routes."""
        return [
            Route("/api/he-thong/tinh-trang", self._status, methods=["GET"]),
            Route("/api/dong-bo/doanh-nghiep", self._listing, methods=["GET"]),
            Route("/api/doanh-nghiep/{ma_so}", self._enterprise, methods=["GET"]),
            Route("/api/doanh-nghiep", self._search, methods=["GET"]),
        ]

    def enterprise(self, code: str, *, violating: bool = False) -> dict[str, Any]:
        """The published enterprise ``code`` (with a representative of the wrong gender when ``violating``)."""
        record = self.records[code]
        if not violating:
            return record
        broken = copy.deepcopy(record)
        broken["NguoiDaiDien"]["GioiTinh"] = 3 - broken["NguoiDaiDien"]["GioiTinh"]
        return broken

    async def _status(self, request: Request) -> Response:
        if (refused := self.refused(request, "status")) is not None:
            return refused
        return json_response({"Success": True, "Data": {"TrangThai": "HOAT_DONG", "SoDoanhNghiep": len(self._codes)}})

    async def _enterprise(self, request: Request) -> Response:
        if (refused := self.refused(request, "enterprise")) is not None:
            return refused
        code = request.path_params["ma_so"]
        if code not in self.records:
            return _failure("NOT_FOUND", "Không tìm thấy doanh nghiệp", 404)
        return json_response({"Success": True, "Data": self.enterprise(code, violating=self.violating(request))})

    def _matching(self, params: Mapping[str, Any]) -> list[str]:
        name, representative = params.get("TenDoanhNghiep"), params.get("NguoiDaiDien")
        if name is None and representative is None:
            raise BadParameter("cần TenDoanhNghiep hoặc NguoiDaiDien")
        if name is not None and len(name.strip()) < 2:
            raise BadParameter("TenDoanhNghiep: ít nhất 2 ký tự")
        wanted = normalize_name(name) if name is not None else None
        return [
            code
            for code in self._codes
            if (representative is None or self.records[code]["NguoiDaiDien"]["SoDinhDanh"] == representative)
            and (wanted is None or any(wanted in known for known in self._names[code]))
        ]

    async def _listing(self, request: Request) -> Response:
        if (refused := self.refused(request, "listing")) is not None:
            return refused
        try:
            codes = self.window(
                self._codes, request.query_params, page="PageIndex", size="PageSize", max_size=self.max_page_size
            )
        except BadParameter as exc:
            return _failure("BAD_REQUEST", str(exc), 400)
        items = [self.enterprise(code, violating=self.violating(request)) for code in codes]
        return json_response({"Success": True, "Data": {"Items": items, "TotalCount": len(self._codes)}})

    async def _search(self, request: Request) -> Response:
        if (refused := self.refused(request, "search")) is not None:
            return refused
        params = request.query_params
        try:
            found = self._matching(params)
            page = integer_param(params, "PageIndex", 1, 1)
            size = integer_param(params, "PageSize", 20, 1, self.max_page_size)
        except BadParameter as exc:
            return _failure("BAD_REQUEST", str(exc), 400)
        violating = self.violating(request)
        items = [self.enterprise(code, violating=violating) for code in found[(page - 1) * size : page * size]]
        data = {"Items": items, "TotalCount": len(found), "PageIndex": page, "PageSize": size}
        return json_response({"Success": True, "Data": data})
