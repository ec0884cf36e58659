"""The memory of a gateway worker serving the demo's twelve national databases, over a soak.

    .venv/bin/python bench/memory.py [--duration 600] [--interval 15] [--connections 8] [--citizens 2000]

It starts ``gateway demo`` in a temporary directory (the simulated sector systems: six SQL databases, four REST
and two SOAP services, some through the simulated national platform), then a second gateway, ``gateway serve
--config var/demo.yaml`` (one worker), with the demo's twelve connectors configured exactly as the demo's own.
That worker's resident memory is measured (with ``--workers N``, the largest of the N worker processes; the
supervisor serves nothing):

* *started*: once it answers ``/readyz``;
* *loaded*: after one read of every database (each connector's first call);
* during the soak: wrk reads every database in turn (its canary record) and searches, for ``--duration``
  seconds, while the axis health checks and the background loops run; the resident memory is sampled every
  ``--interval`` seconds.

The budget is 150 MiB a worker, flat over the soak. The second process matters: the demo's own process also
holds the simulators. Needs wrk (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml
from common import ACTOR, PURPOSE, ROOT, child_pids, free_port, lua_script, process_rss_mib, wait_ready

GATEWAY = str(Path(sys.executable).with_name("gateway"))
BUDGET_MIB = 150.0


def canaries(settings_file: Path) -> dict[str, str]:
    """The canary record of every database the demo's settings configure."""
    settings = yaml.safe_load(settings_file.read_text())
    found = {}
    for name, connector in settings.get("connectors", {}).items():
        canary = (connector.get("config") or {}).get("canary")
        if canary:
            found[name] = str(canary)
    return found


def worker_rss(pid: int, workers: int) -> float:
    """The resident memory of the gateway's largest worker: the process itself with one worker (not its
    children: the audit verification runs in one now and then), else the largest of uvicorn's worker processes (the
    supervisor serves nothing)."""
    if workers == 1:
        return process_rss_mib(pid)
    return max((process_rss_mib(child) for child in child_pids(pid)), default=0.0)


def sample(pid: int, workers: int, interval: float, stop: threading.Event, samples: list[tuple[float, float]]) -> None:
    started = time.monotonic()
    while not stop.wait(interval):
        samples.append((time.monotonic() - started, worker_rss(pid, workers)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=600, help="seconds of soak")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between memory samples")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--citizens", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="the gateway's worker processes (each is measured)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    demo_port, port = free_port(), free_port()
    log = (work / "demo.log").open("wb")
    demo = subprocess.Popen(
        [GATEWAY, "demo", "--port", str(demo_port), "--citizens", str(args.citizens)],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    gateway = None
    try:
        wait_ready(f"http://127.0.0.1:{demo_port}/healthz")
        settings_file = work / "var" / "demo.yaml"
        gateway = subprocess.Popen(
            [GATEWAY, "serve", "--config", str(settings_file), "--port", str(port), "--workers", str(args.workers)],
            cwd=work,
            stdout=(work / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz")
        started = worker_rss(gateway.pid, args.workers)

        token = (work / "var" / "demo-tokens" / "demo").read_text().strip()
        headers = {"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE, "X-Actor-Id": ACTOR}
        records = canaries(settings_file)
        statuses = {}
        for database, record in sorted(records.items()):
            answer = httpx.get(f"{base}/v1/databases/{database}/records/{quote(record)}", headers=headers, timeout=30)
            statuses[database] = answer.status_code
        loaded = worker_rss(gateway.pid, args.workers)
        print(f"databases read: {len(statuses)}; answers: {statuses}")

        paths = [f"{database}/records/{quote(record)}" for database, record in sorted(records.items())]
        script = lua_script(work / "soak.lua", "/v1/databases/", paths, headers)
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        sampler = threading.Thread(
            target=sample, args=(gateway.pid, args.workers, args.interval, stop, samples), daemon=True
        )
        sampler.start()
        soak = subprocess.run(
            ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "-s", str(script), base],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        stop.set()
        sampler.join()
        ended = worker_rss(gateway.pid, args.workers)
    finally:
        for process in (gateway, demo):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)

    rate = next((line.split()[-1] for line in soak.splitlines() if line.startswith("Requests/sec")), "?")
    errors = next((line.split()[-1] for line in soak.splitlines() if "Non-2xx" in line), "0")
    print(f"soak: {args.duration} s, {args.connections} connections, {rate} requests/s, {errors} non-2xx answers")
    print("| seconds | RSS MiB |\n| --- | --- |")
    for seconds, rss in samples:
        print(f"| {seconds:.0f} | {rss:.1f} |")
    peak = max([started, loaded, ended, *(rss for _, rss in samples)])
    after_first_minute = next((rss for seconds, rss in samples if seconds >= 60), loaded)
    print(
        f"\nworker RSS MiB: started {started:.1f}, loaded {loaded:.1f}, peak {peak:.1f}, end {ended:.1f}; "
        f"end minus the first minute's {ended - after_first_minute:+.1f}; budget {BUDGET_MIB:.0f}: "
        f"{'within' if peak < BUDGET_MIB else 'OVER'}"
    )
    print(f"(work directory: {work}; the root is {ROOT})")


if __name__ == "__main__":
    main()
