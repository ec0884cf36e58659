"""The token endpoint: its latency, its throughput, and a legitimate client's wait during a flood of bad requests.

    .venv/bin/python bench/tokens.py [--backend sqlite|postgresql] [--requests 300] [--duration 10]
                                     [--throughput-only] [--profile FILE]

It starts ``gateway serve`` (one worker, uvloop, httptools) on 127.0.0.1 with a client whose secret is stored as the
gateway stores new secrets (a keyed hash), and measures:

* *idle*: ``POST /oauth/token`` one request at a time over one connection (p50, p99);
* *throughput*: tokens per second with wrk (needs the Debian package ``wrk``), 16 connections;
* *flood*: 60 token requests with wrong secrets from 20 threads at once, while a legitimate client asks for a token
  every 20 ms: the legitimate requests' worst and median latency, and the server process's RSS before, at its
  peak during, and after the flood. Three floods: against the client (its id is locked out after 10 failures),
  against made-up client ids, and against a client whose secret is still stored as an argon2id hash from an earlier
  version, with the failure limits off (the worst case: every bad request runs argon2, 64 MiB each, at most two
  at a time).

``--throughput-only`` measures the throughput alone (no idle, healthz or flood runs): quick before/after
comparisons of one change. ``--profile FILE`` records the server with py-spy (``pip install py-spy``; root or
ptrace rights) during the throughput run, as collapsed stacks (``--format raw``; ``--gil``: only the samples
holding the GIL).

Everything, wrk and the flooding threads included, shares this machine's cores.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FORM = {"grant_type": "client_credentials"}


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident memory of the process and its children (uvicorn may run its worker in a child), in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    return done.stdout


def create_client(env: dict[str, str], client_id: str) -> str:
    out = cli(env, "clients", "create", client_id, "--scope", "population:read", "--client-id", client_id)
    return re.search(r"client_secret:\s+(\S+)", out).group(1)  # type: ignore[union-attr]


def make_legacy(env: dict[str, str], client_id: str, secret: str) -> None:
    """Store the client's secret as earlier versions did: an argon2id hash."""
    code = (
        "import asyncio, sys\n"
        "from sqlmodel import select\n"
        "from gateway.db import standalone_session\n"
        "from gateway.models import ClientSecret\n"
        "from gateway.security.passwords import argon2_hash\n"
        "from gateway.settings import get_settings\n"
        "async def main():\n"
        "    async with standalone_session(get_settings().database_url) as s:\n"
        "        for row in await s.exec(select(ClientSecret).where(ClientSecret.client_id == sys.argv[1])):\n"
        "            row.secret_hash = argon2_hash(sys.argv[2]); s.add(row)\n"
        "        await s.commit()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code, client_id, secret], env=env, check=True, cwd=ROOT)


@contextmanager
def serve(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--no-migrate"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def profiled(pid: int, output: Path | None, duration: float) -> Iterator[None]:
    """Record ``pid`` with py-spy (collapsed stacks, GIL-holding samples) while the block runs."""
    if output is None:
        yield
        return
    spy = Path(sys.executable).parent / "py-spy"
    command = [str(spy), "record", "--gil", "--nonblocking", "--rate", "250", "--format", "raw", "--pid", str(pid)]
    recorder = subprocess.Popen([*command, "--output", str(output), "--duration", f"{duration:.0f}"])
    try:
        yield
    finally:
        recorder.wait(timeout=duration + 60)


def idle(base: str, client_id: str, secret: str, requests: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for n in range(requests + 20):
            started = time.perf_counter()
            response = http.post("/oauth/token", data=FORM, auth=(client_id, secret))
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            if n >= 20:  # warm-up
                timings.append(elapsed)
    return timings


def throughput(base: str, client_id: str, secret: str, duration: float, work: Path) -> tuple[float, str]:
    basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    script = work / "token.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.body = "grant_type=client_credentials"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "{basic}"\n'
    )
    return wrk(f"{base}/oauth/token", script, duration)


def wrk(url: str, script: Path | None, duration: float) -> tuple[float, str]:
    command = ["wrk", "-t2", "-c16", f"-d{duration:g}s", "--latency", url]
    if script is not None:
        command[-1:-1] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    note = f"p99 {p99.group(1) if p99 else '?'}" + (f", {errors.group(1)} non-2xx" if errors else "")
    return rps, note


def flood(
    base: str,
    pid: int,
    good: tuple[str, str],
    bad_id: Callable[[int], str],
    *,
    threads: int = 20,
    bad_requests: int = 60,
) -> Flood:
    """``bad_requests`` wrong secrets from ``threads`` threads; a legitimate request every 20 ms meanwhile."""
    stop = threading.Event()
    peak = [rss_mib(pid)]
    before = peak[0]
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib(pid))
            time.sleep(0.01)

    counter = iter(range(bad_requests))

    def attacker() -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            for n in counter:
                response = http.post("/oauth/token", data=FORM, auth=(bad_id(n), "not-the-secret"))
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    legit: list[float] = []

    def legitimate() -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            while not stop.is_set():
                started = time.perf_counter()
                response = http.post("/oauth/token", data=FORM, auth=good)
                legit.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
                time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    workers = [threading.Thread(target=attacker) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    watcher = threading.Thread(target=legitimate)
    watcher.start()
    for worker in workers:
        worker.join()
    flood_seconds = time.perf_counter() - started
    stop.set()
    watcher.join()
    sampler.join()
    time.sleep(1)
    return Flood(
        seconds=flood_seconds,
        legit_max_ms=max(legit) * 1000,
        legit_p50_ms=statistics.median(legit) * 1000,
        legit_requests=len(legit),
        rss_mib=(before, peak[0], rss_mib(pid)),
        statuses=dict(sorted(statuses.items())),
    )


@dataclass(frozen=True)
class Flood:
    seconds: float
    legit_max_ms: float
    legit_p50_ms: float
    legit_requests: int
    rss_mib: tuple[float, float, float]  # before, peak during, after
    statuses: dict[int, int]


def show_flood(name: str, result: Flood) -> None:
    before, peak, after = result.rss_mib
    print(
        f"flood {name:<34} {result.seconds:6.2f} s  legit max {result.legit_max_ms:7.1f} ms  "
        f"p50 {result.legit_p50_ms:6.1f} ms ({result.legit_requests} requests)  "
        f"RSS {before:.0f} -> {peak:.0f} -> {after:.0f} MiB  bad answers {result.statuses}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=300, help="sequential requests of the idle measurement")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the throughput measurement")
    parser.add_argument("--throughput-only", action="store_true", help="only the throughput measurement")
    parser.add_argument("--profile", type=Path, help="record the server with py-spy during the throughput run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="bench-tokens-"))
    database = f"bench_tokens_{os.getpid()}"
    env = {**os.environ, "GATEWAY_DATA_DIR": str(work), "GATEWAY_LOG_LEVEL": "WARNING"}
    if args.backend == "postgresql":
        subprocess.run(["psql", POSTGRES, "-qc", f'CREATE DATABASE "{database}"'], check=True)
        env["GATEWAY_DATABASE_URL"] = POSTGRES.rsplit("/", 1)[0] + f"/{database}"
    try:
        cli(env, "db", "upgrade")
        good = ("bench", create_client(env, "bench"))
        victim = ("victim", create_client(env, "victim"))
        legacy = ("legacy", create_client(env, "legacy"))
        make_legacy(env, *legacy)
        print(f"backend={args.backend} gateway workers=1 cpus={os.cpu_count()}")
        with serve(env) as (base, process):
            if args.throughput_only:
                idle(base, *good, 20)
                with profiled(process.pid, args.profile, args.duration):
                    rps, note = throughput(base, *good, args.duration, work)
                print(f"throughput  {rps:,.0f} tokens/s (16 connections, {note})")
                return
            timings = idle(base, *good, args.requests)
            cuts = statistics.quantiles(timings, n=100)
            print(
                f"idle        /oauth/token p50 {statistics.median(timings) * 1000:.2f} ms  "
                f"p99 {cuts[98] * 1000:.2f} ms  ({args.requests} sequential requests)"
            )
            with profiled(process.pid, args.profile, args.duration):
                rps, note = throughput(base, *good, args.duration, work)
            ceiling, _ = wrk(f"{base}/healthz", None, args.duration / 2)
            print(f"throughput  {rps:,.0f} tokens/s (16 connections, {note}); GET /healthz: {ceiling:,.0f}/s")
            show_flood("against one client id (locked out)", flood(base, process.pid, good, lambda _: victim[0]))
            show_flood("made-up client ids", flood(base, process.pid, good, lambda n: f"nobody-{n}"))
        # The worst case: a client still on argon2, the failure limits off.
        unguarded = {**env, "GATEWAY_TOKEN_FAILURES_PER_CLIENT": "0", "GATEWAY_TOKEN_FAILURES_PER_ADDRESS": "0"}
        with serve(unguarded) as (base, process):
            idle(base, *good, 20)
            show_flood("argon2 client, no failure limits", flood(base, process.pid, good, lambda _: legacy[0]))
    finally:
        if args.backend == "postgresql":
            subprocess.run(["psql", POSTGRES, "-qc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
