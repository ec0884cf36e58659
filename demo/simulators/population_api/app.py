"""The simulated population API: a Starlette application with the sector system's own routes and conventions.

================================  =====================================================================
route                             what it does
================================  =====================================================================
``POST /oauth2/token``            OAuth 2.0 client credentials (Basic or form fields); opaque tokens
``GET /api/v1/trang-thai``        status (the health check)
``GET /api/v1/cong-dan/{id}``     one citizen: ``{"ma_loi": "00", "du_lieu": {...}}``; unknown: 404, ``"01"``
``GET /api/v1/cong-dan``          search, numbered pages: ``trang`` (from 1), ``so_ban_ghi``; ``tong_so``
``POST /api/v1/tra-cuu``          the same search with a JSON body
``GET /api/v1/tra-cuu/vi-tri``    search, offsets: ``vi_tri`` (from 0), ``gioi_han``; ``tong_so``
``GET /api/v1/tra-cuu/con-tro``   search, next-page tokens: ``con_tro``, ``so_ban_ghi``; ``con_tro_tiep``
``GET /api/v1/tra-cuu/lien-ket``  search, ``Link: <...>; rel="next"`` headers: ``trang``, ``so_ban_ghi``
``/_simulator/...``               control: ``misbehave`` (POST), ``stats`` (GET), ``reset`` (POST)
================================  =====================================================================

Searches take ``ho_ten`` with ``ngay_sinh`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``), and/or ``so_cmnd``; pages
hold at most 50 records. Every ``/api`` route needs credentials: a bearer token (fixed, or issued by the token
endpoint), an ``X-API-Key``, or ``AppName``/``AccessKey``/``SecretKey`` headers, as :class:`ApiCredentials` says.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..http.misbehaviour import Misbehaving, Misbehaviour, MisbehaviourSwitch
from .records import CitizenIndex, Row, to_api

__all__ = ["MAX_PAGE_SIZE", "ApiCredentials", "PopulationApi"]

MAX_PAGE_SIZE = 50
_BORN = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")
_OLD_ID = re.compile(r"^[0-9]{9}$")


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """The credentials the API accepts; a scheme whose credentials are ``None`` is refused.

    The defaults are the simulator's published test credentials, not secrets.
    """

    bearer_token: str | None = "sim-bearer-token"  # noqa: S105
    api_key: str | None = "sim-api-key"
    app_name: str | None = "axis-gateway"
    access_key: str | None = "sim-access-key"
    secret_key: str | None = "sim-secret-key"  # noqa: S105
    client_id: str | None = "axis-gateway"
    client_secret: str | None = "sim-client-secret"  # noqa: S105


class _Failure(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


class PopulationApi:
    """The API over a set of ``cong_dan`` rows, with its credentials, issued tokens, counters and misbehaviour.

    ``app`` is the ASGI application; pages hold at most ``max_page_size`` records. ``not_found`` chooses how an
    unknown id is answered: HTTP 404 (``"status"``) or 200 with ``ma_loi`` ``"01"`` (``"body"``), as some
    platforms do. Thread-safe: tests control it from their own thread while the server runs in another.
    """

    def __init__(
        self,
        rows: Iterable[Row],
        *,
        credentials: ApiCredentials | None = None,
        token_ttl_seconds: int = 300,
        not_found: Literal["status", "body"] = "status",
        misbehaviour: Misbehaviour | None = None,
        max_page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.index = CitizenIndex(rows)
        self.max_page_size = max_page_size
        self.credentials = credentials or ApiCredentials()
        self.token_ttl_seconds = token_ttl_seconds
        self.token_delay_seconds = 0.0
        self.not_found = not_found
        self.switch = MisbehaviourSwitch(misbehaviour)
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self.stats: Counter[str] = Counter()
        self._cache: dict[str, bytes] = {}
        routes = [
            Route("/oauth2/token", self._token, methods=["POST"]),
            Route("/api/v1/trang-thai", self._status, methods=["GET"]),
            Route("/api/v1/cong-dan/{so_dinh_danh}", self._citizen, methods=["GET"]),
            Route("/api/v1/cong-dan", self._search_pages, methods=["GET"]),
            Route("/api/v1/tra-cuu", self._search_posted, methods=["POST"]),
            Route("/api/v1/tra-cuu/vi-tri", self._search_offsets, methods=["GET"]),
            Route("/api/v1/tra-cuu/con-tro", self._search_tokens, methods=["GET"]),
            Route("/api/v1/tra-cuu/lien-ket", self._search_links, methods=["GET"]),
            Route("/_simulator/misbehave", self._control_misbehave, methods=["POST"]),
            Route("/_simulator/stats", self._control_stats, methods=["GET"]),
            Route("/_simulator/reset", self._control_reset, methods=["POST"]),
        ]
        self.middleware = Misbehaving(Starlette(routes=routes), self.switch)
        self.app = self.middleware

    # -- control -------------------------------------------------------------------------------------------

    def misbehave(self, misbehaviour: Misbehaviour | None = None, **options: Any) -> None:
        """Misbehave from the next data request on: ``api.misbehave(mode="slow", delay_ms=800)``."""
        self.switch.set(misbehaviour or Misbehaviour(**options))

    def behave(self) -> None:
        """Back to normal."""
        self.switch.set(Misbehaviour())

    def revoke_tokens(self) -> None:
        """Forget every issued token (their next use is answered 401), as after a key rotation."""
        with self._lock:
            self._tokens.clear()

    def reset(self) -> None:
        """Normal behaviour, no issued tokens, zeroed counters."""
        self.behave()
        self.revoke_tokens()
        self.token_delay_seconds = 0.0
        with self._lock:
            self.stats.clear()
            self.switch.requests = 0

    def count(self, key: str) -> int:
        """A counter: ``requests`` (every data request, misbehaved or not), ``tokens_issued``, ``unauthorized``,
        or a route name (``citizen``, ``status``, ``search_pages``, ``search_offsets``...)."""
        if key == "requests":
            return self.switch.requests
        with self._lock:
            return self.stats[key]

    def _bump(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    async def _control_misbehave(self, request: Request) -> Response:
        try:
            self.misbehave(Misbehaviour(**orjson.loads(await request.body())))
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(asdict(self.switch.current))

    async def _control_stats(self, request: Request) -> Response:
        with self._lock:
            stats = dict(self.stats)
        stats["requests"] = self.switch.requests
        return _json({"stats": stats, "misbehaviour": asdict(self.switch.current)})

    async def _control_reset(self, request: Request) -> Response:
        self.reset()
        return _json({"ok": True})

    # -- authentication ------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return _json({"error": "invalid_client"}, 401)
            user, _, password = decoded.partition(":")
            client_id, client_secret = unquote_plus(user), unquote_plus(password)
        creds = self.credentials
        if form.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type"}, 400)
        if (
            creds.client_id is None
            or not isinstance(client_id, str)
            or not isinstance(client_secret, str)
            or not secrets.compare_digest(client_id, creds.client_id)
            or not secrets.compare_digest(client_secret, creds.client_secret or "")
        ):
            return _json({"error": "invalid_client"}, 401, {"WWW-Authenticate": 'Basic realm="token"'})
        if self.token_delay_seconds:
            await asyncio.sleep(self.token_delay_seconds)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl_seconds
            self.stats["tokens_issued"] += 1
        return _json({"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl_seconds})

    def _authenticated(self, request: Request) -> bool:
        creds, headers = self.credentials, request.headers
        authorization = headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            token = authorization[7:]
            if creds.bearer_token is not None and secrets.compare_digest(token, creds.bearer_token):
                return True
            with self._lock:
                expiry = self._tokens.get(token)
            return expiry is not None and time.monotonic() < expiry
        key = headers.get("x-api-key")
        if key is not None:
            return creds.api_key is not None and secrets.compare_digest(key, creds.api_key)
        app, access, secret = headers.get("appname"), headers.get("accesskey"), headers.get("secretkey")
        if app is not None and access is not None and secret is not None:
            return (
                creds.app_name == app
                and creds.access_key is not None
                and creds.secret_key is not None
                and secrets.compare_digest(access, creds.access_key)
                and secrets.compare_digest(secret, creds.secret_key)
            )
        return False

    def _guard(self, request: Request, route: str) -> Response | None:
        self._bump(route)
        if self._authenticated(request):
            return None
        self._bump("unauthorized")
        body = {"ma_loi": "401", "thong_diep": "Chưa xác thực"}
        return _json(body, 401, {"WWW-Authenticate": 'Bearer realm="csdlqg-dan-cu"'})

    # -- data ----------------------------------------------------------------------------------------------

    def _record(self, pid: str, request: Request) -> bytes:
        if getattr(request.state, "violation", False):
            record = to_api(self.index.rows[pid])
            record["dan_toc"] = {"ma": "99"}
            return orjson.dumps(record)
        cached = self._cache.get(pid)
        if cached is None:
            cached = self._cache[pid] = orjson.dumps(to_api(self.index.rows[pid]))
        return cached

    async def _status(self, request: Request) -> Response:
        if (refused := self._guard(request, "status")) is not None:
            return refused
        return _json({"ma_loi": "00", "trang_thai": "HOAT_DONG", "so_cong_dan": len(self.index.rows)})

    async def _citizen(self, request: Request) -> Response:
        if (refused := self._guard(request, "citizen")) is not None:
            return refused
        pid = request.path_params["so_dinh_danh"]
        if pid not in self.index.rows:
            body = {"ma_loi": "01", "thong_diep": "Không tìm thấy công dân", "du_lieu": None}
            return _json(body, 404 if self.not_found == "status" else 200)
        content = b'{"ma_loi":"00","thong_diep":"Th\\u00e0nh c\\u00f4ng","du_lieu":' + self._record(pid, request) + b"}"
        return Response(content, media_type="application/json")

    def _matches(self, params: Mapping[str, Any]) -> list[str]:
        name, born, old_id = params.get("ho_ten"), params.get("ngay_sinh"), params.get("so_cmnd")
        if born is not None and not _BORN.match(str(born)):
            raise _Failure(400, "02", "ngay_sinh: YYYY, YYYY-MM hoặc YYYY-MM-DD")
        if old_id is not None and not _OLD_ID.match(str(old_id)):
            raise _Failure(400, "02", "so_cmnd: 9 chữ số")
        if old_id is None and (name is None or born is None):
            raise _Failure(400, "02", "cần ho_ten và ngay_sinh, hoặc so_cmnd")
        found = self.index.search(
            name=None if name is None else str(name), born=None if born is None else str(born), old_id=old_id
        )
        return list(found)

    def _items(self, pids: list[str], request: Request) -> bytes:
        return b"[" + b",".join(self._record(pid, request) for pid in pids) + b"]"

    async def _search(self, request: Request, route: str, params: Mapping[str, Any]) -> Response:
        if (refused := self._guard(request, route)) is not None:
            return refused
        try:
            return self._page_style(request, route, params, self._matches(params))
        except _Failure as failure:
            return _json({"ma_loi": failure.code, "thong_diep": failure.message}, failure.status)

    def _page_style(self, request: Request, route: str, params: Mapping[str, Any], found: list[str]) -> Response:
        total = len(found)
        if route in {"search_pages", "search_posted", "search_links"}:
            page, size = _integer(params, "trang", 1, 1), _integer(params, "so_ban_ghi", 20, 1, self.max_page_size)
            chosen = found[(page - 1) * size : page * size]
            items = self._items(chosen, request)
            if route == "search_links":
                headers = {}
                if page * size < total:
                    headers["Link"] = f'<{request.url.include_query_params(trang=page + 1)}>; rel="next"'
                return Response(
                    b'{"ma_loi":"00","du_lieu":' + items + b"}", media_type="application/json", headers=headers
                )
            meta = orjson.dumps({"tong_so": total, "trang": page, "so_ban_ghi": size})
            return Response(
                b'{"ma_loi":"00","du_lieu":{"danh_sach":' + items + b"," + meta[1:] + b"}",
                media_type="application/json",
            )
        if route == "search_offsets":
            offset, limit = _integer(params, "vi_tri", 0, 0), _integer(params, "gioi_han", 20, 1, self.max_page_size)
            items = self._items(found[offset : offset + limit], request)
            return Response(
                b'{"ma_loi":"00","du_lieu":' + items + b',"tong_so":' + str(total).encode() + b"}",
                media_type="application/json",
            )
        size = _integer(params, "so_ban_ghi", 20, 1, self.max_page_size)
        after = _decode_token(params.get("con_tro"))
        remaining = [pid for pid in found if after is None or pid > after]
        chosen = remaining[:size]
        token = _encode_token(chosen[-1]) if len(remaining) > size else None
        items = self._items(chosen, request)
        return Response(
            b'{"ma_loi":"00","du_lieu":' + items + b',"con_tro_tiep":' + orjson.dumps(token) + b"}",
            media_type="application/json",
        )

    async def _search_pages(self, request: Request) -> Response:
        return await self._search(request, "search_pages", request.query_params)

    async def _search_offsets(self, request: Request) -> Response:
        return await self._search(request, "search_offsets", request.query_params)

    async def _search_tokens(self, request: Request) -> Response:
        return await self._search(request, "search_tokens", request.query_params)

    async def _search_links(self, request: Request) -> Response:
        return await self._search(request, "search_links", request.query_params)

    async def _search_posted(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            self._bump("search_posted")
            return _json({"ma_loi": "02", "thong_diep": "Thân yêu cầu không phải JSON"}, 400)
        return await self._search(request, "search_posted", body)


def _integer(params: Mapping[str, Any], name: str, default: int, low: int, high: int | None = None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise _Failure(400, "02", f"{name}: số nguyên") from None
    if value < low or (high is not None and value > high):
        raise _Failure(400, "02", f"{name}: từ {low} đến {high}" if high else f"{name}: từ {low}")
    return value


def _encode_token(pid: str) -> str:
    return base64.urlsafe_b64encode(f"sau:{pid}".encode()).decode().rstrip("=")


def _decode_token(token: Any) -> str | None:
    if token is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _Failure(400, "02", "con_tro không hợp lệ") from None
    if not decoded.startswith("sau:"):
        raise _Failure(400, "02", "con_tro không hợp lệ")
    return decoded[4:]
