"""What the benchmark scripts share: ports, the local PostgreSQL server, seeding the simulated population database,
starting ``gateway serve`` and waiting for servers, wrk runs and their figures, memory, py-spy.

The scripts import it as ``common`` (Python puts a script's own folder first on its path).
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from contracts.dates import vietnam_today

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Every data request states its purpose and actor (the grant made from a data scope requires both).
PURPOSE = "1.001612.000.00.00.H41"
ACTOR = "CB-068-0001"
#: The credentials the simulated population REST service asks for.
API_HEADERS = {"AppName": "axis-gateway", "AccessKey": "sim-access-key", "SecretKey": "sim-secret-key"}
#: The simulated citizens' seed, the same in every script.
SEED = 68


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def need_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")


# --- the local PostgreSQL server ------------------------------------------------------------------------------------


def postgres_url(database: str, *, driver: str = "postgresql") -> str:
    """The URL of ``database`` on the server of :data:`POSTGRES` (``driver="postgresql+asyncpg"`` for the
    gateway's settings)."""
    return POSTGRES.rsplit("/", 1)[0].replace("postgresql://", f"{driver}://", 1) + f"/{database}"


def psql(command: str, database: str = "postgres") -> str:
    """Run ``command`` with psql in ``database``; its unaligned output."""
    return subprocess.run(
        ["psql", postgres_url(database), "-qAtc", command], check=True, capture_output=True, text=True
    ).stdout


@contextmanager
def postgres_databases(*names: str) -> Iterator[None]:
    """Empty databases ``names`` on the server for the block, dropped after it."""
    created: list[str] = []
    try:
        for name in names:
            psql(f'CREATE DATABASE "{name}"')
            created.append(name)
        yield
    finally:
        for name in created:
            subprocess.run(
                ["psql", POSTGRES, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                check=False,
                capture_output=True,
            )


# --- the simulated population database ------------------------------------------------------------------------------


async def copy_citizens(url: str, citizens: int) -> None:
    """Fill the sector table of the PostgreSQL database ``url`` with ``citizens`` simulated citizens by COPY (1.3
    million in a few minutes)."""
    import itertools

    import asyncpg
    from sqlalchemy.ext.asyncio import create_async_engine

    from simulators.population import CITIZENS, metadata, synthetic_citizens

    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)  # the table and its indexes
    await engine.dispose()
    columns = [column.name for column in CITIZENS.columns]
    connection = await asyncpg.connect(url)
    try:
        rows = iter(synthetic_citizens(citizens, SEED, vietnam_today()))
        while batch := list(itertools.islice(rows, 50_000)):
            records = [tuple(row.get(column) for column in columns) for row in batch]
            await connection.copy_records_to_table("cong_dan", records=records, columns=columns)
        await connection.execute("ANALYZE cong_dan")
    finally:
        await connection.close()


def seed_citizens(url: str, citizens: int) -> None:
    """The sector table at ``url`` (``sqlite:///FILE`` or ``postgresql://...``) with ``citizens`` simulated
    citizens: by COPY on PostgreSQL, by the simulator's own inserts on SQLite (the same rows)."""
    if url.startswith("postgresql://"):
        asyncio.run(copy_citizens(url, citizens))
    else:
        from simulators.population import seed_population

        asyncio.run(seed_population(url, count=citizens, seed=SEED))


def record_ids(url: str, limit: int | None = 5000) -> list[str]:
    """``limit`` existing record ids of the sector database at ``url`` (one on :data:`POSTGRES`'s server, or a
    SQLite file), in a fixed random order."""
    query = "SELECT so_dinh_danh FROM cong_dan"
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            ids = [row[0] for row in conn.execute(query)]
    else:
        ids = psql(query, url.rsplit("/", 1)[1]).split()
    random.Random(1).shuffle(ids)
    return ids[:limit]


# --- servers --------------------------------------------------------------------------------------------------------


def wait_ready(url: str, headers: dict[str, str] | None = None, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait (60 s at most) until ``url`` answers 200; fails at once if ``process`` ends."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the server of {url} ended (exit status {process.returncode})")
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def terminate(*processes: subprocess.Popen[bytes] | None) -> None:
    """Terminate the processes (``None`` is skipped) and wait for them; kill one that does not end in 30 s."""
    running = [process for process in processes if process is not None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gateway_cli(env: dict[str, str], *args: str) -> str:
    """Run ``python -m gateway ARGS`` with ``env``; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    return done.stdout


def create_client(env: dict[str, str], client_id: str = "bench", scope: str = "population:read") -> str:
    """Create the client ``client_id`` (``gateway clients create``) in the gateway's database; its secret."""
    out = gateway_cli(env, "clients", "create", client_id, "--scope", scope, "--client-id", client_id)
    return re.search(r"client_secret:\s+(\S+)", out).group(1)  # type: ignore[union-attr]


def start_server(
    command: list[str],
    *,
    ready: str = "/healthz",
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    stderr: int | IO[bytes] = subprocess.DEVNULL,
) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``command --port PORT`` (a free port on 127.0.0.1) until ``ready`` answers 200 (asked with
    ``headers``); the process and its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port)], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + ready, headers, process)
    except BaseException:
        terminate(process)
        raise
    return process, base


def start_gateway(
    env: dict[str, str], *, workers: int = 1, cwd: Path = ROOT, stderr: int | IO[bytes] = subprocess.DEVNULL
) -> tuple[subprocess.Popen[bytes], str]:
    """``gateway serve`` with ``env`` (its database migrated: ``--no-migrate``) on a free port, started and
    answering ``/healthz``; the process and its base URL."""
    command = [sys.executable, "-m", "gateway", "serve", "--workers", str(workers), "--no-migrate"]
    return start_server(command, env=env, cwd=cwd, stderr=stderr)


def fetch_token(base: str, client_id: str, secret: str) -> str:
    """An access token of the client from the gateway at ``base``."""
    answer = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    if answer.status_code != 200:
        raise SystemExit(f"no token: {answer.status_code} {answer.text}")
    return str(answer.json()["access_token"])


def data_headers(token: str) -> dict[str, str]:
    """The headers of a data request: the token, the purpose and the actor."""
    return {"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE, "X-Actor-Id": ACTOR}


# --- wrk ------------------------------------------------------------------------------------------------------------


def lua_script(
    path: Path, prefix: str, ids: list[str], headers: dict[str, str], tokens: list[str] | None = None
) -> Path:
    """A wrk script at ``path`` requesting ``GET <prefix><id>`` over ``ids`` in turn, with ``headers``; with
    ``tokens``, each request carries the next of them as its bearer token (many clients calling)."""
    lua_headers = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items() if not (tokens and k == "Authorization"))
    if tokens:
        lua_headers += ', ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1]'
    path.write_text(
        "ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
        "tokens = {" + ",".join(f'"{t}"' for t in tokens or []) + "}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        f'  return wrk.format("GET", "{prefix}" .. ids[(n % #ids) + 1], {{{lua_headers}}})\n'
        "end\n"
    )
    return path


def _milliseconds(text: str | None) -> float:
    if text is None:
        return float("nan")
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


@dataclass(frozen=True)
class Load:
    """The figures of one wrk run (latencies as wrk writes them, ``None`` when it wrote none)."""

    rate: float
    p50: str | None
    p99: str | None
    errors: int

    @property
    def p50_ms(self) -> float:
        return _milliseconds(self.p50)

    @property
    def p99_ms(self) -> float:
        return _milliseconds(self.p99)

    def note(self, *, p50: bool = False) -> str:
        """``p99 …`` (with ``p50``: ``p50 …, p99 …``) and the count of non-2xx answers, if any."""
        note = f"p99 {self.p99 or '?'}"
        if p50:
            note = f"p50 {self.p50 or '?'}, {note}"
        return note + (f", {self.errors} non-2xx" if self.errors else "")


def token_script(path: Path, client_id: str, secret: str) -> Path:
    """A wrk script at ``path`` asking ``POST /oauth/token`` for a ``client_credentials`` token, HTTP Basic."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.body = "grant_type=client_credentials"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "Basic {basic}"\n'
    )
    return path


def wrk(url: str, script: Path | None = None, connections: int = 16, duration: float = 10) -> Load:
    """Load ``url`` with wrk (two threads, keep-alive ``connections``, ``duration`` seconds, whole) as ``script``
    says (else ``GET url``)."""
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(
        rate, p50.group(1) if p50 else None, p99.group(1) if p99 else None, int(errors.group(1)) if errors else 0
    )


# --- processes ------------------------------------------------------------------------------------------------------


def child_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (uvicorn's workers, a verifying child)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def _stat_seconds(stat: Path) -> float:
    """The CPU time (user and system) in a ``/proc/.../stat`` file, in seconds (0 once it is gone)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime and stime, in clock ticks


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` and its children have used so far, in seconds."""
    return sum(_stat_seconds(Path(f"/proc/{one}/stat")) for one in [pid, *child_pids(pid)])


def loop_thread_seconds(pid: int) -> float:
    """The part of :func:`cpu_seconds` used by the main threads of ``pid`` and its children: a uvicorn worker's
    event loop, which one core bounds, without its other threads (the audit's commits, SQLite's connections)."""
    return sum(_stat_seconds(Path(f"/proc/{one}/task/{one}/stat")) for one in [pid, *child_pids(pid)])


def process_rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` alone, in MiB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` and its children (uvicorn's workers), in MiB."""
    return sum(process_rss_mib(one) for one in [pid, *child_pids(pid)])


def py_spy(
    pid: int,
    output: Path,
    *,
    rate: int,
    duration: float | None = None,
    nonblocking: bool = True,
    subprocesses: bool = False,
) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` into ``output`` (raw collapsed stacks of the samples holding the GIL), for
    ``duration`` seconds or until sent SIGINT. Needs ``pip install py-spy`` (and ptrace rights)."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [binary, "record", "--gil", "--format", "raw", "--rate", str(rate), "--pid", str(pid)]
    command += ["--output", str(output)]
    if duration is not None:
        command += ["--duration", f"{duration:.0f}"]
    if nonblocking:
        command.append("--nonblocking")
    if subprocesses:
        command.append("--subprocesses")
    return subprocess.Popen(command)


def serve_yardstick(create_app: Callable[[str], Any], description: str | None, url_help: str) -> None:
    """The command line of a yardstick server (``bare.py``, ``rest_db.py``): ``--url`` of its database and
    ``--port``, served by uvicorn with uvloop and httptools, one worker, quietly."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help=url_help)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the port (default 1)")
    args = parser.parse_args()
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": args.port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": "warning",
        "access_log": False,
    }
    if args.workers == 1:
        uvicorn.run(create_app(args.url), **options)
        return
    # uvicorn's workers import the application anew: name the yardstick's module and its database for them.
    os.environ["BENCH_YARDSTICK_MODULE"] = Path(sys.argv[0]).stem
    os.environ["BENCH_YARDSTICK_URL"] = args.url
    uvicorn.run("common:yardstick_from_environment", factory=True, workers=args.workers, **options)


def yardstick_from_environment() -> Any:
    """A worker's application of a yardstick served with ``--workers`` (``serve_yardstick``)."""
    import importlib

    module = importlib.import_module(os.environ["BENCH_YARDSTICK_MODULE"])
    return module.create_app(os.environ["BENCH_YARDSTICK_URL"])
