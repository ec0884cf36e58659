"""The gateway's settings: one class, read from ``GATEWAY_*`` environment variables (and ``.env``), files of a
secrets directory (``GATEWAY_SECRETS_DIR``) and a settings file (``GATEWAY_CONFIG``, TOML or YAML), in that order of
precedence."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from datetime import timedelta
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

#: The environment variable naming the settings file (TOML, or YAML); ``gateway --config FILE`` sets it.
CONFIG_ENV = "GATEWAY_CONFIG"
#: The environment variable naming the secrets directory: one file a setting, named like its environment variable
#: (``gateway_secret_pepper``, ``gateway_connectors__tax__config__auth__token``), holding the value.
SECRETS_DIR_ENV = "GATEWAY_SECRETS_DIR"


class HealthPolicy(BaseModel):
    """How a connection's health is checked and its state derived (active health checks)."""

    model_config = ConfigDict(extra="forbid")

    interval_seconds: float = Field(default=15.0, ge=0.1, le=3600, description="Time between two checks.")
    jitter: float = Field(default=0.1, ge=0, le=0.5, description="Random spread of the interval, as a fraction.")
    timeout_seconds: float = Field(default=5.0, gt=0, le=300, description="A check not answered by then failed.")
    failures_to_down: int = Field(default=3, ge=1, le=100, description="Consecutive failed checks -> down.")
    successes_to_connect: int = Field(
        default=2, ge=1, le=100, description="Consecutive good checks for a down connection -> connected."
    )
    degraded_latency_seconds: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="p95 latency of the checks and calls of the window above which the state is degraded.",
    )
    latency_window: int = Field(
        default=1000, ge=1, le=100000, description="At most this many latencies of the window count (newest)."
    )
    window_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="The evidence window: latencies, error and contract-violation ratios of the last so many seconds.",
    )
    min_calls: int = Field(
        default=5, ge=1, le=100000, description="Calls through the gateway in the window before the ratios count."
    )
    degraded_error_ratio: float = Field(
        default=0.2, gt=0, le=1, description="Share of failed calls in the window from which the state is degraded."
    )
    down_violation_ratio: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of calls in the window answered with records that break the contract -> down.",
    )


class CircuitPolicy(BaseModel):
    """When requests to a connection fail fast instead of waiting for a failing sector system (passive health)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    consecutive_failures: int = Field(default=5, ge=1, le=1000, description="Consecutive failed calls -> open.")
    error_ratio: float = Field(
        default=0.5, gt=0, le=1, description="Share of failed calls in the window that opens the circuit."
    )
    window_seconds: float = Field(default=30.0, gt=0, le=3600, description="The error-ratio window.")
    min_calls: int = Field(default=20, ge=1, description="Calls in the window before the ratio counts.")
    cooldown_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="An open circuit lets one trial call through after this."
    )


#: A national database's id: in URLs, scopes, metric labels and the catalogue.
DATABASE_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class ConnectorInstance(BaseModel):
    """One national database served by the gateway: which connector adapts it, and its configuration.

    The key under which it appears in ``Settings.connectors`` is the database id used in URLs and scopes.
    """

    model_config = ConfigDict(extra="forbid")

    connector: str | None = Field(
        default=None, description="Entry-point name of the connector class; defaults to the database id."
    )
    enabled: bool = Field(default=True, description="Load and serve this database.")
    config: dict[str, Any] = Field(default_factory=dict, description="The connector's configuration.")
    health: HealthPolicy = Field(default_factory=HealthPolicy, description="Active health checks.")
    circuit: CircuitPolicy = Field(default_factory=CircuitPolicy, description="Circuit breaking.")


JwtAlgorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
DEFAULT_ISSUER_ALGORITHMS: tuple[JwtAlgorithm, ...] = ("RS256", "PS256", "ES256")


class TrustedIssuer(BaseModel):
    """An external identity provider (a national or provincial IdP, Keycloak) whose access tokens the gateway
    accepts. Its keys come from ``jwks_url``; the token's ``client_claim`` names the gateway client it acts for,
    and that client's own grants decide what the token may do (the token's ``scope`` claim is not used)."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(min_length=1, max_length=500, description="The exact ``iss`` of the provider's tokens.")
    jwks_url: str = Field(
        pattern=r"^https?://\S+$", max_length=2000, description="Where the provider publishes its keys (JWKS)."
    )
    audience: str | None = Field(
        default=None, description="The ``aud`` its tokens must carry; the gateway's own ``token_audience`` if unset."
    )
    client_claim: str = Field(
        default="azp",
        pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$",
        description="The claim holding the gateway client id (``azp``, ``client_id``, ``sub``, ...).",
    )
    clients: list[str] | None = Field(
        default=None,
        description="The only gateway clients this provider may speak for, with all their rights. Unset: it may "
        "speak for any client, but for its data grants only, never with its admin, audit or axis scope.",
    )
    algorithms: list[JwtAlgorithm] = Field(
        default_factory=lambda: list(DEFAULT_ISSUER_ALGORITHMS),
        min_length=1,
        description="Signature algorithms accepted from this provider (never ``none``, never HMAC).",
    )
    refresh_seconds: float = Field(
        default=300, ge=1, le=86400, description="How often its key set is fetched again in the background."
    )
    min_refetch_seconds: float = Field(
        default=60,
        ge=0.1,
        le=3600,
        description="A token with an unknown ``kid`` fetches the key set again at most this often.",
    )
    timeout_seconds: float = Field(default=5, gt=0, le=60, description="Deadline of one key-set fetch.")


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
"""The levels of ``log_level`` (given in any case)."""

#: The gateway's own database: the URL schemes it accepts (``sqlite``, ``postgresql`` and ``postgres`` are given
#: their asyncio driver, :func:`connectors.sql.urls.to_async_url`).
DATABASE_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+asyncpg")
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+_.-]*)://")
#: The schemes of ``redis_url`` (what the rate limiter's store accepts).
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def data_key_fernets(entries: Iterable[str]) -> list[Fernet]:
    """The Fernet keys of data key ``entries`` (a setting's comma-separated values, or a key file's lines: blank
    entries and ``#`` comments skipped), newest first; :class:`ValueError` naming the entry that is not a key (never
    its value) or saying that there is none."""
    from cryptography.fernet import Fernet

    keys = [entry.strip() for entry in entries if entry.strip() and not entry.lstrip().startswith("#")]
    if not keys:
        raise ValueError("no data key")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            which = "the data key" if len(keys) == 1 else f"data key {position} of {len(keys)}"
            raise ValueError(f"{which} is not a Fernet key (32 url-safe base64-encoded bytes)") from None
    return fernets


#: The default rate limits of a production gateway: requests per second, per day.
PRODUCTION_RATE_LIMITS = (50, 100_000)
QualityAction = Literal["accept", "flag", "refuse"]
"""What the exchange does with a submitted operation breaking a data-quality rule."""


class Settings(BaseSettings):
    """Every setting of the gateway. Nested values use ``__``:
    ``GATEWAY_CONNECTORS__POPULATION__CONFIG__URL=postgresql://reader@db/population``.

    Sources, the first that sets a value wins (nested tables merge): arguments, environment variables, ``.env``,
    the secrets directory (``GATEWAY_SECRETS_DIR``), the settings file (``GATEWAY_CONFIG``)."""

    # No value is quoted in a validation error: a setting may be a secret.
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, dotenv_settings]
        secrets_dir = os.environ.get(SECRETS_DIR_ENV)
        if secrets_dir:
            if not Path(secrets_dir).is_dir():
                raise SettingsError(
                    f"{SECRETS_DIR_ENV}: the secrets directory {secrets_dir} does not exist (or is not a directory)"
                )
            sources.append(
                NestedSecretsSettingsSource(
                    file_secret_settings,
                    secrets_dir=secrets_dir,
                    secrets_dir_missing="error",
                    secrets_nested_delimiter="__",
                )
            )
        config = os.environ.get(CONFIG_ENV)
        if config:
            sources.append(settings_file_source(settings_cls, Path(config)))
        return tuple(sources)

    environment: Literal["development", "production"] = Field(
        default="development", description="``production`` refuses demo-only behaviour."
    )
    data_dir: Path = Field(default=Path("var"), description="Where the embedded database, keys and demo data live.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the gateway's own database; defaults to SQLite in ``data_dir``.",
    )
    signing_key_path: Path | None = Field(
        default=None,
        description="Legacy PEM private key file (the signing keys live in the database, encrypted with the data "
        "keys): imported on the first start when the database holds no private signing key yet, then no longer read. "
        "``gateway keys import`` imports a file explicitly. Default: <data_dir>/keys/signing-key.pem.",
    )
    data_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key-encryption keys of the stored webhook secrets and of the signing keys' private parts: Fernet keys, "
            "comma-separated, newest first (the newest encrypts, all decrypt); every process needs the same. Unset: "
            "the key file is used."
        ),
    )
    data_key_file: Path | None = Field(
        default=None,
        description="File of data keys, one a line, newest first; generated (mode 0600) when absent. "
        "Default: <data_dir>/keys/data-keys.",
    )
    signing_algorithm: Literal["ES256", "RS256"] = "ES256"
    secret_pepper: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="The key of the client secrets' hashes (HMAC-SHA-256); every process and replica needs the same. "
        "Unset: read from ``secret_pepper_path``.",
    )
    secret_pepper_path: Path | None = Field(
        default=None,
        description="File holding the secret pepper when ``secret_pepper`` is unset; generated (mode 0600) when "
        "absent. Default: ``keys/secret-pepper`` in ``data_dir``.",
    )
    token_failures_per_client: int = Field(
        default=10,
        ge=0,
        description="Failed token requests claiming one client id within the window, after which that id is "
        "refused (429) until the window lets one more in; 0: no limit.",
    )
    token_failures_per_address: int = Field(
        default=100,
        ge=0,
        description="Failed token requests from one address within the window, after which the address is refused "
        "(429); 0: no limit.",
    )
    token_failure_window_seconds: int = Field(
        default=300, ge=1, le=86400, description="The window in which failed token requests are counted."
    )
    token_failure_floor_seconds: float = Field(
        default=0.1,
        ge=0,
        le=5,
        description="A failed client authentication at the token endpoint is answered no sooner than this after its "
        "check began, so that the answer's delay does not tell which client ids exist (an unknown one costs a "
        "database read, a known one is answered from memory); 0: answered at once. Successes are not delayed.",
    )
    token_requests_per_minute: int = Field(
        default=60,
        ge=0,
        description="Tokens one client may obtain in a minute (each is signed and audited; a client reuses its token "
        "until it expires), after which its token requests are refused (429) until the minute lets one more in; "
        "0: no limit.",
    )
    token_issuer: str = Field(default="axis-gateway", description="``iss`` of the tokens the gateway issues.")
    token_audience: str = Field(
        default="axis-gateway", description="The gateway's own identifier: the ``aud`` tokens must carry."
    )
    token_ttl_seconds: int = Field(default=900, ge=30, le=86400, description="Lifetime of issued tokens.")
    token_leeway_seconds: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf.")
    token_cache_size: int = Field(default=50_000, ge=0, description="Verified tokens kept until they expire.")
    trusted_issuers: list[TrustedIssuer] = Field(
        default_factory=list,
        description="External identity providers whose tokens are accepted, as JSON: "
        '``[{"issuer": "https://idp/realms/p06", "jwks_url": "https://idp/realms/p06/protocol/openid-connect/certs"}]``.',
    )
    signing_key_refresh_seconds: float = Field(
        default=30,
        ge=0.1,
        le=3600,
        description="How often each process reloads the published signing keys and picks up a rotated key.",
    )
    signing_key_refetch_seconds: float = Field(
        default=5,
        ge=0.1,
        le=3600,
        description="A token of this gateway with an unknown ``kid`` reloads the published keys at most this often.",
    )
    token_endpoint_url: str | None = Field(
        default=None,
        description="The public URL of ``/oauth/token``; client assertions may name it, or ``token_issuer``, as aud.",
    )
    client_assertion_max_seconds: int = Field(
        default=300, ge=10, le=3600, description="Longest lifetime (exp - iat) of a private_key_jwt client assertion."
    )
    access_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description=(
            "How long a client's grants are cached before one read of the clients changed lately tells which to "
            "read again (all read whole after ten times as long); changes through the gateway invalidate at once."
        ),
    )
    connectors: dict[str, ConnectorInstance] = Field(
        default_factory=dict,
        description="Database id -> connector instance (``[connectors.<id>]`` tables of the settings file); none by "
        "default (``gateway demo`` configures its simulated sector systems).",
    )
    axis_catalogue_path: Path | None = Field(
        default=None,
        description="TOML catalogue of the national databases to connect; the shipped 16 of the provincial plan "
        "when unset.",
    )
    axis_connected_target: int | None = Field(
        default=None,
        ge=0,
        description="How many catalogued databases the plan says must be connected (reported, shown on the "
        "dashboard); all when unset.",
    )
    axis_history: int = Field(default=100, ge=1, le=100_000, description="Health checks kept per database.")
    axis_history_retention_days: int = Field(
        default=400,
        ge=1,
        le=3650,
        description="How long the axis state transitions and hourly check counts behind the monthly report are kept "
        "(a year of reports and a month to spare by default); pruned by the process running the health checks.",
    )
    axis_report_timezone: str = Field(
        default="Asia/Ho_Chi_Minh",
        description="The province's time zone (IANA name): the monthly report's months begin and end in it.",
    )
    axis_lease_seconds: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="How long the process running the health checks holds its lease without renewing it.",
    )
    audit_verify_interval_seconds: float = Field(
        default=3600.0,
        ge=1,
        le=7 * 86400,
        description="How often the process holding the lease verifies the whole audit chain (exported as metrics).",
    )
    exchange_batch_max: int = Field(
        default=500, ge=1, le=10_000, description="Most operations one submission (POST .../records) may carry."
    )
    exchange_client_queue_max: int = Field(
        default=10_000,
        ge=0,
        le=10_000_000,
        description="Operations one client may have waiting for delivery (pending, not those being delivered) to one "
        "database; a submission that would take it past this is refused whole (429 exchange-queue-full, with "
        "Retry-After), so that one client's backlog does not hold back every other client's submissions. 0: no "
        "bound; otherwise at least exchange_batch_max (a full submission must fit).",
    )
    exchange_max_attempts: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Deliveries of an operation to its sector system before it is dead-lettered.",
    )
    exchange_backoff_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="Wait before the first retry of a failed delivery; doubles after."
    )
    exchange_backoff_max_seconds: float = Field(
        default=300.0, gt=0, le=86400, description="Longest wait between two deliveries of one operation."
    )
    exchange_dispatch_batch: int = Field(
        default=200, ge=1, le=10_000, description="Operations one dispatcher round claims."
    )
    exchange_delivery_batch: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Operations handed to a connector in one call (a SQL connector applies them in one transaction).",
    )
    exchange_concurrency: int = Field(
        default=16, ge=1, le=1000, description="Delivery calls (batches) run at once by one process's dispatcher."
    )
    exchange_claim_seconds: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="How long a claimed operation stays with its dispatcher; past it, another may deliver it.",
    )
    exchange_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="How often an idle dispatcher looks for operations to deliver."
    )
    exchange_payload_retention_seconds: float = Field(
        default=7 * 86400,
        ge=0,
        le=3650 * 86400,
        description="How long a delivered operation keeps its submitted field values (for a replay) before they "
        "are erased; its key, metadata and outcome stay.",
    )
    exchange_dead_payload_retention_seconds: float = Field(
        default=30 * 86400,
        ge=0,
        le=3650 * 86400,
        description="How long after its acceptance a dead-lettered operation keeps its field values (for an "
        "operator's retry) before they are erased.",
    )
    exchange_retention_interval_seconds: float = Field(
        default=3600, ge=1, le=86400, description="How often expired field values are looked for and erased."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Deadline of one post to a webhook subscriber."
    )
    webhook_allowed_networks: list[IPv4Network | IPv6Network] = Field(
        default_factory=list,
        description=(
            "Networks (CIDRs) webhook subscribers may be in although they are loopback, private, link-local or "
            "otherwise not public; by default every such address is refused."
        ),
    )
    webhook_max_subscriptions: int = Field(
        default=10, ge=1, le=10_000, description="How many webhook subscriptions one client may hold."
    )
    exchange_dispatch: bool = Field(
        default=True, description="Run the dispatcher (and webhook deliveries) in this process."
    )
    signing_key_max_age_days: int = Field(
        default=365, ge=1, le=3650, description="The signing key must be rotated within this many days of creation."
    )
    system_purpose: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,63}$",
        description="The purpose (procedure code, as X-Purpose) stated in the request context of the gateway's own "
        "calls to sector systems: health checks, canaries, the readiness probe and data-quality scans; none when "
        "unset.",
    )
    connector_plugins: list[str] | None = Field(
        default=None, description="Restrict which connector entry points are loaded (all when unset)."
    )
    page_size_default: int = Field(default=20, ge=1, le=1000)
    page_size_max: int = Field(default=100, ge=1, le=1000)
    rate_limit_per_second: int | None = Field(
        default=None,
        ge=0,
        description="Requests per second of a client without its own limit; 0: no limit. "
        f"Unset: {PRODUCTION_RATE_LIMITS[0]} in production, no limit in development.",
    )
    rate_limit_per_day: int | None = Field(
        default=None,
        ge=0,
        description="Requests per day of a client without its own limit; 0: no limit. "
        f"Unset: {PRODUCTION_RATE_LIMITS[1]} in production, no limit in development.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis (``redis://``, ``rediss://``, ``unix://``) where every gateway process counts rate limits "
        "together; unset: each process counts in its own memory.",
    )
    redis_timeout_seconds: float = Field(default=0.5, gt=0, le=30, description="Connect and reply timeout of Redis.")
    rate_limit_key_prefix: str = Field(
        default="axis-gateway", min_length=1, max_length=100, description="Prefix of the rate-limit keys in Redis."
    )
    rate_limit_fail_open: bool = Field(
        default=False,
        description="When Redis cannot be reached: serve without counting (true), or answer 503 (false).",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=0, description="Largest request body accepted; 413 beyond.")
    request_deadline_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="A request still running after this is cancelled and answered 504."
    )
    header_read_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="A request's headers must arrive within this of the connection's start (or of the request's "
        "first byte on a kept-alive connection); 408 and the connection closed otherwise.",
    )
    max_header_count: int = Field(
        default=100, ge=1, le=10_000, description="Most header lines a request may carry; 431 beyond."
    )
    max_header_bytes: int = Field(
        default=16_384,
        ge=1024,
        le=1_048_576,
        description="Largest request head (request line and headers) accepted, in bytes; 431 beyond.",
    )
    forwarded_allow_ips: str = Field(
        default="",
        # The field name also matches uvicorn's own FORWARDED_ALLOW_IPS (environment names ignore case): still read.
        validation_alias=AliasChoices("GATEWAY_FORWARDED_ALLOW_IPS", "forwarded_allow_ips"),
        description="The proxies in front of the gateway, comma-separated addresses or networks (CIDR), or `*` "
        "(every peer: only where nothing but the proxy can connect): from them, a client's address is taken from "
        "X-Forwarded-For (and the scheme from X-Forwarded-Proto). Empty (the default): those headers are ignored "
        "and a client's address is its connection's. uvicorn's FORWARDED_ALLOW_IPS is read too.",
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_forwarded_allow_ips(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is not an address, a network (CIDR) or *") from None
        return ",".join(items)

    log_level: LogLevel = Field(
        default="INFO", description="The least severe level logged: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)."
    )
    log_format: Literal["json", "console"] = Field(default="json")
    access_log: bool = Field(default=False, description="Log every request (costs throughput).")
    audit_enabled: bool = Field(
        default=True,
        description="Write every exchange to the audit trail. Only for measurements: production refuses false.",
    )
    audit_batch_wait_ms: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="How long an idle audit writer waits after the first event to gather a batch; events arriving "
        "while a batch is being written form the next batch anyway (group commit).",
    )
    audit_batch_max: int = Field(default=500, ge=1, le=10_000, description="Most events appended in one transaction.")
    audit_queue_max: int = Field(
        default=10_000, ge=1, description="Events waiting for the writer beyond which exchanges are answered 503."
    )
    audit_write_timeout_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Deadline of one audit transaction; past it the batch is answered 503."
    )
    audit_seal_every_events: int = Field(
        default=1000, ge=1, description="A process seals the chain head after writing this many events."
    )
    audit_seal_every_seconds: float = Field(
        default=60.0, gt=0, le=86400, description="...or this long after its last seal, if it wrote any event since."
    )
    quality_sample_size: int = Field(
        default=5000, ge=1, le=1_000_000, description="Records a data-quality scan reads (`gateway quality scan`)."
    )
    quality_freshness_days: dict[str, int] = Field(
        default_factory=dict,
        description="Database id -> freshness target in days: a record not updated for longer is not live "
        "(``GATEWAY_QUALITY_FRESHNESS_DAYS__POPULATION=365``).",
    )
    quality_default_freshness_days: int | None = Field(
        default=1460,
        ge=1,
        description="The freshness target of the databases without their own; unset: their freshness is not checked.",
    )
    quality_history_retention_days: int = Field(
        default=760,
        ge=1,
        le=3650,
        description="How long the scores of every data-quality scan are kept (two years of monthly reports and a "
        "month to spare by default); pruned by one gateway process.",
    )
    quality_gate: dict[str, dict[str, QualityAction]] = Field(
        default_factory=dict,
        description="Database id -> rule (its id, ``population.names_normalised``, its short name, "
        "``names_normalised``, or ``*`` for every rule) -> what to do with a submitted operation breaking it: "
        "``accept`` (the default), ``flag`` (accepted, the findings on the receipt) or ``refuse`` (422).",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_in_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("data_key")
    @classmethod
    def _check_data_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            data_key_fernets(value.get_secret_value().split(","))
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        # Never the value in the message: a Redis URL may carry its password.
        if not value:
            return value
        scheme = _URL_SCHEME.match(value)
        if scheme is None or scheme.group(1).lower() not in REDIS_SCHEMES:
            raise ValueError(
                "GATEWAY_REDIS_URL is not a Redis URL: it is redis://[:PASSWORD@]HOST:PORT/DB, rediss://... (TLS) or "
                "unix:///PATH"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value:
            return value  # the default, filled below
        scheme = _URL_SCHEME.match(value)
        if scheme is None:
            raise ValueError("not a database URL (scheme://...)")
        if scheme.group(1) not in DATABASE_SCHEMES:
            raise ValueError(
                f"the gateway's database cannot be {scheme.group(1)!r}: it is SQLite (sqlite+aiosqlite:///FILE, "
                "sqlite:///FILE) or PostgreSQL (postgresql+asyncpg://..., postgresql://...)"
            )
        return value

    #: Whether ``database_url`` was not set by any source, and is the SQLite file of ``data_dir`` by default.
    _database_url_defaulted: bool = PrivateAttr(default=False)

    @property
    def database_url_defaulted(self) -> bool:
        """``True`` when no source set ``database_url`` (``GATEWAY_DATABASE_URL``, the secret file
        ``gateway_database_url``, the settings file): the gateway's database is then the SQLite file of ``data_dir``,
        which a production gateway must not get by omission (``gateway serve`` and ``gateway db`` refuse it)."""
        return self._database_url_defaulted

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'gateway.db'}"
            self._database_url_defaulted = True
        if self.signing_key_path is None:
            self.signing_key_path = self.data_dir / "keys" / "signing-key.pem"
        if self.secret_pepper_path is None:
            self.secret_pepper_path = self.data_dir / "keys" / "secret-pepper"
        if self.page_size_default > self.page_size_max:
            raise ValueError("page_size_default exceeds page_size_max")
        return self

    @model_validator(mode="after")
    def _check_client_queue_max(self) -> Settings:
        bound = self.exchange_client_queue_max
        if 0 < bound < self.exchange_batch_max:
            raise ValueError(
                f"exchange_client_queue_max ({bound}) is below exchange_batch_max ({self.exchange_batch_max}): a "
                "full submission could never be accepted; raise it, or set 0 for no bound"
            )
        return self

    @model_validator(mode="after")
    def _check_report_timezone(self) -> Settings:
        try:
            ZoneInfo(self.axis_report_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"axis_report_timezone: unknown time zone {self.axis_report_timezone!r}") from None
        return self

    @property
    def report_zone(self) -> ZoneInfo:
        """The province's time zone, in which the monthly report's months begin and end."""
        return ZoneInfo(self.axis_report_timezone)

    @model_validator(mode="after")
    def _audit_in_production(self) -> Settings:
        if self.environment == "production" and not self.audit_enabled:
            raise ValueError("the audit trail cannot be disabled in production")
        return self

    @model_validator(mode="after")
    def _default_rate_limits(self) -> Settings:
        production = self.environment == "production"
        if self.rate_limit_per_second is None:
            self.rate_limit_per_second = PRODUCTION_RATE_LIMITS[0] if production else 0
        if self.rate_limit_per_day is None:
            self.rate_limit_per_day = PRODUCTION_RATE_LIMITS[1] if production else 0
        return self

    @model_validator(mode="after")
    def _check_trusted_issuers(self) -> Settings:
        names = [trusted.issuer for trusted in self.trusted_issuers]
        if len(set(names)) != len(names):
            raise ValueError("trusted_issuers names an issuer twice")
        if self.token_issuer in names:
            raise ValueError("a trusted issuer cannot have the gateway's own token_issuer")
        return self

    @property
    def population_demo_path(self) -> Path:
        """The SQLite file of the simulated population database used by the demo."""
        return self.data_dir / "sectors" / "population.db"

    def freshness_target(self, database_id: str) -> timedelta | None:
        """How recently a record of ``database_id`` must have been updated to count as live (``None``: no target)."""
        days = self.quality_freshness_days.get(database_id, self.quality_default_freshness_days)
        return None if days is None else timedelta(days=days)

    def quality_action(self, database_id: str, rule_id: str) -> QualityAction:
        """What the exchange does with an operation submitted to ``database_id`` that breaks ``rule_id``: the
        setting for the rule's id, else for its short name (after the contract's name), else for ``*``."""
        rules = self.quality_gate.get(database_id, {})
        slug = rule_id.rpartition(".")[2]
        return rules.get(rule_id) or rules.get(slug) or rules.get("*") or "accept"

    @property
    def pepper_path(self) -> Path:
        """The secret pepper's file, after defaults."""
        assert self.secret_pepper_path is not None
        return self.secret_pepper_path

    @property
    def key_path(self) -> Path:
        """The signing key path, after defaults."""
        assert self.signing_key_path is not None
        return self.signing_key_path

    @property
    def data_key_file_path(self) -> Path:
        """The data key file (``data_key_file``, by default under the data directory)."""
        return self.data_key_file or self.data_dir / "keys" / "data-keys"


class _CheckedFileSource(PydanticBaseSettingsSource):
    """A settings file's values, refused when the file is missing or names a setting that does not exist (a typo
    in a file must not be ignored silently, as an unknown environment variable is)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.path = path
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = self.inner()
        known = set(self.settings_cls.model_fields)
        for field in self.settings_cls.model_fields.values():  # a field read under another name gives that name
            if isinstance(field.validation_alias, AliasChoices):
                known.update(choice for choice in field.validation_alias.choices if isinstance(choice, str))
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"{self.path}: unknown settings: {', '.join(map(str, unknown))}")
        return values


def settings_file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    """The source reading the settings file ``path``: TOML (``.toml``) or YAML (``.yaml``, ``.yml``)."""
    if not path.is_file():
        raise SettingsError(f"settings file {path} does not exist (or is not a file)")
    inner: PydanticBaseSettingsSource
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            inner = TomlConfigSettingsSource(settings_cls, toml_file=path)
        elif suffix in (".yaml", ".yml"):
            inner = YamlConfigSettingsSource(settings_cls, yaml_file=path, yaml_file_encoding="utf-8")
        else:
            raise SettingsError(f"settings file {path}: the name must end in .toml, .yaml or .yml")
    except SettingsError:
        raise
    except Exception as exc:  # a syntax error: tomllib.TOMLDecodeError, yaml.YAMLError
        raise SettingsError(f"settings file {path} cannot be read: {exc}") from None
    return _CheckedFileSource(settings_cls, path, inner)


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (tests clear the cache or pass their own to ``create_app``)."""
    return Settings()
