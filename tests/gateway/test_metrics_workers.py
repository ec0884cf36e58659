"""``gateway serve --workers 2``: counters and histograms add up across the workers; shared gauges count once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support import free_port

REQUESTS = 60


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_two_workers_report_the_sum_of_their_requests(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GATEWAY_") and key != "PROMETHEUS_MULTIPROC_DIR"
    }
    env |= {"GATEWAY_DATA_DIR": str(tmp_path / "var"), "GATEWAY_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.2)
        time.sleep(1.0)  # both workers up
        for _ in range(REQUESTS):  # a new connection each time, so both workers answer some
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
            assert httpx.get(f"{base}/v1/services", timeout=5).status_code == 401
        files = sorted(path.name for path in (tmp_path / "var" / "metrics").iterdir())
        assert len([name for name in files if name.startswith("counter_")]) == 2, files
        for _ in range(4):
            samples = _samples(httpx.get(f"{base}/metrics", timeout=5).text)
            healthz = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
            # The first /healthz polls while starting count too: at least REQUESTS, never one worker's share.
            assert samples[("gateway_http_requests_total", healthz)] >= REQUESTS
            services = (("method", "GET"), ("route", "/v1/services"), ("status", "401"))
            assert samples[("gateway_http_requests_total", services)] == REQUESTS
            by_route = (("method", "GET"), ("route", "/v1/services"))
            assert samples[("gateway_http_request_duration_seconds_count", by_route)] == REQUESTS
            assert samples[("gateway_auth_failures_total", (("reason", "missing"),))] == REQUESTS
            by_state = [value for (name, _), value in samples.items() if name == "gateway_axis_databases"]
            assert sum(by_state) == 16
    finally:
        server.terminate()
        server.wait(timeout=30)
