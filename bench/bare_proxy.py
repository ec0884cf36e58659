"""The baseline of the REST comparison's gateway side: a bare FastAPI endpoint making the gateway's REST call.

    .venv/bin/python bench/bare_proxy.py --url http://127.0.0.1:8100 --port 8101

``GET /records/{id}`` asks the population REST service at ``--url`` for one citizen (``GET
/api/v1/cong-dan/{id}`` with the service's access-key headers), over one aiohttp session's keep-alive connections,
and answers the record (the reply's ``du_lieu``) as JSON: uvicorn with uvloop and httptools, one worker, orjson.
No authentication, no audit, no mapping, no validation: the least any Python service in the gateway's place does
for the same read, and so the ceiling of the REST comparison on the machine it runs on (``bench/run.py``:
``rest-ceiling`` measures it against the service itself, ``rest-proxy`` the gateway against it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
from common import API_HEADERS, serve_yardstick
from fastapi import FastAPI, Response


def create_app(url: str) -> FastAPI:
    """The bare proxy to the population REST service at ``url``."""
    session: Any = None
    base = url.rstrip("/") + "/api/v1/cong-dan/"

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal session
        session = aiohttp.ClientSession(headers=API_HEADERS, connector=aiohttp.TCPConnector(limit=100))
        yield
        await session.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/records/{key}")
    async def read(key: str) -> Response:
        async with session.get(base + key) as answer:
            body = await answer.read()
        if answer.status != 200:
            return Response(status_code=404 if answer.status == 404 else 502)
        return Response(orjson.dumps(orjson.loads(body)["du_lieu"]), media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return app


def main() -> None:
    serve_yardstick(create_app, __doc__, "the population REST service (http://127.0.0.1:PORT)")


if __name__ == "__main__":
    main()
