"""The simulated driving licence API: a Starlette application with the sector system's own routes and shape.

=====================================  ================================================================
route                                  what it does
=====================================  ================================================================
``GET /api/gplx/v1/suc-khoe``          status (the health check)
``GET /api/gplx/v1/giay-phep/{so}``    one licence: ``{"ket_qua": "OK", "du_lieu": {...}}``; unknown: 404
``GET /api/gplx/v1/giay-phep``         search by holder (``so_cccd``), numbered pages ``trang`` (from 1) of
                                       ``kich_thuoc`` (at most 50); ``tong_so`` is the number of matches
``GET /api/gplx/v1/danh-sach``         every licence, numbered pages ``trang`` of ``kich_thuoc``, with ``tong_so``
``/_simulator/...``                    control: ``misbehave`` (POST), ``stats`` (GET), ``reset`` (POST)
=====================================  ================================================================

Every ``/api`` route needs the API key in ``X-API-Key`` (see :data:`DEFAULT_AUTH`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..http.misbehaviour import Misbehaviour
from ..record_api import ApiAuth, BadParameter, RecordApi, integer_param, json_response

__all__ = ["DEFAULT_AUTH", "MAX_PAGE_SIZE", "DrivingLicenceApi"]

MAX_PAGE_SIZE: Final = 50
#: The API key the simulator accepts (a published test credential, not a secret).
DEFAULT_AUTH: Final = ApiAuth(scheme="api_key", header="X-API-Key", key="sim-gplx-key")
_PERSONAL_ID = re.compile(r"^[0-9]{12}$")


class DrivingLicenceApi(RecordApi):
    """The API over a list of licences in its JSON shape (see :mod:`.records`)."""

    malformed_body: ClassVar[bytes] = b'{"ket_qua": "OK", "du_lieu": {"so_gplx": "68'
    unauthorized_body: ClassVar[dict[str, Any]] = {"ket_qua": "CHUA_XAC_THUC", "thong_bao": "Thiếu khóa API"}
    realm: ClassVar[str] = "csdl-gplx"

    def __init__(
        self,
        licences: Iterable[dict[str, Any]],
        *,
        auth: ApiAuth = DEFAULT_AUTH,
        misbehaviour: Misbehaviour | None = None,
    ) -> None:
        self.licences = {licence["so_gplx"]: licence for licence in licences}
        self.by_holder: dict[str, list[str]] = {}
        self._numbers = sorted(self.licences)
        for number in sorted(self.licences):
            self.by_holder.setdefault(self.licences[number]["nguoi_lai"]["so_cccd"], []).append(number)
        super().__init__(auth=auth, misbehaviour=misbehaviour)

    def routes(self) -> list[Route]:
        """The data routes."""
        return [
            Route("/api/gplx/v1/suc-khoe", self._health, methods=["GET"]),
            Route("/api/gplx/v1/danh-sach", self._listing, methods=["GET"]),
            Route("/api/gplx/v1/giay-phep/{so_gplx}", self._licence, methods=["GET"]),
            Route("/api/gplx/v1/giay-phep", self._search, methods=["GET"]),
        ]

    def _record(self, number: str, request: Request) -> dict[str, Any]:
        record = self.licences[number]
        if self.violating(request):  # a class the law does not know
            record = {**record, "hang_gplx": [{"hang": "Z9", "ngay_cap": "2020-01-01", "ngay_het_han": None}]}
        return record

    async def _health(self, request: Request) -> Response:
        if (refused := self.refused(request, "health")) is not None:
            return refused
        return json_response({"ket_qua": "OK", "so_giay_phep": len(self.licences)})

    async def _licence(self, request: Request) -> Response:
        if (refused := self.refused(request, "licence")) is not None:
            return refused
        number = request.path_params["so_gplx"]
        if number not in self.licences:
            return json_response({"ket_qua": "KHONG_TIM_THAY", "thong_bao": "Không tìm thấy giấy phép"}, 404)
        return json_response({"ket_qua": "OK", "du_lieu": self._record(number, request)})

    async def _listing(self, request: Request) -> Response:
        if (refused := self.refused(request, "listing")) is not None:
            return refused
        try:
            numbers = self.window(
                self._numbers, request.query_params, page="trang", size="kich_thuoc", max_size=MAX_PAGE_SIZE
            )
        except BadParameter as problem:
            return json_response({"ket_qua": "SAI_THAM_SO", "thong_bao": str(problem)}, 400)
        items = [self._record(number, request) for number in numbers]
        return json_response({"ket_qua": "OK", "du_lieu": items, "tong_so": len(self._numbers)})

    async def _search(self, request: Request) -> Response:
        if (refused := self.refused(request, "search")) is not None:
            return refused
        params = request.query_params
        try:
            holder = params.get("so_cccd")
            if holder is None or not _PERSONAL_ID.match(holder):
                raise BadParameter("so_cccd: 12 chữ số")
            page = integer_param(params, "trang", 1, 1)
            size = integer_param(params, "kich_thuoc", 20, 1, MAX_PAGE_SIZE)
        except BadParameter as problem:
            return json_response({"ket_qua": "SAI_THAM_SO", "thong_bao": str(problem)}, 400)
        found = self.by_holder.get(holder, [])
        chosen = found[(page - 1) * size : page * size]
        items = [self._record(number, request) for number in chosen]
        return json_response({"ket_qua": "OK", "du_lieu": items, "tong_so": len(found), "trang": page})
