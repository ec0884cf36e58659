"""What one gateway process holds while it runs: settings, database engine, token service, connectors."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.base import Capability
from gateway.audit.writer import AuditWriter, start_writer
from gateway.axis.catalogue import Catalogue, load_catalogue
from gateway.axis.health import HealthRunner
from gateway.axis.overview import connected_target, ops_snapshot, stale_bounds
from gateway.core import metrics
from gateway.core.db import create_engine, create_sessionmaker
from gateway.core.logs import get_logger
from gateway.core.migrations import ensure_current
from gateway.core.settings import Settings
from gateway.exchange.dispatcher import Dispatcher
from gateway.exchange.retention import PayloadRetention
from gateway.exchange.webhooks import WebhookSender, reencrypt_secrets
from gateway.identity.access import AccessControl
from gateway.identity.client_keys import assertion_audiences
from gateway.identity.datakeys import DataKeys
from gateway.identity.passwords import keyed_tag, load_or_create_pepper, use_pepper
from gateway.identity.ratelimits import RateLimiter, TokenGuard
from gateway.identity.signing_keys import SigningKeys, ensure_signing_key, published_keys
from gateway.identity.tokens import TokenService
from gateway.quality.history import HistoryRetention
from gateway.quality.service import quality_snapshot
from gateway.records.registry import ConnectorRegistry

log = get_logger(__name__)


@dataclass
class GatewayState:
    """Built by ``create_app``; :meth:`start` and :meth:`close` run in the application's lifespan."""

    settings: Settings
    registry: ConnectorRegistry
    engine: AsyncEngine = field(init=False)
    sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    access: AccessControl = field(init=False)
    limiter: RateLimiter = field(init=False)
    token_guard: TokenGuard = field(init=False)
    audit: AuditWriter | None = field(default=None, init=False)
    catalogue: Catalogue = field(init=False)
    health: HealthRunner = field(init=False)
    dispatcher: Dispatcher | None = field(default=None, init=False)
    webhooks: WebhookSender | None = field(default=None, init=False)
    retention: PayloadRetention | None = field(default=None, init=False)
    quality_history: HistoryRetention | None = field(default=None, init=False)
    data_keys: DataKeys = field(init=False)
    _ops_refreshed: float = field(default=0.0, init=False)
    _tokens: TokenService | None = field(default=None, init=False)
    _signing_keys: SigningKeys | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.engine = create_engine(self.settings.database_url)
        self.sessionmaker = create_sessionmaker(self.engine)
        self.access = AccessControl(self.sessionmaker, ttl_seconds=self.settings.access_cache_seconds)
        self.limiter = RateLimiter.from_settings(self.settings)
        self.token_guard = TokenGuard.from_settings(self.settings, self.limiter)
        self.catalogue = load_catalogue(self.settings.axis_catalogue_path)
        self.health = HealthRunner(
            settings=self.settings, sessionmaker=self.sessionmaker, registry=self.registry, catalogue=self.catalogue
        )

    @property
    def connected_target(self) -> int:
        """How many catalogued databases the plan says must be connected."""
        return connected_target(self.catalogue, self.settings.axis_connected_target)

    async def refresh_ops_metrics(self, max_age_seconds: float = 1.0) -> None:
        """Read the state shared through the database (axis, audit verification, key expiry, data quality) for the
        metrics."""
        now = time.monotonic()
        if now - self._ops_refreshed < max_age_seconds and metrics.OPS.snapshot is not None:
            return
        async with self.sessionmaker() as session:
            metrics.OPS.snapshot = await ops_snapshot(
                session,
                self.catalogue,
                self.registry,
                target=self.connected_target,
                signing_key_max_age=timedelta(days=self.settings.signing_key_max_age_days),
                stale=stale_bounds(self.settings),
            )
            databases = self.registry.databases.values()
            submitting = [db.id for db in databases if "submit" in db.operations]
            scannable = [db.id for db in databases if db.connector.offers(Capability.SAMPLE)]
            metrics.QUALITY.snapshot = await quality_snapshot(session, self.registry.databases, submitting, scannable)
        self._ops_refreshed = now

    @property
    def tokens(self) -> TokenService:
        """The token service (available once started)."""
        if self._tokens is None:
            raise RuntimeError("the gateway has not started")
        return self._tokens

    @property
    def signing_keys(self) -> SigningKeys:
        """The keeper of the signing keys (available once started)."""
        if self._signing_keys is None:
            raise RuntimeError("the gateway has not started")
        return self._signing_keys

    async def start(self) -> None:
        """Check the schema, load the active signing key from the database (importing the key file or generating
        a key when there is none), and start the connectors. A signing key this process cannot use (no data key
        decrypts it) stops the start with :class:`~gateway.identity.signing_keys.SigningKeyUnavailable`."""
        await ensure_current(self.engine)
        settings = self.settings
        self.data_keys = DataKeys.from_settings(settings)
        use_pepper(load_or_create_pepper(settings))
        async with self.sessionmaker() as session:
            key = await ensure_signing_key(session, settings, self.data_keys)
            keys = await published_keys(session, token_ttl_seconds=settings.token_ttl_seconds)
        self._tokens = TokenService(
            signing_key=key,
            verification_keys=keys,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            ttl_seconds=settings.token_ttl_seconds,
            leeway_seconds=settings.token_leeway_seconds,
            cache_size=settings.token_cache_size,
            trusted_issuers=settings.trusted_issuers,
            assertion_audiences=assertion_audiences(settings),
            assertion_max_seconds=settings.client_assertion_max_seconds,
        )
        self._signing_keys = SigningKeys(self.sessionmaker, settings, self._tokens, self.data_keys)
        metrics.declare_static()
        metrics.declare_serving(serving_digest(settings), self.registry.databases)
        for database in self.registry.databases.values():
            metrics.declare_database(database.id)
        await self.registry.start()
        uncatalogued = sorted(set(self.registry.databases) - set(self.catalogue.ids))
        if uncatalogued:
            log.warning("served databases missing from the axis catalogue", databases=uncatalogued)
        await self.access.start(self.engine)
        tokens = self._tokens
        self.audit = await start_writer(settings, signing_key=lambda: tokens.signing_key)
        async with self.sessionmaker() as session:
            encrypted = await reencrypt_secrets(session, self.data_keys, plaintext_only=True)
        if encrypted:
            log.info("webhook secrets stored in plaintext were encrypted", subscriptions=encrypted)
        await self._tokens.start()
        self._signing_keys.start(self.engine)
        await self.health.start()
        self.quality_history = HistoryRetention(settings=settings, sessionmaker=self.sessionmaker)
        self.quality_history.start()
        if settings.exchange_dispatch:
            self.dispatcher = Dispatcher(
                settings=settings, sessionmaker=self.sessionmaker, registry=self.registry, access=self.access
            )
            await self.dispatcher.start()
            if self.dispatcher.databases:
                self.webhooks = WebhookSender(
                    settings=settings,
                    sessionmaker=self.sessionmaker,
                    access=self.access,
                    data_keys=self.data_keys,
                    audit=self.audit,
                )
                self.webhooks.start()
            self.retention = PayloadRetention(settings=settings, sessionmaker=self.sessionmaker)
            self.retention.start()
        log.info(
            "gateway started",
            databases=sorted(self.registry.databases),
            failed=sorted(self.registry.failures),
            kid=key.kid,
        )

    async def close(self) -> None:
        """Close connectors and the database pool."""
        await self.health.close()
        if self.webhooks is not None:
            await self.webhooks.close()
        if self.dispatcher is not None:
            await self.dispatcher.close()
        if self.retention is not None:
            await self.retention.close()
        if self.quality_history is not None:
            await self.quality_history.close()
        metrics.OPS.snapshot = None
        metrics.QUALITY.snapshot = None
        metrics.process_exiting()
        if self.audit is not None:
            await self.audit.close()
        if self._signing_keys is not None:
            await self._signing_keys.close()
        if self._tokens is not None:
            await self._tokens.close()
        await self.access.close()
        await self.limiter.close()
        await self.registry.close()
        await self.engine.dispose()


#: Settings that may differ between replicas of one gateway without their answers differing: where a process logs
#: and the paths of files it reads (each replica may mount them elsewhere).
_LOCAL_SETTINGS = frozenset(
    {"access_log", "log_format", "log_level", "data_dir", "data_key_file", "secret_pepper_path", "signing_key_path"}
)


def serving_digest(settings: Settings) -> str:
    """A digest of the settings that decide a replica's answers (``gateway_serving_info``): equal in replicas
    configured alike. Keyed with the secret pepper, which every replica shares, so that it reveals nothing of the
    settings (a database password in a URL); secrets themselves are masked in the dump and do not count."""
    dumped: dict[str, Any] = settings.model_dump(mode="json", exclude=set(_LOCAL_SETTINGS))
    return keyed_tag(b"serving-settings", orjson.dumps(dumped, option=orjson.OPT_SORT_KEYS))[:6].hex()
