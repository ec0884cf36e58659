"""Webhook subscriptions to a database's change feed: each subscriber gets the changes after its own cursor,
posted in order, in batches, signed with HMAC-SHA256; failed posts are retried with backoff and the cursor only
moves on a 2xx answer, so a subscriber misses nothing and sees each batch at least once.

The process holding the ``exchange-webhooks`` lease posts for every subscription. Before each post the
subscriber's read grant is checked again (for the purpose and actor stated when subscribing): a client
suspended, or whose grant was revoked, receives nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import metrics
from ..db import utcnow
from ..leases import LeaseHolder
from ..logs import get_logger
from ..models import ExchangeFeed, WebhookSubscription
from ..outages import LoopErrors
from ..problems import AccessDenied, Problem, ValidationFailed
from ..services.access import AccessControl, Decision, decide
from ..settings import Settings
from .dispatcher import backoff_seconds
from .feed import read_changes

LEASE = "exchange-webhooks"
SIGNATURE_HEADER = "X-Axis-Signature"
TIMESTAMP_HEADER = "X-Axis-Timestamp"
BATCH = 100
_ERROR_TEXT = 500

log = get_logger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of a post: ``sha256=`` and the hex HMAC-SHA256, keyed with the subscription's
    secret, of ``<timestamp>.<body>`` (the timestamp is sent in ``X-Axis-Timestamp``: check it is recent)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def new_secret() -> str:
    """A signing secret for a new subscription (shown once to the subscriber)."""
    return secrets.token_urlsafe(32)


def subscription_view(row: WebhookSubscription, *, secret: bool = False) -> dict[str, Any]:
    """A subscription as its owner sees it (the secret only when it is created)."""
    view: dict[str, Any] = {
        "id": row.id,
        "database": row.database_id,
        "url": row.url,
        "cursor": str(row.position),
        "active": row.active,
        "failures": row.failures,
        "last_error": row.last_error,
        "last_delivered_at": row.last_delivered_at.isoformat() if row.last_delivered_at else None,
        "created_at": row.created_at.isoformat(),
    }
    if secret:
        view["secret"] = row.secret
    return view


async def subscribe(
    session: AsyncSession, decision: Decision, url: str, *, after: int | None = None
) -> WebhookSubscription:
    """Register ``url`` for the changes of ``decision.database`` after position ``after`` (by default, from
    now on), for the client, purpose and actor of ``decision``."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host or parsed.userinfo:
        raise ValidationFailed("The url must be an http or https URL with a host and no credentials.")
    if after is None:
        feed = await session.get(ExchangeFeed, decision.database)
        after = 0 if feed is None else feed.position
    row = WebhookSubscription(
        id=str(uuid.uuid4()),
        client_id=decision.client_id,
        database_id=decision.database,
        url=url,
        secret=new_secret(),
        purpose=decision.purpose,
        actor=decision.actor,
        position=after,
    )
    session.add(row)
    await session.commit()
    return row


async def subscriptions_of(session: AsyncSession, client_id: str, database_id: str) -> list[WebhookSubscription]:
    """A client's subscriptions to one database."""
    found = await session.exec(
        select(WebhookSubscription)
        .where(col(WebhookSubscription.client_id) == client_id, col(WebhookSubscription.database_id) == database_id)
        .order_by(col(WebhookSubscription.created_at))
    )
    return list(found.all())


class WebhookSender:
    """Posts each subscription's pending changes while this process holds the webhook lease."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        access: AccessControl,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.access = access
        self.lease = LeaseHolder(sessionmaker, LEASE, settings.axis_lease_seconds)
        self._http = http or httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background loop."""
        self._task = asyncio.create_task(self._run(), name="exchange-webhooks")

    async def close(self) -> None:
        """Stop, and hand the lease over."""
        self._stopping.set()
        if self._task is not None and not self._task.done():
            await asyncio.wait({self._task}, timeout=5)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.lease.release()
        await self._http.aclose()

    async def _run(self) -> None:
        errors = LoopErrors("webhook")
        while not self._stopping.is_set():
            busy = False
            try:
                if await self.lease.hold():
                    busy = await self.run_once() > 0
                errors.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                errors.failed(exc)
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.settings.exchange_poll_seconds)

    async def run_once(self) -> int:
        """Post one batch to every due subscription that has changes waiting; how many batches went out."""
        async with self.sessionmaker() as session:
            due = (
                await session.exec(
                    select(WebhookSubscription).where(
                        col(WebhookSubscription.active).is_(True), col(WebhookSubscription.next_attempt_at) <= utcnow()
                    )
                )
            ).all()
        sent = await asyncio.gather(*(self._deliver(subscription) for subscription in due))
        return sum(sent)

    async def _deliver(self, subscription: WebhookSubscription) -> int:
        try:
            decision = await self._decision(subscription)
        except Problem as problem:
            await self._failed(
                subscription, f"the subscriber may not read {subscription.database_id}: {problem.detail}"
            )
            return 0
        async with self.sessionmaker() as session:
            page = await read_changes(
                session, subscription.database_id, after=subscription.position, limit=BATCH, decision=decision
            )
        if not page["changes"]:
            return 0
        body = orjson.dumps({"subscription": subscription.id, "database": subscription.database_id, **page})
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "axis-gateway-webhooks",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(subscription.secret, timestamp, body),
            "X-Axis-Subscription": subscription.id,
            "X-Axis-Delivery": str(uuid.uuid4()),
        }
        counter = metrics.WEBHOOK_DELIVERIES
        try:
            response = await self._http.post(subscription.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            counter.labels(subscription.database_id, "error").inc()
            await self._failed(subscription, f"{type(exc).__name__}: {exc}")
            return 0
        if not 200 <= response.status_code < 300:
            counter.labels(subscription.database_id, "error").inc()
            await self._failed(subscription, f"the subscriber answered {response.status_code}")
            return 0
        counter.labels(subscription.database_id, "ok").inc()
        async with self.sessionmaker() as session:
            row = await session.get(WebhookSubscription, subscription.id)
            if row is not None:
                row.position = int(page["next_cursor"])
                row.failures = 0
                row.last_error = None
                row.last_delivered_at = utcnow()
                row.next_attempt_at = utcnow()
                await session.commit()
        return 1

    async def _decision(self, subscription: WebhookSubscription) -> Decision:
        access = await self.access.get(subscription.client_id)
        if access is None or not access.active:
            raise AccessDenied("the client is unknown or suspended")
        return decide(
            access,
            database=subscription.database_id,
            operation="read",
            purpose=subscription.purpose,
            actor=subscription.actor,
            now=utcnow(),
        )

    async def _failed(self, subscription: WebhookSubscription, error: str) -> None:
        settings = self.settings
        async with self.sessionmaker() as session:
            row = await session.get(WebhookSubscription, subscription.id)
            if row is None:
                return
            row.failures += 1
            row.last_error = error[:_ERROR_TEXT]
            wait = backoff_seconds(
                row.failures, settings.exchange_backoff_seconds, settings.exchange_backoff_max_seconds
            )
            row.next_attempt_at = utcnow() + timedelta(seconds=wait)
            await session.commit()
        log.warning("webhook delivery failed", subscription=subscription.id, error=error[:_ERROR_TEXT])
