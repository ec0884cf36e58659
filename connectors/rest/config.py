"""Configuration of the generic REST connector: where the sector API is, how to authenticate, what to call.

Everything is data (JSON Schema via :meth:`RestConnectorConfig.model_json_schema`): an agency connects a REST
sector system by writing a configuration, not code. Secrets are ``SecretStr`` and never appear in logs or errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.http.config import (
    BearerAuth,
    ClientAuth,
    ConfigModel,
    HttpConnectorConfig,
    NoAuth,
    RefreshMargin,
    RetryPolicy,
    TokenLifetime,
    check_http_url,
)
from connectors.platform import AxisProfile
from connectors.record_mapping import check_jmespath as _jmespath

from .sampling import RestSampleListing

__all__ = [
    "RECORD_ID",
    "AccessKeyAuth",
    "ApiKeyAuth",
    "Auth",
    "BearerAuth",
    "CursorPagination",
    "LinkHeaderPagination",
    "NoAuth",
    "OAuth2ClientCredentials",
    "OffsetPagination",
    "PageNumberPagination",
    "Pagination",
    "PingEndpoint",
    "RecordEndpoint",
    "RestConnectorConfig",
    "RetryPolicy",
    "SearchEndpoint",
]

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_PARAM_NAME = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,64}$")
RECORD_ID = "{record_id}"


def _header(value: str) -> str:
    if not _HEADER_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an HTTP header name")
    return value


def _param(value: str) -> str:
    if not _PARAM_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a plain parameter name (letters, digits, _ . - [ ])")
    return value


def _optional_jmespath(value: str | None) -> str | None:
    return None if value is None else _jmespath(value)


def _optional_param(value: str | None) -> str | None:
    return None if value is None else _param(value)


def _template(value: str) -> str:
    return _path(value, template=True)


def _path(value: str, *, template: bool = False) -> str:
    """A path below the base URL: starts with ``/`` (or is empty), no scheme or host, no query."""
    if value and not value.startswith("/"):
        raise ValueError("a path starts with '/' (it is appended to base_url)")
    if "//" in value or "?" in value or "#" in value or "\\" in value:
        raise ValueError("a path has no '//', query ('?') or fragment ('#'); put parameters in 'params'")
    rest = value.replace(RECORD_ID, "", 1) if template else value
    if "{" in rest or "}" in rest:
        expected = f"exactly one {RECORD_ID!r}" if template else "no placeholders"
        raise ValueError(f"the path template takes {expected}")
    if template and RECORD_ID not in value:
        raise ValueError(f"the path template needs the placeholder {RECORD_ID!r}")
    return value


# -- authentication ------------------------------------------------------------------------------------------


class ApiKeyAuth(ConfigModel):
    """An API key sent in a header on every request."""

    type: Literal["api_key"] = Field(title="Scheme", description="``api_key``.")
    header: str = Field(default="X-API-Key", title="Header", description="The header that carries the key.")
    key: SecretStr = Field(title="API key", description="The key issued by the sector system's operator.")

    _check_header = field_validator("header")(_header)


class AccessKeyAuth(ConfigModel):
    """An application name with an access key and a secret key, sent as three headers on every request.

    This is how many provincial and ministerial integration platforms (LGSP, NDXP) identify a calling system.
    The header names differ between platforms and can be set.
    """

    type: Literal["access_key"] = Field(title="Scheme", description="``access_key``.")
    app_name: str = Field(title="Application name", description="The calling system's registered name.")
    access_key: SecretStr = Field(title="Access key", description="The access key issued to the application.")
    secret_key: SecretStr = Field(title="Secret key", description="The secret key issued to the application.")
    app_name_header: str = Field(default="AppName", title="Application name header", description="Its header.")
    access_key_header: str = Field(default="AccessKey", title="Access key header", description="Its header.")
    secret_key_header: str = Field(default="SecretKey", title="Secret key header", description="Its header.")

    _check_headers = field_validator("app_name_header", "access_key_header", "secret_key_header")(_header)


class OAuth2ClientCredentials(ConfigModel):
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4) toward the sector system's token endpoint.

    The token is cached until shortly before it expires, fetched once however many calls need it at the same
    time, and fetched again (once) when the sector system answers 401 to it.
    """

    type: Literal["oauth2_client_credentials"] = Field(title="Scheme", description="``oauth2_client_credentials``.")
    token_url: str = Field(
        title="Token endpoint",
        description="Absolute ``https://`` URL of the token endpoint, or a path below base_url (``/oauth2/token``).",
    )
    client_id: str = Field(min_length=1, title="Client id", description="The gateway's client id at the sector.")
    client_secret: SecretStr = Field(title="Client secret", description="The gateway's client secret.")
    scope: str | None = Field(default=None, title="Scope", description="Scope to request, if the sector needs one.")
    client_auth: ClientAuth = "client_secret_basic"
    refresh_margin_seconds: RefreshMargin = 30
    default_expires_in_seconds: TokenLifetime = 300

    @field_validator("token_url")
    @classmethod
    def _check_token_url(cls, value: str) -> str:
        if value.startswith("/"):
            return _path(value)
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username or parts.fragment:
            raise ValueError("the token endpoint is an http(s) URL without credentials, or a path below base_url")
        return value


Auth = Annotated[
    NoAuth | BearerAuth | ApiKeyAuth | AccessKeyAuth | OAuth2ClientCredentials, Field(discriminator="type")
]
"""One of the authentication schemes, chosen by its ``type``."""


def _auth_headers(auth: Auth) -> set[str]:
    """The headers (lower-case names) an authentication scheme sets on every call."""
    match auth:
        case BearerAuth() | OAuth2ClientCredentials():
            return {"authorization"}
        case ApiKeyAuth(header=header):
            return {header.lower()}
        case AccessKeyAuth():
            return {auth.app_name_header.lower(), auth.access_key_header.lower(), auth.secret_key_header.lower()}
    return set()


# -- pagination ----------------------------------------------------------------------------------------------


class PageNumberPagination(ConfigModel):
    """Numbered pages of a fixed size: ``?page=2&size=20``."""

    style: Literal["page"] = Field(title="Style", description="``page``.")
    page_param: str = Field(default="page", title="Page parameter", description="Parameter of the page number.")
    size_param: str = Field(default="size", title="Size parameter", description="Parameter of the page size.")
    first_page: int = Field(default=1, ge=0, le=1, title="First page", description="Number of the first page.")
    total: str | None = Field(
        default=None,
        title="Total",
        description="JMESPath to the number of matching records in the answer, if given (avoids an empty last page).",
    )

    _check_params = field_validator("page_param", "size_param")(_param)
    _check_total = field_validator("total")(_optional_jmespath)


class OffsetPagination(ConfigModel):
    """A window from an offset: ``?offset=40&limit=20``."""

    style: Literal["offset"] = Field(title="Style", description="``offset``.")
    offset_param: str = Field(default="offset", title="Offset parameter", description="Parameter of the offset.")
    limit_param: str = Field(default="limit", title="Limit parameter", description="Parameter of the window size.")
    total: str | None = Field(
        default=None,
        title="Total",
        description="JMESPath to the number of matching records in the answer, if given.",
    )

    _check_params = field_validator("offset_param", "limit_param")(_param)
    _check_total = field_validator("total")(_optional_jmespath)


class CursorPagination(ConfigModel):
    """An opaque next-page token in the answer, sent back as a parameter: ``?cursor=eyJ...``."""

    style: Literal["cursor"] = Field(title="Style", description="``cursor``.")
    cursor_param: str = Field(default="cursor", title="Cursor parameter", description="Parameter of the token.")
    size_param: str | None = Field(
        default="limit", title="Size parameter", description="Parameter of the page size, if the API takes one."
    )
    next_cursor: str = Field(
        title="Next cursor",
        description="JMESPath to the next page's token in the answer; null or empty on the last page.",
    )

    _check_params = field_validator("cursor_param", "size_param")(_optional_param)
    _check_next = field_validator("next_cursor")(_jmespath)


class LinkHeaderPagination(ConfigModel):
    """The next page's URL in a ``Link: <...>; rel="next"`` header (RFC 8288), as GitHub's API does.

    The URL must stay on the base URL's origin and the search path; the query's own filters are always sent
    from the query, never taken from the link.
    """

    style: Literal["link"] = Field(title="Style", description="``link``.")
    size_param: str | None = Field(
        default=None, title="Size parameter", description="Parameter of the page size on the first request, if any."
    )

    _check_size = field_validator("size_param")(_optional_param)


Pagination = Annotated[
    PageNumberPagination | OffsetPagination | CursorPagination | LinkHeaderPagination,
    Field(discriminator="style"),
]
"""One of the pagination styles, chosen by its ``style``."""


# -- endpoints -----------------------------------------------------------------------------------------------


class _Endpoint(ConfigModel):
    params: dict[str, str] = Field(
        default_factory=dict, title="Fixed parameters", description="Query parameters sent on every call."
    )
    timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        le=300,
        title="Timeout",
        description="Deadline of one call to this endpoint, retries included; the connector's when unset.",
    )

    @field_validator("params")
    @classmethod
    def _check_params(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _param(name)
        return value


class RecordEndpoint(_Endpoint):
    """Reading one record: ``GET <base_url><path>`` with the record key in the path."""

    path: str = Field(
        title="Path template",
        description="Path below base_url with the key's placeholder, e.g. ``/citizens/{record_id}``.",
    )
    record: str = Field(
        default="@",
        title="Record",
        description="JMESPath to the record object in the answer (``data``); ``@`` when the answer is the record.",
    )
    not_found_when: str | None = Field(
        default=None,
        title="Not found when",
        description=(
            "JMESPath condition on the answer meaning 'no such record' for APIs that answer 200 with an error "
            "code (``code == '01'``). A 404 always means not found."
        ),
    )
    error_when: str | None = Field(
        default=None,
        title="Error when",
        description="JMESPath condition on a 200 answer meaning the call failed (``code != '00'``).",
    )

    _check_path = field_validator("path")(_template)
    _check_expressions = field_validator("record", "not_found_when", "error_when")(_optional_jmespath)


class SearchEndpoint(_Endpoint):
    """Searching: ``GET`` (parameters in the query string) or ``POST`` (a JSON body) on a collection."""

    path: str = Field(title="Path", description="Path below base_url, e.g. ``/citizens``.")
    method: Literal["GET", "POST"] = Field(
        default="GET",
        title="Method",
        description="``GET`` (retried on transient failures) or ``POST`` with a JSON body (never retried).",
    )
    filters: dict[str, str] = Field(
        min_length=1,
        title="Filters",
        description="Query field -> parameter name. A query field without one cannot be searched by.",
    )
    items: str = Field(title="Items", description="JMESPath to the list of records in the answer (``data.items``).")
    pagination: Pagination = Field(title="Pagination", description="How the API pages its results.")
    max_page_size: int = Field(
        default=100, ge=2, le=1000, title="Largest page", description="The largest page size the API accepts."
    )
    error_when: str | None = Field(
        default=None, title="Error when", description="JMESPath condition on a 200 answer meaning the call failed."
    )

    _check_path = field_validator("path")(_path)
    _check_expressions = field_validator("items", "error_when")(_optional_jmespath)

    @field_validator("filters")
    @classmethod
    def _check_filters(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            _param(name)
        return value


class PingEndpoint(_Endpoint):
    """The cheapest authenticated call, used by health checks; a status in ``expect_status`` means up."""

    path: str = Field(default="", title="Path", description="Path below base_url; the base URL itself when empty.")
    expect_status: list[int] = Field(
        default_factory=lambda: [200],
        min_length=1,
        title="Expected statuses",
        description="Answers meaning the sector system is up (``[200, 404]`` for a probe of a missing record).",
    )

    _check_path = field_validator("path")(_path)

    @field_validator("expect_status")
    @classmethod
    def _check_statuses(cls, value: list[int]) -> list[int]:
        if any(not 200 <= status <= 499 for status in value):
            raise ValueError("expected statuses are between 200 and 499")
        return value


# -- the connector -------------------------------------------------------------------------------------------


class RestConnectorConfig(HttpConnectorConfig):
    """A REST/JSON sector API: its base URL, authentication, endpoints and the mapping of its records.

    Every call goes to ``base_url`` (plus the OAuth 2.0 token endpoint, if any) over one pooled HTTP client
    (the settings shared with the SOAP adapter: :class:`connectors.http.HttpConnectorConfig`). Every call
    carries the request context as ``context_headers`` says (a context header replaces a fixed header of the
    same name).
    """

    base_url: str = Field(
        title="Base URL",
        description="``https://host[:port][/prefix]`` of the sector API; endpoint paths are appended to it.",
    )
    auth: Auth = Field(
        default_factory=lambda: NoAuth(type="none"),
        title="Authentication",
        description="How the gateway authenticates to the sector API.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        title="Headers",
        description="Fixed headers sent on every call (not for secrets: use ``auth``).",
    )
    get: RecordEndpoint = Field(title="Read endpoint", description="How one record is read by its key.")
    search: SearchEndpoint | None = Field(
        default=None, title="Search endpoint", description="How records are searched; no search when unset."
    )
    ping: PingEndpoint = Field(
        default_factory=PingEndpoint,
        title="Health endpoint",
        description="The call health checks make.",
    )
    sample: RestSampleListing | None = Field(
        default=None,
        title="Sample listing",
        description="The paged listing data-quality scans sample (bounded, rate-limited); no sampling when unset.",
    )
    fields: dict[str, str] = Field(
        min_length=1,
        title="Field mapping",
        description=(
            "Contract field path -> JMESPath into one record of the answer (``ho_ten``, ``dia_chi.ma_xa``). "
            "A nested object whose values are all null or missing is left out of the record."
        ),
    )
    http_transport: Literal["aiohttp", "httpx"] = Field(
        default="aiohttp",
        title="HTTP transport",
        description="The HTTP/1.1 client: ``aiohttp``'s, called directly (faster, measured in bench/), or httpx's.",
    )
    # -- axis profile (connectors/platform): the connection goes through NDXP or a province's LGSP ---------------
    axis: AxisProfile | None = Field(
        default=None,
        title="Axis profile",
        description=(
            "Reach the sector API through the national axis (NDXP) or a province's LGSP: the platform's "
            "authentication, request metadata and answer envelope (paths are JMESPath). Direct when unset."
        ),
    )

    @field_validator("axis")
    @classmethod
    def _check_axis(cls, value: AxisProfile | None) -> AxisProfile | None:
        envelope = value.envelope if value is not None else None
        if envelope is not None:
            for path in (envelope.result_code, envelope.message, envelope.correlation_id, envelope.payload):
                if path is not None:
                    _jmespath(path)
        return value

    @model_validator(mode="after")
    def _check_platform_headers(self) -> RestConnectorConfig:
        if self.axis is None:
            return self
        clash = sorted(_auth_headers(self.auth) & self.axis.header_names())
        if clash:
            raise ValueError(
                f"'auth' ({self.auth.type}) and the platform (axis) would both set the header {clash[0]!r}, and one "
                "would replace the other: send the platform's token in another header (axis.auth.token_endpoint: "
                "header X-Authentication-Token, scheme null)"
            )
        return self

    # -- end of axis profile -----------------------------------------------------------------------------------

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        return check_http_url(value, "the base URL", query=False).rstrip("/")

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _header(name)
        if {name.lower() for name in value} & {"authorization", "cookie", "host", "content-length"}:
            raise ValueError("Authorization, Cookie, Host and Content-Length cannot be fixed headers")
        return value

    @field_validator("fields")
    @classmethod
    def _check_expressions(cls, value: dict[str, str]) -> dict[str, str]:
        for expression in value.values():
            _jmespath(expression)
        return value

    def searched_fields(self) -> list[str] | None:
        """The query fields of the search endpoint's filters; ``None`` without a search endpoint."""
        return list(self.search.filters) if self.search is not None else None
