"""Every read-path comparison of the performance targets, side by side in one run, printed as one table.

    .venv/bin/python bench/run.py [--duration 10] [--rounds 2] [--citizens 20000] [--only read rest scale ...]

Needs wrk (Debian package ``wrk``) and the local PostgreSQL server (the sector database is PostgreSQL, as in a
province). Each comparison runs its two sides alternately, A B A B (``--rounds``), with the same wrk load (two
threads, keep-alive connections, random existing ids), and reports the mean rate of each side, the ratio B/A, the
gateway side's p50 and p99 and its resident memory (RSS, all of its processes) after the load:

* ``read-sqlite``: the bare endpoint (``bench/bare.py``: FastAPI, uvloop, httptools, an asyncpg pool, orjson, no
  authentication) against the gateway's full read path (token, live client state, grant and field projection, rate
  limit, durable chained audit, metrics, contract validation), one worker each, the gateway's own database on
  SQLite (the default);
* ``read-postgresql``: the same, the gateway's own database on PostgreSQL;
* ``latency``: both at one connection: the latency the gateway adds (p50);
* ``rest``: the simulated population REST service called directly against the same read through the gateway's
  REST connector;
* ``scale``: the gateway with one worker against two workers (32 connections);
* ``connections``: the gateway at 16 connections against 1,000 (flat as callers grow).

The sector database (``--citizens`` simulated citizens) is seeded once and kept between runs (PostgreSQL database
``bench_population_<citizens>``; ``--reseed`` starts it again). Everything, wrk included, shares this machine's
cores: compare the sides of one run, not runs of different machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PURPOSE = "1.001612.000.00.00.H41"
ACTOR = "CB-068-0001"
API_HEADERS = {"AppName": "axis-gateway", "AccessKey": "sim-access-key", "SecretKey": "sim-secret-key"}
COMPARISONS = ("read-sqlite", "read-postgresql", "latency", "rest", "scale", "connections")
CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "axis-gateway-bench"))


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def psql(command: str, database: str = "postgres") -> str:
    url = POSTGRES.rsplit("/", 1)[0] + f"/{database}"
    return subprocess.run(["psql", url, "-qAtc", command], check=True, capture_output=True, text=True).stdout


def sector_database(citizens: int, reseed: bool) -> tuple[str, Path]:
    """The PostgreSQL sector database of ``citizens`` citizens (seeded once), and a SQLite copy for the REST
    simulator (which serves its records from memory)."""
    from simulators.population import seed_population

    name = f"bench_population_{citizens}"
    url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    CACHE.mkdir(parents=True, exist_ok=True)
    copy = CACHE / f"population-{citizens}.db"
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip() == "1"
    if exists and not reseed:
        try:
            seeded = int(psql("SELECT count(*) FROM cong_dan", name))
        except subprocess.CalledProcessError:
            seeded = -1
        exists = seeded == citizens
    if not exists or reseed:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        psql(f'CREATE DATABASE "{name}"')
        print(f"seeding {citizens} citizens into {name} ...", file=sys.stderr)
        asyncio.run(seed_population(url, count=citizens, seed=68))
        copy.unlink(missing_ok=True)
    if not copy.exists():
        asyncio.run(seed_population(f"sqlite:///{copy}", count=citizens, seed=68))
    return url, copy


def record_ids(url: str, limit: int = 5000) -> list[str]:
    ids = psql("SELECT so_dinh_danh FROM cong_dan", url.rsplit("/", 1)[1]).split()
    random.Random(1).shuffle(ids)
    return ids[:limit]


def wait_ready(url: str, headers: dict[str, str] | None = None) -> None:
    for _ in range(600):
        try:
            if httpx.get(url, headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` and its children, in MiB."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for one in pids:
        try:
            status = Path(f"/proc/{one}/status").read_text()
        except FileNotFoundError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


@dataclass
class Server:
    """A server under load: where it listens, what wrk sends it, its process."""

    name: str
    base: str
    script: Path
    process: subprocess.Popen[bytes]
    workers: int = 1


@dataclass
class Load:
    """The figures of one wrk run."""

    rate: float
    p50_ms: float
    p99_ms: float
    errors: int


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(server: Server, connections: int, duration: int) -> Load:
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(server.script),
        server.base,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+(\S+)", out)
    p99 = re.search(r"\s99%\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(
        rate,
        _milliseconds(p50.group(1)) if p50 else float("nan"),
        _milliseconds(p99.group(1)) if p99 else float("nan"),
        int(errors.group(1)) if errors else 0,
    )


def lua_script(path: Path, prefix: str, ids: list[str], headers: dict[str, str]) -> Path:
    lua_headers = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    path.write_text(
        "ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        f'  return wrk.format("GET", "{prefix}" .. ids[(n % #ids) + 1], {{{lua_headers}}})\n'
        "end\n"
    )
    return path


@dataclass
class Bench:
    """The servers of one run, started on demand and stopped at the end."""

    args: argparse.Namespace
    work: Path
    sector_url: str
    sector_copy: Path
    ids: list[str]
    servers: dict[str, Server] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)

    def close(self) -> None:
        for server in self.servers.values():
            server.process.terminate()
        for server in self.servers.values():
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.process.kill()
        for name in self.databases:
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def bare(self) -> Server:
        if "bare" not in self.servers:
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "bare.py"), "--url", self.sector_url, "--port", str(port)],
                stderr=subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/healthz")
            script = lua_script(self.work / "bare.lua", "/records/", self.ids, {})
            self.servers["bare"] = Server("bare endpoint", base, script, process)
        return self.servers["bare"]

    def rest_api(self) -> Server:
        if "rest-api" not in self.servers:
            port = free_port()
            command = [sys.executable, "-m", "simulators.population_api", "--sqlite", str(self.sector_copy)]
            process = subprocess.Popen(
                [*command, "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/api/v1/trang-thai", API_HEADERS)
            script = lua_script(self.work / "rest-api.lua", "/api/v1/cong-dan/", self.ids, API_HEADERS)
            self.servers["rest-api"] = Server("REST service", base, script, process)
        return self.servers["rest-api"]

    def gateway(self, key: str, *, database: str = "sqlite", workers: int = 1, rest: bool = False) -> Server:
        if key in self.servers:
            return self.servers[key]
        data_dir = self.work / key
        data_dir.mkdir()
        env = {**os.environ, "GATEWAY_DATA_DIR": str(data_dir), "GATEWAY_LOG_LEVEL": "WARNING"}
        if rest:
            from simulators.population_api import rest_connector_config

            config = rest_connector_config(self.rest_api().base)
            env["GATEWAY_CONNECTORS"] = json.dumps({"population": {"connector": "rest", "config": config}})
        else:
            env["GATEWAY_CONNECTORS__POPULATION__CONFIG__URL"] = self.sector_url
        if database == "postgresql":
            name = f"bench_gateway_{key.replace('-', '_')}_{os.getpid()}"
            psql(f'CREATE DATABASE "{name}"')
            self.databases.append(name)
            env["GATEWAY_DATABASE_URL"] = POSTGRES.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
            env["GATEWAY_DATABASE_URL"] += f"/{name}"
        gateway = [sys.executable, "-m", "gateway"]
        subprocess.run([*gateway, "db", "upgrade"], env=env, check=True, capture_output=True)
        created = subprocess.run(
            [*gateway, "clients", "create", "bench", "--scope", "population:read", "--client-id", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        secret = re.search(r"client_secret:\s+(\S+)", created).group(1)  # type: ignore[union-attr]
        port = free_port()
        process = subprocess.Popen(
            [*gateway, "serve", "--port", str(port), "--workers", str(workers), "--no-migrate"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/healthz")
        token = httpx.post(
            f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=("bench", secret)
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE, "X-Actor-Id": ACTOR}
        script = lua_script(self.work / f"{key}.lua", "/v1/databases/population/records/", self.ids, headers)
        label = f"gateway ({database}{', REST' if rest else ''}, {workers} worker{'s' if workers > 1 else ''})"
        server = Server(label, base, script, process, workers)
        self.servers[key] = server
        wrk(server, 16, 2)  # warm up: connections, caches, statements
        return server


@dataclass
class Row:
    name: str
    a: str
    b: str
    rate_a: float
    rate_b: float
    p50_ms: float
    p99_ms: float
    rss_mib: float
    errors: int

    @property
    def ratio(self) -> float:
        return self.rate_b / self.rate_a if self.rate_a else float("nan")


def compare(bench: Bench, name: str, a: Server, b: Server, *, connections: tuple[int, int] = (16, 16)) -> Row:
    """A B A B: the mean rates of ``a`` and ``b``, and ``b``'s latency and memory."""
    rates_a, loads_b = [], []
    for _ in range(bench.args.rounds):
        rates_a.append(wrk(a, connections[0], bench.args.duration).rate)
        loads_b.append(wrk(b, connections[1], bench.args.duration))
    return Row(
        name,
        f"{a.name} @{connections[0]}",
        f"{b.name} @{connections[1]}",
        sum(rates_a) / len(rates_a),
        sum(load.rate for load in loads_b) / len(loads_b),
        sorted(load.p50_ms for load in loads_b)[len(loads_b) // 2],
        max(load.p99_ms for load in loads_b),
        rss_mib(b.process.pid),
        sum(load.errors for load in loads_b),
    )


def run(bench: Bench, only: list[str]) -> list[Row]:
    rows = []
    for name in only:
        if name == "read-sqlite":
            rows.append(compare(bench, name, bench.bare(), bench.gateway("gw-sqlite")))
        elif name == "read-postgresql":
            rows.append(compare(bench, name, bench.bare(), bench.gateway("gw-postgresql", database="postgresql")))
        elif name == "latency":
            rows.append(compare(bench, name, bench.bare(), bench.gateway("gw-sqlite"), connections=(1, 1)))
        elif name == "rest":
            rows.append(compare(bench, name, bench.rest_api(), bench.gateway("gw-rest", rest=True)))
        elif name == "scale":
            one = bench.gateway("gw-sqlite")
            two = bench.gateway("gw-sqlite-2", workers=2)
            rows.append(compare(bench, name, one, two, connections=(32, 32)))
        elif name == "connections":
            gateway = bench.gateway("gw-sqlite")
            rows.append(compare(bench, name, gateway, gateway, connections=(16, 1000)))
        print(_line(rows[-1]), file=sys.stderr)
    return rows


def _line(row: Row) -> str:
    return (
        f"| {row.name} | {row.a} | {row.b} | {row.rate_a:,.0f} | {row.rate_b:,.0f} | {row.ratio:.2f} | "
        f"{row.p50_ms:.2f} | {row.p99_ms:.1f} | {row.rss_mib:.0f} | {row.errors} |"
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
    parser.add_argument("--only", nargs="+", choices=COMPARISONS, default=list(COMPARISONS))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")
    sector_url, copy = sector_database(args.citizens, args.reseed)
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    bench = Bench(args, work, sector_url, copy, record_ids(sector_url))
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
    print("| comparison | A | B | A req/s | B req/s | B/A | B p50 ms | B p99 ms | B RSS MiB | B errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(_line(row))


if __name__ == "__main__":
    main()
