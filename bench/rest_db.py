"""The realistic baseline of the REST comparison: the population REST API served over the sector database itself.

    .venv/bin/python bench/rest_db.py --url postgresql://postgres@127.0.0.1:5432/bench_population_20000 --port 8100

The simulated population API (``simulators.population_api``) answers from memory; a sector system's REST service
queries its database. This one does, for the two routes the gateway's REST connector calls on the read path, with
the same JSON shape and credentials, so that ``simulators.population_api.rest_connector_config`` works against it:

* ``GET /api/v1/cong-dan/{id}``: one citizen, ``{"ma_loi": "00", "thong_diep": ..., "du_lieu": {...}}`` (unknown:
  404 with ``"01"``), the row read by its indexed key (``SELECT * FROM cong_dan WHERE so_dinh_danh = $1``) and
  shaped by the simulator's own :func:`simulators.population_api.records.to_api`;
* ``GET /api/v1/trang-thai``: the health probe.

Both check the simulator's access-key headers (``AppName``, ``AccessKey``, ``SecretKey``). Like ``bench/bare.py``:
FastAPI on uvicorn with uvloop and httptools, one worker, an asyncpg pool, orjson.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from common import serve_yardstick
from fastapi import FastAPI, Request, Response

from simulators.population_api.app import ApiCredentials
from simulators.population_api.records import to_api

QUERY = "SELECT * FROM cong_dan WHERE so_dinh_danh = $1"
_FOUND = b'{"ma_loi":"00","thong_diep":"Th\\u00e0nh c\\u00f4ng","du_lieu":'
_NOT_FOUND = orjson.dumps({"ma_loi": "01", "thong_diep": "Không tìm thấy công dân", "du_lieu": None})
_UNAUTHORIZED = orjson.dumps({"ma_loi": "401", "thong_diep": "Chưa xác thực"})


def create_app(url: str) -> FastAPI:
    """The API over the PostgreSQL sector database at ``url``."""
    credentials = ApiCredentials()
    pool: Any = None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(url, min_size=10, max_size=10)
        yield
        await pool.close()

    def authenticated(request: Request) -> bool:
        headers = request.headers
        access, secret = headers.get("accesskey"), headers.get("secretkey")
        return (
            headers.get("appname") == credentials.app_name
            and access is not None
            and secret is not None
            and credentials.access_key is not None
            and credentials.secret_key is not None
            and secrets.compare_digest(access, credentials.access_key)
            and secrets.compare_digest(secret, credentials.secret_key)
        )

    def json(content: bytes, status: int = 200) -> Response:
        return Response(content, status_code=status, media_type="application/json")

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/api/v1/cong-dan/{key}")
    async def citizen(key: str, request: Request) -> Response:
        if not authenticated(request):
            return json(_UNAUTHORIZED, 401)
        row = await pool.fetchrow(QUERY, key)
        if row is None:
            return json(_NOT_FOUND, 404)
        return json(_FOUND + orjson.dumps(to_api(dict(row))) + b"}")

    @app.get("/api/v1/trang-thai")
    async def status(request: Request) -> Response:
        if not authenticated(request):
            return json(_UNAUTHORIZED, 401)
        return json(b'{"ma_loi":"00","trang_thai":"HOAT_DONG"}')

    return app


def main() -> None:
    serve_yardstick(create_app, __doc__, "the PostgreSQL sector database (postgresql://...)")


if __name__ == "__main__":
    main()
