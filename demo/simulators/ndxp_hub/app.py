"""A simulated national data integration platform (NDXP) or provincial LGSP: the hub between the gateway and the
sector systems.

=======================================  =================================================================
route                                    what it does
=======================================  =================================================================
``POST /token``                          OAuth 2.0 client credentials (HTTP Basic or form fields), with a
                                         valid ``lgspaccesstoken``: ``{"access_token", "token_type",
                                         "expires_in"}``
``GET /token``                           the plain GET some provinces use: ``{"data": {"token",
                                         "expires_in"}}``
``ANY /ndxp/{service}/{path}``           a call to the integration service ``service`` (the ``MaTichHop``),
                                         forwarded to the sector system registered for it at ``/{path}``
``/_simulator/...``                      control: ``misbehave`` (POST, a :class:`HubMisbehaviour` as JSON),
                                         ``stats`` (GET: counters, the last calls' metadata), ``reset`` (POST)
=======================================  =================================================================

A call needs the ``lgspaccesstoken`` header (the base64 of the JSON object naming the application) and a token
the hub issued (``Authorization: Bearer ...`` or ``X-Authentication-Token``), else it is answered 401 (result
code ``11`` or ``10``). It needs its request metadata, in headers or query parameters (``MaYeuCau``, ``MaDVC``,
``MaDonVi``, ``MaCanBo``, ``MaTichHop``): without a procedure code (``MaDVC``), an agency or the service code, as
the real platform, it refuses the call (400, code ``12``); with a service code that is not the route's, code
``13``. The call is forwarded without the platform's headers and metadata, with the credentials the hub holds for
the sector system added; the answer comes back in the hub's envelope:

* REST: ``{"MaKetQua": "00", "ThongDiep": "...", "MaGiaoDich": "<the hub's id>", "MaYeuCau": "<echoed>",
  "DuLieu": <the sector system's JSON answer>}``; ``01`` for the sector system's 404, ``02`` for its other 4xx;
* SOAP: the sector system's envelope with a ``ndxp:KetQua`` block (``MaKetQua``, ``ThongDiep``, ``MaGiaoDich``)
  in its SOAP Header; the hub's own errors as a SOAP Fault carrying the same block.

Result codes: ``00`` success, ``01`` not found, ``02`` rejected by the sector system, ``10`` token refused,
``11`` ``lgspaccesstoken`` refused, ``12`` metadata missing, ``13`` unknown service, ``97`` the sector system
cannot be reached, ``98`` it did not answer in time, ``99`` the platform failed.

It misbehaves on demand (:class:`HubMisbehaviour`): refuse tokens, refuse calls' tokens, drop the metadata, answer
error envelopes, slow down; and records what it received (:attr:`NdxpHub.received`) so that tests can assert the
headers and metadata that reached it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import httpx
import orjson
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..http.misbehaviour import Misbehaving, MisbehaviourSwitch

__all__ = [
    "CODES",
    "HUB_NAMESPACE",
    "METADATA",
    "HubCredentials",
    "HubMisbehaviour",
    "HubRoute",
    "NdxpHub",
    "Received",
]

HUB_NAMESPACE = "urn:ndxp:hub:v1"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
#: The request metadata the hub reads, in headers or query parameters (a JSON body's members too).
METADATA = ("MaYeuCau", "MaDVC", "MaDonVi", "MaCanBo", "MaTichHop")
#: The metadata without which a call is refused (code 12).
REQUIRED = ("MaDVC", "MaDonVi", "MaTichHop")
#: Result code -> (HTTP status of a REST answer, message).
CODES: dict[str, tuple[int, str]] = {
    "00": (200, "Thành công"),
    "01": (200, "Không tìm thấy dữ liệu"),
    "02": (200, "Hệ thống chuyên ngành từ chối yêu cầu"),
    "10": (401, "Token không hợp lệ hoặc đã hết hạn"),
    "11": (401, "lgspaccesstoken không hợp lệ"),
    "12": (400, "Thiếu thông tin yêu cầu (MaDVC, MaDonVi, MaTichHop)"),
    "13": (400, "Dịch vụ tích hợp không tồn tại"),
    "97": (503, "Không kết nối được hệ thống chuyên ngành"),
    "98": (504, "Hệ thống chuyên ngành không phản hồi"),
    "99": (502, "Lỗi hệ thống nền tảng"),
}
_HOP_BY_HOP = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "accept-encoding"}
)
_FORWARD_TIMEOUT_SECONDS = 10.0

HubMode = Literal["none", "refuse_token", "reject_calls", "drop_metadata", "error_envelope", "slow"]


@dataclass(frozen=True, slots=True)
class HubCredentials:
    """What the hub accepts from the gateway (test credentials, not secrets): the ``lgspaccesstoken`` members and
    the OAuth 2.0 client."""

    access_key: str = "sim-lgsp-access-key"
    secret_key: str = "sim-lgsp-secret-key"  # noqa: S105
    app_name: str = "axis-gateway"
    partner_code: str = "000.00.00.H41"
    partner_code_cus: str = "000.00.00.H41"
    client_id: str = "axis-gateway"
    client_secret: str = "sim-ndxp-client-secret"  # noqa: S105
    token_ttl_seconds: int = 300


@dataclass(frozen=True, slots=True)
class HubRoute:
    """An integration service: its code (``MaTichHop``, the path segment), the sector system's loopback URL, the
    credentials the hub adds toward it, and whether it speaks ``rest`` or ``soap``."""

    service: str
    upstream: str
    protocol: Literal["rest", "soap"] = "rest"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HubMisbehaviour:
    """What the hub does wrong.

    * ``refuse_token``: the token endpoint refuses (401, code ``11``);
    * ``reject_calls``: calls are answered 401 (code ``10``) whatever their token;
    * ``drop_metadata``: the hub loses the calls' metadata and refuses them (code ``12``);
    * ``error_envelope``: calls are answered an error envelope with ``code`` (HTTP ``CODES[code]``'s status, or
      200 with ``status``), without reaching the sector system;
    * ``slow``: calls are answered normally after ``delay_ms`` (``delay_ms`` delays any mode).

    ``times``: for the next N calls (or token requests, for ``refuse_token``) only, then back to normal.
    """

    mode: HubMode = "none"
    code: str = "99"
    status: int | None = None
    delay_ms: int = 0
    times: int | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """One request the hub received: the route, its headers (lower-case names) and query, the metadata it found,
    the token it carried (if any) and the result code it was answered."""

    kind: Literal["token", "call"]
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    metadata: dict[str, str]
    service: str | None
    code: str


class NdxpHub:
    """The hub's ASGI application (``app``), served with :class:`~simulators.http.SimulatorServer`. Thread-safe:
    tests control it from their own thread while it serves in another."""

    def __init__(self, *, credentials: HubCredentials | None = None, required: tuple[str, ...] = REQUIRED) -> None:
        self.credentials = credentials or HubCredentials()
        self.required = required
        self.routes: dict[str, HubRoute] = {}
        self.received: list[Received] = []
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._misbehaviour = HubMisbehaviour()
        self._http: httpx.AsyncClient | None = None
        app = Starlette(
            routes=[
                Route("/token", self._token, methods=["GET", "POST"]),
                Route("/_simulator/misbehave", self._control_misbehave, methods=["POST"]),
                Route("/_simulator/stats", self._control_stats, methods=["GET"]),
                Route("/_simulator/reset", self._control_reset, methods=["POST"]),
                *(
                    Route(path, self._call, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
                    for path in ("/ndxp/{service}", "/ndxp/{service}/{path:path}")
                ),
            ]
        )
        self.switch = MisbehaviourSwitch()
        # The generic misbehaviours (reset, hang, 5xx pages...) of the simulators, on the calls.
        self.middleware = Misbehaving(app, self.switch, prefix="/ndxp/")
        self.app = self.middleware

    # -- control -------------------------------------------------------------------------------------------

    def register(self, route: HubRoute) -> HubRoute:
        """Serve the integration service ``route.service``."""
        with self._lock:
            self.routes[route.service] = route
        return route

    def misbehave(self, misbehaviour: HubMisbehaviour | None = None, **options: Any) -> None:
        """Misbehave from the next request on: ``hub.misbehave(mode="drop_metadata")``."""
        chosen = misbehaviour or HubMisbehaviour(**options)
        if chosen.mode == "error_envelope" and chosen.code not in CODES:
            raise ValueError(f"unknown result code {chosen.code!r}")
        with self._lock:
            self._misbehaviour = chosen

    def reset(self) -> None:
        """Normal behaviour, no issued tokens, nothing received."""
        with self._lock:
            self._misbehaviour = HubMisbehaviour()
            self._tokens.clear()
            self.received.clear()
            self.stats.clear()

    def revoke_tokens(self) -> None:
        """Forget every issued token (as after the platform's restart): the next call with one is answered 401."""
        with self._lock:
            self._tokens.clear()

    def calls(self, service: str | None = None) -> list[Received]:
        """The calls received (to ``service`` only, if given), oldest first."""
        with self._lock:
            return [r for r in self.received if r.kind == "call" and (service is None or r.service == service)]

    def count(self, key: str) -> int:
        """A counter: ``tokens_issued``, ``token_requests``, ``calls``, ``forwarded`` or a result code of calls."""
        with self._lock:
            return self.stats[key]

    async def _control_misbehave(self, request: Request) -> Response:
        try:
            self.misbehave(HubMisbehaviour(**orjson.loads(await request.body())))
        except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        with self._lock:
            return _json(asdict(self._misbehaviour))

    async def _control_stats(self, request: Request) -> Response:
        with self._lock:
            stats = dict(self.stats)
            recent = [
                {"service": r.service, "path": r.path, "code": r.code, "metadata": r.metadata}
                for r in self.received[-20:]
                if r.kind == "call"
            ]
            current = asdict(self._misbehaviour)
        return _json({"stats": stats, "misbehaviour": current, "recent_calls": recent})

    async def _control_reset(self, request: Request) -> Response:
        self.reset()
        return _json({"ok": True})

    def _take(self, kind: Literal["token", "call"]) -> HubMisbehaviour:
        with self._lock:
            current = self._misbehaviour
            applies = (current.mode == "refuse_token") == (kind == "token") or current.mode in {"none", "slow"}
            if applies and current.times is not None:
                left = current.times - 1
                self._misbehaviour = replace(current, times=left) if left else HubMisbehaviour()
            return current if applies else HubMisbehaviour(delay_ms=current.delay_ms)

    def _record(self, request: Request, kind: Literal["token", "call"], **values: Any) -> None:
        received = Received(
            kind=kind,
            method=request.method,
            path=request.url.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            query=dict(request.query_params),
            metadata=values.get("metadata", {}),
            service=values.get("service"),
            code=values["code"],
        )
        with self._lock:
            self.received.append(received)
            if kind == "call":
                self.stats[received.code] += 1

    # -- authentication ------------------------------------------------------------------------------------

    def _access_token_valid(self, value: str | None) -> bool:
        if not value:
            return False
        try:
            document = orjson.loads(base64.b64decode(value, validate=True))
        except (binascii.Error, orjson.JSONDecodeError, ValueError):
            return False
        creds = self.credentials
        expected = {"AccessKey": creds.access_key, "SecretKey": creds.secret_key, "AppName": creds.app_name}
        return isinstance(document, dict) and all(
            isinstance(document.get(name), str) and secrets.compare_digest(document[name], value)
            for name, value in expected.items()
        )

    def _client_valid(self, request: Request, form: Mapping[str, Any]) -> bool:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            client_id, _, client_secret = decoded.partition(":")
        creds = self.credentials
        return (
            isinstance(client_id, str)
            and isinstance(client_secret, str)
            and secrets.compare_digest(client_id, creds.client_id)
            and secrets.compare_digest(client_secret, creds.client_secret)
        )

    async def _token(self, request: Request) -> Response:
        todo = self._take("token")
        if todo.delay_ms:
            await asyncio.sleep(todo.delay_ms / 1000)
        with self._lock:
            self.stats["token_requests"] += 1
        get = request.method == "GET"
        refused = todo.mode == "refuse_token" or not self._access_token_valid(request.headers.get("lgspaccesstoken"))
        if not get and not refused:
            form = await request.form()
            refused = form.get("grant_type") != "client_credentials" or not self._client_valid(request, form)
        if refused:
            self._record(request, "token", code="11")
            body = {"data": None, "message": CODES["11"][1]} if get else {"error": "invalid_client"}
            return _json(body, 401)
        token = secrets.token_urlsafe(24)
        ttl = self.credentials.token_ttl_seconds
        with self._lock:
            self._tokens[token] = time.monotonic() + ttl
            self.stats["tokens_issued"] += 1
        self._record(request, "token", code="00")
        if get:
            return _json({"data": {"token": token, "expires_in": ttl}, "message": CODES["00"][1]})
        return _json({"access_token": token, "token_type": "Bearer", "expires_in": ttl})

    def _token_of(self, request: Request) -> str | None:
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            return authorization[7:]
        return request.headers.get("x-authentication-token")

    def _token_valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    # -- calls ---------------------------------------------------------------------------------------------

    async def _call(self, request: Request) -> Response:  # noqa: PLR0911
        service = request.path_params["service"]
        path = "/" + request.path_params.get("path", "")
        route = self.routes.get(service)
        with self._lock:
            self.stats["calls"] += 1
        if request.method == "GET" and request.url.query.lower() in {"wsdl", "wsdl="} and route is not None:
            # The service description is public: forwarded without credentials or metadata.
            return await self._forward(request, route, path, {}, b"")
        todo = self._take("call")
        if todo.delay_ms:
            await asyncio.sleep(todo.delay_ms / 1000)
        body = await request.body()
        metadata = _metadata(request, body)
        protocol = route.protocol if route is not None else "rest"
        correlation = uuid.uuid4().hex
        echo = metadata.get("MaYeuCau")
        record = {"metadata": metadata, "service": service}
        if not self._access_token_valid(request.headers.get("lgspaccesstoken")):
            self._record(request, "call", code="11", **record)
            return _envelope(protocol, "11", correlation, echo)
        if todo.mode == "reject_calls" or not self._token_valid(self._token_of(request)):
            self._record(request, "call", code="10", **record)
            return _envelope(protocol, "10", correlation, echo)
        seen = {} if todo.mode == "drop_metadata" else metadata
        if any(not seen.get(name) for name in self.required):
            self._record(request, "call", code="12", **record)
            return _envelope(protocol, "12", correlation, echo)
        if route is None or seen.get("MaTichHop") != service:
            self._record(request, "call", code="13", **record)
            return _envelope(protocol, "13", correlation, echo)
        if todo.mode == "error_envelope":
            self._record(request, "call", code=todo.code, **record)
            return _envelope(protocol, todo.code, correlation, echo, status=todo.status)
        response = await self._forward(request, route, path, metadata, body, correlation=correlation, echo=echo)
        self._record(request, "call", code=response.headers.get("x-ndxp-result", "00"), **record)
        return response

    def _upstream_http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(_FORWARD_TIMEOUT_SECONDS, connect=2.0), trust_env=False, follow_redirects=False
            )
        return self._http

    async def _forward(
        self,
        request: Request,
        route: HubRoute,
        path: str,
        metadata: Mapping[str, str],
        body: bytes,
        *,
        correlation: str | None = None,
        echo: str | None = None,
    ) -> Response:
        platform = {"lgspaccesstoken", "x-authentication-token", *(name.lower() for name in metadata)}
        if request.headers.get("authorization", "").startswith("Bearer ") and correlation is not None:
            platform.add("authorization")
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _HOP_BY_HOP and name.lower() not in platform
        }
        headers.update(route.headers)
        query = httpx.QueryParams(
            [(name, value) for name, value in request.query_params.multi_items() if name not in metadata]
        )
        if body and "json" in request.headers.get("content-type", "") and metadata:
            try:
                document = orjson.loads(body)
            except orjson.JSONDecodeError:
                document = None
            if isinstance(document, dict):
                body = orjson.dumps({k: v for k, v in document.items() if k not in metadata})
        url = route.upstream.rstrip("/") + path
        if correlation is None:
            return await self._description(request.method, url, request.url.query, headers)
        with self._lock:
            self.stats["forwarded"] += 1
        try:
            upstream = await self._upstream_http().request(
                request.method, url, params=query, headers=headers, content=body
            )
        except httpx.TimeoutException:
            return _envelope(route.protocol, "98", correlation, echo)
        except httpx.HTTPError:
            return _envelope(route.protocol, "97", correlation, echo)
        if route.protocol == "soap":
            return _soap_forwarded(upstream, correlation)
        return _rest_forwarded(upstream, correlation, echo)

    async def _description(self, method: str, url: str, query: str, headers: Mapping[str, str]) -> Response:
        """The public service description, passed as is; when the sector system does not give it, a gateway error
        without an envelope (504 when it did not answer in time, 502 when it could not be reached)."""
        try:
            upstream = await self._upstream_http().request(method, url, params=query, headers=headers)
        except httpx.TimeoutException:
            return Response(b"the sector system did not answer", 504, media_type="text/plain")
        except httpx.HTTPError:
            return Response(b"the sector system cannot be reached", 502, media_type="text/plain")
        return Response(upstream.content, upstream.status_code, media_type=upstream.headers.get("content-type"))


def _metadata(request: Request, body: bytes) -> dict[str, str]:
    """The metadata of a call: from its headers, else its query parameters, else its JSON body's members."""
    found: dict[str, str] = {}
    document: Any = None
    if body and "json" in request.headers.get("content-type", ""):
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = None
    for name in METADATA:
        value = request.headers.get(name) or request.query_params.get(name)
        if value is None and isinstance(document, dict) and isinstance(document.get(name), str):
            value = document[name]
        if value:
            found[name] = value
    return found


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _rest_forwarded(upstream: httpx.Response, correlation: str, echo: str | None) -> Response:
    status = upstream.status_code
    if status == 503:
        return _envelope("rest", "97", correlation, echo)
    if status >= 500:
        return _envelope("rest", "99", correlation, echo)
    try:
        payload: Any = orjson.loads(upstream.content) if upstream.content else None
    except orjson.JSONDecodeError:
        return _envelope("rest", "99", correlation, echo)
    code = "00" if status < 400 else "01" if status == 404 else "02"
    return _envelope("rest", code, correlation, echo, payload=payload)


def _result_block(code: str, correlation: str) -> etree._Element:
    result = etree.Element(f"{{{HUB_NAMESPACE}}}KetQua", nsmap={"ndxp": HUB_NAMESPACE})
    for name, value in (("MaKetQua", code), ("ThongDiep", CODES[code][1]), ("MaGiaoDich", correlation)):
        etree.SubElement(result, f"{{{HUB_NAMESPACE}}}{name}").text = value
    return result


def _soap_forwarded(upstream: httpx.Response, correlation: str) -> Response:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(upstream.content, parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        code = "97" if upstream.status_code == 503 else "99"
        return _envelope("soap", code, correlation, None)
    namespace = etree.QName(root).namespace or SOAP11_ENV
    header = root.find(f"{{{namespace}}}Header")
    if header is None:
        header = etree.Element(f"{{{namespace}}}Header")
        root.insert(0, header)
    header.append(_result_block("00", correlation))
    content = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    media = upstream.headers.get("content-type", "text/xml; charset=utf-8")
    return Response(content, upstream.status_code, media_type=media, headers={"x-ndxp-result": "00"})


def _envelope(
    protocol: str,
    code: str,
    correlation: str,
    echo: str | None,
    *,
    payload: Any = None,
    status: int | None = None,
) -> Response:
    """The hub's own answer with ``code``: a JSON envelope (REST) or a SOAP Fault with the result block."""
    http_status, message = CODES[code]
    headers = {"x-ndxp-result": code}
    if protocol == "soap":
        envelope = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap={"soap": SOAP11_ENV})
        etree.SubElement(envelope, f"{{{SOAP11_ENV}}}Header").append(_result_block(code, correlation))
        body = etree.SubElement(envelope, f"{{{SOAP11_ENV}}}Body")
        fault = etree.SubElement(body, f"{{{SOAP11_ENV}}}Fault")
        etree.SubElement(fault, "faultcode").text = "soap:Server" if code in {"97", "98", "99"} else "soap:Client"
        etree.SubElement(fault, "faultstring").text = message
        content = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        soap_status = status or (http_status if http_status == 401 else 500)
        return Response(content, soap_status, media_type="text/xml; charset=utf-8", headers=headers)
    document = {"MaKetQua": code, "ThongDiep": message, "MaGiaoDich": correlation, "MaYeuCau": echo, "DuLieu": payload}
    return _json(document, status or http_status, headers)
