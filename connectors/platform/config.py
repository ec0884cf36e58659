"""Configuration of the axis profile: reaching a sector system through the national data integration platform
(NDXP) or a province's LGSP instead of directly.

The profile is data, shared by the REST and SOAP adapters (their ``axis`` setting). It says three things:

* how the gateway authenticates to the platform (:class:`LgspAuth`): the ``lgspaccesstoken`` header, the base64
  of a JSON object with the application's access key, secret key, name and partner codes, sent on a token request
  and on every call with the token the platform issued (:class:`PlatformToken`);
* which request metadata each call carries (:class:`RequestMetadata`): the request id (``MaYeuCau``), the
  public-service procedure code (``MaDVC``, the caller's ``X-Purpose``), the requesting agency (``MaDonVi``), the
  officer (``MaCanBo``, the caller's ``X-Actor-Id``), constants such as the integration service code
  (``MaTichHop``), as headers or as request fields;
* how the platform's envelope is read (:class:`EnvelopeProfile`): where its result code, message, correlation id
  and payload are, and which result codes mean success, not found, refused, unavailable or timed out.

Every name is configurable: provinces' platforms differ.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.context import CONTEXT_FIELDS
from connectors.http.config import ClientAuth, ConfigModel, RefreshMargin, TokenLifetime

__all__ = [
    "LGSP_MEMBERS",
    "AxisProfile",
    "EnvelopeProfile",
    "LgspAuth",
    "PlatformToken",
    "RequestMetadata",
]

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")

#: The members of the ``lgspaccesstoken`` JSON object, by setting: their names as most LGSPs spell them.
LGSP_MEMBERS: dict[str, str] = {
    "access_key": "AccessKey",
    "secret_key": "SecretKey",
    "app_name": "AppName",
    "partner_code": "PartnerCode",
    "partner_code_cus": "PartnerCodeCus",
}

#: Where each context field's value comes from when the platform asks for it by NDXP's names.
DEFAULT_METADATA_FIELDS: dict[str, str] = {
    "MaYeuCau": "request_id",
    "MaDVC": "purpose",
    "MaDonVi": "agency_code",
    "MaCanBo": "actor",
}


def _header(value: str) -> str:
    if not _HEADER_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an HTTP header name")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username or parts.fragment:
        raise ValueError("an http(s) URL without credentials or fragment")
    return value


class PlatformToken(ConfigModel):
    """The platform's token endpoint and how its token is sent on calls.

    ``method: POST`` is the OAuth 2.0 client-credentials grant (RFC 6749 §4.4; a form with ``grant_type``, the
    client id and secret if given); ``method: GET`` is the plain GET some provinces answer with
    ``{"data": {"token": ...}}``. Either way the ``lgspaccesstoken`` header goes with the request. The token is
    cached until ``refresh_margin_seconds`` before it expires, fetched once for all concurrent calls, and fetched
    again when the platform answers 401 to it.
    """

    url: str = Field(title="Token endpoint", description="Absolute ``http(s)://`` URL of the token endpoint.")
    method: Literal["POST", "GET"] = Field(
        default="POST",
        title="Method",
        description="``POST``: OAuth 2.0 client credentials; ``GET``: a plain GET answering the token in JSON.",
    )
    client_id: str | None = Field(default=None, min_length=1, title="Client id", description="OAuth 2.0 client id.")
    client_secret: SecretStr | None = Field(default=None, title="Client secret", description="Its secret.")
    client_auth: ClientAuth = "client_secret_basic"
    scope: str | None = Field(default=None, title="Scope", description="Scope to request, if the platform needs one.")
    token_path: str | None = Field(
        default=None,
        title="Token path",
        description="Dotted path of the token in the answer: ``access_token`` (POST), ``data.token`` (GET) if unset.",
    )
    expires_in_path: str | None = Field(
        default=None,
        title="Lifetime path",
        description="Dotted path of its lifetime in seconds: ``expires_in`` (POST), ``data.expires_in`` (GET).",
    )
    header: str = Field(
        default="Authorization",
        title="Header",
        description="The header carrying the token on calls (``Authorization``, ``X-Authentication-Token``).",
    )
    scheme: str | None = Field(
        default="Bearer",
        title="Scheme",
        description="Put before the token in the header (``Bearer``); none for a bare token.",
    )
    refresh_margin_seconds: RefreshMargin = 30
    default_expires_in_seconds: TokenLifetime = 300

    _check_url = field_validator("url")(_http_url)
    _check_header = field_validator("header")(_header)

    @field_validator("scheme")
    @classmethod
    def _check_scheme(cls, value: str | None) -> str | None:
        # It goes in the header before the token: an authentication scheme is a token of RFC 9110 (§11.1), so a
        # space, a line break or a letter outside ASCII would change the header, or fail every call.
        if value is not None and not _HEADER_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an authentication scheme (Bearer, or null for a bare token)")
        return value

    @field_validator("token_path", "expires_in_path")
    @classmethod
    def _check_path(cls, value: str | None) -> str | None:
        if value is not None and not all(_FIELD_NAME.fullmatch(part) for part in value.split(".")):
            raise ValueError(f"{value!r} is not a dotted path of member names")
        return value

    @model_validator(mode="after")
    def _check_client(self) -> PlatformToken:
        if self.client_secret is not None and self.client_id is None:
            raise ValueError("a client secret needs its client id")
        return self

    def token_at(self) -> str:
        """Where the token is in the answer."""
        return self.token_path or ("access_token" if self.method == "POST" else "data.token")

    def expires_in_at(self) -> str:
        """Where the token's lifetime is in the answer."""
        return self.expires_in_path or ("expires_in" if self.method == "POST" else "data.expires_in")


class LgspAuth(ConfigModel):
    """The platform's own authentication: ``lgspaccesstoken`` (the base64 of a JSON object naming the calling
    application) on every request, and the token it issues for it (when ``token_endpoint`` is set)."""

    header: str = Field(default="lgspaccesstoken", title="Header", description="The header carrying the object.")
    access_key: SecretStr = Field(title="Access key", description="The access key issued to the application.")
    secret_key: SecretStr = Field(title="Secret key", description="The secret key issued to the application.")
    app_name: str = Field(min_length=1, title="Application name", description="The application's registered name.")
    partner_code: str | None = Field(default=None, title="Partner code", description="The provider's partner code.")
    partner_code_cus: str | None = Field(
        default=None, title="Customer partner code", description="The consumer's (the gateway's agency) partner code."
    )
    members: dict[str, str] = Field(
        default_factory=lambda: dict(LGSP_MEMBERS),
        title="Member names",
        description="Setting -> member name in the JSON object, for platforms that spell them otherwise.",
    )
    extra: dict[str, str] = Field(
        default_factory=dict, title="Other members", description="More members of the object, sent as given."
    )
    token_endpoint: PlatformToken | None = Field(
        default=None,
        title="Token endpoint",
        description="The token endpoint; without it only the ``lgspaccesstoken`` header is sent.",
    )

    _check_header = field_validator("header")(_header)

    @field_validator("members")
    @classmethod
    def _check_members(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(LGSP_MEMBERS))
        if unknown:
            raise ValueError(f"unknown settings {', '.join(unknown)}; one of {', '.join(LGSP_MEMBERS)}")
        return {**LGSP_MEMBERS, **value}


class RequestMetadata(ConfigModel):
    """The request metadata every call carries, as the platform names it.

    ``fields`` maps each platform name to the request context's field whose value it takes (``request_id``,
    ``purpose``, ``agency_code``, ``actor``, ``client_id``...); ``constants`` adds fixed values (the integration
    service code ``MaTichHop`` of this connection). A context field the call lacks takes its value from
    ``fallback`` (health checks run outside any caller's request: give them a procedure code and the gateway's
    agency code), else it is left out, and the platform may refuse the call. The request id is never left out: a
    call without one gets a new one. With ``location: header`` every value is ASCII text (HTTP header values carry
    nothing else): constants and fallback values that are not are refused when the configuration is loaded, and a
    call's context value that is not is left out.
    """

    location: Literal["header", "fields"] = Field(
        default="header",
        title="Location",
        description=(
            "``header``: one HTTP header each; ``fields``: request fields (REST: query parameters of a GET, "
            "members of a POST's JSON body). SOAP connections take headers only."
        ),
    )
    fields: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_METADATA_FIELDS),
        title="Fields",
        description="Platform name -> context field (``MaDVC: purpose``).",
    )
    constants: dict[str, str] = Field(
        default_factory=dict,
        title="Constants",
        description=(
            "Platform name -> fixed value (``MaTichHop: BTP_LLTP``): the connection's integration service. ASCII "
            "text with ``location: header`` (header values carry nothing else): codes, not names."
        ),
    )
    fallback: dict[str, str] = Field(
        default_factory=dict,
        title="Fallback values",
        description=(
            "Context field -> value sent when the call's context lacks it (``purpose`` of health checks); ASCII "
            "text with ``location: header``."
        ),
    )

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name, source in value.items():
            _check_name(name)
            if source not in CONTEXT_FIELDS:
                raise ValueError(f"{source!r} is not a context field; one of {', '.join(CONTEXT_FIELDS)}")
        return value

    @field_validator("constants")
    @classmethod
    def _check_constants(cls, value: dict[str, str]) -> dict[str, str]:
        for name, constant in value.items():
            _check_name(name)
            _check_text(name, constant)
        return value

    @field_validator("fallback")
    @classmethod
    def _check_fallback(cls, value: dict[str, str]) -> dict[str, str]:
        for name, fallback in value.items():
            if name not in CONTEXT_FIELDS or name == "deadline":
                raise ValueError(f"{name!r} is not a context field with a fallback")
            _check_text(name, fallback)
        return value

    @model_validator(mode="after")
    def _check_headers(self) -> RequestMetadata:
        names = [*self.fields, *self.constants]
        if len({name.lower() for name in names}) != len(names):
            raise ValueError("a platform name appears twice in fields and constants")
        if self.location == "header":
            for name in names:
                _header(name)
            # HTTP header values are ASCII (RFC 9110 §5.5): httpx cannot send other text, aiohttp would send bytes
            # each platform reads its own way.
            for where, values in (("constants", self.constants), ("fallback", self.fallback)):
                for name, value in values.items():
                    if not value.isascii():
                        raise ValueError(
                            f"{where}.{name}: the value goes in an HTTP header (location: header), which carries "
                            "ASCII text only; give the code rather than the name (an agency's electronic code, "
                            "000.00.11.H41), or send the metadata as request fields (location: fields, REST)"
                        )
        return self


def _check_name(name: str) -> None:
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a field name")


def _check_text(name: str, value: str) -> None:
    if not value.isprintable() or len(value) > 1024:
        raise ValueError(f"the value of {name!r} is not printable text of at most 1024 characters")


class EnvelopeProfile(ConfigModel):
    """The platform's answer envelope: where its parts are, and what its result codes mean.

    Paths are JMESPath over the JSON answer in a REST connection, XPath from the SOAP envelope's root in a SOAP
    connection (its ``namespaces`` apply; the SOAP Body is the payload there). A result code in
    ``success_codes`` hands the payload to the connector's mapping; one in ``not_found_codes`` means no such
    record; ``refused_codes`` the platform refused the call (credentials, metadata), ``token_codes`` it refused the
    gateway's token (the cached token is dropped); ``unavailable_codes`` the sector system cannot be reached;
    ``timeout_codes`` it did not answer in time; any other code is an upstream error. An answer without a result
    code is read as the connection would read it without the envelope.
    """

    result_code: str = Field(default="MaKetQua", title="Result code", description="Path of the result code.")
    message: str | None = Field(default="ThongDiep", title="Message", description="Path of the status message.")
    correlation_id: str | None = Field(
        default="MaGiaoDich", title="Correlation id", description="Path of the platform's correlation id."
    )
    payload: str | None = Field(
        default="DuLieu",
        title="Payload",
        description="Path of the payload (REST); the whole answer when unset. SOAP: the Body, always.",
    )
    success_codes: list[str] = Field(
        default_factory=lambda: ["00"], min_length=1, title="Success codes", description="Codes of a success."
    )
    not_found_codes: list[str] = Field(
        default_factory=list, title="Not-found codes", description="Codes meaning no such record (404)."
    )
    refused_codes: list[str] = Field(
        default_factory=list,
        title="Refusal codes",
        description="Codes of the platform refusing the call: credentials, token, metadata (upstream-refused).",
    )
    token_codes: list[str] = Field(
        default_factory=list,
        title="Token codes",
        description=(
            "Codes saying the platform no longer takes the gateway's token (expired, revoked) in an answer that is "
            "not a 401 (HTTP 200 with ``10``): a refusal, and the cached token is dropped, so that the next call "
            "fetches a new one rather than being refused until the token's stated expiry."
        ),
    )
    unavailable_codes: list[str] = Field(
        default_factory=list,
        title="Unavailable codes",
        description="Codes meaning the sector system cannot be reached (upstream-unavailable).",
    )
    timeout_codes: list[str] = Field(
        default_factory=list,
        title="Timeout codes",
        description="Codes meaning the sector system did not answer in time (upstream-timeout).",
    )
    statuses: list[int] = Field(
        default_factory=lambda: [400, 403, 404, 409, 422, 500, 502, 503, 504],
        title="Envelope statuses",
        description=(
            "HTTP statuses besides 200 whose answer is read as an envelope (its result code decides); 401 is "
            "never one: it makes the gateway fetch a new token, once."
        ),
    )

    @field_validator("statuses")
    @classmethod
    def _check_statuses(cls, value: list[int]) -> list[int]:
        if any(not 400 <= status <= 599 or status == 401 for status in value):
            raise ValueError("envelope statuses are 4xx or 5xx, never 401")
        return value

    @model_validator(mode="after")
    def _check_codes(self) -> EnvelopeProfile:
        lists = (
            self.success_codes,
            self.not_found_codes,
            self.refused_codes,
            self.token_codes,
            self.unavailable_codes,
            self.timeout_codes,
        )
        every = [code for codes in lists for code in codes]
        if len(set(every)) != len(every):
            raise ValueError("a result code has two meanings")
        return self


class AxisProfile(ConfigModel):
    """The connection goes through the national axis (NDXP) or a province's LGSP: how to speak to it."""

    platform: str = Field(
        default="NDXP",
        min_length=1,
        max_length=100,
        title="Platform",
        description="The platform's name, shown with the connection's route on ``/v1/axis`` (``LGSP Lâm Đồng``).",
    )
    auth: LgspAuth | None = Field(default=None, title="Authentication", description="The platform's authentication.")
    metadata: RequestMetadata = Field(
        default_factory=RequestMetadata, title="Request metadata", description="What every call carries."
    )
    envelope: EnvelopeProfile | None = Field(
        default=None, title="Envelope", description="The platform's answer envelope; answers are read as is when unset."
    )

    def header_names(self) -> set[str]:
        """The headers (lower-case names) the profile sets on every call: ``lgspaccesstoken``, the token's header
        and, with ``location: header``, the metadata's. A connection's own credentials must use none of them."""
        names: set[str] = set()
        if self.auth is not None:
            names.add(self.auth.header.lower())
            if self.auth.token_endpoint is not None:
                names.add(self.auth.token_endpoint.header.lower())
        if self.metadata.location == "header":
            names.update(name.lower() for name in (*self.metadata.fields, *self.metadata.constants))
        return names
