"""The axis profile at work for one connector: the platform's token, each call's metadata, the envelope's verdict.

One :class:`PlatformSession` per connector instance, shared by its concurrent calls. The token is the HTTP base's
shared token (:class:`connectors.http.SharedToken`, as the REST adapter's OAuth 2.0 token is): fetched once for all
the calls that need it (single flight, its failure shared), renewed in the background shortly before it expires
while calls go on with it, and dropped when the platform answers 401 to it or a result code says it was revoked.
Failures become connector errors: a token the platform will not issue, or a call it refuses, is
:class:`~connectors.errors.UpstreamRefused` (its message says so, and health checks show it); a token endpoint
that fails or cannot be reached is an ordinary upstream failure, one that is unavailable (503) is
:class:`TokenUnavailable` and one that rate limits the gateway (429) :class:`TokenRateLimited` (both worth another
attempt, after their ``Retry-After`` if they send one), one that redirects a protocol error.
Messages name the kind of failure, the HTTP status and the platform's result code and correlation id when they are
short codes (``[A-Za-z0-9._:-]``, at most 64 characters; else "unreadable"), never the platform's text (it may
quote personal data).
"""

from __future__ import annotations

import base64
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import aiohttp
import httpx
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
from connectors.http import (
    Answer,
    SharedToken,
    Token,
    from_exception,
    issued_token,
    json_body,
    parse_retry_after,
    token_lifetime,
)

from .config import AxisProfile, EnvelopeProfile, LgspAuth, PlatformToken

if TYPE_CHECKING:
    from connectors.http import HttpClient

__all__ = [
    "PlatformSession",
    "TokenRateLimited",
    "TokenUnavailable",
    "TokenUnreachable",
    "Verdict",
    "access_token_header",
    "dotted",
    "shown_code",
    "token_lifetime",
]

logger = logging.getLogger(__name__)

#: A path of the envelope that is member names joined by dots: also read in a token answer (JSON, whatever the
#: connection's protocol).
_DOTTED_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

#: What a result code or correlation id from the platform must look like to be quoted in a message.
_SHOWN_CODE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


def shown_code(value: str) -> str:
    """``value`` (a result code, a correlation id the platform sent) as a message may quote it: itself when it is
    a short code of letters, digits and ``._:-``, else ``"unreadable"`` (free text may quote personal data)."""
    return value if _SHOWN_CODE.fullmatch(value) else "unreadable"


class TokenUnavailable(UpstreamUnavailable):
    """The platform's token endpoint is unavailable for now (HTTP 503): no token, but the same request may
    succeed later. ``retry_after`` is the wait its ``Retry-After`` asks for, in seconds (``None`` without one): a
    call may try again after it (or after its retry policy's backoff) when that fits in its deadline."""

    reason = "status_5xx"

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TokenUnreachable(TokenUnavailable):
    """The platform's token endpoint cannot be reached (connection refused or broken): worth another attempt, as
    for :class:`TokenUnavailable`."""

    reason = "connect"

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=None)


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


def _said(verdict: Verdict) -> str:
    """The result code and correlation id of ``verdict`` as messages quote them."""
    correlation = f", correlation id {verdict.correlation_id}" if verdict.correlation_id else ""
    return f"result code {verdict.code}{correlation}"


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
        # The token's value is its header's ("Bearer <token>", or the bare token).
        self._token: SharedToken[str] = SharedToken(self._fetch, label=label, what="the platform's token")

    # -- authentication --------------------------------------------------------------------------------------

    @property
    def refreshable(self) -> bool:
        """Whether a 401 is worth a new token."""
        return self._token_config is not None

    async def auth_headers(self, http: HttpClient, deadline: float) -> dict[str, str]:
        """The platform's authentication headers of the next call: the cached token (one due for renewal is
        renewed in the background meanwhile), else the one the token request under way brings."""
        auth = self.profile.auth
        if auth is None or self._access is None:
            return {}
        headers = {auth.header: self._access}
        config = self._token_config
        if config is not None:
            token = self._token.usable(http) or await self._token.get(http, deadline)
            headers[config.header] = token.value
        return headers

    async def aclose(self) -> None:
        """Let go of a token request under way (see :meth:`connectors.http.SharedToken.aclose`); called before
        the connector's connections are closed."""
        await self._token.aclose()

    async def _fetch(self, http: HttpClient, deadline: float) -> Token[str]:
        config = self._token_config
        assert config is not None
        requested = time.monotonic()
        try:
            response = await self._request_token(http, deadline, config)
        except (aiohttp.ClientError, httpx.HTTPError, OSError) as exc:
            raise self._unreached(exc) from None
        if response.status != 200:
            raise self._token_failure(response.status, response.headers)
        try:
            body: Any = json_body(response.content)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"{self.label}: the platform's token answer is not JSON", reason="protocol") from None
        value = dotted(body, config.token_at())
        if value is None or value == "" or isinstance(value, dict | list):
            raise self._no_token(body)
        # It goes in a header: ASCII text only (a line break or an accented letter would fail the call, or split
        # the header). A token that is not is the platform's mistake, not a refusal: the credentials were taken.
        if not (isinstance(value, str) and value.isascii() and value.isprintable()):
            raise UpstreamError(
                f"{self.label}: the platform issued a token that cannot be sent in an HTTP header", reason="protocol"
            )
        lifetime = token_lifetime(dotted(body, config.expires_in_at()), config.default_expires_in_seconds)
        return issued_token(
            f"{config.scheme} {value}" if config.scheme else value,
            requested=requested,
            lifetime=lifetime,
            refresh_margin=config.refresh_margin_seconds,
        )

    async def _request_token(self, http: HttpClient, deadline: float, config: PlatformToken) -> Answer:
        """Send the token request: a GET, or the OAuth 2.0 client-credentials grant."""
        assert self._access is not None and self.profile.auth is not None
        headers = {"Accept": "application/json", self.profile.auth.header: self._access}
        if config.method == "GET":
            return await http.request("GET", config.url, headers=headers, deadline=deadline)
        form = {"grant_type": "client_credentials"}
        if config.scope:
            form["scope"] = config.scope
        secret = config.client_secret.get_secret_value() if config.client_secret is not None else ""
        if config.client_id is not None and config.client_auth == "client_secret_basic":
            basic = (quote_plus(config.client_id), quote_plus(secret))  # RFC 6749 §2.3.1
            return await http.request("POST", config.url, data=form, basic=basic, headers=headers, deadline=deadline)
        if config.client_id is not None:
            form |= {"client_id": config.client_id, "client_secret": secret}
        return await http.request("POST", config.url, data=form, headers=headers, deadline=deadline)

    def _unreached(self, exc: BaseException) -> UpstreamError:
        """The error of a token request that got no answer (``exc``, the transport's): the platform's token
        endpoint named, not the sector system; one that could not connect, or whose connection broke, is worth
        another attempt (as a call's would be)."""
        error = from_exception(exc, self.label).error
        name = type(exc).__name__
        if isinstance(error, UpstreamTimeout):
            return UpstreamTimeout(f"{self.label}: the platform's token endpoint did not answer in time ({name})")
        if isinstance(error, UpstreamUnavailable):
            return TokenUnreachable(f"{self.label}: the platform's token endpoint cannot be reached ({name})")
        return UpstreamError(f"{self.label}: the request for the platform's token failed ({name})", reason="protocol")

    def _no_token(self, body: Any) -> UpstreamError:
        """The error of a token answer (HTTP 200) without a token: what its result code says, when it carries the
        envelope's (``{"MaKetQua": "97"}`` from a platform under maintenance is no refusal), else a refusal."""
        envelope = self.profile.envelope
        code = correlation = None
        if envelope is not None and isinstance(body, dict):
            if _DOTTED_PATH.fullmatch(envelope.result_code):
                code = dotted(body, envelope.result_code)
            if envelope.correlation_id and _DOTTED_PATH.fullmatch(envelope.correlation_id):
                correlation = dotted(body, envelope.correlation_id)
        verdict = self.verdict(code, correlation)
        error = verdict.error
        if error is None:  # no result code, or a success's
            return UpstreamRefused(f"{self.label}: the platform issued no token (HTTP 200 without one)")
        if isinstance(error, RecordNotFound | UpstreamRefused):  # never "no such record": no record was asked for
            return UpstreamRefused(f"{self.label}: the platform refused the token request ({_said(verdict)})")
        if isinstance(error, UpstreamTimeout):
            return UpstreamTimeout(
                f"{self.label}: the platform's token endpoint did not answer in time ({_said(verdict)})"
            )
        if isinstance(error, UpstreamUnavailable):
            return UpstreamUnavailable(f"{self.label}: the platform's token endpoint is unavailable ({_said(verdict)})")
        return UpstreamError(
            f"{self.label}: the platform's token endpoint failed ({_said(verdict)})", reason="status_5xx"
        )

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
        token, config = self._token.cached, self._token_config
        if token is not None and config is not None and used.get(config.header) == token.value:
            self._token.drop(token)

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
        elif code_text in envelope.token_codes:
            self._token.drop()  # expired or revoked before its stated expiry: the next call fetches a new one
            error = UpstreamRefused(f"{self.label}: the platform refused the gateway's token ({suffix})")
        elif code_text in envelope.unavailable_codes:
            error = UpstreamUnavailable(f"{self.label}: the platform cannot reach the sector system ({suffix})")
        elif code_text in envelope.timeout_codes:
            error = UpstreamTimeout(f"{self.label}: the sector system did not answer the platform in time ({suffix})")
        else:
            error = UpstreamError(f"{self.label}: the platform answered an error ({suffix})", reason="status_5xx")
        return Verdict(shown_code(code_text), correlation, error)
