"""The simulated tax authority as the sector system ``tax``."""

from __future__ import annotations

from typing import Any

from ..enterprises import synthetic_world
from ..http.server import SimulatorServer
from ..sectors import SectorContext, SectorSystem
from ..vss_api.records import synthetic_vss_records
from .app import DEFAULT_AUTH, TaxApi
from .records import build_taxpayers

__all__ = ["TAX"]


async def _start(context: SectorContext) -> dict[str, Any]:
    citizens, enterprises = synthetic_world(context.citizens, context.seed, context.today)
    vss = synthetic_vss_records(context.citizens, context.seed, context.today)
    taxpayers = build_taxpayers(citizens, enterprises, vss, seed=context.seed, today=context.today)
    api = TaxApi(taxpayers)
    context.plant("tax", list(api.records.values()))
    server = SimulatorServer(api).start()
    context.stack.callback(server.stop)
    context.servers["tax"] = server
    # The canary: the first taxpayer by tax code (derived from clean citizens and enterprises).
    return {"base_url": server.url, "auth": DEFAULT_AUTH.connector_auth(), "canary": min(api.records)}


#: The tax authority's taxpayer register, over REST.
TAX = SectorSystem(
    database="tax",
    connector="tax",
    title="Taxpayer register",
    protocol="rest",
    start=_start,
)
