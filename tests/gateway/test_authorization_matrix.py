"""The authorisation matrix, against the gateway's HTTP API (in process): clients with different grants, made
through the admin API, get exactly their fields, their operations and their purposes; every path outside their
grants is a 403; missing or malformed purpose and actor headers are 400s naming the header; a suspended client is
refused at once, on its existing token; revocations and new grants apply at once; ``GET /v1/services`` lists exactly
the grants in force. Two gateways on one PostgreSQL database: a change made through one applies in the other at
once (NOTIFY), long before its cache would expire."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from support import ClientCredentials, InProcessGateway, PlantedSearch, fetch_token, postgres_database

from contracts.population import Citizen
from gateway.core import migrations
from gateway.core.db import create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client

P1 = "1.001612.000.00.00.H41"
P2 = "2.002154.000.00.00.H41"
P3 = "1.000001"
ACTOR = "CB-068-0001"
ALL_FIELDS = frozenset(Citizen.model_fields)
OLD_ID = "250123456"


@dataclass(frozen=True)
class Agency:
    """A client of the matrix, its token, and the ids of its grants."""

    client_id: str
    secret: str
    token: str
    grants: dict[str, int]

    def headers(self, purpose: str | None = P1, actor: str | None = ACTOR) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if purpose is not None:
            headers["X-Purpose"] = purpose
        if actor is not None:
            headers["X-Actor-Id"] = actor
        return headers


@dataclass
class Matrix:
    http: httpx.Client
    admin: dict[str, str]
    planted: PlantedSearch

    def make(self, grants: dict[str, dict[str, Any]], *, token: bool = True) -> Agency:
        """A client with these grants (by name), through the admin API, and a token issued after them."""
        created = self.http.post(
            "/v1/admin/clients", json={"name": "Agency", "client_id": f"mx-{uuid.uuid4().hex[:10]}"}, headers=self.admin
        )
        assert created.status_code == 201, created.text
        client_id, secret = created.json()["client_id"], created.json()["client_secret"]
        ids = {}
        for name, values in grants.items():
            body = {"client_id": client_id, "database": "population", "operations": ["read"], **values}
            response = self.http.post("/v1/admin/grants", json=body, headers=self.admin)
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]
        issued = fetch_token(self.http, ClientCredentials(client_id, secret)) if token else ""
        return Agency(client_id, secret, issued, ids)

    def read(self, agency: Agency, database: str = "population", **headers: Any) -> httpx.Response:
        return self.http.get(
            f"/v1/databases/{database}/records/{self.planted.personal_ids[0]}", headers=agency.headers(**headers)
        )

    def search(
        self, agency: Agency, query: dict[str, Any] | None = None, database: str = "population", **headers: Any
    ) -> httpx.Response:
        body = query or {"full_name": self.planted.full_name, "date_of_birth": str(self.planted.year)}
        return self.http.post(f"/v1/databases/{database}/search", json=body, headers=agency.headers(**headers))


@pytest.fixture(scope="module")
def gateway(make_settings: Callable[..., Settings], sector_url: str) -> Iterator[InProcessGateway]:
    """A gateway serving two databases: ``population`` and ``residence`` (the same connector)."""
    settings = make_settings(
        connectors={
            "population": {"config": {"url": sector_url}},
            "residence": {"connector": "population", "config": {"url": sector_url}},
        }
    )
    with InProcessGateway(create_app(settings)) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def matrix(
    gateway: InProcessGateway, make_client: Callable[..., ClientCredentials], planted: PlantedSearch
) -> Iterator[Matrix]:
    with gateway.client() as http:
        admin = {"Authorization": f"Bearer {fetch_token(http, make_client('admin'))}"}
        yield Matrix(http, admin, planted)


def _days(n: int) -> str:
    return (datetime.now(UTC) + timedelta(days=n)).isoformat()


@pytest.fixture(scope="module")
def full(matrix: Matrix) -> Agency:
    """Reads and searches the whole population database, for any purpose."""
    return matrix.make({"all": {"operations": ["read", "search"]}})


@pytest.fixture(scope="module")
def narrow(matrix: Matrix) -> Agency:
    """Reads three fields, for one procedure."""
    return matrix.make({"p1": {"fields": ["personal_id", "full_name", "date_of_birth"], "purposes": [P1]}})


@pytest.fixture(scope="module")
def searcher(matrix: Matrix) -> Agency:
    """Searches by name and birth date, seeing a province; had everything once, will read some day."""
    return matrix.make(
        {
            "now": {
                "operations": ["search"],
                "fields": ["full_name", "date_of_birth", "permanent_address.province_code"],
            },
            "expired": {"operations": ["read", "search"], "valid_until": _days(-1)},
            "future": {"operations": ["read", "search"], "valid_from": _days(1)},
        }
    )


@pytest.fixture(scope="module")
def multi(matrix: Matrix) -> Agency:
    """Different fields for two procedures, and the residence database without stating purpose or actor."""
    return matrix.make(
        {
            "p1": {"fields": ["full_name"], "purposes": [P1]},
            "p2": {"fields": ["full_name", "gender"], "purposes": [P2]},
            "residence": {"database": "residence", "require_purpose": False, "require_actor": False},
        }
    )


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    return body


def nested_keys(record: dict[str, Any]) -> set[str]:
    """Top-level keys, and dotted keys one level into nested objects."""
    keys = set(record)
    for name, value in record.items():
        if isinstance(value, dict):
            keys |= {f"{name}.{inner}" for inner in value}
    return keys


# --- exactly the granted fields -----------------------------------------------------------------------------------


def test_each_client_gets_exactly_its_fields(
    matrix: Matrix, full: Agency, narrow: Agency, searcher: Agency, multi: Agency
) -> None:
    whole = ok(matrix.read(full))
    assert set(whole) == ALL_FIELDS
    for item in ok(matrix.search(full))["items"]:
        assert set(item) == ALL_FIELDS

    three = ok(matrix.read(narrow, purpose=P1))
    assert set(three) == {"personal_id", "full_name", "date_of_birth"}
    assert three == {k: whole[k] for k in three}

    page = ok(matrix.search(searcher))
    assert len(page["items"]) == 20
    assert {item["personal_id"] for item in page["items"]} <= set(matrix.planted.personal_ids)
    for item in page["items"]:
        assert nested_keys(item) == {
            "personal_id",
            "full_name",
            "date_of_birth",
            "permanent_address",
            "permanent_address.province_code",
        }

    assert set(ok(matrix.read(multi, purpose=P1))) == {"personal_id", "full_name"}
    assert set(ok(matrix.read(multi, purpose=P2))) == {"personal_id", "full_name", "gender"}
    assert ok(matrix.read(multi, "residence", purpose=None, actor=None)) == whole


def test_tokens_carry_the_operations_in_force(
    matrix: Matrix, full: Agency, narrow: Agency, searcher: Agency, multi: Agency
) -> None:
    def scope(agency: Agency) -> str:
        response = matrix.http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(agency.client_id, agency.secret)
        )
        return str(ok(response)["scope"])

    assert scope(full) == "population:read population:search"
    assert scope(narrow) == "population:read"
    assert scope(searcher) == "population:search"
    assert scope(multi) == "population:read residence:read"


def test_services_lists_exactly_the_grants_in_force(
    matrix: Matrix, full: Agency, narrow: Agency, searcher: Agency, multi: Agency
) -> None:
    def services(agency: Agency) -> dict[str, Any]:
        body: dict[str, Any] = ok(matrix.http.get("/v1/services", headers=agency.headers()))
        assert body["client_id"] == agency.client_id
        assert body["scopes"] == []
        return {db["database"]: db for db in body["databases"]}

    everything = services(full)
    assert set(everything) == {"population"}
    assert everything["population"]["operations"] == ["read", "search"]
    assert everything["population"]["contract"] == Citizen.contract_id()
    (grant,) = everything["population"]["grants"]
    assert (grant["id"], grant["fields"], grant["purposes"]) == (full.grants["all"], None, None)

    (grant,) = services(narrow)["population"]["grants"]
    assert grant["fields"] == ["date_of_birth", "full_name", "personal_id"]
    assert grant["purposes"] == [P1]

    population = services(searcher)["population"]
    assert population["operations"] == ["search"]
    assert [g["id"] for g in population["grants"]] == [searcher.grants["now"]]

    both = services(multi)
    assert set(both) == {"population", "residence"}
    assert sorted(g["id"] for g in both["population"]["grants"]) == sorted([multi.grants["p1"], multi.grants["p2"]])
    (residence,) = both["residence"]["grants"]
    assert (residence["require_purpose"], residence["require_actor"]) == (False, False)


# --- every ungranted path is a 403 ----------------------------------------------------------------------------------

UNGRANTED = [
    # client, request, problem
    ("full", "read residence", "insufficient-scope"),
    ("full", "search residence", "insufficient-scope"),
    ("narrow", "search", "insufficient-scope"),
    ("narrow", "read for P2", "access-denied"),
    ("narrow", "read residence", "insufficient-scope"),
    ("searcher", "read", "insufficient-scope"),
    ("searcher", "search by old id", "access-denied"),
    ("searcher", "search by name and old id", "access-denied"),
    ("multi", "read for P3", "access-denied"),
    ("multi", "search", "insufficient-scope"),
    ("multi", "search residence", "insufficient-scope"),
]


@pytest.mark.parametrize(("who", "what", "slug"), UNGRANTED, ids=[f"{w}-{x}" for w, x, _ in UNGRANTED])
def test_every_ungranted_path_is_a_403(
    request: pytest.FixtureRequest, matrix: Matrix, who: str, what: str, slug: str
) -> None:
    agency: Agency = request.getfixturevalue(who)
    by_name = {"full_name": matrix.planted.full_name, "date_of_birth": str(matrix.planted.year)}
    response = {
        "read": lambda: matrix.read(agency),
        "read residence": lambda: matrix.read(agency, "residence"),
        "read for P2": lambda: matrix.read(agency, purpose=P2),
        "read for P3": lambda: matrix.read(agency, purpose=P3),
        "search": lambda: matrix.search(agency),
        "search residence": lambda: matrix.search(agency, database="residence"),
        "search by old id": lambda: matrix.search(agency, {"old_id_number": OLD_ID}),
        "search by name and old id": lambda: matrix.search(agency, {**by_name, "old_id_number": OLD_ID}),
    }[what]()
    body = refused(response, 403, slug)
    assert matrix.planted.full_name not in response.text  # no record data
    assert "items" not in body
    if slug == "insufficient-scope":
        assert body["required_scope"].endswith((":read", ":search"))


def test_an_expired_grant_no_longer_widens_a_search(matrix: Matrix, searcher: Agency) -> None:
    # The expired grant covered every field: with it, this search would be allowed and answer whole records.
    refused(matrix.search(searcher, {"old_id_number": OLD_ID}), 403, "access-denied")
    for item in ok(matrix.search(searcher))["items"]:
        assert "gender" not in item


# --- purpose and actor headers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "omit", "header"),
    [
        ("full", "purpose", "X-Purpose"),
        ("full", "actor", "X-Actor-Id"),
        ("full", "both", "X-Purpose"),
        ("narrow", "purpose", "X-Purpose"),
        ("narrow", "actor", "X-Actor-Id"),
        ("searcher", "actor", "X-Actor-Id"),
    ],
)
def test_a_missing_header_is_a_400_naming_it(
    request: pytest.FixtureRequest, matrix: Matrix, who: str, omit: str, header: str
) -> None:
    agency: Agency = request.getfixturevalue(who)
    headers = {
        "purpose": {"purpose": None},
        "actor": {"actor": None},
        "both": {"purpose": None, "actor": None},
    }[omit]
    response = matrix.search(agency, **headers) if who == "searcher" else matrix.read(agency, **headers)
    body = refused(response, 400, "bad-header")
    assert body["header"] == header
    assert header in body["detail"]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Purpose", "1.001612 H41"),
        ("X-Purpose", "-1.001612"),
        ("X-Purpose", "1" * 65),
        ("X-Actor-Id", "CB/068;0001"),
        ("X-Actor-Id", "nguyen van a"),
        ("X-Actor-Id", "_staff"),
    ],
)
def test_a_malformed_header_is_a_400_naming_it(matrix: Matrix, full: Agency, header: str, value: str) -> None:
    headers = {**full.headers(), header: value}
    response = matrix.http.get(f"/v1/databases/population/records/{matrix.planted.personal_ids[0]}", headers=headers)
    body = refused(response, 400, "bad-header")
    assert body["header"] == header
    assert value not in response.text


def test_a_grant_without_requirements_ignores_absent_headers_but_checks_given_ones(
    matrix: Matrix, multi: Agency
) -> None:
    ok(matrix.read(multi, "residence", purpose=None, actor=None))
    body = refused(matrix.read(multi, "residence", purpose="not valid", actor=None), 400, "bad-header")
    assert body["header"] == "X-Purpose"


# --- changes apply at once ------------------------------------------------------------------------------------------


def test_a_revoked_grant_is_refused_at_once(matrix: Matrix) -> None:
    agency = matrix.make({"read": {}, "search": {"operations": ["search"], "fields": ["full_name", "date_of_birth"]}})
    ok(matrix.read(agency))
    ok(matrix.search(agency))
    revoked = matrix.http.delete(f"/v1/admin/grants/{agency.grants['read']}", headers=matrix.admin)
    assert revoked.status_code == 200, revoked.text
    # The token still carries population:read; the grant behind it is gone.
    refused(matrix.read(agency), 403, "access-denied")
    ok(matrix.search(agency))
    services = ok(matrix.http.get("/v1/services", headers=agency.headers()))
    assert [g["id"] for db in services["databases"] for g in db["grants"]] == [agency.grants["search"]]
    new = fetch_token(matrix.http, ClientCredentials(agency.client_id, agency.secret))
    response = matrix.http.get(
        f"/v1/databases/population/records/{matrix.planted.personal_ids[0]}",
        headers={**agency.headers(), "Authorization": f"Bearer {new}"},
    )
    refused(response, 403, "insufficient-scope")


def test_a_new_grant_applies_at_once(matrix: Matrix) -> None:
    agency = matrix.make({"p1": {"fields": ["full_name"], "purposes": [P1]}})
    assert set(ok(matrix.read(agency))) == {"personal_id", "full_name"}
    refused(matrix.read(agency, purpose=P2), 403, "access-denied")
    response = matrix.http.post(
        "/v1/admin/grants",
        json={"client_id": agency.client_id, "database": "population", "operations": ["read"], "fields": ["gender"]},
        headers=matrix.admin,
    )
    assert response.status_code == 201, response.text
    assert set(ok(matrix.read(agency))) == {"personal_id", "full_name", "gender"}
    assert set(ok(matrix.read(agency, purpose=P2))) == {"personal_id", "gender"}


def test_a_suspended_client_is_refused_at_once_and_restored_on_activation(matrix: Matrix, full: Agency) -> None:
    agency = matrix.make({"all": {"operations": ["read", "search"]}})
    ok(matrix.read(agency))
    suspended = matrix.http.post(f"/v1/admin/clients/{agency.client_id}/suspend", headers=matrix.admin)
    assert suspended.status_code == 200, suspended.text
    for response in (
        matrix.read(agency),
        matrix.search(agency),
        matrix.http.get("/v1/services", headers=agency.headers()),
    ):
        refused(response, 401, "invalid-token")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    token = matrix.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(agency.client_id, agency.secret)
    )
    assert refused(token, 401, "oauth-error")["error"] == "invalid_client"
    # Other clients are not affected.
    ok(matrix.read(full))

    activated = matrix.http.post(f"/v1/admin/clients/{agency.client_id}/activate", headers=matrix.admin)
    assert activated.status_code == 200, activated.text
    assert set(ok(matrix.read(agency))) == ALL_FIELDS
    fetch_token(matrix.http, ClientCredentials(agency.client_id, agency.secret))


# --- two gateways on one PostgreSQL database -------------------------------------------------------------------


@dataclass
class Pair:
    a: httpx.Client
    b: httpx.Client
    admin: dict[str, str]
    target: ClientCredentials
    token: str
    url: str


def _listeners(url: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                found = await conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND query LIKE 'LISTEN %gateway_access%'"
                    )
                )
                return int(found.scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


def _execute(url: str, statement: str, **params: Any) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(statement), params)
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def pair(make_settings: Callable[..., Settings]) -> Iterator[Pair]:
    """Gateways A and B on one new PostgreSQL database, caching client access for an hour."""
    with postgres_database(prefix="gwpair") as url:
        migrations.upgrade(url)

        async def clients() -> tuple[ClientCredentials, ClientCredentials]:
            async with standalone_session(url) as session:
                admin, admin_secret = await create_client(session, name="Admin", scopes=["admin"], client_id="admin")
                target, secret = await create_client(
                    session, name="Target", scopes=["population:read"], client_id="target"
                )
            return ClientCredentials(admin.client_id, admin_secret), ClientCredentials(target.client_id, secret)

        admin, target = asyncio.run(clients())
        settings = make_settings(database_url=url, access_cache_seconds=3600)
        with (
            InProcessGateway(create_app(settings)) as a,
            InProcessGateway(create_app(settings)) as b,
            a.client() as http_a,
            b.client() as http_b,
        ):
            deadline = time.monotonic() + 15
            while _listeners(url) < 2:
                assert time.monotonic() < deadline, "the gateways did not start listening"
                time.sleep(0.05)
            admin_headers = {"Authorization": f"Bearer {fetch_token(http_a, admin)}"}
            yield Pair(http_a, http_b, admin_headers, target, fetch_token(http_a, target), url)


def _until(check: Callable[[], bool], timeout: float = 5) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "the change did not reach the other gateway"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.mark.postgres
def test_a_change_through_one_gateway_applies_at_once_in_the_other(pair: Pair, planted: PlantedSearch) -> None:
    record = f"/v1/databases/population/records/{planted.personal_ids[0]}"
    headers = {"Authorization": f"Bearer {pair.token}", "X-Purpose": P1, "X-Actor-Id": ACTOR}

    def status_on_b() -> int:
        return pair.b.get(record, headers=headers).status_code

    assert set(ok(pair.b.get(record, headers=headers))) == ALL_FIELDS
    # B caches the client's access for an hour: a change nobody announces is not seen.
    _execute(pair.url, "UPDATE grants SET fields = '[\"full_name\"]' WHERE client_id = 'target'")
    assert set(ok(pair.b.get(record, headers=headers))) == ALL_FIELDS

    suspended = pair.a.post("/v1/admin/clients/target/suspend", headers=pair.admin)
    assert suspended.status_code == 200, suspended.text
    assert _until(lambda: status_on_b() == 401) < 5

    activated = pair.a.post("/v1/admin/clients/target/activate", headers=pair.admin)
    assert activated.status_code == 200, activated.text
    _until(lambda: status_on_b() == 200)
    # Reloaded: B now sees the grant as stored, narrowed above.
    assert set(ok(pair.b.get(record, headers=headers))) == {"personal_id", "full_name"}

    (grant,) = activated.json()["grants"]
    assert pair.a.delete(f"/v1/admin/grants/{grant['id']}", headers=pair.admin).status_code == 200
    _until(lambda: status_on_b() == 403)
    refused(pair.b.get(record, headers=headers), 403, "access-denied")
