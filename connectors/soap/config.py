"""Configuration of the generic SOAP connector: the WSDL, the operations to call, and the mapping of answers.

Everything is data (JSON Schema via :meth:`SoapConnectorConfig.model_json_schema`): an agency connects a SOAP
sector system (the population data messages of QCVN 109:2017, a ministry's web service behind the integration
platform) by writing a configuration, not code. Secrets are ``SecretStr`` and never appear in logs or errors.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from lxml import etree
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.http import BearerAuth, ConfigModel, HttpConnectorConfig, NoAuth, check_http_url
from connectors.http import RetryPolicy as HttpRetryPolicy
from connectors.platform import AxisProfile
from connectors.record_mapping import check_jmespath

from .sampling import SoapSampleOperation

__all__ = [
    "BasicAuth",
    "BearerAuth",
    "GetOperation",
    "NoAuth",
    "PingOperation",
    "RetryPolicy",
    "SearchOperation",
    "SoapAuth",
    "SoapConnectorConfig",
    "UsernameTokenAuth",
]

RECORD_ID = "{record_id}"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
_ARGUMENT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z_][A-Za-z0-9_\-]*)*$")
_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,31}$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not an XML name")
    return value


def _optional_name(value: str | None) -> str | None:
    return None if value is None else _name(value)


def _argument_path(value: str) -> str:
    if not _ARGUMENT_PATH.fullmatch(value):
        raise ValueError(f"{value!r} is not an argument path (names joined by '.')")
    return value


def check_xpath(expression: str) -> str:
    """``expression`` if it is an XPath 1.0 expression (namespace prefixes are checked when it is compiled)."""
    try:
        etree.XPath(expression)
    except etree.XPathSyntaxError:
        raise ValueError(f"{expression!r} is not an XPath expression") from None
    return expression


def _template_holes(value: Any) -> int:
    """How many string leaves of an argument template hold the ``{record_id}`` placeholder."""
    if isinstance(value, str):
        return int(RECORD_ID in value)
    if isinstance(value, dict):
        return sum(_template_holes(item) for item in value.values())
    if isinstance(value, list):
        return sum(_template_holes(item) for item in value)
    return 0


# -- authentication ------------------------------------------------------------------------------------------


class UsernameTokenAuth(ConfigModel):
    """WS-Security UsernameToken (OASIS WSS 1.1) in the SOAP header of every call."""

    type: Literal["wsse_username_token"] = Field(title="Scheme", description="``wsse_username_token``.")
    username: str = Field(min_length=1, title="Username", description="The gateway's user name at the service.")
    password: SecretStr = Field(title="Password", description="Its password.")
    digest: bool = Field(
        default=False,
        title="Password digest",
        description="Send ``PasswordDigest`` (with nonce and creation time) instead of ``PasswordText``.",
    )


class BasicAuth(ConfigModel):
    """HTTP Basic authentication (RFC 7617) on every call."""

    type: Literal["basic"] = Field(title="Scheme", description="``basic``.")
    username: str = Field(min_length=1, title="Username", description="The gateway's user name at the service.")
    password: SecretStr = Field(title="Password", description="Its password.")


SoapAuth = Annotated[NoAuth | UsernameTokenAuth | BasicAuth | BearerAuth, Field(discriminator="type")]
"""One of the authentication schemes, chosen by its ``type``."""


# -- operations ----------------------------------------------------------------------------------------------


class _Operation(ConfigModel):
    operation: str = Field(title="Operation", description="Name of the WSDL operation to call.")
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        title="Arguments",
        description="The operation's arguments (nested objects for complex types), sent as given.",
    )
    timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        le=300,
        title="Timeout",
        description="Deadline of one call of this operation, retries included; the connector's when unset.",
    )

    _check_operation = field_validator("operation")(_name)

    @field_validator("arguments")
    @classmethod
    def _check_arguments(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            _name(name)
        return value


class GetOperation(_Operation):
    """Reading one record: the operation, its arguments with ``{record_id}`` in one of them, and where the record
    is in the answer."""

    record: str = Field(
        title="Record",
        description=(
            "Where the record is in the answer: an XPath from the SOAP Body (``tns:TraCuuResponse/tns:HoSo``) in "
            "``xpath`` mapping, a JMESPath over the operation's result (``HoSo``, ``@``) in ``zeep`` mapping."
        ),
    )
    not_found_when: str | None = Field(
        default=None,
        title="Not found when",
        description=(
            "A condition on the answer meaning 'no such record', for services that answer without a fault "
            "(XPath from the SOAP Body, or JMESPath in ``zeep`` mapping). A fault in ``not_found_faults`` always "
            "means not found."
        ),
    )

    @model_validator(mode="after")
    def _check_placeholder(self) -> GetOperation:
        if _template_holes(self.arguments) != 1:
            raise ValueError(f"exactly one argument of the read operation holds the placeholder {RECORD_ID!r}")
        return self


class SearchOperation(_Operation):
    """Searching: the operation, the argument of each query field, the paging arguments and where the records
    are in the answer. The service pages by number (first page ``first_page``) and size."""

    filters: dict[str, str] = Field(
        min_length=1,
        title="Filters",
        description="Query field -> argument path (``NguoiYeuCau.SoDinhDanh``). A query field without one cannot be "
        "searched by.",
    )
    items: str = Field(
        title="Items",
        description="Where the records are in the answer: XPath from the SOAP Body, or JMESPath in ``zeep`` mapping.",
    )
    page_argument: str = Field(title="Page argument", description="Argument path of the page number.")
    size_argument: str = Field(title="Size argument", description="Argument path of the page size.")
    first_page: int = Field(default=1, ge=0, le=1, title="First page", description="Number of the first page.")
    total: str | None = Field(
        default=None,
        title="Total",
        description="Where the number of matching records is in the answer (XPath or JMESPath), if given.",
    )
    max_page_size: int = Field(
        default=100, ge=2, le=1000, title="Largest page", description="The largest page size the service accepts."
    )

    _check_paths = field_validator("page_argument", "size_argument")(_argument_path)

    @field_validator("filters")
    @classmethod
    def _check_filters(cls, value: dict[str, str]) -> dict[str, str]:
        for path in value.values():
            _argument_path(path)
        return value


class PingOperation(_Operation):
    """The cheapest call health checks make: an operation answering without a fault means up."""


class RetryPolicy(HttpRetryPolicy):
    """Retries of the read operations (they change nothing) after a transient failure, with exponential backoff
    and full jitter, never past the call's deadline (a 503's ``Retry-After`` honoured when it fits in it). SOAP
    Faults are answers and are never retried."""

    statuses: list[int] = Field(
        default_factory=lambda: [502, 503, 504],
        title="Retried statuses",
        description="HTTP statuses (5xx) without a SOAP Fault worth another attempt.",
    )

    @field_validator("statuses")
    @classmethod
    def _check_statuses(cls, value: list[int]) -> list[int]:
        if any(not 500 <= status <= 599 for status in value):
            raise ValueError("only 5xx answers may be retried")
        return value


# -- the connector -------------------------------------------------------------------------------------------


class SoapConnectorConfig(HttpConnectorConfig):
    """A SOAP sector service: its WSDL, authentication, the operations that read and search, and the mapping.

    The WSDL is read once (from ``wsdl``, a URL or a local file) on the first call, within ``wsdl_timeout_seconds``
    and ``max_response_bytes``; calls go to the address it names (on the WSDL URL's own scheme, host and port when
    the WSDL is fetched over the network), or to ``address`` (required through the platform, ``axis``), over one
    pooled HTTP client with TLS verification on (``ca_bundle`` adds a private CA).
    Answers are parsed with DTDs and entity declarations refused, then mapped field by field, either with
    XPath over the SOAP Body (``mapping: xpath``: every value is the text the service sent) or with JMESPath
    over the objects zeep builds from the WSDL's types (``mapping: zeep``). Every call (and the health probe)
    carries the request context in the HTTP headers ``context_headers`` names.
    """

    wsdl: str = Field(
        title="WSDL",
        description="``http(s)://`` URL of the service's WSDL (``...?wsdl``), or the path of a local WSDL file.",
    )
    service: str | None = Field(
        default=None, title="Service", description="WSDL service name; the first service when unset."
    )
    port: str | None = Field(default=None, title="Port", description="WSDL port name; the service's first when unset.")
    address: str | None = Field(
        default=None,
        title="Address",
        description=(
            "``http(s)://`` endpoint to call instead of the WSDL's ``soap:address`` (a gateway, a proxy); required "
            "with ``axis``: the platform's endpoint for the service, the only place its credentials go; and when a "
            "WSDL fetched over the network names an address on another scheme, host or port than its own URL."
        ),
    )
    auth: SoapAuth = Field(
        default_factory=lambda: NoAuth(type="none"),
        title="Authentication",
        description="WS-Security UsernameToken, HTTP Basic, a bearer token, or none.",
    )
    get: GetOperation = Field(title="Read operation", description="How one record is read by its key.")
    search: SearchOperation | None = Field(
        default=None, title="Search operation", description="How records are searched; no search when unset."
    )
    sample: SoapSampleOperation | None = Field(
        default=None,
        title="Sample operation",
        description="The paged listing data-quality scans sample (bounded, rate-limited); no sampling when unset.",
    )
    ping: PingOperation | None = Field(
        default=None,
        title="Health operation",
        description=(
            "The call health checks make. When unset they send an HTTP GET to the service's address: up when it "
            "answers below 500; through the platform (``axis``), refused on a 401 (after one new token) or a 403, "
            "judged by the result code of an answer carrying one, and, with an ``envelope``, failed on an answer "
            "with status 200 or one of its ``statuses`` but no result code (not the platform's)."
        ),
    )
    mapping: Literal["xpath", "zeep"] = Field(
        default="xpath",
        title="Mapping style",
        description=(
            "``xpath``: ``fields`` are XPath expressions relative to the record element, values are its text "
            "(strict: the contract judges every value). ``zeep``: ``fields`` are JMESPath over the record object "
            "zeep built from the WSDL's types (a value zeep cannot read as its declared type arrives missing)."
        ),
    )
    namespaces: dict[str, str] = Field(
        default_factory=dict,
        title="Namespaces",
        description="Prefix -> namespace URI for the XPath expressions (``soap`` is the SOAP 1.1 envelope's).",
    )
    fields: dict[str, str] = Field(
        min_length=1,
        title="Field mapping",
        description="Contract field path -> XPath relative to the record (``tns:NguoiYeuCau/tns:HoTen``) or JMESPath "
        "into the record object (``NguoiYeuCau.HoTen``). A nested object whose values are all missing is left out.",
    )
    not_found_faults: list[str] = Field(
        default_factory=list,
        title="Not-found faults",
        description="Fault codes meaning 'no such record': a local name (``KhongTimThay``) or ``{namespace}name``.",
    )
    wsdl_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        title="WSDL timeout",
        description=(
            "Deadline for reading the WSDL, whole: fetching it (at most ``max_response_bytes``) and reading its "
            "types. Past it the reading is abandoned and the calls waiting for it fail; the next call tries again."
        ),
    )
    max_connections: int = Field(
        default=32, ge=1, le=1000, title="Connections", description="Connections kept to the service at most."
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy, title="Retries", description="Retries of read calls.")

    # -- axis profile (connectors/platform): the connection goes through NDXP or a province's LGSP ---------------
    axis: AxisProfile | None = Field(
        default=None,
        title="Axis profile",
        description=(
            "Reach the service through the national axis (NDXP) or a province's LGSP (set ``address`` to the "
            "platform's): its authentication and request metadata as HTTP headers, its result code read with XPath "
            "from the envelope's root. Direct when unset."
        ),
    )

    @field_validator("axis")
    @classmethod
    def _check_axis(cls, value: AxisProfile | None) -> AxisProfile | None:
        if value is None:
            return None
        if value.metadata.location != "header":
            raise ValueError("a SOAP connection sends the platform's metadata as headers (location: header)")
        envelope = value.envelope
        if envelope is not None:
            for path in (envelope.result_code, envelope.correlation_id):
                if path is not None:
                    check_xpath(path)
        return value

    @model_validator(mode="after")
    def _check_platform(self) -> SoapConnectorConfig:
        axis = self.axis
        if axis is None:
            return self
        if self.address is None:
            raise ValueError(
                "'address' is required with 'axis': the platform's endpoint for the service, where its credentials "
                "and token are sent (never to the address a WSDL names)"
            )
        if isinstance(self.auth, BasicAuth | BearerAuth) and "authorization" in axis.header_names():
            raise ValueError(
                f"'auth' ({self.auth.type}) and the platform's token would both use the Authorization header, and "
                "one would replace the other: send the platform's token in another header (axis.auth.token_endpoint: "
                "header X-Authentication-Token, scheme null)"
            )
        return self

    # -- end of axis profile -----------------------------------------------------------------------------------

    @field_validator("wsdl")
    @classmethod
    def _check_wsdl(cls, value: str) -> str:
        if "://" in value:
            return check_http_url(value, "the WSDL URL")
        if not Path(value).is_file():
            raise ValueError("the WSDL is an http(s):// URL or the path of an existing file")
        return value

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value, "the address")

    _check_names = field_validator("service", "port")(_optional_name)

    @field_validator("namespaces")
    @classmethod
    def _check_namespaces(cls, value: dict[str, str]) -> dict[str, str]:
        for prefix, uri in value.items():
            if not _PREFIX.fullmatch(prefix):
                raise ValueError(f"{prefix!r} is not a namespace prefix")
            if not uri.strip():
                raise ValueError(f"the namespace of {prefix!r} is empty")
        return value

    @model_validator(mode="after")
    def _check_expressions(self) -> SoapConnectorConfig:
        check = check_jmespath if self.mapping == "zeep" else check_xpath
        expressions = [*self.fields.values(), self.get.record]
        if self.get.not_found_when:
            expressions.append(self.get.not_found_when)
        if self.search is not None:
            expressions.append(self.search.items)
            if self.search.total:
                expressions.append(self.search.total)
        for expression in expressions:
            check(expression)
        return self

    def searched_fields(self) -> list[str] | None:
        """The query fields of the search operation's filters; ``None`` without a search operation."""
        return list(self.search.filters) if self.search is not None else None
