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
from dataclasses import dataclass
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


@dataclass
class Soak:
    """What a soak measured: the worker's RSS (MiB) once started, once every database was read, sampled during
    the soak and at its end; wrk's rate and non-2xx answers; each database's first answer."""

    started: float
    loaded: float
    ended: float
    samples: list[tuple[float, float]]
    rate: float
    errors: int
    statuses: dict[str, int]
    work: Path

    @property
    def peak(self) -> float:
        return max([self.started, self.loaded, self.ended, *(rss for _, rss in self.samples)])

    @property
    def growth_after_first_minute(self) -> float:
        """The end's RSS minus the first sample past one minute's (the loaded RSS if none)."""
        return self.ended - next((rss for seconds, rss in self.samples if seconds >= 60), self.loaded)


def soak(*, duration: int, interval: float, connections: int, citizens: int, workers: int) -> Soak:
    """Start the demo and a second gateway with its twelve connectors, read every database once, then soak it
    with wrk for ``duration`` seconds, sampling the worker's memory every ``interval`` seconds."""
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    demo_port, port = free_port(), free_port()
    log = (work / "demo.log").open("wb")
    demo = subprocess.Popen(
        [GATEWAY, "demo", "--port", str(demo_port), "--citizens", str(citizens)],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    gateway = None
    try:
        wait_ready(f"http://127.0.0.1:{demo_port}/healthz")
        settings_file = work / "var" / "demo.yaml"
        gateway = subprocess.Popen(
            [GATEWAY, "serve", "--config", str(settings_file), "--port", str(port), "--workers", str(workers)],
            cwd=work,
            stdout=(work / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz")
        started = worker_rss(gateway.pid, workers)

        token = (work / "var" / "demo-tokens" / "demo").read_text().strip()
        headers = {"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE, "X-Actor-Id": ACTOR}
        records = canaries(settings_file)
        statuses = {}
        for database, record in sorted(records.items()):
            answer = httpx.get(f"{base}/v1/databases/{database}/records/{quote(record)}", headers=headers, timeout=30)
            statuses[database] = answer.status_code
        loaded = worker_rss(gateway.pid, workers)

        paths = [f"{database}/records/{quote(record)}" for database, record in sorted(records.items())]
        script = lua_script(work / "soak.lua", "/v1/databases/", paths, headers)
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        sampler = threading.Thread(target=sample, args=(gateway.pid, workers, interval, stop, samples), daemon=True)
        sampler.start()
        output = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), base],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        stop.set()
        sampler.join()
        ended = worker_rss(gateway.pid, workers)
    finally:
        for process in (gateway, demo):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    rate = next((float(line.split()[-1]) for line in output.splitlines() if line.startswith("Requests/sec")), 0.0)
    errors = next((int(line.split()[-1]) for line in output.splitlines() if "Non-2xx" in line), 0)
    return Soak(started, loaded, ended, samples, rate, errors, statuses, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=600, help="seconds of soak")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between memory samples")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--citizens", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="the gateway's worker processes (each is measured)")
    args = parser.parse_args()

    result = soak(
        duration=args.duration,
        interval=args.interval,
        connections=args.connections,
        citizens=args.citizens,
        workers=args.workers,
    )
    print(f"databases read: {len(result.statuses)}; answers: {result.statuses}")
    print(
        f"soak: {args.duration} s, {args.connections} connections, {result.rate:.0f} requests/s, "
        f"{result.errors} non-2xx answers"
    )
    print("| seconds | RSS MiB |\n| --- | --- |")
    for seconds, rss in result.samples:
        print(f"| {seconds:.0f} | {rss:.1f} |")
    print(
        f"\nworker RSS MiB: started {result.started:.1f}, loaded {result.loaded:.1f}, peak {result.peak:.1f}, end "
        f"{result.ended:.1f}; end minus the first minute's {result.growth_after_first_minute:+.1f}; budget "
        f"{BUDGET_MIB:.0f}: {'within' if result.peak < BUDGET_MIB else 'OVER'}"
    )
    print(f"(work directory: {result.work}; the root is {ROOT})")


if __name__ == "__main__":
    main()
