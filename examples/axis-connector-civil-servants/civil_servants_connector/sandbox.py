"""A simulated API of the provincial database of cadres, civil servants and public employees, for the tests and
for trying the connector.

Its officials are citizens of the simulated population database (``simulators.population``, the same seed), so
that a gateway serving both finds the same people in each. It answers ``GET /status``, ``GET /records/{code}``
and ``GET /records?ma_co_quan=&so_dinh_danh=&offset=&limit=``, with an ``X-API-Key`` header, and can be made to
misbehave (slow, 5xx, hang...) through ``switch``. Served on 127.0.0.1 by ``simulators.http.SimulatorServer``.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from simulators.http import Misbehaving, MisbehaviourSwitch
from simulators.population import generate_citizens
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "sandbox-key"

#: Electronic agency codes and names of a few provincial agencies of Lâm Đồng.
AGENCIES = {
    "000.00.01.H41": "Văn phòng Ủy ban nhân dân tỉnh Lâm Đồng",
    "000.00.05.H41": "Sở Nội vụ tỉnh Lâm Đồng",
    "000.00.12.H41": "Sở Tài chính tỉnh Lâm Đồng",
    "000.00.20.H41": "Sở Y tế tỉnh Lâm Đồng",
}
#: Rank code -> (category, position, starting coefficient).
RANKS = {
    "01.001": ("CB", "Chuyên viên cao cấp", 6.20),
    "01.002": ("CC", "Chuyên viên chính", 4.40),
    "01.003": ("CC", "Chuyên viên", 2.34),
    "16.118": ("VC", "Bác sĩ", 2.34),
    "13.095": ("VC", "Kế toán viên", 2.34),
}


def officials(
    count: int = 40, *, citizens: int = 600, seed: int = 68, today: date | None = None
) -> list[dict[str, Any]]:
    """``count`` officials drawn from the simulated population (living adults aged 22 to 60), as the API's items."""
    today = today or date.today()
    rng = random.Random(f"{seed}:civil_servants")  # noqa: S311 - synthetic data
    people = [
        row
        for row in generate_citizens(citizens, seed=seed, today=today)
        if row["ngay_mat"] is None
        and len(row["ngay_sinh"]) == 10
        and 22 <= today.year - int(row["ngay_sinh"][:4]) <= 60
    ]
    chosen = sorted(rng.sample(people, min(count, len(people))), key=lambda row: row["so_dinh_danh"])
    items = []
    for number, row in enumerate(chosen, start=1):
        born = date.fromisoformat(row["ngay_sinh"])
        recruited = date(born.year + rng.randint(22, 30), rng.randint(1, 12), 1)
        recruited = min(recruited, today - timedelta(days=30))
        rank = rng.choice(sorted(RANKS))
        category, position, coefficient = RANKS[rank]
        grade = min(12, 1 + (today.year - recruited.year) // 3)
        agency = rng.choice(sorted(AGENCIES))
        items.append(
            {
                "ma_can_bo": f"CB-068-{number:04d}",
                "so_dinh_danh": row["so_dinh_danh"],
                "ho_ten": row["ho_ten"],
                "ngay_sinh": row["ngay_sinh"],
                "gioi_tinh": row["gioi_tinh"],
                "loai": category,
                "ma_co_quan": agency,
                "ten_co_quan": AGENCIES[agency],
                "chuc_vu": position,
                "ma_ngach": rank,
                "bac_luong": grade,
                "he_so_luong": round(coefficient + 0.33 * (grade - 1), 2),
                "ngay_tuyen_dung": recruited.isoformat(),
                "ngay_cap_nhat": max(recruited, today - timedelta(days=rng.randint(0, 400))).isoformat(),
            }
        )
    return items


def _age(born: str, today: date) -> int:
    return today.year - int(born[:4])


class Sandbox:
    """The simulated API: ``app`` (ASGI, with misbehaviour) and ``switch`` to make it misbehave."""

    def __init__(self, items: list[dict[str, Any]] | None = None) -> None:
        self.records = {item["ma_can_bo"]: item for item in (items if items is not None else officials())}
        self.switch = MisbehaviourSwitch()
        routes = [
            Route("/status", self._status),
            Route("/records/{code}", self._record),
            Route("/records", self._search),
        ]
        self.middleware = Misbehaving(Starlette(routes=routes), self.switch, prefix="/")
        self.app = self.middleware

    @staticmethod
    def _refused(request: Request) -> JSONResponse | None:
        if request.headers.get("x-api-key") != API_KEY:
            return JSONResponse({"loi": "sai khoa truy cap"}, status_code=401)
        return None

    async def _status(self, request: Request) -> JSONResponse:
        return self._refused(request) or JSONResponse({"trang_thai": "ok"})

    async def _record(self, request: Request) -> JSONResponse:
        if refused := self._refused(request):
            return refused
        item = self.records.get(request.path_params["code"])
        if item is None:
            return JSONResponse({"loi": "khong tim thay"}, status_code=404)
        return JSONResponse(item)

    async def _search(self, request: Request) -> JSONResponse:
        if refused := self._refused(request):
            return refused
        filters = {
            key: request.query_params[key] for key in ("ma_co_quan", "so_dinh_danh") if key in request.query_params
        }
        if not filters:
            return JSONResponse({"loi": "thieu tieu chi tim kiem"}, status_code=400)
        try:
            offset = max(0, int(request.query_params.get("offset", "0")))
            limit = min(100, max(1, int(request.query_params.get("limit", "20"))))
        except ValueError:
            return JSONResponse({"loi": "tham so sai"}, status_code=400)
        found = [
            item
            for _, item in sorted(self.records.items())
            if all(str(item[key]) == value for key, value in filters.items())
        ]
        return JSONResponse({"total": len(found), "items": found[offset : offset + limit]})
