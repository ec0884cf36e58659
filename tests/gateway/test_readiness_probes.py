"""The readiness requests' shared probes of the sector systems (:class:`gateway.http.probes.SharedProbes`), in
process with a clock of the test's own: callers asking while a probe runs share it; its answer is reused for the
reuse time counted from when the probe ended, not from when it began; a probe that failed is not reused longer; a
connector need not be hashable, and one gone is forgotten. (The live /readyz requests sharing one probe of a real
sector system: tests/gateway/test_upstream_failures.py.)"""

from __future__ import annotations

import asyncio
import gc
from typing import Any, cast

import pytest

from connectors.base import Connector, HealthReport, HealthState
from gateway.http.probes import SharedProbes


class Unhashable:
    """A connector that defines equality and so is not hashable."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unhashable)

    __hash__ = None  # type: ignore[assignment]


class Probed:
    """Shared probes on the test's clock (``now``), each probe made ending when the test says, with the report
    (or the error) it is given."""

    def __init__(self) -> None:
        self.now = 100.0
        self.shared = SharedProbes(1.0, clock=lambda: self.now)
        self.made: list[object] = []
        self.ends: list[asyncio.Future[HealthReport]] = []

    def probe(self, connector: Connector[Any]) -> asyncio.Future[HealthReport]:
        return self.shared.probe(connector, self.check)

    async def check(self, connector: Connector[Any]) -> HealthReport:
        self.made.append(connector)
        end: asyncio.Future[HealthReport] = asyncio.get_running_loop().create_future()
        self.ends.append(end)
        return await end


def _connector() -> Connector[Any]:
    return cast(Connector[Any], Unhashable())


@pytest.mark.anyio
async def test_callers_share_a_probe_while_it_runs_and_for_the_reuse_time_after_it_ended() -> None:
    probed, connector = Probed(), _connector()
    first = probed.probe(connector)
    probed.now += 30  # a probe under way is shared however long it takes (to its connector's own deadline)
    assert all(probed.probe(connector) is first for _ in range(50))
    await asyncio.sleep(0)
    assert len(probed.made) == 1
    probed.ends[0].set_result(HealthReport(HealthState.UP, message="first"))
    assert (await first).message == "first"
    probed.now += 0.9  # reused for a second from its end, not from its start 30 s ago
    assert probed.probe(connector) is first
    probed.now += 0.1
    second = probed.probe(connector)
    assert second is not first
    # Another connector has a probe of its own.
    assert probed.probe(_connector()) is not second
    await asyncio.sleep(0)
    assert len(probed.made) == 3
    for end in probed.ends[1:]:
        end.set_result(HealthReport(HealthState.DOWN, message="down"))
    await asyncio.sleep(0)


@pytest.mark.anyio
async def test_a_failed_probe_is_not_reused_past_the_reuse_time_and_a_connector_gone_is_forgotten() -> None:
    probed, connector = Probed(), _connector()
    failed = probed.probe(connector)
    await asyncio.sleep(0)
    probed.ends[0].set_exception(RuntimeError("the probe broke"))
    with pytest.raises(RuntimeError):
        await failed
    assert probed.probe(connector) is failed
    probed.now += 1.0
    again = probed.probe(connector)
    assert again is not failed
    await asyncio.sleep(0)
    probed.ends[1].set_result(HealthReport(HealthState.UP))
    await again
    del connector, failed, again
    probed.made.clear()
    probed.ends.clear()  # the failed one's traceback holds the connector
    gc.collect()
    assert probed.shared._probes == {}
