"""The in-process gateways of the tests (``tests/support.py``): the lifespan runs through the whole application as
under uvicorn, requests reach it without a socket, and what escapes the application is answered as a server answers
it (docs/development.md, "Test tiers")."""

from __future__ import annotations

from typing import Any

import pytest
from support import InProcessGateway, asgi_client

from gateway.core.settings import Settings
from gateway.http.app import create_app


@pytest.mark.anyio
async def test_an_async_client_reaches_a_started_gateway(settings: Settings) -> None:
    """``asgi_client`` starts the gateway on the test's own event loop: ready, its connectors loaded."""
    async with asgi_client(create_app(settings)) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["connectors"]["population"]["loaded"] is True
        assert (await client.get("/healthz")).headers["x-request-id"]


class Lifespan:
    """An ASGI app that records its lifespan and fails its requests, or its startup when told to."""

    def __init__(self, fail_startup: bool = False) -> None:
        self.fail_startup = fail_startup
        self.events: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    failed = {"type": "lifespan.startup.failed", "message": "no database"}
                    await send(failed if self.fail_startup else {"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raise RuntimeError("the application failed")


def test_the_lifespan_starts_before_and_stops_after_and_an_escaping_error_is_a_500() -> None:
    app = Lifespan()
    with InProcessGateway(app) as gateway, gateway.client() as client:
        assert app.events == ["lifespan.startup"]
        response = client.get("/anything")
        assert response.status_code == 500
    assert app.events == ["lifespan.startup", "lifespan.shutdown"]


def test_a_failed_startup_is_raised() -> None:
    with pytest.raises(RuntimeError, match="no database"), InProcessGateway(Lifespan(fail_startup=True)):
        pass
