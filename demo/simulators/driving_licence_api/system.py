"""The simulated national driving licence database as a sector system served over REST."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..http.server import SimulatorServer
from ..population import synthetic_citizens
from ..sectors import SectorContext, SectorSystem
from .app import DEFAULT_AUTH, DrivingLicenceApi
from .records import generate_licences

__all__ = ["DRIVING_LICENCES", "driving_licence_api"]


def driving_licence_api(count: int, *, seed: int, today: date) -> DrivingLicenceApi:
    """The API over the licences of the ``count`` citizens of ``seed`` as of ``today``."""
    citizens = synthetic_citizens(count, seed, today)
    return DrivingLicenceApi(generate_licences(citizens, seed=seed, today=today))


async def _start(context: SectorContext) -> dict[str, Any]:
    api = driving_licence_api(context.citizens, seed=context.seed, today=context.today)
    context.plant("driving_licences", list(api.licences.values()))
    server = SimulatorServer(api).start()
    context.stack.callback(server.stop)
    context.servers["driving_licences"] = server
    # The canary: the first licence by number (derived from clean citizens).
    return {"base_url": server.url, "auth": DEFAULT_AUTH.connector_auth(), "canary": min(api.licences)}


#: The simulated national driving licence database, served over REST.
DRIVING_LICENCES = SectorSystem(
    database="driving_licences",
    connector="driving_licences",
    title="National driving licence database",
    protocol="rest",
    start=_start,
)
