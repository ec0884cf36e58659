"""The axis profile at work for one connector: the platform's token, each call's metadata, the envelope's verdict.

One :class:`PlatformSession` per connector instance, shared by its concurrent calls. The token is fetched once for
all the calls that need it (single flight), cached until shortly before it expires, and dropped when the platform
answers 401 to it. Failures become connector errors: a token the platform will not issue, or a call it refuses,
is :class:`~connectors.errors.UpstreamRefused` (its message says so, and health checks show it); a token endpoint
that fails or cannot be reached is an ordinary upstream failure, one that is unavailable (503) is
:class:`TokenUnavailable` and one that rate limits the gateway (429) :class:`TokenRateLimited` (both worth another
attempt, after their ``Retry-After`` if they send one), one that redirects a protocol error.
Messages name the kind of failure, the HTTP status and the platform's result code and correlation id when they are
short codes (``[A-Za-z0-9._:-]``, at most 64 characters; else "unreadable"), never the platform's text (it may
quote personal data).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import orjson

from connectors.context import RequestContext, current_context
from connectors.errors import (
    ConnectorError,
    RecordNotFound,
    UpstreamError,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.http import json_body, parse_retry_after

from .config import AxisProfile, EnvelopeProfile, LgspAuth, PlatformToken

if TYPE_CHECKING:
    from connectors.http import HttpClient

__all__ = [
    "PlatformSession",
    "TokenRateLimited",
    "TokenUnavailable",
    "Verdict",
    "access_token_header",
    "dotted",
    "shown_code",
]

#: What a result code or correlation id from the platform must look like to be quoted in a message.
_SHOWN_CODE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


def shown_code(value: str) -> str:
    """``value`` (a result code, a correlation id the platform sent) as a message may quote it: itself when it is
    a short code of letters, digits and ``._:-``, else ``"unreadable"`` (free text may quote personal data)."""
    return value if _SHOWN_CODE.match(value) else "unreadable"


class TokenUnavailable(UpstreamUnavailable):
    """The platform's token endpoint is unavailable for now (HTTP 503): no token, but the same request may
    succeed later. ``retry_after`` is the wait its ``Retry-After`` asks for, in seconds (``None`` without one): a
    call may try again after it (or after its retry policy's backoff) when that fits in its deadline."""

    reason = "status_5xx"

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TokenRateLimited(TokenUnavailable):
    """The platform's token endpoint is rate limiting the gateway (HTTP 429): no token for now; another attempt
    after its ``Retry-After``, as for :class:`TokenUnavailable`."""

    reason = "rate_limited"


def access_token_header(auth: LgspAuth) -> str:
    """The ``lgspaccesstoken`` value: the base64 of the JSON object naming the application (members unset are
    left out)."""
    values: dict[str, str | None] = {
        "access_key": auth.access_key.get_secret_value(),
        "secret_key": auth.secret_key.get_secret_value(),
        "app_name": auth.app_name,
        "partner_code": auth.partner_code,
        "partner_code_cus": auth.partner_code_cus,
    }
    document = {auth.members[name]: value for name, value in values.items() if value is not None} | auth.extra
    return base64.b64encode(orjson.dumps(document)).decode("ascii")


def dotted(document: Any, path: str) -> Any:
    """The member at the dotted ``path`` of a JSON document, or ``None``."""
    for part in path.split("."):
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document


@dataclass(frozen=True, slots=True)
class _Token:
    value: str  # the header's value: "Bearer <token>" or the bare token
    refresh_at: float  # time.monotonic() after which a new token is fetched


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an envelope said: its result code (``None`` when the answer is not an envelope), its correlation id,
    and the error it means (``None`` for success). The code of an error and the correlation id are as messages
    quote them (:func:`shown_code`)."""

    code: str | None
    correlation_id: str | None
    error: ConnectorError | None = None


class PlatformSession:
    """Speaks the platform's protocol for one connector (``label`` names it in messages)."""

    def __init__(self, profile: AxisProfile, *, label: str) -> None:
        self.profile = profile
        self.label = label
        auth = profile.auth
        self._access = access_token_header(auth) if auth is not None else None
        self._token_config: PlatformToken | None = auth.token_endpoint if auth is not None else None
        self._token: _Token | None = None
        self._lock = asyncio.Lock()

    # -- authentication --------------------------------------------------------------------------------------

    @property
    def refreshable(self) -> bool:
        """Whether a 401 is worth a new token."""
        return self._token_config is not None

    def _valid(self) -> _Token | None:
        token = self._token
        return token if token is not None and time.monotonic() < token.refresh_at else None

    async def auth_headers(self, http: HttpClient, deadline: float) -> dict[str, str]:
        """The platform's authentication headers of the next call, fetching a token when none is cached or it is
        about to expire."""
        auth = self.profile.auth
        if auth is None or self._access is None:
            return {}
        headers = {auth.header: self._access}
        config = self._token_config
        if config is not None:
            token = self._valid()
            if token is None:
                async with self._lock:
                    token = self._valid() or await self._fetch(http, deadline, config)
            headers[config.header] = token.value
        return headers

    async def _fetch(self, http: HttpClient, deadline: float, config: PlatformToken) -> _Token:
        assert self._access is not None and self.profile.auth is not None
        headers = {"Accept": "application/json", self.profile.auth.header: self._access}
        requested = time.monotonic()
        if config.method == "GET":
            response = await http.request("GET", config.url, headers=headers, deadline=deadline)
        else:
            form = {"grant_type": "client_credentials"}
            if config.scope:
                form["scope"] = config.scope
            secret = config.client_secret.get_secret_value() if config.client_secret is not None else ""
            if config.client_id is not None and config.client_auth == "client_secret_basic":
                basic = (quote_plus(config.client_id), quote_plus(secret))  # RFC 6749 §2.3.1
                response = await http.request(
                    "POST", config.url, data=form, basic=basic, headers=headers, deadline=deadline
                )
            else:
                if config.client_id is not None:
                    form |= {"client_id": config.client_id, "client_secret": secret}
                response = await http.request("POST", config.url, data=form, headers=headers, deadline=deadline)
        if response.status != 200:
            raise self._token_failure(response.status, response.headers)
        try:
            body: Any = json_body(response.content)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"{self.label}: the platform's token answer is not JSON", reason="protocol") from None
        value = dotted(body, config.token_at())
        # It goes in a header: ASCII text only (a line break or an accented letter would fail the call, not send it).
        if not isinstance(value, str) or not value or not (value.isascii() and value.isprintable()):
            raise UpstreamRefused(f"{self.label}: the platform issued no token (HTTP 200 without one)")
        expires_in = dotted(body, config.expires_in_at())
        lifetime = (
            float(expires_in)
            if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0
            else config.default_expires_in_seconds
        )
        margin = min(config.refresh_margin_seconds, lifetime / 2)
        self._token = _Token(f"{config.scheme} {value}" if config.scheme else value, requested + lifetime - margin)
        return self._token

    def _token_failure(self, status: int, headers: Mapping[str, str]) -> UpstreamError:
        """The error of a token request answered ``status`` (not 200)."""
        if status == 503:  # unavailable for now: the same request succeeds later
            return TokenUnavailable(
                f"{self.label}: the platform's token endpoint is unavailable (HTTP 503)",
                retry_after=parse_retry_after(headers.get("Retry-After")),
            )
        if status >= 500:
            return UpstreamError(
                f"{self.label}: the platform's token endpoint failed (HTTP {status})", reason="status_5xx"
            )
        if status == 429:  # throttled, not refused: the same request succeeds later
            return TokenRateLimited(
                f"{self.label}: the platform's token endpoint is rate limiting the gateway (HTTP 429)",
                retry_after=parse_retry_after(headers.get("Retry-After")),
            )
        if 300 <= status < 400:  # redirects are not followed: the URL is the platform's own, or wrong
            return UpstreamError(
                f"{self.label}: the platform's token endpoint answered a redirect (HTTP {status})", reason="protocol"
            )
        return UpstreamRefused(f"{self.label}: the platform refused the token request (HTTP {status})")

    def invalidate(self, used: Mapping[str, str]) -> None:
        """Drop the cached token if it is the one the platform just refused (not a newer one)."""
        token, config = self._token, self._token_config
        if token is not None and config is not None and used.get(config.header) == token.value:
            self._token = None

    def refused(self, status: int) -> UpstreamRefused:
        """The error of a call the platform answered ``status`` (401, 403) to, after a new token if any."""
        what = "token" if self._token_config is not None else "credentials"
        return UpstreamRefused(f"{self.label}: the platform refused the gateway's {what} (HTTP {status})")

    # -- request metadata ------------------------------------------------------------------------------------

    def metadata(self, context: RequestContext | None = None) -> dict[str, str]:
        """The metadata of a call made in ``context`` (the current one by default), by the platform's names."""
        if context is None:
            context = current_context()
        metadata = self.profile.metadata
        values: dict[str, str] = {}
        for name, source in metadata.fields.items():
            value = context.value(source) if context is not None else None
            if value is None:
                value = metadata.fallback.get(source)
            if value is None and source == "request_id":
                value = uuid.uuid4().hex
            if value is not None and value.isprintable() and len(value) <= 1024:
                values[name] = value
        return values | metadata.constants

    def metadata_headers(self, context: RequestContext | None = None) -> dict[str, str]:
        """The metadata to send as headers (none when the profile puts it in the request's fields); a context value
        that is not ASCII text is left out (header values carry nothing else; the configuration's are checked)."""
        if self.profile.metadata.location != "header":
            return {}
        return {name: value for name, value in self.metadata(context).items() if value.isascii()}

    def metadata_fields(self, context: RequestContext | None = None) -> dict[str, str]:
        """The metadata to send as request fields (none when the profile puts it in headers)."""
        return self.metadata(context) if self.profile.metadata.location == "fields" else {}

    # -- the envelope ----------------------------------------------------------------------------------------

    @property
    def envelope(self) -> EnvelopeProfile | None:
        """The envelope's description, if the platform wraps its answers."""
        return self.profile.envelope

    def verdict(self, code: Any, correlation_id: Any) -> Verdict:
        """What the result ``code`` of an envelope means (``None``: the answer is no envelope)."""
        envelope = self.profile.envelope
        if envelope is None or code is None or isinstance(code, bool | dict | list):
            return Verdict(None, None)
        code_text = str(code).strip()
        correlation_text = str(correlation_id).strip() if isinstance(correlation_id, str | int) else ""
        correlation = shown_code(correlation_text) if correlation_text else None
        if code_text in envelope.success_codes:
            return Verdict(code_text, correlation)
        # Both are the platform's text: quoted only when they are codes.
        suffix = f"result code {shown_code(code_text)}" + (f", correlation id {correlation}" if correlation else "")
        error: ConnectorError
        if code_text in envelope.not_found_codes:
            error = RecordNotFound(f"no {self.label} record with that key")
        elif code_text in envelope.refused_codes:
            error = UpstreamRefused(f"{self.label}: the platform refused the call ({suffix})")
        elif code_text in envelope.unavailable_codes:
            error = UpstreamUnavailable(f"{self.label}: the platform cannot reach the sector system ({suffix})")
        elif code_text in envelope.timeout_codes:
            error = UpstreamTimeout(f"{self.label}: the sector system did not answer the platform in time ({suffix})")
        else:
            error = UpstreamError(f"{self.label}: the platform answered an error ({suffix})", reason="status_5xx")
        return Verdict(shown_code(code_text), correlation, error)
