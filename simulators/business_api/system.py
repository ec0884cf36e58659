"""The simulated national business registry as the sector system ``business``."""

from __future__ import annotations

from typing import Any

from ..enterprises import synthetic_world
from ..http.server import SimulatorServer
from ..sectors import SectorContext, SectorSystem
from .app import DEFAULT_AUTH, BusinessApi

__all__ = ["BUSINESS"]


async def _start(context: SectorContext) -> dict[str, Any]:
    _, enterprises = synthetic_world(context.citizens, context.seed, context.today)
    server = SimulatorServer(BusinessApi(enterprises)).start()
    context.stack.callback(server.stop)
    return {"base_url": server.url, "auth": DEFAULT_AUTH.connector_auth()}


#: The national business registration database, over REST.
BUSINESS = SectorSystem(
    database="business",
    connector="business",
    title="National business registration database",
    protocol="rest",
    start=_start,
)
