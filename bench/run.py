"""Every comparison of the performance targets, side by side in one run, printed as one table.

    .venv/bin/python bench/run.py [--duration 10] [--rounds 2] [--citizens 20000] [--only read rest scale ...]

Needs wrk (Debian package ``wrk``) and the local PostgreSQL server (the sector database is PostgreSQL, as in a
province). Each comparison runs its two sides alternately, A B A B (``--rounds``), with the same wrk load (two
threads, keep-alive connections, random existing ids), and reports the mean rate of each side, the ratio B/A, the
gateway side's p50 and p99, its resident memory (RSS, all of its processes) after the load, and the CPU time each
side's server used per request (its own processes only):

* ``read-sqlite``: the bare endpoint (``bench/bare.py``: FastAPI, uvloop, httptools, an asyncpg pool, orjson, no
  authentication) against the gateway's full read path (token, live client state, grant and field projection, rate
  limit, durable chained audit, metrics, contract validation), one worker each, the gateway's own database on
  SQLite (the default);
* ``read-postgresql``: the same, the gateway's own database on PostgreSQL;
* ``latency``: both at one connection: the latency the gateway adds (p50);
* ``rest``: the population REST service over the same PostgreSQL sector database (``bench/rest_db.py``: the
  simulated API's routes and JSON, each read a query like the bare endpoint's) called directly, against the same
  read through the gateway's REST connector to it;
* ``rest-memory``: the same with the simulated population REST service (``simulators.population_api``), which
  answers from memory: above the gateway's own ceiling, so the ratio measures the gateway's REST read alone;
* ``rest-ceiling``: the REST service called directly against a bare FastAPI endpoint making the same call to it
  (``bench/bare_proxy.py``: aiohttp, uvloop, httptools, orjson, no authentication, audit or validation): the most
  that any Python service in the gateway's place reaches on this machine, the ceiling of ``rest``;
* ``rest-proxy``: that bare proxy against the gateway's REST read: the gateway's own cost, as ``read-sqlite`` gives
  it for the SQL read;
* ``scale``: the gateway with one worker against two workers (32 connections);
* ``scale-bare``: the same for the bare endpoint: what a second worker gives on this machine with no gateway in it;
* ``connections``: the gateway at 16 connections against 1,000 (flat as callers grow);
* ``clients``: the gateway with 10 clients holding grants (all calling) against 10,000 (``--grow-clients``; the
  load comes from 1,000 of them in turn, each with its own token);
* ``audit``: the gateway with an empty audit trail against one of 10 million events (``--grow-audit``), generated
  in bulk by ``bench/scale_data.py`` as a valid chain;
* ``citizens``: the gateway over ``--citizens`` against ``--grow-citizens`` (1.3 million, Lâm Đồng's population);
* ``tokens``: the SQLite gateway's ``/healthz`` (its HTTP stack's ceiling) against its token endpoint
  (``client_credentials``, HTTP Basic, every token audited), 16 connections: tokens a second;
* ``token-latency``: the same at one connection: a token's p50;
* ``exchange-sqlite``, ``exchange-postgresql``: ``--exchange-operations`` new citizens inserted directly into a
  scratch sector database in transactions of 100, against the same submitted through the gateway and delivered by
  its dispatcher (``bench/exchange.py``), rows and operations a second;
* ``memory``: a worker serving the demo's twelve databases soaked for ``--soak`` seconds (``bench/memory.py``):
  its rate and RSS, the peak and the growth after the first minute.

Each sector database is seeded once by COPY and kept between runs (PostgreSQL database
``bench_population_<citizens>``; ``--reseed`` starts it again); PostgreSQL's plan of the search by name and date of
birth is printed for each. Everything, wrk included, shares this machine's
cores: compare the sides of one run, not runs of different machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    API_HEADERS,
    ROOT,
    SEED,
    Load,
    copy_citizens,
    cpu_seconds,
    create_client,
    data_headers,
    fetch_token,
    gateway_cli,
    loop_thread_seconds,
    lua_script,
    need_wrk,
    postgres_databases,
    postgres_url,
    psql,
    py_spy,
    record_ids,
    rss_mib,
    start_gateway,
    start_server,
    terminate,
    token_script,
    wrk,
)
from scale_data import add_scale_data

from connectors.spellings import spellings

COMPARISONS = (
    "read-sqlite",
    "read-postgresql",
    "latency",
    "rest",
    "rest-memory",
    "rest-ceiling",
    "rest-proxy",
    "scale",
    "scale-bare",
    "connections",
    "clients",
    "audit",
    "citizens",
    "tokens",
    "token-latency",
    "exchange-sqlite",
    "exchange-postgresql",
    "memory",
)
#: The servers each comparison loads (``Bench.servers`` keys). The others are stopped before it runs: an idle
#: gateway still runs its health checks, and one over ten million audit events verifies them for minutes in a child
#: process, on the same two cores.
NEEDS: dict[str, frozenset[str]] = {
    "read-sqlite": frozenset({"bare", "gw-sqlite"}),
    "read-postgresql": frozenset({"bare", "gw-postgresql"}),
    "latency": frozenset({"bare", "gw-sqlite"}),
    "rest": frozenset({"rest-db", "gw-rest"}),
    "rest-memory": frozenset({"rest-api", "gw-rest-memory"}),
    "rest-ceiling": frozenset({"rest-db", "bare-proxy"}),
    "rest-proxy": frozenset({"rest-db", "bare-proxy", "gw-rest"}),
    "scale": frozenset({"gw-sqlite", "gw-sqlite-2"}),
    "scale-bare": frozenset({"bare", "bare-2"}),
    "connections": frozenset({"gw-sqlite"}),
    "clients": frozenset({"gw-clients-few", "gw-clients-many"}),
    "audit": frozenset({"gw-sqlite", "gw-audit"}),
    "citizens": frozenset({"gw-sqlite", "gw-grown"}),
    "tokens": frozenset({"gw-sqlite"}),
    "token-latency": frozenset({"gw-sqlite"}),
    "exchange-sqlite": frozenset(),
    "exchange-postgresql": frozenset(),
    "memory": frozenset(),
}
assert set(NEEDS) == set(COMPARISONS)
#: A figure a comparison does not have (printed ``-``).
NA = float("nan")
CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "axis-gateway-bench"))


def sector_database(citizens: int, reseed: bool) -> str:
    """The PostgreSQL sector database of ``citizens`` simulated citizens, seeded once and kept between runs."""
    name = f"bench_population_{citizens}"
    url = postgres_url(name)
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip() == "1"
    if exists and not reseed:
        try:
            exists = int(psql("SELECT count(*) FROM cong_dan", name)) == citizens
        except subprocess.CalledProcessError:
            exists = False
    if not exists or reseed:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        psql(f'CREATE DATABASE "{name}"')
        began = time.monotonic()
        asyncio.run(copy_citizens(url, citizens))
        print(f"seeded {citizens} citizens into {name} in {time.monotonic() - began:.0f} s", file=sys.stderr)
    return url


def sqlite_copy(citizens: int) -> Path:
    """A SQLite database of the same citizens, for the REST simulator (which serves them from memory)."""
    from simulators.population import seed_population

    CACHE.mkdir(parents=True, exist_ok=True)
    copy = CACHE / f"population-{citizens}.db"
    if not copy.exists():
        asyncio.run(seed_population(f"sqlite:///{copy}", count=citizens, seed=SEED))
    return copy


def search_plan(url: str) -> str:
    """PostgreSQL's plan of the connector's search by name and date of birth (a name and date that exist)."""
    database = url.rsplit("/", 1)[1]
    name, born = psql("SELECT ho_ten, ngay_sinh FROM cong_dan LIMIT 1", database).strip().split("|")
    # The name in each form the connector looks for (precomposed, decomposed, tone marks apart).
    names = ", ".join("'" + form.replace("'", "''") + "'" for form in spellings(name))
    return psql(
        f"EXPLAIN SELECT * FROM cong_dan WHERE ho_ten IN ({names}) AND ngay_sinh = '{born}' "
        "ORDER BY so_dinh_danh LIMIT 20",
        database,
    )


@dataclass
class Server:
    """A server under load: where it listens, what wrk sends it, its process."""

    name: str
    base: str
    script: Path | None
    process: subprocess.Popen[bytes]
    workers: int = 1
    #: The bench client's secret, on a gateway.
    secret: str = ""

    cpu_per_request: list[float] = field(default_factory=list)
    loop_per_request: list[float] = field(default_factory=list)

    def load(self, connections: int, duration: int) -> Load:
        """One wrk run against the server; the server's CPU time per request (all its processes, and their event
        loops' threads alone) is kept."""
        pid = self.process.pid
        before, loop_before = cpu_seconds(pid), loop_thread_seconds(pid)
        load = wrk(self.base, self.script, connections, duration)
        if load.rate:
            requests = load.rate * duration
            self.cpu_per_request.append((cpu_seconds(pid) - before) / requests)
            self.loop_per_request.append((loop_thread_seconds(pid) - loop_before) / requests)
        return load


@dataclass
class Bench:
    """The servers of one run, started on demand and stopped at the end."""

    args: argparse.Namespace
    work: Path
    sector_url: str
    ids: list[str]
    servers: dict[str, Server] = field(default_factory=dict)
    databases: ExitStack = field(default_factory=ExitStack)

    def close(self) -> None:
        terminate(*(server.process for server in self.servers.values()))
        self.databases.close()

    def keep_only(self, keys: frozenset[str]) -> None:
        """Stop the servers but ``keys`` (a stopped gateway is made anew, with a new data directory, if a later
        comparison needs it)."""
        for key in [key for key in self.servers if key not in keys]:
            terminate(self.servers.pop(key).process)
            shutil.rmtree(self.work / key, ignore_errors=True)

    def bare(self, workers: int = 1) -> Server:
        key = "bare" if workers == 1 else f"bare-{workers}"
        if key not in self.servers:
            command = [sys.executable, str(ROOT / "bench" / "bare.py"), "--url", self.sector_url]
            process, base = start_server([*command, "--workers", str(workers)])
            script = lua_script(self.work / "bare.lua", "/records/", self.ids, {})
            label = "bare endpoint" if workers == 1 else f"bare endpoint, {workers} workers"
            self.servers[key] = Server(label, base, script, process, workers)
        return self.servers[key]

    def bare_proxy(self) -> Server:
        if "bare-proxy" not in self.servers:
            service = self.rest_db()
            command = [sys.executable, str(ROOT / "bench" / "bare_proxy.py"), "--url", service.base]
            process, base = start_server(command)
            script = lua_script(self.work / "bare-proxy.lua", "/records/", self.ids, {})
            self.servers["bare-proxy"] = Server("bare proxy to the REST service", base, script, process)
        return self.servers["bare-proxy"]

    def rest_db(self) -> Server:
        if "rest-db" not in self.servers:
            command = [sys.executable, str(ROOT / "bench" / "rest_db.py"), "--url", self.sector_url]
            process, base = start_server(command, ready="/api/v1/trang-thai", headers=API_HEADERS)
            script = lua_script(self.work / "rest-db.lua", "/api/v1/cong-dan/", self.ids, API_HEADERS)
            self.servers["rest-db"] = Server("REST service over PostgreSQL", base, script, process)
        return self.servers["rest-db"]

    def rest_api(self) -> Server:
        if "rest-api" not in self.servers:
            copy = sqlite_copy(self.args.citizens)
            command = [sys.executable, "-m", "simulators.population_api", "--sqlite", str(copy)]
            process, base = start_server(command, ready="/api/v1/trang-thai", headers=API_HEADERS)
            script = lua_script(self.work / "rest-api.lua", "/api/v1/cong-dan/", self.ids, API_HEADERS)
            self.servers["rest-api"] = Server("REST service in memory", base, script, process)
        return self.servers["rest-api"]

    def gateway(
        self,
        key: str,
        *,
        database: str = "sqlite",
        workers: int = 1,
        rest: Server | None = None,
        sector: str | None = None,
        clients: int = 0,
        audit_events: int = 0,
    ) -> Server:
        """A gateway serving the population database; with ``clients``, that many more clients hold the bench
        client's grants and the load comes from up to 1,000 of them in turn; with ``audit_events``, its audit
        trail holds that many events before it starts (``bench/scale_data.py``)."""
        if key in self.servers:
            return self.servers[key]
        data_dir = self.work / key
        data_dir.mkdir()
        # The token comparisons measure the endpoint's capacity with one client: its allowance a minute is lifted.
        env = {
            **os.environ,
            "GATEWAY_DATA_DIR": str(data_dir),
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_TOKEN_REQUESTS_PER_MINUTE": "0",
        }
        if rest is not None:
            from simulators.population_api import rest_connector_config

            config = rest_connector_config(rest.base)
            env["GATEWAY_CONNECTORS"] = json.dumps({"population": {"connector": "rest", "config": config}})
        else:
            env["GATEWAY_CONNECTORS__POPULATION__CONFIG__URL"] = sector or self.sector_url
        if database == "postgresql":
            name = f"bench_gateway_{key.replace('-', '_')}_{os.getpid()}_{time.monotonic_ns()}"
            self.databases.enter_context(postgres_databases(name))
            env["GATEWAY_DATABASE_URL"] = postgres_url(name, driver="postgresql+asyncpg")
        gateway_cli(env, "db", "upgrade")
        secret = create_client(env)
        if clients or audit_events:
            url = env.get("GATEWAY_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'gateway.db'}"
            seconds = add_scale_data(url, clients=clients, audit_events=audit_events)
            print(
                f"{key}: {clients:,} clients and {audit_events:,} audit events added in {seconds:.0f} s",
                file=sys.stderr,
            )
        process, base = start_gateway(env, workers=workers)
        headers = data_headers(fetch_token(base, "bench", secret))
        callers = [f"bench-{n:06d}" for n in range(1, min(clients, 1000) + 1)]
        tokens = [fetch_token(base, caller, secret) for caller in callers] or None
        ids = record_ids(sector) if sector else self.ids
        script = lua_script(self.work / f"{key}.lua", "/v1/databases/population/records/", ids, headers, tokens)
        via = ", REST" if rest is not None else ""
        label = f"gateway ({database}{via}, {workers} worker{'s' if workers > 1 else ''})"
        if clients:
            label = f"gateway, {clients + 1:,} clients ({len(callers):,} calling)"
        if audit_events:
            label = f"gateway, {audit_events:,} audit events"
        server = Server(label, base, script, process, workers, secret)
        self.servers[key] = server
        server.load(16, 2)  # warm up: connections, caches, statements
        return server

    def token_endpoint(self) -> tuple[Server, Server]:
        """The SQLite gateway's ``/healthz`` (its HTTP stack's ceiling) and its token endpoint (the bench client's
        ``client_credentials`` grant, HTTP Basic; every token is audited)."""
        gateway = self.gateway("gw-sqlite")
        script = token_script(self.work / "token.lua", "bench", gateway.secret)
        healthz = Server("the gateway's /healthz", f"{gateway.base}/healthz", None, gateway.process)
        tokens = Server("POST /oauth/token", f"{gateway.base}/oauth/token", script, gateway.process)
        return healthz, tokens


@dataclass
class Row:
    name: str
    a: str
    b: str
    rate_a: float
    rate_b: float
    a_p50_ms: float
    p50_ms: float
    p99_ms: float
    rss_mib: float
    errors: int
    a_cpu_ms: float = NA
    b_cpu_ms: float = NA
    b_loop_ms: float = NA

    @property
    def ratio(self) -> float:
        return self.rate_b / self.rate_a if self.rate_a else NA


def compare(bench: Bench, name: str, a: Server, b: Server, *, connections: tuple[int, int] = (16, 16)) -> Row:
    """A B A B: the mean rates of ``a`` and ``b``, both medians, ``b``'s p99 and memory, and the CPU time each
    server process used per request (its own, not the load generator's nor a database's)."""
    loads_a, loads_b = [], []
    for server in (a, b):
        server.cpu_per_request.clear()
        server.loop_per_request.clear()
    for round_ in range(bench.args.rounds):
        loads_a.append(a.load(connections[0], bench.args.duration))
        spy = None
        if bench.args.profile is not None and round_ == 0:
            bench.args.profile.mkdir(parents=True, exist_ok=True)
            output = bench.args.profile / f"{name}.txt"
            spy = py_spy(b.process.pid, output, rate=200, duration=bench.args.duration, subprocesses=True)
        loads_b.append(b.load(connections[1], bench.args.duration))
        if spy is not None:
            spy.wait()
    rates_a = [load.rate for load in loads_a]
    return Row(
        name,
        f"{a.name} @{connections[0]}",
        f"{b.name} @{connections[1]}",
        sum(rates_a) / len(rates_a),
        sum(load.rate for load in loads_b) / len(loads_b),
        sorted(load.p50_ms for load in loads_a)[len(loads_a) // 2],
        sorted(load.p50_ms for load in loads_b)[len(loads_b) // 2],
        max(load.p99_ms for load in loads_b),
        rss_mib(b.process.pid),
        sum(load.errors for load in loads_b),
        _mean_ms(a.cpu_per_request),
        _mean_ms(b.cpu_per_request),
        _mean_ms(b.loop_per_request),
    )


def _mean_ms(values: list[float]) -> float:
    return 1000 * sum(values) / len(values) if values else NA


def exchange_row(bench: Bench, name: str, backend: str) -> Row:
    """Submissions delivered to the sector database (``bench/exchange.py``: applied with their idempotency keys in
    the connector's ledger, outcomes recorded, the change feed appended) against the same rows inserted directly
    in transactions of the same size; B's CPU is the delivering gateway's per operation."""
    from exchange import exchange

    result = exchange(backend, bench.args.exchange_operations, 100, 8)
    return Row(
        name,
        f"direct inserts ({backend}), batches of 100",
        f"gateway delivery ({backend}), intake {result.intake_rate:,.0f} ops/s",
        result.direct_rate,
        result.delivery_rate,
        NA,
        NA,
        NA,
        NA,
        0,
        b_cpu_ms=result.cpu_ms,
    )


def memory_row(bench: Bench, name: str) -> Row:
    """A worker serving the demo's twelve databases (``bench/memory.py``), soaked for ``--soak`` seconds: its
    rate, and its RSS at the end (the peak and the growth after the first minute in the B label)."""
    from memory import soak

    result = soak(duration=bench.args.soak, interval=15, connections=8, citizens=2000, workers=1)
    label = (
        f"gateway, twelve databases, {bench.args.soak} s soak (RSS started {result.started:.0f}, peak "
        f"{result.peak:.1f}, {result.growth_after_first_minute:+.1f} after the first minute)"
    )
    return Row(name, "-", label, NA, result.rate, NA, NA, NA, result.ended, result.errors)


def run(bench: Bench, only: list[str]) -> list[Row]:
    rows = []
    for name in only:
        bench.keep_only(NEEDS[name])
        if name == "read-sqlite":
            rows.append(compare(bench, name, bench.bare(), bench.gateway("gw-sqlite")))
        elif name == "read-postgresql":
            rows.append(compare(bench, name, bench.bare(), bench.gateway("gw-postgresql", database="postgresql")))
        elif name == "latency":
            rows.append(compare(bench, name, bench.bare(), bench.gateway("gw-sqlite"), connections=(1, 1)))
        elif name == "rest":
            rows.append(compare(bench, name, bench.rest_db(), bench.gateway("gw-rest", rest=bench.rest_db())))
        elif name == "rest-memory":
            rows.append(compare(bench, name, bench.rest_api(), bench.gateway("gw-rest-memory", rest=bench.rest_api())))
        elif name == "rest-ceiling":
            rows.append(compare(bench, name, bench.rest_db(), bench.bare_proxy()))
        elif name == "rest-proxy":
            rows.append(compare(bench, name, bench.bare_proxy(), bench.gateway("gw-rest", rest=bench.rest_db())))
        elif name == "scale-bare":
            rows.append(compare(bench, name, bench.bare(), bench.bare(workers=2), connections=(32, 32)))
        elif name == "scale":
            one = bench.gateway("gw-sqlite")
            two = bench.gateway("gw-sqlite-2", workers=2)
            rows.append(compare(bench, name, one, two, connections=(32, 32)))
        elif name == "connections":
            gateway = bench.gateway("gw-sqlite")
            rows.append(compare(bench, name, gateway, gateway, connections=(16, 1000)))
        elif name == "clients":
            few = bench.gateway("gw-clients-few", clients=9)
            many = bench.gateway("gw-clients-many", clients=bench.args.grow_clients - 1)
            rows.append(compare(bench, name, few, many))
        elif name == "audit":
            trail = bench.gateway("gw-audit", audit_events=bench.args.grow_audit)
            rows.append(compare(bench, name, bench.gateway("gw-sqlite"), trail))
        elif name == "tokens":
            healthz, tokens = bench.token_endpoint()
            rows.append(compare(bench, name, healthz, tokens))
        elif name == "token-latency":
            healthz, tokens = bench.token_endpoint()
            rows.append(compare(bench, name, healthz, tokens, connections=(1, 1)))
        elif name == "exchange-sqlite":
            rows.append(exchange_row(bench, name, "sqlite"))
        elif name == "exchange-postgresql":
            rows.append(exchange_row(bench, name, "postgresql"))
        elif name == "memory":
            rows.append(memory_row(bench, name))
        elif name == "citizens":
            grown = sector_database(bench.args.grow_citizens, bench.args.reseed)
            print(search_plan(grown), file=sys.stderr)
            large = bench.gateway("gw-grown", sector=grown)
            large.name = f"gateway, {bench.args.grow_citizens:,} citizens"
            rows.append(compare(bench, name, bench.gateway("gw-sqlite"), large))
        print(_line(rows[-1]), file=sys.stderr)
    return rows


def _figure(value: float, spec: str) -> str:
    """``value`` formatted, or ``-`` for a figure the comparison does not have."""
    return "-" if math.isnan(value) else format(value, spec)


def _line(row: Row) -> str:
    figures = [
        (row.rate_a, ",.0f"),
        (row.rate_b, ",.0f"),
        (row.ratio, ".2f"),
        (row.a_p50_ms, ".2f"),
        (row.p50_ms, ".2f"),
        (row.p99_ms, ".1f"),
        (row.rss_mib, ".0f"),
    ]
    cpu = [(row.a_cpu_ms, ".2f"), (row.b_cpu_ms, ".2f"), (row.b_loop_ms, ".2f")]
    return (
        f"| {row.name} | {row.a} | {row.b} | "
        + " | ".join(_figure(value, spec) for value, spec in figures)
        + f" | {row.errors} | "
        + " | ".join(_figure(value, spec) for value, spec in cpu)
        + " |"
    )


@contextmanager
def raised_file_limit() -> Iterator[None]:
    """1,000 connections need more open files than the usual soft limit of 1,024 (wrk and the server)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds per comparison")
    parser.add_argument("--citizens", type=int, default=20000)
    parser.add_argument("--reseed", action="store_true", help="seed the sector database again")
    parser.add_argument(
        "--grow-citizens", type=int, default=1_300_000, help="the larger sector database of `citizens` (Lâm Đồng)"
    )
    parser.add_argument("--grow-clients", type=int, default=10_000, help="the clients with grants of `clients`")
    parser.add_argument(
        "--grow-audit", type=int, default=10_000_000, help="the audit events already in the trail of `audit`"
    )
    parser.add_argument(
        "--exchange-operations", type=int, default=10_000, help="the submissions of `exchange-*` (batches of 100)"
    )
    parser.add_argument("--soak", type=int, default=90, help="seconds of the `memory` soak (the budget's: 600)")
    parser.add_argument("--only", nargs="+", choices=COMPARISONS, default=list(COMPARISONS))
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the B side of each comparison in its first round with py-spy (samples holding the GIL, raw "
        "collapsed stacks) into DIR/<comparison>.txt; needs `pip install py-spy`",
    )
    args = parser.parse_args()
    need_wrk()
    sector_url = sector_database(args.citizens, args.reseed)
    print(search_plan(sector_url), file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    bench = Bench(args, work, sector_url, record_ids(sector_url))
    started = time.strftime("%Y-%m-%d %H:%M")
    try:
        with raised_file_limit():
            rows = run(bench, args.only)
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{started}, {os.cpu_count()} cores (shared with wrk and the databases), Python {sys.version.split()[0]}, "
        f"{args.citizens} citizens, {args.rounds} rounds of {args.duration} s"
    )
    print(
        "| comparison | A | B | A req/s | B req/s | B/A | A p50 ms | B p50 ms | B p99 ms | B RSS MiB | B errors "
        "| A CPU ms/req | B CPU ms/req | B loop CPU ms/req |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(_line(row))


if __name__ == "__main__":
    main()
