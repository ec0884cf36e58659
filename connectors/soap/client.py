"""One zeep client per connector: the WSDL read once, envelopes built by zeep, calls sent over pooled httpx.

zeep reads the WSDL (synchronously, so in a worker thread, once, on the first call), builds each request
envelope from the operation's types and applies WS-Security; :class:`LimitedTransport`, a
``zeep.transports.AsyncTransport`` over the connector's ``httpx.AsyncClient``, sends it and reads at most
``max_response_bytes`` of the answer. Every call runs under one deadline that covers loading the WSDL, its
retries and their backoff waits. The HTTP client, its limits, the retries and the meaning of HTTP failures are
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

import httpx
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import AsyncTransport
from zeep.wsdl.utils import etree_to_string
from zeep.wsse.username import UsernameToken

from connectors.context import current_context, forwarded_headers
from connectors.errors import BadQuery, UpstreamError
from connectors.http import (
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
    read_limited,
    ssl_context,
    without_request_lines,
)

from .config import BasicAuth, BearerAuth, SoapConnectorConfig, UsernameTokenAuth
from .envelope import Envelope, fault_error, parse_envelope
from .platform import SoapPlatform

__all__ = ["Binding", "LimitedTransport", "SoapClient"]

logger = logging.getLogger(__name__)


class _Silenced(logging.Filter):
    """Drops every record: zeep logs a value it cannot read as its XML type with the value (personal data)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


without_request_lines("zeep.transports")  # it logs the envelopes it sends, which may hold personal data
logging.getLogger("zeep.xsd.types.simple").addFilter(_Silenced())


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self._header
        yield request


class LimitedTransport(AsyncTransport):
    """zeep's async transport over the connector's pooled client, streaming answers up to ``max_bytes``."""

    def __init__(self, http: httpx.AsyncClient, wsdl_http: httpx.Client, *, max_bytes: int, label: str) -> None:
        super().__init__(client=http, wsdl_client=wsdl_http)  # type: ignore[no-untyped-call]
        self.max_bytes = max_bytes
        self.label = label

    async def post(self, address: str, message: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """POST ``message`` to ``address``; the answer is read in full, unless it exceeds the limit (then an
        :class:`UpstreamError`)."""
        http: httpx.AsyncClient = self.client
        request = http.build_request("POST", address, content=message, headers=dict(headers))
        response = await http.send(request, stream=True)
        try:
            content = await read_limited(response, self.max_bytes, self.label)
        finally:
            await close_streamed(response)
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)


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


class SoapClient:
    """Sends the connector's operations to the SOAP service; safe to share between concurrent tasks.

    :meth:`call` returns the parsed envelope of an answer without a fault, and raises a connector error for
    everything else (a fault in ``not_found_faults`` is :class:`RecordNotFound`), after retrying what may be.
    """

    def __init__(self, config: SoapConnectorConfig, *, label: str, rng: random.Random | None = None) -> None:
        self._config = config
        self._label = label
        self._retrier = Retrier(config.retry, label=label, rng=rng)
        self._retry_statuses = self._retrier.statuses
        self._http: httpx.AsyncClient | None = None
        self._wsdl_http: httpx.Client | None = None
        self._token_http: HttpClient | None = None  # the platform's token fetches, over self._http
        self._loading: asyncio.Future[Binding] | None = None
        self._bound: Binding | None = None
        # -- axis profile: the platform's headers and result code (connectors/soap/platform.py) --
        self._platform = SoapPlatform(config.axis, config.namespaces, label=label) if config.axis is not None else None

    # -- the pooled clients and the WSDL ---------------------------------------------------------------------

    def _clients(self) -> tuple[httpx.AsyncClient, httpx.Client]:
        if self._http is None or self._wsdl_http is None:
            config = self._config
            verify = ssl_context(config.ca_bundle)
            # Deadlines are the connector's own (one per call, retries included): httpx only bounds connecting.
            timeout = httpx.Timeout(None, connect=config.connect_timeout_seconds)
            self._http = http_client(config, verify=verify, auth=_http_auth(config), timeout=timeout)
            self._wsdl_http = httpx.Client(
                verify=verify,
                auth=_http_auth(config),
                timeout=httpx.Timeout(config.wsdl_timeout_seconds, connect=config.connect_timeout_seconds),
                follow_redirects=False,
                trust_env=False,
            )
            self._token_http = HttpClient(config, label=self._label, client=self._http)
        return self._http, self._wsdl_http

    def _platform_http(self) -> HttpClient:
        """The base's client over the pooled httpx client, for the platform's token endpoint."""
        self._clients()
        assert self._token_http is not None
        return self._token_http

    def _load(self) -> Binding:
        """Read the WSDL and resolve the service, port, address and operations (in a worker thread)."""
        config = self._config
        http, wsdl_http = self._clients()
        settings = zeep.Settings(
            strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False
        )
        wsse = None
        if isinstance(config.auth, UsernameTokenAuth):
            wsse = UsernameToken(  # type: ignore[no-untyped-call]
                config.auth.username, config.auth.password.get_secret_value(), use_digest=config.auth.digest
            )
        transport = LimitedTransport(http, wsdl_http, max_bytes=config.max_response_bytes, label=self._label)
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
        address = config.address or (port.binding_options or {}).get("address")
        if not isinstance(address, str) or not address.startswith(("http://", "https://")):
            raise UpstreamError(f"{self._label}: the WSDL names no http(s) address for the port", reason="protocol")
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
            return from_exception(exc, self._label).error
        if isinstance(exc, zeep.exceptions.TransportError):
            status = exc.status_code or 0
            if status >= 500:
                return from_status(status, self._label, retry=self._retry_statuses).error
            return UpstreamError(f"{self._label}: the WSDL cannot be fetched (HTTP {status})", reason="protocol")
        if isinstance(exc, OSError):
            return UpstreamError(f"{self._label}: the WSDL file cannot be read", reason="connect")
        return UpstreamError(f"{self._label}: the WSDL cannot be read ({type(exc).__name__})", reason="protocol")

    async def binding(self, deadline: float) -> Binding:
        """The WSDL's binding, read on first use by one worker thread for every concurrent caller."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
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
        """Close the pooled connections."""
        loading, self._loading = self._loading, None
        if loading is not None and not loading.done():
            loading.cancel()
        if self._http is not None:
            http, self._http = self._http, None
            self._token_http = None
            await http.aclose()
        if self._wsdl_http is not None:
            wsdl_http, self._wsdl_http = self._wsdl_http, None
            wsdl_http.close()

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
        try:
            async with asyncio.timeout_at(deadline):
                if self._platform is not None:
                    sent |= await self._platform.headers(self._platform_http(), deadline)
                response = await transport.post(bound.address, message, sent)
        except TimeoutError:
            raise deadline_passed(self._label) from None
        except (httpx.HTTPError, OSError) as exc:
            logger.debug("%s: %s", self._label, type(exc).__name__)
            return from_exception(exc, self._label)
        status = response.status_code
        if self._platform is not None and status in {401, 403}:
            self._platform_refusal(status, sent)
            return None
        # SOAP 1.1 sends faults with 500, SOAP 1.2 with 400 (sender) or 500 (receiver); other answers with 200.
        if status == 200 or (status in {400, 500} and "xml" in response.headers.get("Content-Type", "")):
            try:
                parsed = parse_envelope(response.content, self._label)
            except UpstreamError:
                if status == 200:
                    raise
                return from_response(status, response.headers, self._label, retry=self._retry_statuses)
            if self._platform is not None:
                self._platform.judge(parsed)  # the platform's result code, before the Body's fault
            if parsed.fault is not None:
                raise fault_error(parsed.fault, self._label, not_found=not_found)
            if status == 200:
                return parsed
        return from_response(status, response.headers, self._label, retry=self._retry_statuses)

    def _platform_refusal(self, status: int, sent: Mapping[str, str]) -> None:
        """Forget the platform token a 401 answered (the call is tried again with a new one); raise the refusal
        when there is none to renew, or for a 403."""
        assert self._platform is not None
        if status == 401 and self._platform.refreshable:
            self._platform.session.invalidate(sent)
            return
        raise self._platform.session.refused(status)

    async def get_endpoint(self, seconds: float) -> None:
        """An HTTP GET of the service's address (a health probe): any answer below 500 means it is up."""
        deadline = call_deadline(seconds)
        bound = await self.binding(deadline)
        http, _ = self._clients()
        try:
            async with asyncio.timeout_at(deadline):
                extra = await self._platform.headers(self._platform_http(), deadline) if self._platform else {}
                response = await http.get(bound.address, headers={**self._context_headers(), **extra})
        except TimeoutError:
            raise deadline_passed(self._label) from None
        except (httpx.HTTPError, OSError) as exc:
            raise from_exception(exc, self._label).error from None
        if response.status_code >= 500:
            raise from_status(response.status_code, self._label, retry=self._retry_statuses).error

    def deserialize(self, operation: str, envelope: Envelope) -> Any:
        """The operation's result as zeep builds it from the WSDL's types (for ``zeep`` mapping), after a call."""
        assert self._bound is not None, "deserialize() follows call()"
        try:
            return self._bound.binding.get(operation).process_reply(envelope.root)
        except (zeep.exceptions.Error, etree.LxmlError, ValueError, TypeError) as exc:
            raise UpstreamError(
                f"{self._label}: the answer does not fit the WSDL ({type(exc).__name__})", reason="protocol"
            ) from None
