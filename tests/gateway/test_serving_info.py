"""Replicas that serve differently say so: each process exports ``gateway_serving_info`` with a digest of the
settings that decide its answers and the databases it loaded, so that replicas configured apart (or one that could
not load a connector) show two values in Prometheus instead of answering differently in silence."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support import InProcessGateway

from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.http.state import serving_digest


def _serving(api: httpx.Client) -> list[tuple[str, str]]:
    families = text_string_to_metric_families(api.get("/metrics").text)
    family = next(family for family in families if family.name == "gateway_serving_info")
    return [(sample.labels["databases"], sample.labels["settings"]) for sample in family.samples if sample.value == 1]


def test_the_process_exports_what_it_serves(settings: Settings) -> None:
    # A gateway of its own: the metric is the process's, and the tests start other gateways in this process.
    with InProcessGateway(create_app(settings)) as gateway, gateway.client() as api:
        assert _serving(api) == [("population", serving_digest(settings))]


def test_the_digest_follows_the_settings_that_decide_answers_only(
    api: httpx.Client, make_settings: Callable[..., Settings], settings: Settings, sector_url: str
) -> None:
    same = serving_digest(settings)
    assert serving_digest(make_settings()) == same  # another process, configured alike
    # Where it logs and the paths of its files may differ between replicas.
    assert serving_digest(make_settings(log_level="DEBUG", log_format="json", access_log=True)) == same
    # What it serves, and how, may not.
    assert serving_digest(make_settings(rate_limit_per_second=3)) != same
    assert serving_digest(make_settings(connectors={})) != same
    other = {"population": {"config": {"url": sector_url}}, "tax": {"connector": "population"}}
    assert serving_digest(make_settings(connectors=other)) != same


def test_the_digest_reveals_no_setting(make_settings: Callable[..., Settings]) -> None:
    """A password in a URL changes the digest, but the digest is keyed: it cannot be checked against guesses."""
    one = make_settings(redis_url="redis://:hunter2@127.0.0.1:6379/0")
    two = make_settings(redis_url="redis://:hunter3@127.0.0.1:6379/0")
    assert serving_digest(one) != serving_digest(two)
    assert re.fullmatch(r"[0-9a-f]{12}", serving_digest(one))
