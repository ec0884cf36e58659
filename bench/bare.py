"""The baseline of the read-path benchmarks: a bare FastAPI endpoint running the gateway's query, nothing else.

    .venv/bin/python bench/bare.py --url postgresql://postgres@127.0.0.1:5432/population --port 8100

``GET /records/{id}`` looks up one citizen by its indexed key in the sector database and answers the row as JSON:
uvicorn with uvloop and httptools, one worker, an asyncpg pool (or, for a SQLite file, sqlite3 in worker threads)
and orjson. No authentication, no audit, no validation: what a team would get by exposing the table itself, and
the yardstick the gateway's full read path is measured against (``bench/run.py``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import orjson
from common import serve_yardstick
from fastapi import FastAPI, Response

QUERY = "SELECT * FROM cong_dan WHERE so_dinh_danh = {}"


def _postgres(url: str) -> tuple[Callable[[str], Any], Callable[[], Any], Callable[[], Any]]:
    import asyncpg

    pool: Any = None

    async def start() -> None:
        nonlocal pool
        pool = await asyncpg.create_pool(url, min_size=10, max_size=10)

    async def stop() -> None:
        await pool.close()

    async def lookup(key: str) -> dict[str, Any] | None:
        row = await pool.fetchrow(QUERY.format("$1"), key)
        return None if row is None else dict(row)

    return lookup, start, stop


def _sqlite(path: str) -> tuple[Callable[[str], Any], Callable[[], Any], Callable[[], Any]]:
    local = threading.local()
    executor = ThreadPoolExecutor(10)

    def fetch(key: str) -> dict[str, Any] | None:
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            local.conn.row_factory = sqlite3.Row
        row = local.conn.execute(QUERY.format("?"), (key,)).fetchone()
        return None if row is None else dict(row)

    async def lookup(key: str) -> dict[str, Any] | None:
        return await asyncio.get_running_loop().run_in_executor(executor, fetch, key)

    async def nothing() -> None:
        return None

    return lookup, nothing, nothing


def create_app(url: str) -> FastAPI:
    """The bare application over the sector database at ``url`` (``postgresql://...`` or ``sqlite:///path``)."""
    if url.startswith("sqlite:///"):
        lookup, start, stop = _sqlite(url.removeprefix("sqlite:///"))
    else:
        lookup, start, stop = _postgres(url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await start()
        yield
        await stop()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/records/{key}")
    async def read(key: str) -> Response:
        row = await lookup(key)
        if row is None:
            return Response(status_code=404)
        return Response(orjson.dumps(row, default=str), media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return app


def main() -> None:
    serve_yardstick(create_app, __doc__, "the sector database (postgresql://... or sqlite:///path)")


if __name__ == "__main__":
    main()
