"""The pooled HTTP client of an adapter, and what every call to a sector system needs around it.

:class:`HttpClient` is one connector's client to its sector system: :meth:`HttpClient.request` sends a request
under the call's deadline and returns an :class:`Answer` (status, headers, body read up to
``max_response_bytes``, ``Link`` header). Its engine is aiohttp, called directly (a ``ClientSession`` per
connector: the cheaper per request, measured in ``bench/``), or an ``httpx.AsyncClient`` (``http_transport:
httpx``, and the SOAP adapter, whose zeep transport speaks httpx). Either way: TLS verification always on
(:func:`ssl_context`), the connection pool's limit, no proxy or netrc from the environment, no redirects followed,
no cookies kept. :func:`http_client` builds the ``httpx.AsyncClient`` of a connector (an :class:`AsyncClient`,
whose answers hold no reference cycle once read); :func:`read_limited` reads a streamed httpx answer up to the
limit, undoing its content coding itself piece by piece (a compressed "bomb" is never expanded past the limit),
and :func:`close_streamed` closes it; :func:`json_body` parses a JSON body; :func:`call_deadline` and
:func:`attempt_timeout` turn the call's deadline into timeouts. Importing this module keeps httpx's per-request log
lines out of the logs (:func:`without_request_lines`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import re
import ssl
import zlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import httpx
import orjson

from connectors.errors import UpstreamError, UpstreamTimeout

from .config import HttpConnectorConfig

__all__ = [
    "ACCEPTED_ENCODINGS",
    "Answer",
    "AnswerTooLarge",
    "AsyncClient",
    "Engine",
    "HttpClient",
    "WithoutRequestLines",
    "attempt_timeout",
    "call_deadline",
    "close_streamed",
    "deadline_passed",
    "http_client",
    "json_body",
    "one_each",
    "parse_links",
    "read_limited",
    "ssl_context",
    "without_request_lines",
]

Engine = Literal["aiohttp", "httpx"]
"""The HTTP/1.1 engine of an :class:`HttpClient`: aiohttp's client, called directly, or httpx's own."""


class WithoutRequestLines(logging.Filter):
    """Drops the per-request INFO lines of an HTTP library: they quote URLs (and SOAP envelopes), and a URL may
    hold a record key (personal data). Warnings and errors pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep records above INFO."""
        return record.levelno > logging.INFO


def without_request_lines(*loggers: str) -> None:
    """Install :class:`WithoutRequestLines` on the named loggers (once each, however often it is called)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, WithoutRequestLines) for existing in logger.filters):
            logger.addFilter(WithoutRequestLines())


without_request_lines("httpx")


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Certificate and host name verification always on: the CAs of ``ca_bundle``, or the public CAs.

    The context is shared by every client of the process that trusts the same CAs (a context holds its
    certificate store, about a mebibyte each): never change the one returned. A CA bundle changed on disk (same
    path, new content) gets a new context the next time a client is made.
    """
    if ca_bundle is None:
        return _shared_context(None, 0, 0)
    path = ca_bundle.resolve()
    stat = path.stat()
    return _shared_context(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _shared_context(cafile: str | None, _mtime_ns: int, _size: int) -> ssl.SSLContext:
    if cafile is not None:
        return ssl.create_default_context(cafile=cafile)
    return httpx.create_ssl_context()


#: What a read answer's stream becomes: its body is the answer's ``content`` already.
_READ = httpx.ByteStream(b"")


def _unbind(response: httpx.Response) -> None:
    """Let go of a closed answer's stream: httpx binds each answer to a stream that refers back to it, a reference
    cycle (with the request, the headers and the pool's objects, about forty objects a call) that reference
    counting never frees, only a pass of the cyclic garbage collector."""
    response.stream = _READ


async def close_streamed(response: httpx.Response) -> None:
    """Close an answer sent with ``stream=True`` (read or not), and let go of its stream (see :class:`AsyncClient`)."""
    try:
        await response.aclose()
    finally:
        _unbind(response)


class AsyncClient(httpx.AsyncClient):
    """httpx's client, whose answers hold no reference cycle once read: an answer read in full by :meth:`send`
    (every call but ``stream=True``) lets go of its stream; a streamed one does when closed by
    :func:`close_streamed`. Otherwise each call would leave its answer, request and headers for the cyclic garbage
    collector."""

    async def send(self, request: httpx.Request, *, stream: bool = False, **options: Any) -> httpx.Response:
        """Send ``request`` as httpx does (``options`` are :meth:`httpx.AsyncClient.send`'s)."""
        response = await super().send(request, stream=stream, **options)
        if not stream:
            _unbind(response)
        return response


def http_client(
    config: HttpConnectorConfig,
    *,
    verify: ssl.SSLContext | None = None,
    **options: Any,
) -> AsyncClient:
    """A pooled ``httpx.AsyncClient`` to the sector system: ``config``'s CA bundle (or ``verify``, a context made
    by :func:`ssl_context`) and connection limit, nothing taken from the environment, redirects not followed.
    ``options`` are the client's other arguments (``base_url``, ``headers``, ``auth``...)."""
    verify = verify or ssl_context(config.ca_bundle)
    limits = httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections)
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=False)
    # Only the codings read_limited undoes, whatever decoders httpx finds installed (brotli, zstandard).
    options["headers"] = {"Accept-Encoding": ACCEPTED_ENCODINGS, **dict(options.get("headers") or {})}
    return AsyncClient(transport=transport, follow_redirects=False, trust_env=False, **options)


def call_deadline(seconds: float) -> float:
    """The deadline, on the running loop's clock, of a call that may last ``seconds`` (retries included)."""
    return asyncio.get_running_loop().time() + seconds


def deadline_passed(label: str) -> UpstreamTimeout:
    """The error of a call whose deadline passed before the sector system answered."""
    return UpstreamTimeout(f"{label}: no answer within the deadline")


def attempt_timeout(config: HttpConnectorConfig, deadline: float, label: str) -> httpx.Timeout:
    """httpx's timeout of an attempt made now: what is left of the call's deadline, connecting within
    ``connect_timeout_seconds`` of it; :func:`deadline_passed` raised when nothing is left."""
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        raise deadline_passed(label)
    return httpx.Timeout(remaining, connect=min(config.connect_timeout_seconds, remaining))


class AnswerTooLarge(UpstreamError):
    """An answer larger than the connector's ``max_response_bytes`` (as sent, or once its content coding is undone)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="protocol")


def _too_large(limit: int, label: str) -> UpstreamError:
    return AnswerTooLarge(f"{label}: the answer is larger than {limit} bytes")


#: The content codings the gateway asks for (``Accept-Encoding``) and undoes itself, piece by piece.
ACCEPTED_ENCODINGS = "gzip, deflate"

#: The most a content coding gives at once: a compressed answer is never expanded in one go.
_PIECE = 64 * 1024
_GZIP_WBITS = zlib.MAX_WBITS | 16
_MAX_CODINGS = 4  # "gzip, gzip, ..." nested deeper than this is no real server's answer
_MAX_MEMBERS = 1024  # gzip members in one answer


class _Inflater:
    """Undoes one content coding (``gzip``, ``deflate``) of a body fed chunk by chunk, yielding at most
    :data:`_PIECE` bytes at a time: a "zip bomb" (a few kilobytes that expand to gigabytes) is never expanded
    beyond what the reader asks for. (httpx's own decoders expand each chunk whole: a 64 KiB chunk can become
    64 MiB, and ``gzip, gzip`` gigabytes.)"""

    def __init__(self, coding: str, label: str) -> None:
        self._gzip = coding in {"gzip", "x-gzip"}
        self._label = label
        self._inflate = zlib.decompressobj(_GZIP_WBITS if self._gzip else zlib.MAX_WBITS)
        self._started = False
        self._members = 1

    def _broken(self) -> UpstreamError:
        return UpstreamError(f"{self._label}: the answer's compressed body is corrupt", reason="protocol")

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next chunk ``data`` of the coded body."""
        if not data:
            return
        if not self._started:
            self._started = True
            if not self._gzip and data[0] & 0x0F != 8:  # a raw deflate stream, without zlib's header (as IIS sends)
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        while True:
            inflate = self._inflate
            if inflate.eof:
                if not (self._gzip and data):
                    return  # what follows the end of a deflate stream is ignored (as httpx and aiohttp do)
                self._members += 1
                if self._members > _MAX_MEMBERS:
                    raise self._broken()
                inflate = self._inflate = zlib.decompressobj(_GZIP_WBITS)
            try:
                piece = inflate.decompress(data, _PIECE)
            except zlib.error:
                raise self._broken() from None
            if piece:
                yield piece
            data = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
            if not data and (inflate.eof or len(piece) < _PIECE):
                return

    def finish(self) -> None:
        """Raise the error of a coded body that ended before its compressed stream did (nothing fed is no body)."""
        if self._started and not self._inflate.eof:
            raise UpstreamError(f"{self._label}: the answer's compressed body is incomplete", reason="protocol")


def _inflaters(content_encoding: str | None, label: str) -> list[_Inflater]:
    """The decoders of an answer's ``Content-Encoding``, in the order to apply them (the last coding first)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > _MAX_CODINGS or any(c not in {"gzip", "x-gzip", "deflate"} for c in codings):
        raise UpstreamError(f"{label}: the answer's content coding is not supported", reason="protocol")
    return [_Inflater(coding, label) for coding in reversed(codings)]


def _decoded(inflaters: list[_Inflater], data: bytes) -> Iterator[bytes]:
    if not inflaters:
        yield data
        return
    for piece in inflaters[0].feed(data):
        yield from _decoded(inflaters[1:], piece)


async def read_limited(response: httpx.Response, limit: int, label: str) -> bytes:
    """The body of a streamed ``response``, its content coding (``gzip``, ``deflate``) undone, refused (an
    :class:`AnswerTooLarge`) when it declares or turns out to be larger than ``limit`` bytes, as sent or decoded;
    any other coding, or a corrupt compressed body, is a protocol :class:`UpstreamError`. The body is read raw and
    decoded here, piece by piece, never more than the limit at once. The caller closes the response."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, label)
    inflaters = _inflaters(response.headers.get("Content-Encoding"), label)
    chunks: list[bytes] = []
    received = size = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            raise _too_large(limit, label)
        for piece in _decoded(inflaters, chunk):
            size += len(piece)
            if size > limit:
                raise _too_large(limit, label)
            chunks.append(piece)
    for inflater in inflaters:
        inflater.finish()
    return b"".join(chunks)


#: The UTF-8 byte-order mark some platforms (.NET's) put before a JSON document.
_UTF8_BOM = b"\xef\xbb\xbf"


def json_body(content: bytes) -> Any:
    """The JSON document of an answer's body, a leading UTF-8 byte-order mark skipped (RFC 8259 §8.1 lets a reader
    ignore it; .NET services send one); ``orjson.JSONDecodeError`` when the body is not JSON."""
    return orjson.loads(content.removeprefix(_UTF8_BOM))


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer of the sector system: its status, its headers (case-insensitive), its body (empty when the
    status was not one to read) and its ``Link`` header by relation (``rel``, else the URL)."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    links: Mapping[str | None, Mapping[str, str]]


_LINK_SPLIT = re.compile(", *<")
_LINK_QUOTES = " '\""


def parse_links(values: Collection[str]) -> dict[str | None, dict[str, str]]:
    """The links of ``Link`` header values (RFC 8288) by relation, read as httpx reads them
    (``httpx.Response.links``): ``{"next": {"url": ..., "rel": "next"}}``; a link without ``rel`` under its URL."""
    links: dict[str | None, dict[str, str]] = {}
    for value in values:
        header = value.strip(_LINK_QUOTES)
        if not header:
            continue
        for item in _LINK_SPLIT.split(header):
            url, _, params = item.partition(";")
            link = {"url": url.strip("<> '\"")}
            for param in params.split(";") if params else ():
                key, equals, text = param.partition("=")
                if not equals or "=" in text:
                    break
                link[key.strip(_LINK_QUOTES)] = text.strip(_LINK_QUOTES)
            links[link.get("rel") or link.get("url")] = link
    return links


_NO_LINKS: Mapping[str | None, Mapping[str, str]] = {}


def one_each(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with each name once, whatever its case: the last value given for a name wins, under the name it
    was given with (as merging them into aiohttp's case-insensitive headers does). httpx would send
    ``X-Request-Id`` and ``X-Request-ID`` both, and a server would read them as one list ("a, a")."""
    merged: dict[str, tuple[str, str]] = {}
    for name, value in headers.items():
        merged.pop(name.lower(), None)
        merged[name.lower()] = (name, value)
    return dict(merged.values())


class HttpClient:
    """One connector's pooled client to its sector system (``label`` names it in errors); safe to share between
    concurrent tasks. The pool opens on first use, inside the event loop.

    ``base_url`` prefixes relative URLs (as httpx does: ``https://host/prefix`` and ``/api/x`` give
    ``https://host/prefix/api/x``); ``headers`` go with every request. With ``httpx``, an existing
    ``httpx.AsyncClient`` may be given (``client``, closed by its owner), else one is made by :func:`http_client`.
    """

    def __init__(
        self,
        config: HttpConnectorConfig,
        *,
        label: str,
        engine: Engine = "aiohttp",
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._config = config
        self._label = label
        self._engine: Engine = "httpx" if client is not None else engine
        self._base = base_url.rstrip("/") + "/" if base_url else ""
        self._headers = dict(headers or {})
        self._limit = config.max_response_bytes
        self._connect = config.connect_timeout_seconds
        self._connect_only = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=self._connect, sock_read=None)
        self._session: aiohttp.ClientSession | None = None
        self._httpx = client
        self._owns_httpx = client is None

    @property
    def engine(self) -> Engine:
        """The engine in use."""
        return self._engine

    def open(self) -> None:
        """Create the pool (connections open on demand); called in the event loop."""
        if self._engine == "aiohttp":
            if self._session is None:
                connector = aiohttp.TCPConnector(
                    ssl=ssl_context(self._config.ca_bundle),
                    limit=self._config.max_connections,
                    keepalive_timeout=5.0,  # httpx's keep-alive expiry
                )
                self._session = aiohttp.ClientSession(
                    connector=connector,
                    headers=self._headers,
                    trust_env=False,
                    cookie_jar=aiohttp.DummyCookieJar(),
                )
        elif self._httpx is None:
            self._httpx = http_client(self._config, headers=self._headers)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        if self._owns_httpx and self._httpx is not None:
            client, self._httpx = self._httpx, None
            await client.aclose()

    def _url(self, url: str) -> str:
        if not self._base or url.startswith(("http://", "https://")):
            return url
        return self._base + url.lstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        *,
        deadline: float,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        basic: tuple[str, str] | None = None,
        read: Collection[int] | None = None,
        under_deadline: bool = False,
    ) -> Answer:
        """Send one request within what is left of ``deadline`` (on the running loop's clock; connecting within
        ``connect_timeout_seconds`` of it), with ``params`` in the query, ``json`` (by orjson) or the form ``data``
        as the body, ``basic`` as HTTP Basic credentials. The body is read when the status is in ``read`` (any,
        when ``None``), refused (an :class:`UpstreamError`) beyond ``max_response_bytes``. The engine's errors
        (``aiohttp.ClientError``, ``httpx.HTTPError``, ``OSError``) are the caller's to classify
        (:func:`connectors.http.failures.from_exception`); :func:`deadline_passed` is raised when no time is left.

        ``under_deadline``: the caller already awaits this request under ``asyncio.timeout_at(deadline)`` (as
        :class:`connectors.rest.client.UpstreamClient` awaits each attempt), which then ends it when the deadline
        passes, with its own ``TimeoutError``: the request sets no timer of its own.
        """
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise deadline_passed(self._label)
        self.open()
        if self._session is None:
            return await self._via_httpx(
                method,
                url,
                remaining=remaining,
                params=params,
                json=json,
                data=data,
                headers=headers,
                basic=basic,
                read=read,
            )
        sent = self._aiohttp(
            method,
            url,
            remaining=remaining,
            params=params,
            json=json,
            data=data,
            headers=headers,
            basic=basic,
            read=read,
        )
        if under_deadline:
            return await sent
        try:
            async with asyncio.timeout_at(deadline) as within:
                return await sent
        except TimeoutError:
            if within.expired():
                raise deadline_passed(self._label) from None
            raise

    def _aiohttp_timeout(self, remaining: float) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts of a request with ``remaining`` seconds left: only the connection's
        (``connect_timeout_seconds``, if a new one is opened); the deadline's timer covers the rest, pool and
        answer included (aiohttp's own would set two or three more timers a request)."""
        if remaining >= self._connect:
            return self._connect_only
        return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=remaining, sock_read=None)

    async def _aiohttp(
        self,
        method: str,
        url: str,
        *,
        remaining: float,
        params: Mapping[str, str] | None,
        json: Any,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        basic: tuple[str, str] | None,
        read: Collection[int] | None,
    ) -> Answer:
        assert self._session is not None
        body: Any = data
        if json is not None:
            body = orjson.dumps(json)
            headers = {**(headers or {}), "Content-Type": "application/json"}
        if basic is not None:
            credentials = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {credentials}"}
        async with self._session.request(
            method,
            self._url(url),
            params=params,
            data=body,
            headers=headers,
            timeout=self._aiohttp_timeout(remaining),
            allow_redirects=False,
        ) as response:
            status = response.status
            content = b""
            if read is None or status in read:
                content = await _read_aiohttp(response, self._limit, self._label)
            links = response.headers.getall("Link", None)
            return Answer(status, response.headers, content, parse_links(links) if links else _NO_LINKS)

    async def _via_httpx(
        self,
        method: str,
        url: str,
        *,
        remaining: float,
        params: Mapping[str, str] | None,
        json: Any,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        basic: tuple[str, str] | None,
        read: Collection[int] | None,
    ) -> Answer:
        assert self._httpx is not None
        http = self._httpx
        timeout = httpx.Timeout(remaining, connect=min(self._connect, remaining))
        if headers is not None:
            headers = one_each(headers)
        request = http.build_request(
            method, self._url(url), params=params, json=json, data=data, headers=headers, timeout=timeout
        )
        auth = httpx.BasicAuth(*basic) if basic is not None else httpx.USE_CLIENT_DEFAULT
        response = await http.send(request, auth=auth, stream=True)
        try:
            status = response.status_code
            content = b""
            if read is None or status in read:
                content = await read_limited(response, self._limit, self._label)
            return Answer(status, response.headers, content, response.links)
        finally:
            await close_streamed(response)


async def _read_aiohttp(response: aiohttp.ClientResponse, limit: int, label: str) -> bytes:
    """The body of an aiohttp answer, refused beyond ``limit`` bytes (declared, or decoded as it arrives)."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit, label)
    if declared is not None and "Content-Encoding" not in response.headers:
        return await response.read()  # the declared length is what arrives
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, label)
        chunks.append(chunk)
    return b"".join(chunks)
