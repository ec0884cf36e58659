"""The simulated Vietnam Social Security API: a Starlette application with the system's own routes and conventions.

=====================================  ====================================================================
route                                  what it does
=====================================  ====================================================================
``POST /oauth/token``                  OAuth 2.0 client credentials (Basic or form fields); opaque tokens
``GET /api/bhxh/v2/trang-thai``        status (the health check)
``GET /api/bhxh/v2/nguoi-tham-gia/{}`` a participant by social insurance code: ``{"maKetQua": "000",
                                       "duLieu": {...}}``; unknown: 200 with ``maKetQua`` ``"010"``
``GET /api/bhxh/v2/nguoi-tham-gia``    participants by ``soDinhDanh``, or ``hoTen`` with ``ngaySinh``; windows
                                       of ``soBanGhi`` records from ``tuBanGhi`` (0), with ``tongSo``
``GET /api/bhyt/v2/the/{}``            a health insurance card by its code (10 or 15 characters); unknown:
                                       404 with ``maKetQua`` ``"010"``
``GET /api/bhyt/v2/the``               cards by ``maSoBhxh``, ``soDinhDanh``, or ``hoTen`` with ``ngaySinh``;
                                       numbered pages ``trang`` (from 1) of ``kichThuoc``, with ``tongSo``
``GET /api/bhxh/v2/danh-sach/...``     every participant (``nguoi-tham-gia``, windows as above) or card
``GET /api/bhyt/v2/danh-sach/the``     (``the``, pages as above), with ``tongSo``
``/_simulator/...``                    control: ``misbehave`` (POST), ``stats`` (GET), ``reset`` (POST)
=====================================  ====================================================================

Dates of birth are written ``dd/mm/yyyy`` (``00`` for an unknown part), months ``mm/yyyy``, other dates ISO. A
card's ``trangThai`` is computed when it is asked for, against the API's clock. Pages hold at most 50 records.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.dates import vietnam_today

from ..http.misbehaviour import Misbehaviour
from ..record_api import ApiAuth, BadParameter, RecordApi, born_within, integer_param, json_response, same_name
from .records import VssRecords, card_status

__all__ = ["DEFAULT_AUTH", "MAX_PAGE_SIZE", "VssApi"]

MAX_PAGE_SIZE = 50
#: The API's authentication: OAuth 2.0 client credentials at ``/oauth/token`` (test credentials).
DEFAULT_AUTH = ApiAuth(scheme="oauth2")

_OK = "000"
_NOT_FOUND = "010"
_BAD_REQUEST = "020"


def _failure(code: str, message: str, status: int) -> Response:
    return json_response({"maKetQua": code, "thongDiep": message, "duLieu": None}, status)


def _violate(record: dict[str, Any], person_key: str) -> dict[str, Any]:
    broken = copy.deepcopy(record)
    person = broken[person_key]
    person["gioiTinh"] = "Nữ" if person["gioiTinh"] == "Nam" else "Nam"
    return broken


class VssApi(RecordApi):
    """Vietnam Social Security's API over a set of :class:`~simulators.vss_api.records.VssRecords`.

    ``today`` is the clock against which card validity is computed (the real date by default).
    """

    malformed_body: ClassVar[bytes] = b'{"maKetQua":"000","duLieu":{"maSoBhxh":"6'
    unauthorized_body: ClassVar[dict[str, Any]] = {
        "maKetQua": "401",
        "thongDiep": "Chưa xác thực hoặc token hết hạn",
        "duLieu": None,
    }
    realm: ClassVar[str] = "vss"

    def __init__(
        self,
        records: VssRecords,
        *,
        auth: ApiAuth = DEFAULT_AUTH,
        misbehaviour: Misbehaviour | None = None,
        today: Callable[[], date] = vietnam_today,
        max_page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.records = records
        self.today = today
        self.max_page_size = max_page_size
        self._participants = sorted(records.participants)
        self._cards = sorted(records.cards)
        super().__init__(auth=auth, misbehaviour=misbehaviour)

    def routes(self) -> list[Route]:
        """The API's data routes."""
        return [
            Route("/api/bhxh/v2/trang-thai", self._status, methods=["GET"]),
            Route("/api/bhxh/v2/danh-sach/nguoi-tham-gia", self._participants_listing, methods=["GET"]),
            Route("/api/bhyt/v2/danh-sach/the", self._cards_listing, methods=["GET"]),
            Route("/api/bhxh/v2/nguoi-tham-gia/{ma_so_bhxh}", self._participant, methods=["GET"]),
            Route("/api/bhxh/v2/nguoi-tham-gia", self._participants_search, methods=["GET"]),
            Route("/api/bhyt/v2/the/{ma_the}", self._card, methods=["GET"]),
            Route("/api/bhyt/v2/the", self._cards_search, methods=["GET"]),
        ]

    def participant(self, code: str, *, violating: bool = False) -> dict[str, Any]:
        """The published participant ``code``."""
        record = self.records.participants[code]
        return _violate(record, "nguoiThamGia") if violating else record

    def card(self, code: str, *, violating: bool = False) -> dict[str, Any]:
        """The published card ``code``, with its status as of the API's today."""
        stored = self.records.cards[code]
        record = {**stored, "trangThai": card_status(stored, self.today())}
        return _violate(record, "chuThe") if violating else record

    async def _status(self, request: Request) -> Response:
        if (refused := self.refused(request, "status")) is not None:
            return refused
        counts = {"soNguoiThamGia": len(self._participants), "soThe": len(self._cards)}
        return json_response({"maKetQua": _OK, "trangThai": "HOAT_DONG", **counts})

    async def _participant(self, request: Request) -> Response:
        if (refused := self.refused(request, "participant")) is not None:
            return refused
        code = request.path_params["ma_so_bhxh"]
        if code not in self.records.participants:
            return _failure(_NOT_FOUND, "Không tìm thấy mã số BHXH", 200)
        record = self.participant(code, violating=self.violating(request))
        return json_response({"maKetQua": _OK, "thongDiep": "Thành công", "duLieu": record})

    async def _card(self, request: Request) -> Response:
        if (refused := self.refused(request, "card")) is not None:
            return refused
        code = request.path_params["ma_the"]
        if code not in self.records.cards:
            return _failure(_NOT_FOUND, "Không tìm thấy thẻ BHYT", 404)
        record = self.card(code, violating=self.violating(request))
        return json_response({"maKetQua": _OK, "thongDiep": "Thành công", "duLieu": record})

    def _matching(self, keys: list[str], records: Mapping[str, dict[str, Any]], person: str, params: Any) -> list[str]:
        pid, name, born = params.get("soDinhDanh"), params.get("hoTen"), params.get("ngaySinh")
        code = params.get("maSoBhxh")
        if pid is None and code is None and (name is None or born is None):
            raise BadParameter("cần soDinhDanh, maSoBhxh, hoặc hoTen và ngaySinh")
        found = []
        for key in keys:
            record = records[key]
            who = record[person]
            if pid is not None and who["soDinhDanh"] != pid:
                continue
            if code is not None and record["maSoBhxh"] != code:
                continue
            if name is not None and not same_name(name, who["hoTen"]):
                continue
            if born is not None and not born_within(born, who["ngaySinh"]):
                continue
            found.append(key)
        return found

    async def _participants_listing(self, request: Request) -> Response:
        if (refused := self.refused(request, "participants_listing")) is not None:
            return refused
        try:
            codes = self.window(
                self._participants,
                request.query_params,
                page="tuBanGhi",
                size="soBanGhi",
                max_size=self.max_page_size,
                offset=True,
            )
        except BadParameter as exc:
            return _failure(_BAD_REQUEST, str(exc), 400)
        items = [self.participant(code, violating=self.violating(request)) for code in codes]
        return json_response({"maKetQua": _OK, "tongSo": len(self._participants), "duLieu": items})

    async def _cards_listing(self, request: Request) -> Response:
        if (refused := self.refused(request, "cards_listing")) is not None:
            return refused
        try:
            codes = self.window(
                self._cards, request.query_params, page="trang", size="kichThuoc", max_size=self.max_page_size
            )
        except BadParameter as exc:
            return _failure(_BAD_REQUEST, str(exc), 400)
        items = [self.card(code, violating=self.violating(request)) for code in codes]
        return json_response({"maKetQua": _OK, "duLieu": {"danhSach": items, "tongSo": len(self._cards)}})

    async def _participants_search(self, request: Request) -> Response:
        if (refused := self.refused(request, "participants_search")) is not None:
            return refused
        params = request.query_params
        try:
            if "maSoBhxh" in params:
                raise BadParameter("maSoBhxh: dùng /nguoi-tham-gia/{maSoBhxh}")
            found = self._matching(self._participants, self.records.participants, "nguoiThamGia", params)
            start = integer_param(params, "tuBanGhi", 0, 0)
            size = integer_param(params, "soBanGhi", 20, 1, self.max_page_size)
        except BadParameter as exc:
            return _failure(_BAD_REQUEST, str(exc), 400)
        violating = self.violating(request)
        items = [self.participant(code, violating=violating) for code in found[start : start + size]]
        return json_response({"maKetQua": _OK, "tongSo": len(found), "duLieu": items})

    async def _cards_search(self, request: Request) -> Response:
        if (refused := self.refused(request, "cards_search")) is not None:
            return refused
        params = request.query_params
        try:
            found = self._matching(self._cards, self.records.cards, "chuThe", params)
            page = integer_param(params, "trang", 1, 1)
            size = integer_param(params, "kichThuoc", 20, 1, self.max_page_size)
        except BadParameter as exc:
            return _failure(_BAD_REQUEST, str(exc), 400)
        violating = self.violating(request)
        chosen = found[(page - 1) * size : page * size]
        items = [self.card(code, violating=violating) for code in chosen]
        return json_response({"maKetQua": _OK, "duLieu": {"danhSach": items, "tongSo": len(found), "trang": page}})
