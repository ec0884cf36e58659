"""The cyclic garbage collector while the gateway serves (``gateway.core.collector``): the youngest generation's
threshold raised and what the start made frozen, both given back when the gateway stops; garbage in reference
cycles still freed while it serves."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from support import asgi_client

from gateway.core.collector import YOUNG_THRESHOLD, collector_for_serving
from gateway.core.settings import Settings
from gateway.http.app import create_app


@pytest.fixture
def default_collector() -> Iterator[None]:
    """The interpreter's collector as it starts, given back after the test."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*threshold)


@pytest.mark.anyio
@pytest.mark.usefixtures("default_collector")
async def test_a_serving_gateway_collects_less_often_and_gives_the_collector_back(settings: Settings) -> None:
    app = create_app(settings)
    async with asgi_client(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        assert gc.get_freeze_count() > 0  # the connectors, settings and catalogue made by the start
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


class Node:
    """An object in a reference cycle: reference counting alone never frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("default_collector")
def test_garbage_in_cycles_is_still_freed_while_serving() -> None:
    with collector_for_serving():
        gc.collect(0)
        cycle = Node()
        freed = weakref.ref(cycle)
        del cycle
        assert freed() is not None
        # Allocations of container objects past the threshold run a collection of the youngest generation.
        kept = [[index] for index in range(YOUNG_THRESHOLD + 100)]
        assert freed() is None
        del kept


@pytest.mark.usefixtures("default_collector")
def test_a_higher_threshold_set_by_the_operator_is_kept() -> None:
    gc.set_threshold(50_000, 20, 20)
    with collector_for_serving():
        assert gc.get_threshold() == (50_000, 20, 20)
    assert gc.get_threshold() == (50_000, 20, 20)
