"""Walking the simulated API's pages in each style it offers, against the SQL connector's results; page sizes the
API caps; cursors forged by callers; next-page links and tokens an API should not have sent."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.base import BadQuery, Connector, Page, UpstreamError
from connectors.population import PopulationConnector
from connectors.rest import RestConnector, RestConnectorConfig
from connectors.rest.client import Answer
from connectors.rest.pagination import Position, make_paginator
from contracts.population import CitizenQuery
from simulators.population_api import ApiServer, PopulationApi, rest_connector_config
from simulators.population_api.connector_config import PAGINATIONS

pytestmark = pytest.mark.anyio


async def walk(connector: Connector[Any], query: CitizenQuery, limit: int) -> list[Page]:
    pages = [await connector.search(query, limit=limit)]
    while pages[-1].next_cursor is not None:
        assert len(pages) < 200
        pages.append(await connector.search(query, limit=limit, cursor=pages[-1].next_cursor))
    return pages


def ids(pages: list[Page]) -> list[str]:
    return [item.record_id() for page in pages for item in page.items]


def queries(sector: Any) -> dict[str, CitizenQuery]:
    with_card = next(r for r in sector.rows if r["so_cmnd"])
    dated = next(r for r in sector.rows if len(r["ngay_sinh"]) == 10)
    return {
        "planted name + year": CitizenQuery(full_name=sector.planted_name, date_of_birth=str(sector.planted_year)),
        "planted name + month, in capitals": CitizenQuery(
            full_name=sector.planted_name.upper(),
            date_of_birth=next(
                sector.by_id[p]["ngay_sinh"][:7] for p in sector.planted_ids if len(sector.by_id[p]["ngay_sinh"]) >= 7
            ),
        ),
        "name + exact date": CitizenQuery(full_name=dated["ho_ten"], date_of_birth=dated["ngay_sinh"]),
        "old id": CitizenQuery(old_id_number=with_card["so_cmnd"]),
        "nobody": CitizenQuery(full_name="Không Có Ai", date_of_birth="1990"),
    }


@pytest.mark.parametrize("style", PAGINATIONS)
@pytest.mark.parametrize("limit", [1, 4, 25, 100])
async def test_every_style_finds_what_the_sql_connector_finds(
    style: str, limit: int, population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    config = rest_connector_config(api_server.url, pagination=style)
    async with (
        RestConnector.from_config(config) as rest,
        PopulationConnector.from_config({"url": population_sector.url}) as sql,
    ):
        for name, query in queries(population_sector).items():
            via_rest = await walk(rest, query, limit)
            via_sql = await walk(sql, query, limit)
            assert ids(via_rest) == ids(via_sql), name
            assert [i for p in via_rest for i in p.items] == [i for p in via_sql for i in p.items], name
            assert all(len(page.items) <= limit for page in via_rest)
            assert all(page.items for page in via_rest[:-1]), "an empty page before the last"


def test_the_queries_above_find_one_several_or_none(population_sector: Any) -> None:
    """Guards the test above: the queries are not all empty."""
    planted = queries(population_sector)["planted name + year"]
    assert planted.full_name == population_sector.planted_name
    assert len(population_sector.planted_ids) == 25


@pytest.fixture
def capped_api(population_sector: Any) -> Iterator[ApiServer]:
    with ApiServer(PopulationApi(population_sector.rows, max_page_size=10)) as server:
        yield server


@pytest.mark.parametrize("style", PAGINATIONS)
async def test_pages_no_larger_than_the_api_allows(style: str, population_sector: Any, capped_api: ApiServer) -> None:
    query = queries(population_sector)["planted name + year"]
    config = rest_connector_config(capped_api.url, pagination=style)
    config["search"]["max_page_size"] = 10
    async with RestConnector.from_config(config) as rest:
        pages = await walk(rest, query, 100)
    assert ids(pages) == list(population_sector.planted_ids)
    assert all(len(page.items) <= 10 for page in pages)
    assert capped_api.api.count("requests") == len(pages)


async def test_an_api_asked_for_too_much_refuses(population_sector: Any, capped_api: ApiServer) -> None:
    """A configuration promising larger pages than the API takes fails loudly (the API answers 400)."""
    async with RestConnector.from_config(rest_connector_config(capped_api.url)) as rest:
        with pytest.raises(UpstreamError) as info:
            await rest.search(queries(population_sector)["planted name + year"], limit=25)
    assert "400" in info.value.message


# -- forged cursors --------------------------------------------------------------------------------------------


def _decode(cursor: str) -> list[Any]:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))  # type: ignore[no-any-return]


def _encode(payload: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("style", PAGINATIONS)
async def test_cursors_that_were_not_issued_are_refused(
    style: str, population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    query = queries(population_sector)["planted name + year"]
    async with RestConnector.from_config(rest_connector_config(api_server.url, pagination=style)) as rest:
        issued = (await rest.search(query, limit=5)).next_cursor
        assert issued is not None
        version, own_style, size, number, token, skip = _decode(issued)
        other_style = "offset" if own_style != "offset" else "page"
        forged = [
            "garbage",
            _encode([version, other_style, size, number, token, skip]),
            _encode([version, own_style, 0, number, token, skip]),
            _encode([version, own_style, size, -1, token, skip]),
            _encode([version, own_style, size, number, token, "x"]),
            _encode([version, own_style, 10_000, number, token, skip]),
            _encode([version, own_style, size, number, "", skip]),
        ]
        for cursor in forged:
            with pytest.raises(BadQuery):
                await rest.search(query, limit=5, cursor=cursor)


@pytest.mark.parametrize(
    "link",
    [
        "http://169.254.169.254/latest/meta-data?trang=2",
        "//evil.example/api/v1/tra-cuu/lien-ket?trang=2",
        "/api/v1/cong-dan/068099000000",
        "/api/v1/trang-thai?trang=2",
        "/../../etc/passwd",
    ],
)
async def test_a_link_cursor_cannot_leave_the_search(
    link: str, population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    query = queries(population_sector)["planted name + year"]
    async with RestConnector.from_config(rest_connector_config(api_server.url, pagination="link")) as rest:
        issued = (await rest.search(query, limit=5)).next_cursor
        assert issued is not None
        payload = _decode(issued)
        payload[4] = link
        with pytest.raises(BadQuery):
            await rest.search(query, limit=5, cursor=_encode(payload))
    assert api.count("status") == 0 and api.count("citizen") == 0


async def test_a_link_cursor_cannot_change_the_filters(
    population_sector: Any, api: PopulationApi, api_server: ApiServer
) -> None:
    query = queries(population_sector)["planted name + year"]
    someone_else = next(
        r for r in population_sector.rows if r["so_cmnd"] and r["so_dinh_danh"] not in population_sector.planted_ids
    )
    async with RestConnector.from_config(rest_connector_config(api_server.url, pagination="link")) as rest:
        issued = (await rest.search(query, limit=5)).next_cursor
        assert issued is not None
        payload = _decode(issued)
        payload[4] = f"/api/v1/tra-cuu/lien-ket?trang=2&so_ban_ghi=5&so_cmnd={someone_else['so_cmnd']}&ho_ten=X"
        page = await rest.search(query, limit=5, cursor=_encode(payload))
    assert [item.record_id() for item in page.items] == list(population_sector.planted_ids[5:10])


# -- what an API should not send -------------------------------------------------------------------------------


def _paginator(style: str) -> Any:
    config = RestConnectorConfig.model_validate(rest_connector_config("https://api.example/prefix", pagination=style))
    assert config.search is not None
    return make_paginator(config.search, config.base_url, "population")


def _answer(headers: dict[str, str] | None = None) -> Answer:
    response = httpx.Response(200, headers=headers or {})
    return Answer(200, response.headers, b"{}", response.links)


@pytest.mark.parametrize(
    "link",
    [
        "https://elsewhere.example/prefix/api/v1/tra-cuu/lien-ket?trang=2",
        "http://api.example/prefix/api/v1/tra-cuu/lien-ket?trang=2",
        "/prefix/api/v1/cong-dan?trang=2",
        "https://api.example/api/v1/tra-cuu/lien-ket?trang=2",
    ],
)
def test_a_next_link_that_leaves_the_search_is_refused(link: str) -> None:
    paginator = _paginator("link")
    with pytest.raises(UpstreamError):
        paginator.following(Position(5), 5, {}, _answer({"Link": f'<{link}>; rel="next"'}))


def test_a_relative_next_link_is_followed() -> None:
    paginator = _paginator("link")
    following = paginator.following(Position(5), 5, {}, _answer({"Link": '<?trang=2&so_ban_ghi=5>; rel="next"'}))
    assert following is not None and following.token == "/prefix/api/v1/tra-cuu/lien-ket?trang=2&so_ban_ghi=5"
    request = paginator.request(following, {"ho_ten": "A"})
    assert request.url == "https://api.example/prefix/api/v1/tra-cuu/lien-ket"
    assert request.params == {"trang": "2", "so_ban_ghi": "5", "ho_ten": "A"}


def test_a_next_token_that_does_not_move_is_refused() -> None:
    paginator = _paginator("cursor")
    with pytest.raises(UpstreamError):
        paginator.following(Position(5, token="abc"), 5, {"con_tro_tiep": "abc"}, _answer())
    assert paginator.following(Position(5), 5, {"con_tro_tiep": None}, _answer()) is None
    assert paginator.following(Position(5), 5, {"con_tro_tiep": ""}, _answer()) is None


def test_a_page_longer_than_asked_is_refused() -> None:
    paginator = _paginator("page")
    with pytest.raises(UpstreamError):
        paginator.usable(Position(5, number=1), list(range(6)))
