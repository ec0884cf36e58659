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
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from common import (
    ROOT,
    Load,
    create_client,
    gateway_cli,
    need_wrk,
    postgres_databases,
    postgres_url,
    py_spy,
    rss_mib,
    start_gateway,
    terminate,
    token_script,
    wrk,
)

FORM = {"grant_type": "client_credentials"}


def make_legacy(env: dict[str, str], client_id: str, secret: str) -> None:
    """Store the client's secret as earlier versions did: an argon2id hash."""
    code = (
        "import asyncio, sys\n"
        "from sqlmodel import select\n"
        "from gateway.core.db import standalone_session\n"
        "from gateway.tables import ClientSecret\n"
        "from gateway.identity.passwords import argon2_hash\n"
        "from gateway.core.settings import get_settings\n"
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
    process, base = start_gateway(env)
    try:
        yield base, process
    finally:
        terminate(process)


@contextmanager
def profiled(pid: int, output: Path | None, duration: float) -> Iterator[None]:
    """Record ``pid`` with py-spy (collapsed stacks, GIL-holding samples) while the block runs."""
    if output is None:
        yield
        return
    recorder = py_spy(pid, output, rate=250, duration=duration)
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


def throughput(base: str, client_id: str, secret: str, duration: float, work: Path) -> Load:
    return wrk(f"{base}/oauth/token", token_script(work / "token.lua", client_id, secret), 16, duration)


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
    need_wrk()

    work = Path(tempfile.mkdtemp(prefix="bench-tokens-"))
    database = f"bench_tokens_{os.getpid()}"
    # The endpoint's capacity, measured with one client: its own allowance of tokens a minute is lifted.
    env = {
        **os.environ,
        "GATEWAY_DATA_DIR": str(work),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_TOKEN_REQUESTS_PER_MINUTE": "0",
    }
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        if args.backend == "postgresql":
            cleanup.enter_context(postgres_databases(database))
            env["GATEWAY_DATABASE_URL"] = postgres_url(database)
        gateway_cli(env, "db", "upgrade")
        good = ("bench", create_client(env, "bench"))
        victim = ("victim", create_client(env, "victim"))
        legacy = ("legacy", create_client(env, "legacy"))
        make_legacy(env, *legacy)
        print(f"backend={args.backend} gateway workers=1 cpus={os.cpu_count()}")
        with serve(env) as (base, process):
            if args.throughput_only:
                idle(base, *good, 20)
                with profiled(process.pid, args.profile, args.duration):
                    load = throughput(base, *good, args.duration, work)
                print(f"throughput  {load.rate:,.0f} tokens/s (16 connections, {load.note()})")
                return
            timings = idle(base, *good, args.requests)
            cuts = statistics.quantiles(timings, n=100)
            print(
                f"idle        /oauth/token p50 {statistics.median(timings) * 1000:.2f} ms  "
                f"p99 {cuts[98] * 1000:.2f} ms  ({args.requests} sequential requests)"
            )
            with profiled(process.pid, args.profile, args.duration):
                load = throughput(base, *good, args.duration, work)
            ceiling = wrk(f"{base}/healthz", None, 16, args.duration / 2).rate
            print(
                f"throughput  {load.rate:,.0f} tokens/s (16 connections, {load.note()}); GET /healthz: {ceiling:,.0f}/s"
            )
            show_flood("against one client id (locked out)", flood(base, process.pid, good, lambda _: victim[0]))
            show_flood("made-up client ids", flood(base, process.pid, good, lambda n: f"nobody-{n}"))
        # The worst case: a client still on argon2, the failure limits off.
        unguarded = {**env, "GATEWAY_TOKEN_FAILURES_PER_CLIENT": "0", "GATEWAY_TOKEN_FAILURES_PER_ADDRESS": "0"}
        with serve(unguarded) as (base, process):
            idle(base, *good, 20)
            show_flood("argon2 client, no failure limits", flood(base, process.pid, good, lambda _: legacy[0]))


if __name__ == "__main__":
    main()
