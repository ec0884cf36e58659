"""One zeep client per connector: the WSDL read once, envelopes built by zeep, calls sent over pooled httpx.

The WSDL is read once, on the first call, for every concurrent caller: downloaded in the event loop over the
connector's ``httpx.AsyncClient`` (at most ``max_response_bytes``), then read by zeep (synchronously, so in a
worker thread) from those bytes, all within ``wsdl_timeout_seconds``: a WSDL that never ends is abandoned, its
connection closed, and zeep never downloads a document itself (nor loads imports over the network). zeep builds
each request envelope from the operation's types and applies WS-Security; :class:`LimitedTransport`, a
``zeep.transports.AsyncTransport`` over the same client, sends it and reads at most ``max_response_bytes`` of the
answer. Every call runs under one deadline that covers waiting for the WSDL, its retries and their backoff
waits. The HTTP client, its limits, the retries and the meaning of HTTP failures are
those of every HTTP adapter (:mod:`connectors.http`); answers are parsed by
:func:`connectors.soap.envelope.parse_envelope`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import AsyncTransport
from zeep.wsdl.utils import etree_to_string
from zeep.wsse.username import UsernameToken
from zeep.xsd.types import builtins as zeep_builtins

from connectors.context import current_context, forwarded_headers
from connectors.errors import BadQuery, RecordNotFound, UpstreamError, UpstreamTimeout
from connectors.http import (
    PLATFORM,
    SECTOR_SYSTEM,
    AnswerTooLarge,
    Failure,
    HttpClient,
    Retrier,
    attempt_timeout,
    call_deadline,
    close_streamed,
    deadline_passed,
    from_exception,
    from_response,
    from_status,
    http_client,
    one_each,
    read_limited,
    without_request_lines,
)
from connectors.platform import TokenUnavailable

from .config import BasicAuth, BearerAuth, SoapConnectorConfig, UsernameTokenAuth
from .envelope import Envelope, fault_error, parse_envelope
from .platform import SoapPlatform

__all__ = [
    "MAX_EXPANDED_DEPTH",
    "MAX_EXPANDED_ELEMENTS",
    "Binding",
    "LimitedTransport",
    "SoapClient",
    "check_references",
]

logger = logging.getLogger(__name__)


class _Silenced(logging.Filter):
    """Drops every record: zeep logs a value it cannot read as its XML type with the value (personal data)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


without_request_lines("zeep.transports")  # it logs the envelopes it sends, which may hold personal data
logging.getLogger("zeep.xsd.types.simple").addFilter(_Silenced())


class _XsdBoolean(zeep_builtins.Boolean):
    """``xs:boolean`` as XSD defines it: ``true``, ``1``, ``false``, ``0`` (whitespace collapsed), anything else
    refused (a ``ValueError``, on which zeep reads the element as absent). zeep's own reads every other text (``True``,
    ``TRUE``, ``yes``) as false: a record saying the opposite of what the service sent (``CoAnTich``, "has a
    criminal record", served as false)."""

    def pythonvalue(self, value: Any, schema: Any = None) -> Any:
        # XSD's whitespace "collapse": nothing else is left around the value.
        text = value.strip(" \t\r\n") if isinstance(value, str) else value
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise ValueError("not an xs:boolean")  # zeep reads the element as absent


# The types every zeep schema registers as XSD's own when it is made (zeep.xsd.schema.Schema): ours for
# xs:boolean, in every WSDL the gateway reads.
_BUILTIN_TYPES: list[type[Any]] = zeep_builtins._types
if zeep_builtins.Boolean in _BUILTIN_TYPES:
    _BUILTIN_TYPES[_BUILTIN_TYPES.index(zeep_builtins.Boolean)] = _XsdBoolean


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self._header
        yield request


class LimitedTransport(AsyncTransport):
    """zeep's async transport over the connector's pooled client: answers streamed up to ``max_bytes``, the
    connection's own credentials (``auth``) on each request it sends, and the documents zeep loads served from
    ``documents`` (URL -> content, fetched beforehand in the event loop under the WSDL's limits): zeep's own
    synchronous, unbounded download is never used."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        max_bytes: int,
        label: str,
        auth: httpx.Auth | None = None,
        documents: Mapping[str, bytes] | None = None,
    ) -> None:
        # zeep wants a synchronous client for documents; none is made: _load_remote_data never downloads.
        super().__init__(client=http, wsdl_client=http)  # type: ignore[no-untyped-call]
        self.max_bytes = max_bytes
        self.label = label
        self.auth = auth
        self.documents = dict(documents or {})

    def _load_remote_data(self, url: str) -> bytes:
        """A document zeep asks for by URL: the WSDL fetched beforehand; any other is refused (zeep's settings
        forbid loading imports over the network, this keeps it so)."""
        content = self.documents.get(url)
        if content is None:
            raise UpstreamError(
                f"{self.label}: the WSDL refers to a document the gateway does not load", reason="protocol"
            )
        return content

    async def post(self, address: str, message: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """POST ``message`` to ``address``; the answer is read in full, unless it exceeds the limit (then an
        :class:`UpstreamError`)."""
        http: httpx.AsyncClient = self.client
        request = http.build_request("POST", address, content=message, headers=dict(headers))
        response = await http.send(request, stream=True, auth=self.auth)
        try:
            content = await read_limited(response, self.max_bytes, self.label)
        finally:
            await close_streamed(response)
        # The body is decoded already: without its coding and length, httpx does not decode it a second time.
        kept = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in {"content-encoding", "content-length", "transfer-encoding"}
        ]
        return httpx.Response(response.status_code, headers=kept, content=content, request=request)


#: The most elements an answer may hold once zeep has replaced its SOAP-encoding references (``href="#id"``) by
#: copies of what they point at: four times those it holds (an object referred to from a few places), at least
#: ten thousand, at most this; and the deepest it may be then.
MAX_EXPANDED_ELEMENTS = 200_000
MAX_EXPANDED_DEPTH = 200
_EXPANSION = 4
_EXPANDED_FLOOR = 10_000


def check_references(body: etree._Element, label: str) -> None:
    """Refuse (a protocol :class:`UpstreamError`) an answer whose SOAP-encoding references would expand beyond
    four times its elements (at least 10,000, at most :data:`MAX_EXPANDED_ELEMENTS`) or
    :data:`MAX_EXPANDED_DEPTH` levels, or refer to themselves.

    zeep reads an RPC-style answer by copying, for each ``href="#id"``, the Body's child of that ``id`` in its
    place (``zeep.wsdl.messages.multiref``), recursively, in the event loop: a few hundred bytes whose references
    each point twice at the next (a "billion laughs" of references) would make it copy millions of elements,
    blocking every call of the gateway past any deadline, and a reference to itself would never end."""
    targets = {str(child.get("id")): child for child in body if isinstance(child.tag, str) and child.get("id")}
    if not targets:
        return
    held = sum(1 for element in body.iter() if isinstance(element.tag, str))
    cap = min(MAX_EXPANDED_ELEMENTS, max(_EXPANSION * held, _EXPANDED_FLOOR))
    sizes: dict[str, int] = {}  # elements below a target (its own children, expanded)
    open_ids: set[str] = set()

    def refuse(what: str) -> UpstreamError:
        return UpstreamError(f"{label}: the answer's references {what}", reason="protocol")

    def below(element: etree._Element, depth: int) -> int:
        if depth > MAX_EXPANDED_DEPTH:
            raise refuse(f"nest deeper than {MAX_EXPANDED_DEPTH} levels")
        href = element.get("href") or ""
        target = targets.get(href[1:]) if href.startswith("#") else None
        if target is None:
            return sum(1 + below(child, depth + 1) for child in element if isinstance(child.tag, str))
        key = href[1:]
        if key not in sizes:
            if key in open_ids:
                raise refuse("refer to themselves")
            open_ids.add(key)
            sizes[key] = sum(1 + below(child, depth + 1) for child in target if isinstance(child.tag, str))
            open_ids.discard(key)
        if sizes[key] > cap:
            raise refuse(f"expand to more than {cap} elements")
        return sizes[key]

    if below(body, 0) > cap:
        raise refuse(f"expand to more than {cap} elements")


@dataclass(frozen=True, slots=True)
class Binding:
    """What the WSDL says about the port in use: zeep's client and binding, and the address to call."""

    client: zeep.AsyncClient
    binding: Any
    address: str


def _http_auth(config: SoapConnectorConfig) -> httpx.Auth | None:
    match config.auth:
        case BasicAuth(username=username, password=password):
            return httpx.BasicAuth(username, password.get_secret_value())
        case BearerAuth(token=token):
            return _Bearer(token.get_secret_value())
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    """The origin of an http(s) URL: scheme, host and port (the scheme's default when it names none)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1  # not a port: matches no other origin
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port if port is not None else default


#: The statuses SOAP sends its faults with: 500 (SOAP 1.1, and SOAP 1.2's receiver), 400 (SOAP 1.2's sender).
_FAULT_STATUSES = frozenset({400, 500})


class SoapClient:
    """Sends the connector's operations to the SOAP service; safe to share between concurrent tasks.

    :meth:`call` returns the parsed envelope of an answer without a fault, and raises a connector error for
    everything else (a fault in ``not_found_faults`` is :class:`RecordNotFound`), after retrying what may be.
    """

    def __init__(self, config: SoapConnectorConfig, *, label: str, rng: random.Random | None = None) -> None:
        self._config = config
        self._label = label
        # Whom the calls reach: the sector system, or the platform in between (errors name it).
        self._peer = PLATFORM if config.axis is not None else SECTOR_SYSTEM
        self._retrier = Retrier(config.retry, label=label, rng=rng)
        self._retry_statuses = self._retrier.statuses
        # The connection's own HTTP credentials go with its own requests (the WSDL, calls, the probe), never with
        # the platform's token requests; the configuration refuses them in the header the platform's token uses.
        self._auth = _http_auth(config)
        self._http: httpx.AsyncClient | None = None
        self._token_http: HttpClient | None = None  # the platform's token fetches, over self._http
        self._loading: asyncio.Future[Binding] | None = None
        self._bound: Binding | None = None
        # -- axis profile: the platform's headers and result code (connectors/soap/platform.py) --
        self._platform = SoapPlatform(config.axis, config.namespaces, label=label) if config.axis is not None else None

    # -- the pooled client and the WSDL ----------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            config = self._config
            # Deadlines are the connector's own (one per call, retries included): httpx only bounds connecting.
            timeout = httpx.Timeout(None, connect=config.connect_timeout_seconds)
            self._http = http_client(config, timeout=timeout)
            self._token_http = HttpClient(config, label=self._label, client=self._http)
        return self._http

    def _platform_http(self) -> HttpClient:
        """The base's client over the pooled httpx client, for the platform's token endpoint."""
        self._client()
        assert self._token_http is not None
        return self._token_http

    async def _load(self) -> Binding:
        """Fetch the WSDL and read it, within ``wsdl_timeout_seconds`` in all: past it, the loading is abandoned."""
        config = self._config
        seconds = config.wsdl_timeout_seconds
        deadline = asyncio.get_running_loop().time() + seconds
        http = self._client()  # made here, in the event loop, not in the worker thread
        documents = {config.wsdl: await self._fetch_wsdl(config.wsdl, deadline)} if "://" in config.wsdl else {}
        try:
            async with asyncio.timeout_at(deadline) as within:
                return await asyncio.to_thread(self._read_wsdl, http, documents)
        except TimeoutError:
            if not within.expired():
                raise
            message = f"{self._label}: the WSDL was not read within {seconds:g} s"
            raise UpstreamError(message, reason="protocol") from None

    async def _fetch_wsdl(self, url: str, deadline: float) -> bytes:
        """The WSDL at ``url``, downloaded in the event loop: refused beyond ``max_response_bytes``, abandoned (its
        connection closed) when ``deadline`` passes."""
        config = self._config
        http = self._client()
        seconds, limit = config.wsdl_timeout_seconds, config.max_response_bytes
        try:
            async with asyncio.timeout_at(deadline):
                response = await http.send(http.build_request("GET", url), stream=True, auth=self._auth)
        except TimeoutError:
            raise UpstreamTimeout(f"{self._label}: the WSDL was not served within {seconds:g} s") from None
        try:
            status = response.status_code
            if not 200 <= status < 300:
                if status >= 500:
                    raise from_status(status, self._label, retry=self._retry_statuses, peer=self._peer).error
                raise UpstreamError(f"{self._label}: the WSDL cannot be fetched (HTTP {status})", reason="protocol")
            try:
                async with asyncio.timeout_at(deadline):
                    return await read_limited(response, limit, self._label)
            except TimeoutError:  # it kept coming: a WSDL without end, or one dripping in
                message = f"{self._label}: the WSDL did not end within {seconds:g} s"
                raise UpstreamError(message, reason="protocol") from None
            except AnswerTooLarge:
                raise UpstreamError(
                    f"{self._label}: the WSDL is larger than {limit} bytes", reason="protocol"
                ) from None
        finally:
            await close_streamed(response)

    def _read_wsdl(self, http: httpx.AsyncClient, documents: Mapping[str, bytes]) -> Binding:
        """Read the WSDL (``documents`` holds it when it was fetched) and resolve the service, port, address and
        operations: zeep's work, synchronous, in a worker thread; calls will go over ``http``."""
        config = self._config
        settings = zeep.Settings(
            strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False
        )
        wsse = None
        if isinstance(config.auth, UsernameTokenAuth):
            wsse = UsernameToken(  # type: ignore[no-untyped-call]
                config.auth.username, config.auth.password.get_secret_value(), use_digest=config.auth.digest
            )
        transport = LimitedTransport(
            http, max_bytes=config.max_response_bytes, label=self._label, auth=self._auth, documents=documents
        )
        client = zeep.AsyncClient(  # type: ignore[no-untyped-call]
            config.wsdl, wsse=wsse, transport=transport, settings=settings
        )
        services = client.wsdl.services
        service = services.get(config.service) if config.service else next(iter(services.values()), None)
        if service is None:
            raise UpstreamError(f"{self._label}: the WSDL has no such service", reason="protocol")
        ports = service.ports
        port = ports.get(config.port) if config.port else next(iter(ports.values()), None)
        if port is None:
            raise UpstreamError(f"{self._label}: the WSDL's service has no such port", reason="protocol")
        # Through the platform, ``address`` is required: its credentials never go where a WSDL says.
        address = config.address or (port.binding_options or {}).get("address")
        if not isinstance(address, str) or not address.startswith(("http://", "https://")):
            raise UpstreamError(f"{self._label}: the WSDL names no http(s) address for the port", reason="protocol")
        if config.address is None and "://" in config.wsdl and _origin(address) != _origin(config.wsdl):
            # The credentials and the records' keys go where the address points: a WSDL served over the network
            # (altered, or naming an internal host) does not send them to another host, port or scheme.
            raise UpstreamError(
                f"{self._label}: the WSDL names an address on another host, port or scheme than the WSDL's own; "
                "set 'address' to call it",
                reason="protocol",
            )
        operations = [config.get.operation]
        operations += [op.operation for op in (config.search, config.ping) if op is not None]
        for name in operations:
            try:
                port.binding.get(name)
            except ValueError:
                raise UpstreamError(
                    f"{self._label}: the WSDL has no operation {name!r} on the port", reason="protocol"
                ) from None
        return Binding(client, port.binding, address)

    def _load_failure(self, exc: BaseException) -> UpstreamError:
        if isinstance(exc, UpstreamError):
            return exc
        if isinstance(exc, httpx.HTTPError):
            return from_exception(exc, self._label, peer=self._peer).error
        if isinstance(exc, OSError):
            return UpstreamError(f"{self._label}: the WSDL file cannot be read", reason="connect")
        return UpstreamError(f"{self._label}: the WSDL cannot be read ({type(exc).__name__})", reason="protocol")

    async def binding(self, deadline: float) -> Binding:
        """The WSDL's binding, read on first use once for every concurrent caller. A caller whose deadline passes
        stops waiting; the loading goes on for the others until ``wsdl_timeout_seconds`` have passed."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
            # A caller gone (its deadline passed) leaves the outcome to the next one; never "never retrieved".
            self._loading.add_done_callback(lambda done: done.cancelled() or done.exception())
        loading = self._loading
        try:
            async with asyncio.timeout_at(deadline):
                bound = await asyncio.shield(loading)
        except TimeoutError:
            raise deadline_passed(self._label) from None
        except Exception as exc:
            if self._loading is loading:
                self._loading = None  # the next call tries again
            logger.debug("%s: reading the WSDL failed (%s)", self._label, type(exc).__name__)
            raise self._load_failure(exc) from None
        self._bound = bound
        return bound

    async def close(self) -> None:
        """Close the pooled connections (a WSDL being fetched is abandoned; a platform's token request under way
        is let go of first)."""
        loading, self._loading = self._loading, None
        if loading is not None and not loading.done():
            loading.cancel()
        try:
            if self._platform is not None:
                await self._platform.session.aclose()
        finally:
            if self._http is not None:
                http, self._http = self._http, None
                self._token_http = None
                await http.aclose()

    # -- calls -----------------------------------------------------------------------------------------------

    def _context_headers(self) -> dict[str, str]:
        """The request context (request id, trace...) in the headers the configuration names."""
        return forwarded_headers(current_context(), self._config.context_headers)

    async def call(
        self, operation: str, arguments: Mapping[str, Any], *, seconds: float, not_found: Collection[str] = ()
    ) -> Envelope:
        """Call ``operation`` with ``arguments`` under a deadline of ``seconds``, retries included."""
        deadline = call_deadline(seconds)
        bound = await self.binding(deadline)
        try:
            envelope, headers = bound.binding._create(
                operation, (), dict(arguments), client=bound.client, options={"address": bound.address}
            )
        except (zeep.exceptions.Error, TypeError, ValueError):
            raise BadQuery(f"{self._label}: the {operation} operation does not take these arguments") from None
        message: bytes = etree_to_string(envelope)  # type: ignore[no-untyped-call]
        attempt = 0
        reauthenticated = False
        while True:
            attempt += 1
            outcome = await self._attempt(bound, message, headers, deadline=deadline, not_found=not_found)
            if isinstance(outcome, Envelope):
                return outcome
            if outcome is None:  # the platform answered 401 to a cached token: fetch a new one, once
                if reauthenticated and self._platform is not None:
                    raise self._platform.session.refused(401)
                reauthenticated = True
                attempt -= 1
                continue
            await self._retrier.pause(outcome, attempt, deadline=deadline)

    async def _attempt(
        self,
        bound: Binding,
        message: bytes,
        headers: Mapping[str, str],
        *,
        deadline: float,
        not_found: Collection[str],
    ) -> Envelope | Failure | None:
        """One attempt: the answer's envelope, a failure, or ``None`` for a 401 worth a new platform token."""
        attempt_timeout(self._config, deadline, self._label)  # raises when the deadline has passed
        transport: LimitedTransport = bound.client.transport
        sent = {**self._context_headers(), **headers}
        platform = self._platform
        try:
            async with asyncio.timeout_at(deadline):
                if platform is not None:
                    sent |= await platform.headers(self._platform_http(), deadline)
                response = await transport.post(bound.address, message, one_each(sent))
        except TimeoutError:
            raise deadline_passed(self._label) from None
        except TokenUnavailable as exc:  # the platform's token endpoint (429, 503): try again after Retry-After
            return Failure(exc, True, exc.retry_after)
        except (httpx.HTTPError, OSError) as exc:
            logger.debug("%s: %s", self._label, type(exc).__name__)
            return from_exception(exc, self._label, peer=self._peer)
        status = response.status_code
        if platform is not None and status == 401:
            self._platform_refusal(status, sent)
            return None
        parsed = self._answer_envelope(response)
        if platform is not None:
            if parsed is not None:
                platform.judge(parsed)  # the platform's result code, before the Body's fault and the status
            if status == 403:
                raise platform.session.refused(status)
        if parsed is not None:
            if parsed.fault is not None:
                raise fault_error(parsed.fault, self._label, not_found=not_found)
            if status == 200:
                return parsed
        return self._failure_of(status, response.headers)

    def _answer_envelope(self, response: httpx.Response) -> Envelope | None:
        """The envelope of an answer to read as one: any 200 (a protocol error if it is none); an XML answer with
        a fault's status (SOAP 1.1 sends faults with 500, SOAP 1.2 with 400 or 500), or through the platform with
        one of its envelope's statuses (a 504 whose result code says the sector system did not answer it)."""
        status = response.status_code
        if status != 200:
            statuses = self._platform.statuses if self._platform is not None else frozenset()
            if "xml" not in response.headers.get("Content-Type", "") or (
                status not in _FAULT_STATUSES and status not in statuses
            ):
                return None
        try:
            # Through a platform, an answer that is no envelope is the platform's own (it wraps the sector's).
            return parse_envelope(response.content, self._label, peer=self._peer if self._peer == PLATFORM else None)
        except UpstreamError:
            if status == 200:
                raise
            return None

    def _failure_of(self, status: int, headers: Mapping[str, str]) -> Failure:
        """The failure an answer of ``status`` (with its headers: ``Retry-After``) means, naming whom it came from."""
        return from_response(status, headers, self._label, retry=self._retry_statuses, peer=self._peer)

    def _platform_refusal(self, status: int, sent: Mapping[str, str]) -> None:
        """Forget the platform token a 401 answered (the call is tried again with a new one); raise the refusal
        when there is none to renew, or for a 403."""
        assert self._platform is not None
        if status == 401 and self._platform.refreshable:
            self._platform.session.invalidate(sent)
            return
        raise self._platform.session.refused(status)

    async def get_endpoint(self, seconds: float) -> None:
        """The health probe without a ``ping`` operation: an HTTP GET of the service's address (after the WSDL is
        read), its answer read up to ``max_response_bytes``.

        Direct, any answer below 500 means up: the service answers. Through the platform, a 401 makes it fetch a
        new token and try once more; a 401 again, or a 403, is the platform refusing the gateway
        (:class:`UpstreamRefused`); an answer with the platform's result code is judged by it; and, when the
        profile describes the envelope, an answer whose status the platform wraps (200, ``envelope.statuses``)
        but that carries no result code (a web page, a portal's login form) is not the platform's: an
        :class:`UpstreamError` rather than up."""
        deadline = call_deadline(seconds)
        bound = await self.binding(deadline)
        reauthenticated = False
        while True:
            sent, response, content = await self._probe(bound.address, deadline)
            status = response.status_code
            platform = self._platform
            if platform is None:
                if status >= 500:
                    raise self._failure_of(status, response.headers).error
                return
            if status == 401 and platform.refreshable and not reauthenticated:
                platform.session.invalidate(sent)  # the token was revoked: a new one, once
                reauthenticated = True
                continue
            self._judge_probe(platform, response, content)
            return

    async def _probe(self, address: str, deadline: float) -> tuple[dict[str, str], httpx.Response, bytes]:
        """One GET of ``address``: the headers sent, the (closed) answer and its body."""
        http = self._client()
        sent = self._context_headers()
        try:
            async with asyncio.timeout_at(deadline):
                if self._platform is not None:
                    sent |= await self._platform.headers(self._platform_http(), deadline)
                response = await http.send(
                    http.build_request("GET", address, headers=sent), stream=True, auth=self._auth
                )
                try:
                    content = await read_limited(response, self._config.max_response_bytes, self._label)
                finally:
                    await close_streamed(response)
        except TimeoutError:
            raise deadline_passed(self._label) from None
        except (httpx.HTTPError, OSError) as exc:
            raise from_exception(exc, self._label, peer=self._peer).error from None
        return sent, response, content

    def _judge_probe(self, platform: SoapPlatform, response: httpx.Response, content: bytes) -> None:
        """Raise the error of a probe's answer through the platform, if it is not up."""
        status = response.status_code
        if status == 401:
            raise platform.session.refused(status)
        wrapped = status == 200 or status in platform.statuses
        code = None
        if wrapped and platform.wraps:
            try:
                parsed: Envelope | None = parse_envelope(content, self._label)
            except UpstreamError:
                parsed = None  # not an envelope: no result code
            try:
                code = platform.judge(parsed) if parsed is not None else None  # raises what an error code means
            except RecordNotFound:
                raise UpstreamError(
                    f"{self._label}: the platform found nothing at the service's address", reason="protocol"
                ) from None
        if status == 403:
            raise platform.session.refused(status)
        if status >= 500 and code is None:
            raise self._failure_of(status, response.headers).error
        if wrapped and platform.wraps and code is None:
            raise UpstreamError(
                f"{self._label}: the answer to the health probe is not the platform's (HTTP {status} without its "
                "result code)",
                reason="protocol",
            )

    def deserialize(self, operation: str, envelope: Envelope) -> Any:
        """The operation's result as zeep builds it from the WSDL's types (for ``zeep`` mapping), after a call."""
        assert self._bound is not None, "deserialize() follows call()"
        check_references(envelope.body, self._label)
        try:
            return self._bound.binding.get(operation).process_reply(envelope.root)
        except (zeep.exceptions.Error, etree.LxmlError, ValueError, TypeError, ArithmeticError) as exc:
            raise UpstreamError(
                f"{self._label}: the answer does not fit the WSDL ({type(exc).__name__})", reason="protocol"
            ) from None
