"""What the simulated sector REST APIs that publish records by key have in common.

Each sector API (Vietnam Social Security's, the business registry's, the tax authority's) keeps its own routes,
JSON shape, code lists and pagination; :class:`RecordApi` gives them the rest: one authentication scheme (OAuth 2.0
client credentials with opaque tokens, a fixed bearer token, or an API key header), the ``/_simulator`` control
routes, request counters, and the :class:`~simulators.http.Misbehaving` middleware on ``/api/`` routes, so that a
:class:`~simulators.http.SimulatorServer` can serve any of them and tests can make them slow, failing or hanging.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.dates import PartialDate
from contracts.names import normalize_name

from .http.misbehaviour import Misbehaving, Misbehaviour, MisbehaviourSwitch

__all__ = ["ApiAuth", "BadParameter", "RecordApi", "born_within", "integer_param", "json_response", "same_name"]

AuthScheme = Literal["oauth2", "bearer", "api_key"]


@dataclass(frozen=True, slots=True)
class ApiAuth:
    """The one authentication scheme an API accepts, with its published test credentials (not secrets).

    ``oauth2``: ``POST token_path`` (outside ``/api/``, so that it never misbehaves) with the client credentials
    grant (HTTP Basic or form fields) issues opaque bearer tokens valid ``token_ttl_seconds``; ``bearer``: the
    fixed ``token``; ``api_key``: ``key`` in ``header``.
    """

    scheme: AuthScheme
    token_path: str = "/oauth/token"  # noqa: S105 - a path
    client_id: str = "axis-gateway"
    client_secret: str = "sim-client-secret"  # noqa: S105
    token: str = "sim-bearer-token"  # noqa: S105
    header: str = "X-API-Key"
    key: str = "sim-api-key"
    token_ttl_seconds: int = 300

    def connector_auth(self) -> dict[str, Any]:
        """The ``auth`` setting of the ``rest`` connector that authenticates to an API using this scheme."""
        match self.scheme:
            case "oauth2":
                return {
                    "type": "oauth2_client_credentials",
                    "token_url": self.token_path,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                }
            case "bearer":
                return {"type": "bearer", "token": self.token}
            case "api_key":
                return {"type": "api_key", "header": self.header, "key": self.key}
        raise ValueError(f"unknown scheme {self.scheme!r}")  # pragma: no cover


class BadParameter(Exception):
    """A request parameter the API refuses (answered 400 in the API's own error shape)."""


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``body`` as a JSON response."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def integer_param(params: Mapping[str, Any], name: str, default: int, low: int, high: int | None = None) -> int:
    """The integer parameter ``name`` (``default`` when absent) between ``low`` and ``high``, else
    :class:`BadParameter`."""
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise BadParameter(f"{name}: số nguyên") from None
    if value < low or (high is not None and value > high):
        raise BadParameter(f"{name}: từ {low} đến {high}" if high is not None else f"{name}: từ {low}")
    return value


def same_name(query: str, name: str) -> bool:
    """Whether two names are equal ignoring case, composition and spacing (not diacritics)."""
    return normalize_name(query) == normalize_name(name)


def born_within(query: str, born: str) -> bool:
    """Whether the date of birth ``born`` lies within ``query`` (a year, a month or a day; ISO or Vietnamese)."""
    try:
        wanted = PartialDate.parse(query)
    except ValueError:
        raise BadParameter("ngày sinh: YYYY, YYYY-MM hoặc YYYY-MM-DD") from None
    return wanted.includes(PartialDate.parse(born))


class RecordApi:
    """The common part of a simulated sector REST API; subclasses add their data routes with :meth:`routes`.

    ``malformed_body`` is what the ``malformed`` misbehaviour answers (a truncated body in the API's shape);
    ``unauthorized_body`` what a request without valid credentials gets, with status 401. Thread-safe: tests
    control it from their own thread while the server runs in another.
    """

    malformed_body: ClassVar[bytes] = b'{"data": {"id": "0'
    unauthorized_body: ClassVar[dict[str, Any]] = {"error": "unauthorized"}
    realm: ClassVar[str] = "simulator"

    def __init__(self, *, auth: ApiAuth, misbehaviour: Misbehaviour | None = None) -> None:
        self.auth = auth
        self.switch = MisbehaviourSwitch(misbehaviour)
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        routes = [
            *self.routes(),
            Route("/_simulator/misbehave", self._control_misbehave, methods=["POST"]),
            Route("/_simulator/stats", self._control_stats, methods=["GET"]),
            Route("/_simulator/reset", self._control_reset, methods=["POST"]),
        ]
        if auth.scheme == "oauth2":
            routes.append(Route(auth.token_path, self._token, methods=["POST"]))
        self.middleware = Misbehaving(Starlette(routes=routes), self.switch, malformed_body=self.malformed_body)
        self.app = self.middleware

    def routes(self) -> list[Route]:
        """The API's data routes (under ``/api/``)."""
        raise NotImplementedError

    # -- control -------------------------------------------------------------------------------------------

    def misbehave(self, misbehaviour: Misbehaviour | None = None, **options: Any) -> None:
        """Misbehave from the next data request on: ``api.misbehave(mode="slow", delay_ms=800)``."""
        self.switch.set(misbehaviour or Misbehaviour(**options))

    def behave(self) -> None:
        """Back to normal."""
        self.switch.set(Misbehaviour())

    def reset(self) -> None:
        """Normal behaviour, no issued tokens, zeroed counters."""
        self.behave()
        with self._lock:
            self._tokens.clear()
            self.stats.clear()
            self.switch.requests = 0

    def count(self, key: str) -> int:
        """A counter: ``requests`` (every data request), ``tokens_issued``, ``unauthorized`` or a route name."""
        if key == "requests":
            return self.switch.requests
        with self._lock:
            return self.stats[key]

    async def _control_misbehave(self, request: Request) -> Response:
        try:
            self.misbehave(Misbehaviour(**orjson.loads(await request.body())))
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(asdict(self.switch.current))

    async def _control_stats(self, request: Request) -> Response:
        with self._lock:
            stats = dict(self.stats)
        stats["requests"] = self.switch.requests
        return json_response({"stats": stats, "misbehaviour": asdict(self.switch.current)})

    async def _control_reset(self, request: Request) -> Response:
        self.reset()
        return json_response({"ok": True})

    # -- authentication ------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return json_response({"error": "invalid_client"}, 401)
            client_id, _, client_secret = decoded.partition(":")
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        if (
            not isinstance(client_id, str)
            or not isinstance(client_secret, str)
            or not secrets.compare_digest(client_id, self.auth.client_id)
            or not secrets.compare_digest(client_secret, self.auth.client_secret)
        ):
            return json_response({"error": "invalid_client"}, 401, {"WWW-Authenticate": 'Basic realm="token"'})
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.auth.token_ttl_seconds
            self.stats["tokens_issued"] += 1
        return json_response({"access_token": token, "token_type": "Bearer", "expires_in": self.auth.token_ttl_seconds})

    def _authenticated(self, request: Request) -> bool:
        auth, headers = self.auth, request.headers
        if auth.scheme == "api_key":
            key = headers.get(auth.header)
            return key is not None and secrets.compare_digest(key, auth.key)
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            return False
        token = authorization[7:]
        if auth.scheme == "bearer":
            return secrets.compare_digest(token, auth.token)
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def refused(self, request: Request, route: str) -> Response | None:
        """Count a request to ``route``; the 401 answer when it lacks valid credentials, else ``None``."""
        with self._lock:
            self.stats[route] += 1
        if self._authenticated(request):
            return None
        with self._lock:
            self.stats["unauthorized"] += 1
        return json_response(self.unauthorized_body, 401, {"WWW-Authenticate": f'Bearer realm="{self.realm}"'})

    @staticmethod
    def window(
        keys: Sequence[str], params: Mapping[str, Any], *, page: str, size: str, max_size: int, offset: bool = False
    ) -> list[str]:
        """The keys of one page of a listing: page ``page`` (from 1) of ``size`` keys, or (``offset``) ``size`` keys
        from the offset ``page`` (from 0); :class:`BadParameter` for a parameter out of range."""
        count = integer_param(params, size, 20, 1, max_size)
        start = integer_param(params, page, 0, 0) if offset else (integer_param(params, page, 1, 1) - 1) * count
        return list(keys[start : start + count])

    @staticmethod
    def violating(request: Request) -> bool:
        """Whether the ``violation`` misbehaviour asks this request's records to break the contract."""
        return bool(getattr(request.state, "violation", False))
