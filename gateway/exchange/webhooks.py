"""Webhook subscriptions to a database's change feed: each subscriber gets the changes after its own cursor,
posted in order, in batches, signed with HMAC-SHA256; failed posts are retried with backoff and the cursor only
moves on a 2xx answer, so a subscriber misses nothing and sees each batch at least once. A receiver answering
410 Gone, or a subscription whose cursor is beyond the end of the feed (the gateway's database restored from an
earlier backup), stops the subscription: it is not posted to again.

The process holding the ``exchange-webhooks`` lease posts for every subscription. Before each post the
subscriber's read grant is checked again (for the purpose and actor stated when subscribing): a client
suspended, or whose grant was revoked, receives nothing more.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.http import AsyncClient, ssl_context
from gateway.audit.events import PendingEvent, outcome_of
from gateway.core import metrics
from gateway.core.db import utcnow
from gateway.core.leases import LeasedLoop
from gateway.core.logs import get_logger
from gateway.core.problems import AccessDenied, Conflict, InvalidCursor, Problem, ValidationFailed
from gateway.core.settings import Settings
from gateway.exchange.dispatcher import backoff_seconds
from gateway.exchange.feed import check_cursor, feed_end, read_changes
from gateway.exchange.models import WebhookSubscription
from gateway.identity.access import AccessControl, Decision, decide
from gateway.identity.datakeys import PREFIX, DataKeyError, DataKeys

if TYPE_CHECKING:
    from gateway.audit.writer import AuditWriter

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LEASE = "exchange-webhooks"
SIGNATURE_HEADER = "X-Axis-Signature"
TIMESTAMP_HEADER = "X-Axis-Timestamp"
BATCH = 100
#: The delivery errors a subscriber is shown (``last_error``): classes only, never what the target answered.
DELIVERY_ERRORS = (
    "connection-failed",
    "timeout",
    "non-2xx",
    "refused-destination",
    "not-authorised",
    "gateway-error",
    "gone",
    "cursor-beyond-feed",
)
#: The errors that stop a subscription (``active`` false): the receiver answered 410 Gone, or the subscription's
#: cursor is beyond the end of the feed (the gateway's database was restored from an earlier backup). Posting on
#: would be refused for ever, or would skip the changes made since; the subscriber subscribes again.
STOPPING_ERRORS = frozenset({"gone", "cursor-beyond-feed"})

log = get_logger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of a post: ``sha256=`` and the hex HMAC-SHA256, keyed with the subscription's
    secret, of ``<timestamp>.<body>`` (the timestamp is sent in ``X-Axis-Timestamp``: check it is recent)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def new_secret() -> str:
    """A signing secret for a new subscription (shown once to the subscriber)."""
    return secrets.token_urlsafe(32)


def subscription_view(row: WebhookSubscription, *, secret: str | None = None) -> dict[str, Any]:
    """A subscription as its owner sees it (the plaintext secret only when it is created)."""
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
    if secret is not None:
        view["secret"] = secret
    return view


class RefusedDestination(Exception):
    """The webhook URL's host is, or resolves to, an address subscribers may not be posted to."""


def parse_webhook_url(url: str) -> httpx.URL:
    """``url`` checked for form: http(s), a host, no credentials, a port that exists, no control characters (else
    422)."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ValidationFailed("The url must not contain spaces or control characters.")
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decodes an IDNA name: "xn--" alone is not one (a UnicodeError)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValidationFailed("The url is not a valid URL.") from exc
    if parsed.scheme not in ("http", "https") or not host or parsed.userinfo:
        raise ValidationFailed("The url must be an http or https URL with a host and no credentials.")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ValidationFailed("The url's port must be between 1 and 65535.")
    return parsed


def _public(address: IPAddress) -> bool:
    return not (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or not address.is_global
    )


def _listed(address: IPAddress, networks: list[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def destination_allowed(address: IPAddress, allowed: Iterable[IPNetwork]) -> bool:
    """Whether the gateway may post to ``address``: a public unicast address, or one in an allow-listed network.

    An IPv4-mapped address (``::ffff:10.0.0.1``) is the IPv4 address it carries. A 6to4 (``2002::/16``) or Teredo
    address reaches its IPv4 address through a relay, never on the gateway's own networks: it is public only when
    that address is (``2002:7f00:1::`` carries 127.0.0.1, ``2002:a9fe:a9fe::`` the metadata service), whatever
    the allow-list says of the IPv4 address. Deprecated site-local addresses (``fec0::/10``) are not public."""
    networks = list(allowed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if _listed(address, networks):
        return True
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.sixtofour or (address.teredo[1] if address.teredo is not None else None)
        if carried is not None and not _public(carried):
            return False
        if address.sixtofour is not None:
            return True  # a public IPv4 address behind it (Python 3.13 calls all of 2002::/16 private)
    return _public(address)


async def resolve_destination(url: httpx.URL, allowed: Iterable[IPNetwork]) -> list[IPAddress]:
    """The addresses ``url``'s host resolves to (every spelling of an IP literal is parsed by the resolver);
    :class:`RefusedDestination` when it does not resolve or any of them is not allowed."""
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise RefusedDestination("the host does not resolve") from exc
    networks = list(allowed)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not destination_allowed(address, networks):
            raise RefusedDestination("the host is, or resolves to, a non-public address")
        addresses.append(address)
    if not addresses:
        raise RefusedDestination("the host does not resolve")
    return addresses


async def subscribe(
    session: AsyncSession,
    decision: Decision,
    url: str,
    *,
    settings: Settings,
    data_keys: DataKeys,
    after: int | None = None,
) -> tuple[WebhookSubscription, str]:
    """Register ``url`` for the changes of ``decision.database`` after position ``after`` (by default, from
    now on), for the client, purpose and actor of ``decision``; the row and its plaintext secret (stored
    encrypted with the newest data key). The URL's host must resolve to public addresses
    (or to networks in ``webhook_allowed_networks``); a client holds at most ``webhook_max_subscriptions``."""
    parsed = parse_webhook_url(url)
    try:
        await resolve_destination(parsed, settings.webhook_allowed_networks)
    except RefusedDestination as exc:
        raise ValidationFailed(f"The url is refused: {exc}.") from exc
    held = (
        await session.exec(
            select(func.count())
            .select_from(WebhookSubscription)
            .where(col(WebhookSubscription.client_id) == decision.client_id)
        )
    ).one()
    if held >= settings.webhook_max_subscriptions:
        raise Conflict(
            f"This client already holds {held} webhook subscriptions, the most allowed "
            f"({settings.webhook_max_subscriptions}); end one first."
        )
    secret = new_secret()
    if after is None:
        after = await feed_end(session, decision.database)
    else:
        await check_cursor(session, decision.database, after)
    row = WebhookSubscription(
        id=str(uuid.uuid4()),
        client_id=decision.client_id,
        database_id=decision.database,
        url=url,
        secret=data_keys.encrypt(secret),
        purpose=decision.purpose,
        actor=decision.actor,
        position=after,
    )
    session.add(row)
    await session.commit()
    return row, secret


async def reencrypt_secrets(session: AsyncSession, data_keys: DataKeys, *, plaintext_only: bool = False) -> int:
    """Encrypt every stored secret again with the newest data key (or only those still in plaintext); how many
    rows changed. Each row is updated only if it still holds the value read, so processes may run it at once."""
    query = select(WebhookSubscription.id, WebhookSubscription.secret)
    if plaintext_only:
        query = query.where(col(WebhookSubscription.secret).not_like(f"{PREFIX}%"))
    rows = (await session.exec(query)).all()
    changed = 0
    for subscription_id, stored in rows:
        fresh = data_keys.reencrypt(stored)
        if fresh == stored:
            continue
        result = await session.exec(
            update(WebhookSubscription)
            .where(col(WebhookSubscription.id) == subscription_id, col(WebhookSubscription.secret) == stored)
            .values(secret=fresh)
        )
        changed += result.rowcount
    await session.commit()
    return changed


async def subscriptions_of(session: AsyncSession, client_id: str, database_id: str) -> list[WebhookSubscription]:
    """A client's subscriptions to one database."""
    found = await session.exec(
        select(WebhookSubscription)
        .where(col(WebhookSubscription.client_id) == client_id, col(WebhookSubscription.database_id) == database_id)
        .order_by(col(WebhookSubscription.created_at))
    )
    return list(found.all())


class WebhookSender(LeasedLoop):
    """Posts each subscription's pending changes while this process holds the webhook lease."""

    lease_name = LEASE
    task_name = "exchange-webhooks"
    part = "webhook"

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        access: AccessControl,
        data_keys: DataKeys,
        audit: AuditWriter | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(settings=settings, sessionmaker=sessionmaker)
        self.audit = audit
        self.data_keys = data_keys
        self.access = access
        # Made at the first delivery: a gateway without subscriptions never loads an HTTP stack for them.
        self._http = http

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # No proxy from the environment (HTTPS_PROXY, ALL_PROXY...): it would receive the posts, and the
            # personal data in them, and connect wherever it resolves the name, past the destination checks. The
            # CAs trusted stay those of the process (SSL_CERT_FILE or SSL_CERT_DIR, else the public ones).
            self._http = AsyncClient(
                timeout=self.settings.webhook_timeout_seconds,
                follow_redirects=False,
                trust_env=False,
                verify=ssl_context(None),
            )
        return self._http

    @property
    def tick_seconds(self) -> float:
        """``exchange_poll_seconds``: the wait after a round that found nothing to post."""
        return self.settings.exchange_poll_seconds

    async def close(self) -> None:
        """Stop, and hand the lease over."""
        await super().close()
        if self._http is not None:
            await self._http.aclose()

    async def _work(self) -> bool:
        return await self.run_once() > 0

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
        except Problem:
            await self._failed(subscription, "not-authorised")
            return 0
        page = await self._pending(subscription, decision)
        if page is None:
            return 0
        counter = metrics.WEBHOOK_DELIVERIES
        try:
            # Checked again before each post (the name may resolve elsewhere since it was subscribed), and the
            # post goes to the address checked, not to a second resolution of the name.
            url = httpx.URL(subscription.url)
            address = (await resolve_destination(url, self.settings.webhook_allowed_networks))[0]
        except (RefusedDestination, httpx.InvalidURL, ValueError):
            counter.labels(subscription.database_id, "error").inc()
            await self._failed(subscription, "refused-destination")
            return 0
        try:
            secret = self.data_keys.decrypt(subscription.secret)
        except DataKeyError:
            log.error("no data key decrypts the secret of a webhook subscription", subscription=subscription.id)
            await self._failed(subscription, "gateway-error")
            return 0
        body = orjson.dumps({"subscription": subscription.id, "database": subscription.database_id, **page})
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "axis-gateway-webhooks",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            "X-Axis-Subscription": subscription.id,
            "X-Axis-Delivery": str(uuid.uuid4()),
        }
        record_ids = tuple(dict.fromkeys(change["record_id"] for change in page["changes"]))
        headers["Host"] = url.netloc.decode("ascii")
        pinned = url.copy_with(host=str(address))
        error = await self._post(subscription, pinned, url.host, body, headers, record_ids)
        if error is not None:
            counter.labels(subscription.database_id, "error").inc()
            await self._failed(subscription, error)
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

    async def _moved(self, subscription: WebhookSubscription, position: int) -> None:
        """Move the subscription past changes its grant hides (nothing posted, so nothing else of it changes)."""
        async with self.sessionmaker() as session:
            row = await session.get(WebhookSubscription, subscription.id)
            if row is not None and row.position < position:
                row.position = position
                await session.commit()

    async def _pending(self, subscription: WebhookSubscription, decision: Decision) -> dict[str, Any] | None:
        """The next batch of changes after the subscription's cursor; ``None`` when there is none to post: no
        change, only changes its grant hides (the subscription's cursor then moves past them), or a cursor beyond
        the end of the feed (the subscription is then stopped)."""
        async with self.sessionmaker() as session:
            try:
                page = await read_changes(
                    session, subscription.database_id, after=subscription.position, limit=BATCH, decision=decision
                )
            except InvalidCursor:
                page = None
        if page is None:
            await self._failed(subscription, "cursor-beyond-feed")
            return None
        if not page["changes"]:
            if int(page["next_cursor"]) > subscription.position:
                await self._moved(subscription, int(page["next_cursor"]))
            return None
        return page

    async def _post(  # noqa: PLR0917 - one call site
        self,
        subscription: WebhookSubscription,
        url: httpx.URL,
        host: str,
        body: bytes,
        headers: dict[str, str],
        record_ids: tuple[str, ...],
    ) -> str | None:
        """Post one batch to ``url`` (the subscriber's, its host replaced by the address checked; ``host`` is
        the name, sent for TLS server name and certificate checks); ``None`` when answered 2xx, else the class
        of the failure. Audited either way."""
        began = time.perf_counter()
        status, error = 200, None
        try:
            response = await self._client().post(url, content=body, headers=headers, extensions={"sni_hostname": host})
        except httpx.TimeoutException:
            status, error = 504, "timeout"
        except httpx.HTTPError:
            status, error = 502, "connection-failed"
        else:
            if response.status_code == 410:
                status, error = 502, "gone"
            elif not 200 <= response.status_code < 300:
                status, error = 502, "non-2xx"
        await self._audit(
            subscription,
            delivery=headers["X-Axis-Delivery"],
            record_ids=record_ids,
            status=status,
            reason=error,
            latency_ms=round((time.perf_counter() - began) * 1000, 3),
            body=body,
        )
        return error

    async def _audit(
        self,
        subscription: WebhookSubscription,
        *,
        delivery: str,
        record_ids: tuple[str, ...],
        status: int,
        reason: str | None,
        latency_ms: float,
        body: bytes,
    ) -> None:
        """Record a post as an event of the subscribing client naming the records it carried (operation
        ``webhook``, the delivery id as request id, the SHA-256 of the body posted). A post whose answer was
        lost may still have reached the subscriber, so every attempt is recorded."""
        if self.audit is None:
            return
        await self.audit.append(
            PendingEvent(
                occurred_at=utcnow(),
                request_id=delivery,
                client_id=subscription.client_id,
                actor=subscription.actor,
                purpose=subscription.purpose,
                database=subscription.database_id,
                operation="webhook",
                record_ids=record_ids,
                outcome=outcome_of(status),
                status=status,
                reason=reason,
                latency_ms=latency_ms,
                response_sha256=hashlib.sha256(body).hexdigest(),
            )
        )

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
        """Record a failed delivery: retried after a backoff, or, for a :data:`STOPPING_ERRORS`, never again."""
        settings = self.settings
        stop = error in STOPPING_ERRORS
        async with self.sessionmaker() as session:
            row = await session.get(WebhookSubscription, subscription.id)
            if row is None:
                return
            row.failures += 1
            row.last_error = error
            if stop:
                row.active = False
            else:
                wait = backoff_seconds(
                    row.failures, settings.exchange_backoff_seconds, settings.exchange_backoff_max_seconds
                )
                row.next_attempt_at = utcnow() + timedelta(seconds=wait)
            await session.commit()
        if stop:
            log.warning("webhook subscription stopped", subscription=subscription.id, error=error)
        else:
            log.warning("webhook delivery failed", subscription=subscription.id, error=error)
