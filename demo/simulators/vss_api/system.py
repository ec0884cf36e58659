"""The simulated Vietnam Social Security system as two sector systems: ``social_insurance`` and
``health_insurance``, served by one API server per context (started by whichever is started first)."""

from __future__ import annotations

from typing import Any

from ..http.server import SimulatorServer
from ..sectors import SectorContext, SectorSystem
from .app import DEFAULT_AUTH, VssApi
from .records import synthetic_vss_records

__all__ = ["HEALTH_INSURANCE", "SOCIAL_INSURANCE", "vss_server"]

_SERVERS: dict[int, SimulatorServer] = {}


def vss_server(context: SectorContext) -> SimulatorServer:
    """The API server of ``context``: built from its citizens and started on first use, stopped with its stack."""
    key = id(context.stack)
    server = _SERVERS.get(key)
    if server is None:
        records = synthetic_vss_records(context.citizens, context.seed, context.today)
        context.plant("social_insurance", list(records.participants.values()))
        context.plant("health_insurance", list(records.cards.values()))
        server = _SERVERS[key] = SimulatorServer(VssApi(records)).start()

        def stop() -> None:
            _SERVERS.pop(key, None)
            server.stop()

        context.stack.callback(stop)
    return server


def _api(server: SimulatorServer) -> VssApi:
    api = server.api
    assert isinstance(api, VssApi)
    return api


async def _start_social_insurance(context: SectorContext) -> dict[str, Any]:
    server = context.servers["social_insurance"] = vss_server(context)
    # The canary: the first participant by social insurance code (derived from clean citizens).
    canary = min(_api(server).records.participants)
    return {"base_url": server.url, "auth": DEFAULT_AUTH.connector_auth(), "canary": canary}


async def _start_health_insurance(context: SectorContext) -> dict[str, Any]:
    server = context.servers["health_insurance"] = vss_server(context)
    # The canary: the first card by card code (derived from clean citizens).
    canary = min(_api(server).records.cards)
    return {"base_url": server.url, "auth": DEFAULT_AUTH.connector_auth(), "canary": canary}


#: Vietnam Social Security's participants and contribution periods, over REST.
SOCIAL_INSURANCE = SectorSystem(
    database="social_insurance",
    connector="social_insurance",
    title="National insurance database: social insurance",
    protocol="rest",
    start=_start_social_insurance,
)

#: Vietnam Social Security's health insurance cards, over REST.
HEALTH_INSURANCE = SectorSystem(
    database="health_insurance",
    connector="health_insurance",
    title="National insurance database: health insurance cards",
    protocol="rest",
    start=_start_health_insurance,
)
