"""The settings every adapter that calls its sector system over HTTP shares (the REST and SOAP adapters).

:class:`HttpConnectorConfig` holds them: the mapped connector's (contract, field mapping, value maps, the zone of
naive timestamps: :class:`connectors.mapped.MappedConfig`), the request context's headers
(:class:`connectors.context.ContextForwarding`), value conversions, the connect timeout, the connection pool,
the largest answer, the retry policy and the CA bundle. An adapter's configuration subclasses it and adds where
the sector system is, how to authenticate and what to call; it keeps the shared settings' names and meaning.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, field_validator

from connectors.context import ContextForwarding
from connectors.conversions import CONVERSIONS_DESCRIPTION, Conversion
from connectors.mapped import MappedConfig

__all__ = [
    "RETRYABLE_STATUSES",
    "BearerAuth",
    "ClientAuth",
    "ConfigModel",
    "HttpConnectorConfig",
    "NoAuth",
    "RefreshMargin",
    "RetryPolicy",
    "TokenLifetime",
    "check_http_url",
]

RETRYABLE_STATUSES = (429, 500, 502, 503, 504)
"""The statuses retried unless the configuration says otherwise (an adapter may retry fewer)."""


class ConfigModel(BaseModel):
    """Base of the parts of an adapter's configuration (an endpoint, an authentication scheme): frozen, and
    unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ClientAuth = Annotated[
    Literal["client_secret_basic", "client_secret_post"],
    Field(
        title="Client authentication",
        description="HTTP Basic (``client_secret_basic``) or form fields (``client_secret_post``).",
    ),
]
"""How the gateway authenticates at a token endpoint (RFC 6749 §2.3.1)."""

RefreshMargin = Annotated[
    float,
    Field(
        ge=0,
        le=3600,
        title="Refresh margin",
        description=(
            "Fetch a new token this long before the cached one expires (at most half its lifetime), in the "
            "background: the cached one serves calls meanwhile."
        ),
    ),
]
"""How long before a cached token expires a new one is fetched, in seconds."""

TokenLifetime = Annotated[
    float,
    Field(
        gt=0, le=86400, title="Default token lifetime", description="Lifetime assumed when the token answer has none."
    ),
]
"""The lifetime, in seconds, assumed for a token whose answer gives none."""


def check_http_url(value: str, what: str, *, query: bool = True) -> str:
    """``value`` if it is an ``http(s)://`` URL with a host, no credentials and no fragment (nor a query, unless
    ``query``); else a ``ValueError`` naming it ``what`` (``"the base URL"``)."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{what} is an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError(f"{what} carries no credentials; use 'auth'")
    if parts.fragment or (parts.query and not query):
        raise ValueError(f"{what} has no fragment" if query else f"{what} has no query or fragment")
    return value


class NoAuth(ConfigModel):
    """No authentication (a sector system reached through a private network that authenticates nothing)."""

    type: Literal["none"] = Field(title="Scheme", description="``none``.")


class BearerAuth(ConfigModel):
    """A fixed token sent as ``Authorization: Bearer <token>``."""

    type: Literal["bearer"] = Field(title="Scheme", description="``bearer``.")
    token: SecretStr = Field(title="Token", description="The token issued by the sector system's operator.")


class RetryPolicy(ConfigModel):
    """Retries of idempotent calls (``GET``, a read operation) after a transient failure, with exponential backoff
    and full jitter (:mod:`connectors.http.retry`).

    Never past the call's deadline; never after a 4xx other than 429. The ``Retry-After`` of a 429 or 503 is
    honoured when it fits in the deadline.
    """

    max_attempts: int = Field(
        default=3, ge=1, le=10, title="Attempts", description="Attempts per call, the first included."
    )
    backoff_base_seconds: float = Field(
        default=0.05, gt=0, le=10, title="Backoff base", description="Upper bound of the first wait (doubles after)."
    )
    backoff_max_seconds: float = Field(
        default=1.0, gt=0, le=60, title="Backoff cap", description="Upper bound of any wait between attempts."
    )
    statuses: list[int] = Field(
        default_factory=lambda: list(RETRYABLE_STATUSES),
        title="Retried statuses",
        description="Statuses worth another attempt: 429 and 5xx only.",
    )

    @field_validator("statuses")
    @classmethod
    def _check_statuses(cls, value: list[int]) -> list[int]:
        if any(status != 429 and not 500 <= status <= 599 for status in value):
            raise ValueError("only 429 and 5xx answers may be retried")
        return value


class HttpConnectorConfig(MappedConfig, ContextForwarding):
    """Base of the configuration of an adapter that reads its sector system over HTTP.

    Every call goes over one pooled HTTP client (at most ``max_connections`` connections), with TLS verification
    on (``ca_bundle`` adds a private CA), ``timeout_seconds`` as each call's deadline (retries included),
    answers larger than ``max_response_bytes`` refused, and the request context in the headers
    ``context_headers`` names.
    """

    conversions: dict[str, Conversion] = Field(
        default_factory=dict,
        title="Value conversions",
        description=CONVERSIONS_DESCRIPTION,
    )
    connect_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        le=60,
        title="Connect timeout",
        description="Deadline for opening one connection (never beyond what is left of the call's deadline).",
    )
    max_connections: int = Field(
        default=64, ge=1, le=1000, title="Connections", description="Connections kept to the sector system at most."
    )
    max_response_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        title="Largest answer",
        description="Answers larger than this are refused (protects the gateway from a runaway upstream).",
    )
    retry: RetryPolicy = Field(
        default_factory=RetryPolicy, title="Retries", description="Retries of idempotent (read) calls."
    )
    ca_bundle: FilePath | None = Field(
        default=None,
        title="CA bundle",
        description="PEM file of the CA certificates that sign the sector system's certificate (a private CA); "
        "the public CAs are trusted when unset. Verification cannot be turned off.",
    )

    def field_conversions(self) -> dict[str, Conversion]:
        """The configured ``conversions``."""
        return self.conversions
