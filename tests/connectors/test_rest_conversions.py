"""Value conversions of the REST connector against a small sector API on 127.0.0.1 that speaks like many Vietnamese
systems: dates as ``dd/mm/yyyy`` (``00`` for an unknown day or month) and ``yyyymmdd``, times as
``dd/mm/yyyy HH:MM:SS``, numbers as text with ``.`` between thousands and ``,`` before decimals, yes/no as
``Có``/``Không``, and a search that takes the date of birth only as ``dd/mm/yyyy``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from pydantic import AwareDatetime, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.base import ConnectorConfigError, ContractViolation, UpstreamError
from connectors.rest import RestConnector
from contracts import Contract, ContractQuery
from contracts.dates import PartialDate
from contracts.names import FullName
from simulators.http import Misbehaving, MisbehaviourSwitch, SimulatorServer

pytestmark = pytest.mark.anyio

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


class Holding(Contract):
    """A land holding as a provincial register keeps it (a contract of this test only)."""

    contract_name: ClassVar[str] = "test.holding"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "code"

    code: str = Field(pattern=r"^HD-\d{4}$", description="The holding's code.")
    holder: FullName = Field(description="The holder's name.")
    date_of_birth: PartialDate = Field(description="The holder's date of birth (the year alone, if need be).")
    issued_on: date = Field(description="When the certificate was issued.")
    issued_at: AwareDatetime = Field(description="When it was entered in the register.")
    area_m2: float = Field(gt=0, description="Area in square metres.")
    sheet: int = Field(ge=1, description="Map sheet.")
    active: bool = Field(description="Whether the holding is in force.")


class HoldingQuery(ContractQuery):
    """Holdings of holders born on a date."""

    date_of_birth: PartialDate | None = Field(default=None, description="The holder's date of birth.")


class HoldingConnector(RestConnector):
    """The REST connector, fixed to the test's contract."""

    slug = "holdings"
    title = "Land holdings (test)"
    contract = Holding
    query_model = HoldingQuery


RECORDS: list[dict[str, Any]] = [
    {
        "ma": "HD-0001",
        "chu": "Nguyễn Thị Mai",
        "ngay_sinh": "12/03/1960",
        "ngay_cap": "20120920",
        "vao_so": "20/09/2012 08:30:05",
        "dien_tich": "1.234,5",
        "to_so": "12",
        "hieu_luc": "Có",
    },
    {
        "ma": "HD-0002",
        "chu": "Trần Văn Hùng",
        "ngay_sinh": "00/00/1975",
        "ngay_cap": "20150101",
        "vao_so": "01/01/2015 14:00:00",
        "dien_tich": "152",
        "to_so": "1.002",
        "hieu_luc": "Không",
    },
    {  # broken: an area that is no number, an answer that is neither yes nor no
        "ma": "HD-0003",
        "chu": "Lê Thị Hoa",
        "ngay_sinh": "12/03/1960",
        "ngay_cap": "20190101",
        "vao_so": "01/01/2019 09:00:00",
        "dien_tich": "12,3,4",
        "to_so": "3",
        "hieu_luc": "Có lẽ",
    },
    {
        "ma": "HD-0004",
        "chu": "Phạm Minh Tuấn",
        "ngay_sinh": "12/03/1960",
        "ngay_cap": "20200229",
        "vao_so": "29/02/2020 23:59:59",
        "dien_tich": "80,25",
        "to_so": "7",
        "hieu_luc": "1",
    },
]

_DMY = re.compile(r"^\d{2}/\d{2}/\d{4}$")


class HoldingsApi:
    """``GET /ho-so/{ma}``, ``GET /ho-so?ngay_sinh=dd/mm/yyyy&trang=&so_ban_ghi=`` (any other form of the date is
    refused with 400, as the real systems do) and ``GET /trang-thai``."""

    def __init__(self) -> None:
        self.records = {item["ma"]: item for item in RECORDS}
        self.searched: list[str] = []
        self.switch = MisbehaviourSwitch()
        routes = [
            Route("/trang-thai", self._status),
            Route("/ho-so/{code}", self._record),
            Route("/ho-so", self._search),
        ]
        self.middleware = Misbehaving(Starlette(routes=routes), self.switch, prefix="/ho-so")
        self.app = self.middleware

    async def _status(self, request: Request) -> JSONResponse:
        return JSONResponse({"trang_thai": "ok"})

    async def _record(self, request: Request) -> JSONResponse:
        item = self.records.get(request.path_params["code"])
        return JSONResponse(item) if item is not None else JSONResponse({"loi": "khong tim thay"}, status_code=404)

    async def _search(self, request: Request) -> JSONResponse:
        born = request.query_params.get("ngay_sinh", "")
        self.searched.append(born)
        if not _DMY.match(born):
            return JSONResponse({"loi": "ngay_sinh: dd/mm/yyyy"}, status_code=400)
        page, size = int(request.query_params["trang"]), int(request.query_params["so_ban_ghi"])
        found = [item for _, item in sorted(self.records.items()) if item["ngay_sinh"] == born]
        return JSONResponse({"ds": found[(page - 1) * size : page * size]})


@pytest.fixture(scope="module")
def api() -> Iterator[HoldingsApi]:
    yield HoldingsApi()


@pytest.fixture(scope="module")
def server(api: HoldingsApi) -> Iterator[SimulatorServer]:
    with SimulatorServer(api) as server:
        yield server


CONVERSIONS: dict[str, Any] = {
    "date_of_birth": {"type": "date", "format": "dd/mm/yyyy"},
    "issued_on": {"type": "date", "format": "yyyymmdd"},
    "issued_at": {"type": "datetime", "format": "dd/mm/yyyy HH:MM:SS"},
    "area_m2": {"type": "number"},
    "sheet": {"type": "number"},
    "active": {"type": "boolean"},
}


def config(url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "base_url": url,
        "get": {"path": "/ho-so/{record_id}"},
        "search": {
            "path": "/ho-so",
            "filters": {"date_of_birth": "ngay_sinh"},
            "items": "ds",
            "pagination": {"style": "page", "page_param": "trang", "size_param": "so_ban_ghi"},
        },
        "ping": {"path": "/trang-thai"},
        "fields": {
            "code": "ma",
            "holder": "chu",
            "date_of_birth": "ngay_sinh",
            "issued_on": "ngay_cap",
            "issued_at": "vao_so",
            "area_m2": "dien_tich",
            "sheet": "to_so",
            "active": "hieu_luc",
        },
        "conversions": CONVERSIONS,
        "naive_datetime_timezone": "Asia/Ho_Chi_Minh",
        **overrides,
    }


async def test_values_in_the_systems_forms_become_contract_values(server: SimulatorServer) -> None:
    async with HoldingConnector.from_config(config(server.url)) as connector:
        first = await connector.get("HD-0001")
        second = await connector.get("HD-0002")
        leap = await connector.get("HD-0004")
    assert isinstance(first, Holding) and isinstance(second, Holding) and isinstance(leap, Holding)
    assert first.date_of_birth == PartialDate(1960, 3, 12)
    assert first.issued_on == date(2012, 9, 20)
    assert first.issued_at == datetime(2012, 9, 20, 8, 30, 5, tzinfo=HCM)
    assert (first.area_m2, first.sheet, first.active) == (1234.5, 12, True)
    assert second.date_of_birth == PartialDate(1975)  # 00/00/1975: the year alone
    assert (second.area_m2, second.sheet, second.active) == (152, 1002, False)
    assert (leap.issued_on, leap.area_m2, leap.active) == (date(2020, 2, 29), 80.25, True)


async def test_a_value_that_cannot_be_converted_is_a_contract_violation_of_its_record(
    server: SimulatorServer,
) -> None:
    async with HoldingConnector.from_config(config(server.url)) as connector:
        with pytest.raises(ContractViolation) as info:
            await connector.get("HD-0003")
    error = info.value
    assert error.reason == "contract_violation" and error.record_id == "HD-0003"
    assert sorted(e.split(":")[0] for e in error.errors) == ["active", "area_m2"], error.errors
    area = next(e for e in error.errors if e.startswith("area_m2"))
    assert "'99,9,9'" in area and "1.234,5" in area, area  # the value's shape and the form expected
    text = " ".join([error.message, *error.errors])
    assert "12,3,4" not in text and "Có lẽ" not in text and "Lê Thị Hoa" not in text  # never the values


async def test_a_search_by_date_sends_it_the_systems_way_and_skips_the_broken_record(
    api: HoldingsApi, server: SimulatorServer
) -> None:
    async with HoldingConnector.from_config(config(server.url)) as connector:
        page = await connector.search(HoldingQuery(date_of_birth="1960-03-12"), limit=10)
        by_year = await connector.search(HoldingQuery(date_of_birth="1975"), limit=10)
    assert api.searched[-2:] == ["12/03/1960", "00/00/1975"]
    assert [record.record_id() for record in page.items] == ["HD-0001", "HD-0004"]
    assert [violation.record_id for violation in page.skipped] == ["HD-0003"]
    assert [record.record_id() for record in by_year.items] == ["HD-0002"] and not by_year.skipped


async def test_without_the_conversion_the_search_is_refused_upstream(api: HoldingsApi, server: SimulatorServer) -> None:
    """Guards the test above: the API really takes only dd/mm/yyyy (an ISO date is refused)."""
    conversions = {k: v for k, v in CONVERSIONS.items() if k != "date_of_birth"}
    async with HoldingConnector.from_config(config(server.url, conversions=conversions)) as connector:
        with pytest.raises(UpstreamError) as info:
            await connector.search(HoldingQuery(date_of_birth="1960-03-12"), limit=10)
    assert api.searched[-1] == "1960-03-12"
    assert not isinstance(info.value, ContractViolation)


@pytest.mark.parametrize(
    ("conversions", "value_maps", "named", "says"),
    [
        ({"date_of_birth": {"type": "date", "format": "dd/MM/yyyy"}}, {}, "conversions.date_of_birth", "no time"),
        ({"date_of_birth": {"type": "date", "format": "dd/mm/yy"}}, {}, "conversions.date_of_birth", "'yy'"),
        ({"issued_at": {"type": "datetime", "format": "dd/mm/yyyy"}}, {}, "conversions.issued_at", "HH, MM"),
        ({"area_m2": {"type": "number", "thousands_separator": ","}}, {}, "conversions.area_m2", "must differ"),
        ({"active": {"type": "boolean", "true": ["1"], "false": ["1"]}}, {}, "conversions.active", "both yes and no"),
        ({"area_m2": {"type": "date", "format": "dd/mm/yyyy"}}, {}, "conversions.area_m2", "does not fit"),
        ({"issued_on": {"type": "boolean"}}, {}, "conversions.issued_on", "does not fit"),
        ({"nowhere": {"type": "number"}}, {}, "conversions.nowhere", "mapping lacks"),
        ({"active": {"type": "boolean"}}, {"active": {"C": True}}, "conversions.active", "value map"),
        ({"sheet": {"type": "money"}}, {}, "conversions.sheet", "money"),
    ],
)
def test_a_bad_conversion_is_a_configuration_error_naming_the_field(
    conversions: dict[str, Any], value_maps: dict[str, Any], named: str, says: str
) -> None:
    with pytest.raises(ConnectorConfigError) as info:
        HoldingConnector.from_config(config("http://127.0.0.1:9", conversions=conversions, value_maps=value_maps))
    assert named in info.value.message and says in info.value.message, info.value.message
