"""Preparing the demo: the simulated sector systems, a demo client, and ready-to-paste requests.

Every simulated sector system of :data:`simulators.sectors.SECTOR_SYSTEMS` is started (its data seeded once in
``data_dir/sectors``, its servers on 127.0.0.1) and configured as the connector of its catalogued database, unless
the operator configured that database otherwise. The other catalogue entries stay ``pending``. Some databases
(:data:`DEMO_AXIS_ROUTES`) are reached through a simulated national integration platform
(:mod:`simulators.ndxp_hub`) rather than directly, configured with an axis profile, as a province connects sector
systems through the national axis. The simulated data carries data-quality defects at known rates
(:data:`simulators.defects.DEMO_DEFECTS` in the population database, :data:`simulators.defects.DEMO_SECTOR_DEFECTS`
in the others) and every database is scanned once (a sample), so that ``gateway quality report <database>`` and the
metrics have something to show.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shlex
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import httpx
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.discovery import discover_connectors
from connectors.errors import ConnectorError
from connectors.sql.urls import to_async_url
from contracts.dates import vietnam_today
from gateway.audit import administration
from gateway.core.db import create_engine, one_transaction_sessionmaker, utcnow
from gateway.core.files import FILE_MODE, private_directory
from gateway.core.logs import get_logger
from gateway.core.settings import ConnectorInstance, Settings
from gateway.http.state import GatewayState
from gateway.identity.client_credentials import issue_token_for
from gateway.identity.clients import (
    ClientUpdate,
    SecretRotation,
    create_client,
    describe_client,
    get_client,
    rotate_client_secret,
    update_client,
)
from gateway.identity.grants import GrantCreate, add_grant
from gateway.identity.models import Client, Grant
from gateway.identity.request_state import AdminDescriptor
from gateway.quality.service import scan_unscanned
from gateway.records.registry import ConnectorRegistry
from simulators.defects import DEMO_DEFECTS, DEMO_SECTOR_DEFECTS
from simulators.http import SimulatorServer
from simulators.ndxp_hub import NdxpHub, via_hub
from simulators.population import CITIZENS
from simulators.sectors import SECTOR_SYSTEMS, SectorContext, load_sector_system

DEMO_CLIENT_ID = "demo"
DEMO_DATA_FILE = "demo.json"
DEMO_ROLES = ("axis",)
#: The demo's other clients: client id -> (name, scopes). Their secrets are renewed with the demo client's.
DEMO_STAFF_CLIENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "demo-audit": ("Demo auditor", ("audit",)),
    "demo-admin": ("Demo administrator", ("admin",)),
}
DEMO_TOKEN_DIRECTORY = "demo-tokens"  # noqa: S105 - a directory name
"""Where (in the data directory) the demo keeps a current token of each of its clients, one file per client id,
renewed while it serves, so that the printed commands read it and keep working."""
DEMO_QUALITY_SAMPLE = 1000
"""Records of each simulated database the demo's first start scans for data quality (the REST and SOAP systems at
the rate their sample listing allows: some seconds each)."""

log = get_logger(__name__)
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
    token_directory: Path
    sample_personal_id: str
    sample_full_name: str
    sample_birth_year: str
    databases: list[str] = field(default_factory=list)
    via_axis: list[str] = field(default_factory=list)
    staff_secrets: dict[str, str] = field(default_factory=dict)
    """The secrets of :data:`DEMO_STAFF_CLIENTS`, by client id."""
    unscanned: list[str] = field(default_factory=list)
    """The simulated databases whose first data-quality scan runs once the gateway serves."""

    def token_file(self, client_id: str) -> Path:
        """The file holding a current token of ``client_id`` (one of the demo's clients)."""
        return self.token_directory / client_id

    def credentials(self) -> dict[str, str]:
        """Every demo client's secret, by client id."""
        return {self.client_id: self.client_secret, **self.staff_secrets}


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


#: Records sampled to find a valid canary record (the demo plants defects: some records break the contract).
CANARY_SAMPLE = 50


async def declare_canary(connector_name: str, config: dict[str, Any]) -> str | None:
    """Set ``config["canary"]`` (unless set: the REST and SOAP simulators declare their own) to the key of a record
    of the sector system that satisfies the contract, found through the connector's ``sample()``; returns it
    (``None`` when the connector cannot sample, or no valid record was found)."""
    if config.get("canary"):
        return str(config["canary"])
    connector_class = discover_connectors(only={connector_name}).connectors.get(connector_name)
    if connector_class is None:
        return None
    try:
        async with connector_class.from_config(config) as connector:
            rows = await connector.sample(CANARY_SAMPLE)
            for row in rows:
                try:
                    record = connector.contract.model_validate(row)
                except ValueError:
                    continue
                record_id = record.record_id()
                await connector.get(record_id)
                config["canary"] = record_id
                return record_id
    except ConnectorError:
        return None
    return None


async def start_sector_systems(settings: Settings, context: SectorContext) -> list[str]:
    """Start every simulated sector system and configure it as its database's connector, unless the settings
    configure that database already (population: unless its URL was changed). Returns the databases started."""
    started = []
    for database in SECTOR_SYSTEMS:
        system = load_sector_system(database)
        if database == "population":
            # The population database is the demo's SQLite file unless configured otherwise; seeded in any case,
            # so that the other systems find their citizens. The banner notes when it is configured elsewhere.
            await system.start(context)
            demo_url = f"sqlite+aiosqlite:///{settings.population_demo_path}"
            population = settings.connectors.setdefault("population", ConnectorInstance(config={"url": demo_url}))
            if population.connector in (None, "population"):
                population.config.setdefault("url", demo_url)
            if population.config.get("url") == demo_url:
                population.config.setdefault("writes", {})  # the demo's own file accepts submissions
                await declare_canary(population.connector or "population", population.config)
            started.append(database)
            continue
        if database in settings.connectors:
            continue
        try:
            config = await system.start(context)
        except Exception as exc:  # one broken simulator must not stop the demo
            log.error(
                "simulated sector system failed to start", database=database, error=f"{type(exc).__name__}: {exc}"
            )
            continue
        await declare_canary(system.connector, config)
        settings.connectors[database] = ConnectorInstance(connector=system.connector, config=config)
        started.append(database)
    return started


#: The databases the demo reaches through the simulated national platform: database -> (integration service code,
#: protocol). The others are reached directly.
DEMO_AXIS_ROUTES: dict[str, tuple[str, Literal["rest", "soap"]]] = {
    "business": ("BKHDT-DKDN", "rest"),
    "tax": ("BTC-TCT-NNT", "rest"),
    "driving_licences": ("BCA-GPLX", "rest"),
    "judicial_records": ("BTP-LLTP", "soap"),
}


def route_through_hub(settings: Settings, context: SectorContext, started: list[str]) -> list[str]:
    """Start the simulated national platform (on ``context.stack``) and reconfigure the databases of
    :data:`DEMO_AXIS_ROUTES` the demo started so that they go through it. Returns the databases rerouted."""
    chosen = [database for database in started if database in DEMO_AXIS_ROUTES and database in settings.connectors]
    if not chosen:
        return []
    hub = NdxpHub()
    server = SimulatorServer(hub).start()
    context.stack.callback(server.stop)
    for database in chosen:
        service, protocol = DEMO_AXIS_ROUTES[database]
        instance = settings.connectors[database]
        instance.config = via_hub(hub, server.url, service, instance.config, protocol=protocol)
    return chosen


async def _ensure_grants(
    session: AsyncSession, databases: list[str], registry: ConnectorRegistry, done: list[AdminDescriptor]
) -> None:
    """Grant the demo client every operation of each database it holds no grant on; what was granted is added to
    ``done``."""
    held = {
        grant.database
        for grant in (
            await session.exec(
                select(Grant).where(col(Grant.client_id) == DEMO_CLIENT_ID, col(Grant.revoked_at).is_(None))
            )
        ).all()
    }
    for database in databases:
        if database in held or database not in registry.databases:
            continue
        operations = list(registry.databases[database].operations)
        grant = await add_grant(
            session,
            GrantCreate(client_id=DEMO_CLIENT_ID, database=database, operations=operations, note="demo"),
            registry=registry,
        )
        done.append(administration.grant_added(grant))


async def _set_up_clients(
    state: GatewayState, registry: ConnectorRegistry
) -> tuple[tuple[Client, str], dict[str, tuple[Client, str]]]:
    """Renew the demo's clients (a new secret each, the demo's scopes) and the demo client's grants, in one
    transaction with the audit events that say so, as the command line records an administrator's change (the
    OS user as actor): committed with them, or not at all. The demo client and its secret, and the staff's."""
    done: list[AdminDescriptor] = []
    occurred_at, began = utcnow(), time.perf_counter()
    async with one_transaction_sessionmaker(state.engine)() as session:
        demo = await _renew_client(session, DEMO_CLIENT_ID, "Demo client", DEMO_ROLES, done)
        staff = {
            client_id: await _renew_client(session, client_id, name, scopes, done)
            for client_id, (name, scopes) in DEMO_STAFF_CLIENTS.items()
        }
        await _ensure_grants(session, sorted(registry.databases), registry, done)
        if state.settings.audit_enabled:
            connection = await session.connection()
            actor = administration.operating_system_user()
            for descriptor in done:
                event = administration.command_line_event(descriptor, occurred_at=occurred_at, began=began, actor=actor)
                await administration.append_in_transaction(connection, event)
        await session.commit_all()
    return demo, staff


@dataclass(frozen=True, slots=True)
class DemoData:
    """What the demo's simulated data was generated from; kept in ``sectors/demo.json`` so that every later start
    (and every sector system added since) derives its records from the same citizens."""

    citizens: int
    seed: int
    today: date


def demo_data(directory: Path, *, citizens: int, seed: int) -> DemoData:
    """The parameters of the demo data in ``directory``: those recorded there, else (first start) the ones given,
    recorded now. A population database seeded before the parameters were recorded keeps its size."""
    record = directory / DEMO_DATA_FILE
    if record.exists():
        saved = json.loads(record.read_text(encoding="utf-8"))
        return DemoData(int(saved["citizens"]), int(saved["seed"]), date.fromisoformat(saved["today"]))
    chosen = DemoData(citizens, seed, vietnam_today())
    directory.mkdir(parents=True, exist_ok=True)
    record.write_text(
        json.dumps({"citizens": chosen.citizens, "seed": chosen.seed, "today": chosen.today.isoformat()}) + "\n",
        encoding="utf-8",
    )
    return chosen


async def prepare_demo(settings: Settings, *, citizens: int, seed: int, stack: ExitStack) -> DemoInfo:
    """Start the simulated sector systems (seeding their data if absent), renew the demo client's secret and
    grants, issue a token. The servers started stay up until ``stack`` closes.

    The database schema must already be migrated. Only the demo's own SQLite files are ever seeded.
    """
    if not settings.webhook_allowed_networks:
        # The demo's webhook receivers run on this machine: allow loopback (never the default elsewhere).
        settings.webhook_allowed_networks = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    directory = private_directory(settings.data_dir / "sectors")
    if not (directory / DEMO_DATA_FILE).exists() and settings.population_demo_path.exists():
        citizens = await _count_citizens(str(to_async_url(f"sqlite:///{settings.population_demo_path}")))
    data = demo_data(directory, citizens=citizens, seed=seed)
    context = SectorContext(
        data_dir=directory,
        citizens=data.citizens,
        seed=data.seed,
        today=data.today,
        stack=stack,
        defects=DEMO_DEFECTS,
        sector_defects=DEMO_SECTOR_DEFECTS,
    )
    started = await start_sector_systems(settings, context)
    log.info("simulated sector systems started", databases=started)
    rerouted = route_through_hub(settings, context, started)
    if rerouted:
        log.info("reached through the simulated national platform", databases=rerouted)
    demo_url = str(to_async_url(context.sqlite_url("population")))
    registry = ConnectorRegistry.from_settings(settings)
    state = GatewayState(settings=settings, registry=registry)
    try:
        await state.start()
        (client, secret), staff = await _set_up_clients(state, registry)
        async with state.sessionmaker() as session:
            # The population database now (a few seconds); the others once the gateway serves (scan_later).
            scanned = await scan_unscanned(
                session, registry, settings, databases=("population",), sample_size=DEMO_QUALITY_SAMPLE
            )
            if scanned:
                log.info("data quality scanned", databases=scanned)
            token = await issue_token_for(session, state.tokens, client)
            token_directory = private_directory(settings.data_dir / DEMO_TOKEN_DIRECTORY)
            write_token(token_directory / client.client_id, token.access_token)
            for client_id, (staff_client, _) in staff.items():
                issued = await issue_token_for(session, state.tokens, staff_client)
                write_token(token_directory / client_id, issued.access_token)
    finally:
        await state.close()
    count = await _count_citizens(demo_url)
    personal_id, full_name, birth_year = await _sample_citizen(demo_url)
    return DemoInfo(
        citizens=count,
        population_url=demo_url,
        client_id=client.client_id,
        client_secret=secret,
        access_token=token.access_token,
        expires_in=token.expires_in,
        token_directory=token_directory,
        sample_personal_id=personal_id,
        sample_full_name=full_name,
        sample_birth_year=birth_year,
        databases=sorted(registry.databases),
        via_axis=sorted(rerouted),
        staff_secrets={client_id: secret for client_id, (_, secret) in staff.items()},
        unscanned=sorted(set(started) - {"population"}),
    )


async def scan_unscanned_databases(settings: Settings, databases: list[str]) -> None:
    """Scan the data quality of those of ``databases`` not scanned yet, with connectors of its own (the demo runs
    this beside the serving gateway: sampling the REST and SOAP systems, at the rate their listing allows, takes
    a while)."""
    registry = ConnectorRegistry.from_settings(settings)
    engine = create_engine(settings.database_url)
    try:
        await registry.start()
        async with AsyncSession(engine, expire_on_commit=False) as session:
            scanned = await scan_unscanned(
                session, registry, settings, databases=databases, sample_size=DEMO_QUALITY_SAMPLE
            )
        if scanned:
            log.info("data quality scanned", databases=scanned)
    finally:
        await registry.close()
        await engine.dispose()


def scan_later(settings: Settings, databases: list[str]) -> Callable[[], None]:
    """Start :func:`scan_unscanned_databases` in a thread of its own; returns the function that stops it (the scan
    is cancelled, its connections closed) for when the demo stops."""
    import asyncio

    started = threading.Event()
    running: dict[str, Any] = {}

    async def scan() -> None:
        running["loop"], running["task"] = asyncio.get_running_loop(), asyncio.current_task()
        started.set()
        await scan_unscanned_databases(settings, databases)

    def run() -> None:
        try:
            asyncio.run(scan())
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # the demo serves on without these scores; the log says why
            log.warning("data-quality scan of the demo failed", error=type(exc).__name__)
        finally:
            started.set()

    thread = threading.Thread(target=run, name="demo-quality-scan", daemon=True)
    thread.start()

    def stop() -> None:
        started.wait(5)
        loop, task = running.get("loop"), running.get("task")
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the scan ended and its loop closed meanwhile
                loop.call_soon_threadsafe(task.cancel)
        thread.join(30)

    return stop


async def _renew_client(
    session: AsyncSession, client_id: str, name: str, scopes: tuple[str, ...], done: list[AdminDescriptor]
) -> tuple[Client, str]:
    """Create the demo's client ``client_id`` with ``scopes``, or give it a new secret (and those scopes); what
    was done is added to ``done``."""
    client = await get_client(session, client_id)
    if client is None:
        client, secret = await create_client(session, name=name, scopes=scopes, client_id=client_id)
        done.append(administration.client_created(await describe_client(session, client)))
        return client, secret
    rotated = await rotate_client_secret(session, client, SecretRotation(overlap_seconds=0))
    done.append(administration.secret_rotated(client_id, 0, rotated.previous_secrets_expire_at))
    if set(client.scopes) != set(scopes):
        before = administration.client_values(client)
        client = await update_client(session, client, ClientUpdate(scopes=list(scopes)))
        done.append(administration.client_updated(client_id, {"scopes"}, before, administration.client_values(client)))
    return client, rotated.client_secret


def write_token(path: Path, token: str) -> None:
    """Replace the token in ``path`` (mode 0600) at once: a reader sees the old token or the new one."""
    partial = path.with_name(path.name + ".new")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(token)
    partial.replace(path)


#: Seconds before a retry when renewing the demo's tokens failed (the server not up yet, a restart).
TOKEN_RETRY_SECONDS = 10.0


def keep_tokens_fresh(info: DemoInfo, base_url: str, stop: threading.Event) -> None:
    """Until ``stop`` is set, renew the token file of each demo client (from the gateway at ``base_url``) when half
    of its lifetime has passed, so that the printed commands never meet an expired token."""
    every = max(info.expires_in / 2, 1.0)
    wait = every
    with httpx.Client(base_url=base_url, timeout=10.0, trust_env=False) as http:
        while not stop.wait(wait):
            wait = every
            for client_id, secret in info.credentials().items():
                try:
                    answer = http.post(
                        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
                    )
                    answer.raise_for_status()
                    write_token(info.token_file(client_id), str(answer.json()["access_token"]))
                except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
                    log.warning("demo token not renewed", client_id=client_id, error=type(exc).__name__)
                    wait = TOKEN_RETRY_SECONDS


async def _count_citizens(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(CITIZENS))).scalar_one())
    finally:
        await engine.dispose()


def shown_path(path: Path) -> str:
    """``path`` as a shell command line names it: relative to the working directory when inside it, quoted."""
    try:
        shown = str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(path.resolve())
    return shlex.quote(shown)


def demo_banner(info: DemoInfo, *, base_url: str, population_url: str) -> str:
    """The text printed before the demo serves: the clients' credentials and short command lines that read the
    clients' current tokens from their files (renewed while the demo serves), each of which runs on its own."""

    def bearer(client_id: str) -> str:
        return f'-H "Authorization: Bearer $(cat {shown_path(info.token_file(client_id))})"'

    record_url = f"{base_url}/v1/databases/population/records/{info.sample_personal_id}"
    headers = f"{bearer(info.client_id)} -H 'X-Purpose: {DEMO_PURPOSE}' -H 'X-Actor-Id: {DEMO_ACTOR}'"
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
    axis = f"curl -s {bearer(info.client_id)} {base_url}/v1/axis"
    change = json.dumps(
        {
            "operations": [
                {
                    "op": "update",
                    "record_id": info.sample_personal_id,
                    "fields": {"marital_status": "married"},
                    "metadata": {"changed_at": "2026-11-20T08:00:00+07:00", "source_reference": "KH-2026-000001"},
                }
            ]
        }
    )
    submit = (
        f"curl -s {headers} -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-marriage-1' "
        f"-d {shlex.quote(change)} {base_url}/v1/databases/population/records"
    )
    audit_client, admin_client = DEMO_STAFF_CLIENTS
    audit = f"curl -s {bearer(audit_client)} '{base_url}/v1/audit?subject={info.sample_personal_id}'"
    admin = f"curl -s {bearer(admin_client)} {base_url}/v1/admin/clients"
    token_directory = shown_path(info.token_directory)
    note = ""
    if population_url != info.population_url:
        note = "\n  (the population connector is configured to another database; demo data was seeded beside it)"
    return "\n".join(
        [
            "",
            "axis-gateway demo",
            f"  simulated population database: {info.citizens} citizens in {info.population_url}{note}",
            f"  national databases served: {len(info.databases)} ({', '.join(info.databases)})",
            *(
                [f"  reached through the (simulated) national axis platform: {', '.join(info.via_axis)}"]
                if info.via_axis
                else []
            ),
            "",
            "Demo clients (their secrets are renewed every time the demo starts):",
            f"  client_id:     {info.client_id}",
            f"  client_secret: {info.client_secret}",
            *(
                f"  {client_id} (scope {', '.join(DEMO_STAFF_CLIENTS[client_id][1])}): secret {secret}"
                for client_id, secret in info.staff_secrets.items()
            ),
            "",
            f"A current token of each client is in {token_directory}/CLIENT_ID, renewed while the demo runs (a token",
            f"lasts {info.expires_in // 60} minutes); the commands below read it. In a shell of your own:",
            f"  export TOKEN=$(cat {shown_path(info.token_file(info.client_id))})",
            "",
            "Fetch a citizen through the gateway:",
            "",
            f"  {fetch}",
            "",
            "(X-Purpose: the public-service procedure the request is for; X-Actor-Id: the officer making it.)",
            "",
            f"Get a new token (-u {audit_client}:SECRET or {admin_client}:SECRET for the other clients):",
            f"  {get_token}",
            "Search by full name and date of birth (or year of birth):",
            f"  {search}",
            "The integration axis: which national databases are connected, and their health:",
            f"  {axis}",
            "Submit a change (a marriage registered by a commune office); the receipt's Location shows its delivery:",
            f"  {submit}",
            f"Who looked at this citizen: the audit trail, as the {audit_client} client:",
            f"  {audit}",
            f"The gateway's clients, as the {admin_client} client:",
            f"  {admin}",
            "Data quality (correct, complete, clean, live) of the simulated data, which has planted defects:",
            "  gateway quality report population --format html --output quality.html  (or land, tax...)",
            f"API documentation: {base_url}/docs",
            "",
        ]
    )
