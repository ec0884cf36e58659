"""Preparing the demo: simulated population data, a demo client, and a ready-to-paste request."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

import sqlalchemy as sa

from connectors.sql.urls import to_async_url
from simulators.population import CITIZENS, seed_population

from .db import create_engine
from .registry import ConnectorRegistry
from .services.clients import create_client, get_client, rotate_secret
from .services.tokens import issue_token_for
from .settings import Settings
from .state import GatewayState

DEMO_CLIENT_ID = "demo"
DEMO_SCOPES = ("population:read", "population:search")
# A public-service procedure code and an officer's staff code, as every data request must state them.
DEMO_PURPOSE = "1.001612.000.00.00.H41"
DEMO_ACTOR = "CB-068-0001"


@dataclass(frozen=True, slots=True)
class DemoInfo:
    """What the demo prints before it serves."""

    citizens: int
    population_url: str
    client_id: str
    client_secret: str
    access_token: str
    expires_in: int
    sample_personal_id: str
    sample_full_name: str
    sample_birth_year: str


async def _sample_citizen(url: str) -> tuple[str, str, str]:
    """A living citizen of the demo data: personal id, full name and year of birth."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            stmt = (
                sa.select(CITIZENS.c.so_dinh_danh, CITIZENS.c.ho_ten, CITIZENS.c.ngay_sinh)
                .where(CITIZENS.c.ngay_mat.is_(None), CITIZENS.c.so_dinh_danh.startswith("068"))
                .order_by(CITIZENS.c.so_dinh_danh)
                .limit(1)
            )
            personal_id, full_name, born = (await conn.execute(stmt)).one()
            return str(personal_id), str(full_name), str(born)[:4]
    finally:
        await engine.dispose()


async def prepare_demo(settings: Settings, *, citizens: int, seed: int) -> DemoInfo:
    """Seed the simulated population database (if empty), renew the demo client's secret, issue a token.

    The database schema must already be migrated. Only the demo's own SQLite file is ever seeded.
    """
    demo_url = str(to_async_url(f"sqlite:///{settings.population_demo_path}"))
    count = await seed_population(demo_url, count=citizens, seed=seed)
    state = GatewayState(settings=settings, registry=ConnectorRegistry())
    try:
        await state.start()
        async with state.sessionmaker() as session:
            client = await get_client(session, DEMO_CLIENT_ID)
            if client is None:
                client, secret = await create_client(
                    session, name="Demo client", scopes=DEMO_SCOPES, client_id=DEMO_CLIENT_ID
                )
            else:
                secret = await rotate_secret(session, client)
            token = await issue_token_for(session, state.tokens, client)
    finally:
        await state.close()
    personal_id, full_name, birth_year = await _sample_citizen(demo_url)
    return DemoInfo(
        citizens=count,
        population_url=demo_url,
        client_id=client.client_id,
        client_secret=secret,
        access_token=token.access_token,
        expires_in=token.expires_in,
        sample_personal_id=personal_id,
        sample_full_name=full_name,
        sample_birth_year=birth_year,
    )


def demo_banner(info: DemoInfo, *, base_url: str, population_url: str) -> str:
    """The text printed before the demo serves: credentials and ready curl command lines."""
    record_url = f"{base_url}/v1/databases/population/records/{info.sample_personal_id}"
    headers = (
        f"-H {shlex.quote('Authorization: Bearer ' + info.access_token)} "
        f"-H 'X-Purpose: {DEMO_PURPOSE}' -H 'X-Actor-Id: {DEMO_ACTOR}'"
    )
    fetch = f"curl -s {headers} {record_url}"
    get_token = (
        f"curl -s -u {shlex.quote(info.client_id + ':' + info.client_secret)} "
        f"-d grant_type=client_credentials {base_url}/oauth/token"
    )
    query = json.dumps(
        {"full_name": info.sample_full_name, "date_of_birth": info.sample_birth_year}, ensure_ascii=False
    )
    search = (
        f"curl -s {headers} -H 'Content-Type: application/json' -d {shlex.quote(query)} "
        f"{base_url}/v1/databases/population/search"
    )
    note = ""
    if population_url != info.population_url:
        note = "\n  (the population connector is configured to another database; demo data was seeded beside it)"
    return "\n".join(
        [
            "",
            "axis-gateway demo",
            f"  simulated population database: {info.citizens} citizens in {info.population_url}{note}",
            "",
            "Demo client (its secret is renewed every time the demo starts):",
            f"  client_id:     {info.client_id}",
            f"  client_secret: {info.client_secret}",
            "",
            f"Fetch a citizen through the gateway (the token inside is valid for {info.expires_in // 60} minutes):",
            "",
            f"  {fetch}",
            "",
            "(X-Purpose: the public-service procedure the request is for; X-Actor-Id: the officer making it.)",
            "",
            "Get a new token:",
            f"  {get_token}",
            "Search by full name and date of birth (or year of birth):",
            f"  {search}",
            f"API documentation: {base_url}/docs",
            "",
        ]
    )
