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
    api = BusinessApi(enterprises)
    context.plant("business", list(api.records.values()))
    server = SimulatorServer(api).start()
    context.stack.callback(server.stop)
    context.servers["business"] = server
    # The canary: the first enterprise by code (the registry's records are derived from clean citizens).
    return {"base_url": server.url, "auth": DEFAULT_AUTH.connector_auth(), "canary": min(api.records)}


#: The national business registration database, over REST.
BUSINESS = SectorSystem(
    database="business",
    connector="business",
    title="National business registration database",
    protocol="rest",
    start=_start,
)
