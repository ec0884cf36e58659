"""The simulated national platform with two sector systems behind it, for the tests of the REST and SOAP adapters'
axis profile: the business registry (REST) and the judicial records service (SOAP), each reachable directly and
through the hub (:mod:`simulators.ndxp_hub`), on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import Connector
from connectors.business import BusinessConnector
from connectors.judicial_records import JudicialRecordsConnector
from simulators.http import SimulatorServer
from simulators.ndxp_hub import NdxpHub, via_hub
from simulators.sectors import SectorContext, load_sector_system


@dataclass
class PlatformWorld:
    """The hub, its URL, and the direct configurations of the two sector systems behind it."""

    hub: NdxpHub
    hub_url: str
    business: dict[str, Any]
    judicial: dict[str, Any]

    def rest(self, service: str = "DKDN", **profile: Any) -> dict[str, Any]:
        """The business registry's configuration through the hub (its service ``service``)."""
        return via_hub(self.hub, self.hub_url, service, self.business, protocol="rest", **profile)

    def soap(self, service: str = "LLTP", **profile: Any) -> dict[str, Any]:
        """The judicial records service's configuration through the hub (its service ``service``)."""
        return via_hub(self.hub, self.hub_url, service, self.judicial, protocol="soap", **profile)

    def through(self, url: str, protocol: str, **settings: Any) -> tuple[dict[str, Any], Connector[Any]]:
        """The configuration, with ``settings``, and a connector of ``protocol`` (``rest``: the business registry,
        ``soap``: the judicial records service) reaching its sector system through the hub at ``url`` (a front end
        before the hub, or the hub's own)."""
        if protocol == "rest":
            config = via_hub(self.hub, url, "DKDN", self.business, protocol="rest") | settings
            return config, BusinessConnector.from_config(config)
        config = via_hub(self.hub, url, "LLTP", self.judicial, protocol="soap") | settings
        return config, JudicialRecordsConnector.from_config(config)


@contextmanager
def platform_world(data_dir: Path) -> Iterator[PlatformWorld]:
    """The two sector systems (60 citizens) and the hub, serving until the block ends."""
    with ExitStack() as stack:
        context = SectorContext(data_dir=data_dir, citizens=60, seed=68, stack=stack)
        business = asyncio.run(load_sector_system("business").start(context))
        judicial = asyncio.run(load_sector_system("judicial_records").start(context))
        hub = NdxpHub()
        server = stack.enter_context(SimulatorServer(hub))
        yield PlatformWorld(hub, server.url, business, judicial)


def platform_fixtures(name: str) -> tuple[Any, Any]:
    """The fixtures ``world`` (a module's own :class:`PlatformWorld`, its data under a directory named ``name``) and
    ``hub`` (the world's simulated hub, its faults and counts reset around each test). Bind them to those names::

        world, hub = platform_fixtures("axis-profile")
    """
    import pytest

    @pytest.fixture(scope="module", name="world")
    def module_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformWorld]:
        with platform_world(tmp_path_factory.mktemp(name)) as made:
            yield made

    @pytest.fixture(name="hub")
    def reset_hub(world: PlatformWorld) -> Iterator[NdxpHub]:
        world.hub.reset()
        yield world.hub
        world.hub.reset()

    return module_world, reset_hub


async def forward(request: Any, hub_url: str) -> Any:
    """``request`` (a Starlette request to a front end before the hub) sent on to the hub at ``hub_url``, as it
    came (its method, path, query, headers and body); the hub's answer (an ``httpx.Response``)."""
    import httpx

    skipped = {"host", "content-length", "connection", "accept-encoding"}
    headers = {name: value for name, value in request.headers.items() if name.lower() not in skipped}
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        return await http.request(
            request.method,
            hub_url + request.url.path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
