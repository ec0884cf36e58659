"""The PrometheusServer test helper against the real Prometheus binary: it starts on loopback, scrapes, reports
query errors, changes targets, and leaves nothing behind."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_server import PrometheusError, PrometheusServer, loopback_target, require_prometheus


def test_it_scrapes_answers_queries_and_cleans_up() -> None:
    require_prometheus()
    server = PrometheusServer([])
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        workdir = server.workdir
        assert workdir is not None and workdir.is_dir()
        assert server.targets() == []
        server.set_targets([loopback_target(server.url)])  # Prometheus scraping itself
        server.wait_for_scrapes(2, timeout=30)
        (target,) = server.targets()
        assert target["health"] == "up"
        assert server.successful_scrapes()[loopback_target(server.url)] >= 2
        (series,) = server.query('up{job="axis-gateway"}')
        assert series["value"][1] == "1"
        now = time.time()
        (ranged,) = server.query_range("up", now - 30, now, 1)
        assert len(ranged["values"]) >= 2
        assert server.query("1 + 1")[0]["value"][1] == "2"
        with pytest.raises(PrometheusError) as refused:
            server.query("sum(")
        assert refused.value.error_type == "bad_data"
        assert "parse error" in refused.value.error
        assert server.alerts() == []
    assert not workdir.exists()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/-/ready", timeout=2)
    server.stop()  # idempotent


def test_only_loopback_targets_are_accepted() -> None:
    with pytest.raises(ValueError, match="loopback"):
        PrometheusServer(["192.0.2.1:9100"])
    with pytest.raises(ValueError, match="loopback"):
        loopback_target("http://example.org:80")
    assert loopback_target("http://[::1]:8123") == "[::1]:8123"
