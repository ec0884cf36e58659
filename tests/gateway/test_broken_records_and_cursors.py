"""What a client learns, and does, with a record of the sector system that breaks the contract.

* A search's cursor tells its caller nothing: the connector's cursor inside it holds the key of the page's last
  row, and that row may be one the caller was not given (it broke the contract, and was only counted in
  ``skipped``), or the sector system's own next-page link. The gateway encrypts it; the cursor still pages on, and
  a cursor altered, made up, or given for another search is refused.
* Reading one broken record again and again does not make the sector system's data look broken: the evidence of
  the integration axis counts a record's violation once per window, so one client cannot take the connection
  ``down`` (cause ``contract-violation``) for everyone by asking for the same record twenty times."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from support import STATED, ClientCredentials, InProcessGateway, fetch_token

from connectors.sql.urls import to_async_url
from gateway.core.db import create_engine, standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.identity.grants import GrantCreate, add_grant
from gateway.records.evidence import Evidence
from simulators.population import CITIZENS, seed_population

NAME = "Phạm Thị Con Trỏ"
SEARCH = "/v1/databases/population/search"


async def _plant(url: str) -> tuple[int, list[str]]:
    """Three women born the same year, renamed :data:`NAME`; the first (by key) breaks the contract (its gender
    is not the one its personal id means). Their birth year and keys."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            year = sa.func.substr(CITIZENS.c.ngay_sinh, 1, 4)
            rows = (
                await conn.execute(
                    sa.select(CITIZENS.c.so_dinh_danh, year)
                    .where(CITIZENS.c.gioi_tinh == 2, CITIZENS.c.ngay_mat.is_(None))
                    .order_by(year, CITIZENS.c.so_dinh_danh)
                )
            ).all()
            by_year: dict[str, list[str]] = {}
            for key, birth in rows:
                by_year.setdefault(birth, []).append(key)
            born, keys = next((b, k[:3]) for b, k in by_year.items() if len(k) >= 3)
            await conn.execute(sa.update(CITIZENS).where(CITIZENS.c.so_dinh_danh.in_(keys)).values(ho_ten=NAME))
            await conn.execute(sa.update(CITIZENS).where(CITIZENS.c.so_dinh_danh == keys[0]).values(gioi_tinh=1))
    finally:
        await engine.dispose()
    return int(born), sorted(keys)


@pytest.fixture(scope="module")
def searching(
    tmp_path_factory: pytest.TempPathFactory, make_settings: Callable[..., Settings], gateway_database_url: str
) -> Iterator[tuple[httpx.Client, dict[str, str], int, list[str], InProcessGateway]]:
    """A gateway on a population database of its own with the planted rows, and the headers of a client granted
    to search it by name and date of birth, answered those fields only."""
    directory: Path = tmp_path_factory.mktemp("cursor-sector")
    url = str(to_async_url(f"sqlite:///{directory / 'population.db'}"))
    asyncio.run(seed_population(url, count=400, seed=7))
    year, keys = asyncio.run(_plant(url))
    client_id = f"rv-cursor-{uuid.uuid4().hex[:8]}"

    async def make() -> str:
        async with standalone_session(gateway_database_url) as session:
            _client, secret = await create_client(session, name="Cursor reader", client_id=client_id)
            await add_grant(
                session,
                GrantCreate(
                    client_id=client_id,
                    database="population",
                    operations=["read", "search"],
                    fields=["full_name", "date_of_birth"],
                ),
            )
            return secret

    secret = asyncio.run(make())
    settings = make_settings(connectors={"population": {"config": {"url": url}}})
    with InProcessGateway(create_app(settings)) as gateway, gateway.client() as api:
        token = fetch_token(api, ClientCredentials(client_id, secret))
        yield api, {"Authorization": f"Bearer {token}", **STATED}, year, keys, gateway


def _decodings(text: str, depth: int = 0) -> list[bytes]:
    """Everything a reader could decode from ``text``: each dot-separated part as base64, and again within."""
    found = [text.encode()]
    if depth > 3:
        return found
    for part in text.replace('"', ".").replace(",", ".").split("."):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            continue
        found.append(raw)
        with contextlib.suppress(UnicodeDecodeError):
            found.extend(_decodings(raw.decode(), depth + 1))
    return found


def test_the_cursor_does_not_carry_the_key_of_a_record_left_out(
    searching: tuple[httpx.Client, dict[str, str], int, list[str], InProcessGateway],
) -> None:
    api, headers, year, keys, _gateway = searching
    body = {"full_name": NAME, "date_of_birth": str(year), "page_size": 1}
    first = api.post(SEARCH, json=body, headers=headers)
    assert first.status_code == 200, first.text
    page = first.json()
    # The first match breaks the contract: left out, counted, its key not answered.
    assert page["items"] == []
    assert page["skipped"] == 1
    cursor = page["next_cursor"]
    assert cursor
    for decoded in _decodings(cursor):
        assert keys[0].encode() not in decoded, "the cursor tells the key of the record left out"

    # The cursor still pages on, through the records the caller may see.
    seen: list[dict[str, object]] = []
    while cursor is not None:
        response = api.post(SEARCH, json={**body, "cursor": cursor}, headers=headers)
        assert response.status_code == 200, response.text
        seen.extend(response.json()["items"])
        cursor = response.json()["next_cursor"]
    assert len(seen) == 2
    assert all(set(item) == {"personal_id", "full_name", "date_of_birth"} for item in seen)
    assert sorted(str(item["personal_id"]) for item in seen) == keys[1:]


def test_an_altered_or_foreign_cursor_is_refused(
    searching: tuple[httpx.Client, dict[str, str], int, list[str], InProcessGateway],
) -> None:
    api, headers, year, _keys, _gateway = searching
    body = {"full_name": NAME, "date_of_birth": str(year), "page_size": 1}
    cursor = api.post(SEARCH, json=body, headers=headers).json()["next_cursor"]
    header, _, sealed = cursor.partition(".")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    for bad in (f"{header}.{flipped}", f"{header}.", header, "x" * 40, f"{header}.{sealed}é"):
        refused = api.post(SEARCH, json={**body, "cursor": bad}, headers=headers)
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["type"] == "/problems/invalid-cursor"
    other = api.post(SEARCH, json={**body, "date_of_birth": str(year + 1), "cursor": cursor}, headers=headers)
    assert other.status_code == 400, other.text
    assert other.json()["detail"] == "The cursor belongs to another search."


def test_reading_one_broken_record_again_and_again_counts_one_violation(
    searching: tuple[httpx.Client, dict[str, str], int, list[str], InProcessGateway],
) -> None:
    api, headers, _year, keys, gateway = searching
    evidence = gateway.app.state.gateway.registry.databases["population"].evidence

    def window() -> tuple[int, int]:
        summary = evidence.summary(300.0)
        return summary.calls, summary.violations

    calls, violations = window()
    for _ in range(20):
        broken = api.get(f"/v1/databases/population/records/{keys[0]}", headers=headers)
        assert broken.status_code == 502, broken.text
        assert broken.json()["type"] == "/problems/contract-violation"
    after = window()
    assert after[0] == calls + 20  # every call counts as a call
    assert after[1] - violations <= 1, "one broken record counted as many violations"

    # Good records count as calls, without violations.
    for key in keys[1:]:
        assert api.get(f"/v1/databases/population/records/{key}", headers=headers).status_code == 200
    assert window() == (after[0] + 2, after[1])


def test_a_broken_record_counts_again_once_its_window_has_passed() -> None:
    now = [1000.0]
    evidence = Evidence.for_window(10.0, 100, clock=lambda: now[0])

    def violation(*records: str) -> None:
        evidence.record_call(0.01, failed=False, violation=True, records=records)

    for _ in range(5):
        violation("068185000001")
    violation("068185000002")
    violation()  # a violation whose record is not known counts each time
    violation()
    summary = evidence.summary(10.0)
    assert (summary.calls, summary.violations) == (8, 4)
    now[0] += 11
    violation("068185000001")
    violation("068185000001")
    summary = evidence.summary(10.0)
    assert (summary.calls, summary.violations) == (2, 1)
