"""Every Prometheus metric of the gateway, in one place.

Names follow ``gateway_<subsystem>_<name>_<unit>``; counters end in ``_total``. Label values come from
configuration and route templates, never from request input, so label sets stay bounded. Hot paths use the
pre-bound children returned by the helpers below instead of calling ``.labels()`` per request.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from prometheus_client import (
    GC_COLLECTOR,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

# No ``*_created`` series: one per counter and histogram child, a third of the samples, read by no query of ours.
disable_created_metrics()  # type: ignore[no-untyped-call]
# No ``python_gc_*`` series (nine, read by no query of ours); the ``process_*`` ones stay, as everywhere.
REGISTRY.unregister(GC_COLLECTOR)

# 5 ms .. 10 s (Prometheus's default buckets), for the gateway's own routes and the exchange's deliveries: finer
# resolution below 5 ms is not worth its series; each histogram child costs 14 samples (11 buckets, +Inf, sum, count).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The data requests and the sector systems' answers, one histogram child per database (and operation): 10 ms .. 5 s,
#: with boundaries at the thresholds read from them: 1 s (a connection's default ``degraded_latency_seconds``), 2 s
#: (``AxisHighLatency``: p99 over 2 s) and 5 s (a connector's default ``timeout_seconds``; a bucket above the alert's
#: threshold, or its quantile could never exceed it). Each child costs 11 samples.
DATA_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

HTTP_REQUESTS = Counter(
    "gateway_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "gateway_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template; not for the data routes of the national "
    "databases, timed by gateway_request_duration_seconds (by database and operation). The status code is on the "
    "counter only.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
REQUESTS = Counter(
    "gateway_requests_total",
    "Data requests to national databases, by database, operation and HTTP status code.",
    ["database", "operation", "code"],
)
REQUEST_DURATION = Histogram(
    "gateway_request_duration_seconds",
    "Time to serve a data request, by database and operation.",
    ["database", "operation"],
    buckets=DATA_LATENCY_BUCKETS,
)
UPSTREAM_REQUEST_DURATION = Histogram(
    "gateway_upstream_request_duration_seconds",
    "Time spent waiting for the sector system, by database.",
    ["database"],
    buckets=DATA_LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total",
    "Failed calls to sector systems, by database and reason "
    "(timeout, connect, rate_limited, protocol, status_5xx, contract_violation, refused, connector_error); "
    "contract_violation also counts each "
    "record a search page left out because it breaks the contract.",
    ["database", "reason"],
)
AUTH_FAILURES = Counter(
    "gateway_auth_failures_total",
    "Refused credentials and tokens, by reason.",
    ["reason"],
)
TOKENS_ISSUED = Counter(
    "gateway_tokens_issued_total",
    "Access tokens issued by the token endpoint.",
)
JWKS_FETCHES = Counter(
    "gateway_jwks_fetches_total",
    "Fetches of a trusted external issuer's key set (JWKS), by configured issuer and outcome (ok, error).",
    ["issuer", "outcome"],
)

SHARED_STATE_READ_FAILURES = Counter(
    "gateway_shared_state_read_failures_total",
    "Scrapes of /metrics for which the state shared through the gateway's database could not be read (the database "
    "unreachable or broken): the axis, audit, exchange and quality gauges keep their last values meanwhile.",
)

AUDIT_EVENTS = Counter(
    "gateway_audit_events_total",
    "Exchanges committed to the audit trail, by outcome (allowed, refused, failed).",
    ["outcome"],
)
AUDIT_WRITE_FAILURES = Counter(
    "gateway_audit_write_failures_total",
    "Exchanges whose audit event could not be committed; each was answered 503 instead.",
)
AUDIT_BATCH_EVENTS = Histogram(
    "gateway_audit_batch_events",
    "Events appended to the audit trail per transaction (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
AUDIT_CHAIN_ALTERED = Gauge(
    "gateway_audit_chain_altered",
    "1 once this process's audit writer found the chain no longer holding the events it wrote (cut or rewritten in "
    "the database behind its back; it seals no more), else 0; back to 0 only when the process restarts.",
    multiprocess_mode="livemax",
)
SERVING = Gauge(
    "gateway_serving_info",
    "1 for what this process serves: `settings`, a digest of its settings (keyed with the secret pepper, so it "
    "reveals none of them; where it listens and how it logs left out), and `databases`, the databases it loaded. "
    "Replicas of one gateway export one value of each; two values for longer than a rollout mean replicas that "
    "answer differently (alert AxisReplicasDisagree).",
    ["settings", "databases"],
    multiprocess_mode="livemax",
)
AUDIT_SEALS = Counter(
    "gateway_audit_seals_total",
    "Seals (signatures of the audit chain head) written by this process.",
)

HTTP_HEADS_REFUSED = Counter(
    "gateway_http_heads_refused_total",
    "Connections closed because of their request head: timeout (408: not complete in time), too_many_headers "
    "or too_large (431).",
    ["reason"],
)
HTTP_HEAD_REFUSALS = ("timeout", "too_many_headers", "too_large")

EXCHANGE_OPERATIONS = Counter(
    "gateway_exchange_operations_total",
    "Submitted operations by database and outcome: accepted or rejected at intake; delivered (applied by the "
    "sector system), duplicate (recognised there as applied before), retried, dead_lettered.",
    ["database", "outcome"],
)
EXCHANGE_DELIVERY_DURATION = Histogram(
    "gateway_exchange_delivery_duration_seconds",
    "Time of one delivery of an operation to its sector system, by database.",
    ["database"],
    buckets=LATENCY_BUCKETS,
)
EXCHANGE_PAYLOADS_ERASED = Counter(
    "gateway_exchange_payloads_erased_total",
    "Submitted operations whose field values were erased once their retention ended, by database.",
    ["database"],
)
EXCHANGE_QUALITY = Counter(
    "gateway_exchange_quality_total",
    "Submitted operations breaking a data-quality rule set to flag or refuse, by database and outcome: flagged "
    "(accepted, the findings on the receipt) or refused (the submission answered 422, nothing stored). Series "
    "appear with their first count.",
    ["database", "outcome"],
)
EXCHANGE_QUEUE_FULL = Counter(
    "gateway_exchange_queue_full_total",
    "Submissions refused whole (429 exchange-queue-full) because they would have left their client with more "
    "operations waiting for delivery to the database than one client may have (GATEWAY_EXCHANGE_CLIENT_QUEUE_MAX), "
    "by database and client (clients come from configuration). Series appear with their first count.",
    ["database", "client"],
)
EXCHANGE_OUTCOMES = ("accepted", "rejected", "delivered", "duplicate", "retried", "dead_lettered")
EXCHANGE_QUEUE_STATES = ("pending", "delivering", "dead")
WEBHOOK_DELIVERIES = Counter(
    "gateway_webhook_deliveries_total",
    "Posts of change-feed batches to webhook subscribers, by database and outcome (ok, error).",
    ["database", "outcome"],
)

AUTH_FAILURE_REASONS = (
    "missing",
    "malformed",
    "unknown_kid",
    "bad_algorithm",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "bad_claims",
    "unknown_client",
    "client_inactive",
    "credential_revoked",
    "invalid_client",
    "unknown_issuer",
    "wrong_audience",
    "invalid_assertion",
    "replayed_assertion",
    "locked_client",
    "locked_address",
)
JWKS_FETCH_OUTCOMES = ("ok", "error")
UPSTREAM_ERROR_REASONS = (
    "timeout",
    "connect",
    "rate_limited",
    "protocol",
    "status_5xx",
    "contract_violation",
    "refused",
    "connector_error",
)


@lru_cache(maxsize=4096)
def http_counter(method: str, route: str, status: int) -> Counter:
    """The pre-bound HTTP request counter of one (method, route template, status)."""
    return HTTP_REQUESTS.labels(method, route, str(status))


@lru_cache(maxsize=4096)
def http_duration(method: str, route: str) -> Histogram:
    """The pre-bound HTTP latency histogram of one (method, route template): every status together."""
    return HTTP_REQUEST_DURATION.labels(method, route)


@lru_cache(maxsize=4096)
def request_children(database: str, operation: str, code: int) -> tuple[Counter, Histogram]:
    """Pre-bound data-request metrics for one (database, operation, status code)."""
    return (
        REQUESTS.labels(database, operation, str(code)),
        REQUEST_DURATION.labels(database, operation),
    )


@lru_cache(maxsize=1024)
def upstream_duration(database: str) -> Histogram:
    """The pre-bound upstream latency histogram of one database."""
    return UPSTREAM_REQUEST_DURATION.labels(database)


def declare_database(database: str) -> None:
    """Create the upstream latency series of a configured database at zero.

    Only that: its request latency (per operation) and failure reasons appear with their first request or error.
    No alert counts on seeing their first increment: ``AxisHighLatency`` and ``AxisHighErrorRatio`` need minutes of
    slow or failing requests, and pre-declaring every (operation) and (reason) cost 14 series and 6 per database
    served (docs/metrics.md).
    """
    upstream_duration(database)


def declare_static() -> None:
    """Create the label-free and fixed-label series at zero."""
    for reason in AUTH_FAILURE_REASONS:
        AUTH_FAILURES.labels(reason)
    for reason in HTTP_HEAD_REFUSALS:
        HTTP_HEADS_REFUSED.labels(reason)


def declare_serving(settings_digest: str, databases: Iterable[str]) -> None:
    """Export what this process serves (:data:`SERVING`): one series, replacing any it exported before."""
    SERVING.clear()
    SERVING.labels(settings_digest, ",".join(sorted(databases))).set(1)


def declare_issuer(issuer: str) -> None:
    """Create a configured trusted issuer's key-set fetch series at zero."""
    for outcome in JWKS_FETCH_OUTCOMES:
        JWKS_FETCHES.labels(issuer, outcome)


AUDIT_OUTCOMES = ("allowed", "refused", "failed")


def declare_audit() -> None:
    """Create the audit trail's outcome series at zero."""
    for outcome in AUDIT_OUTCOMES:
        AUDIT_EVENTS.labels(outcome)


RATE_LIMITED = Counter(
    "gateway_rate_limited_total",
    "Requests refused (429) by a client's rate limit, by client id (clients come from configuration).",
    ["client"],
)
RATE_LIMIT_STORE_ERRORS = Counter(
    "gateway_rate_limit_store_errors_total",
    "Requests for which the rate-limit store (Redis) could not be reached.",
)


@lru_cache(maxsize=4096)
def rate_limited(client_id: str) -> Counter:
    """The pre-bound refusal counter of one client; its series exists at zero from the client's first request."""
    return RATE_LIMITED.labels(client_id)


CIRCUIT_STATE = Gauge(
    "gateway_circuit_state",
    "Circuit breaker of each database's connection: 0 closed, 1 half-open, 2 open (the worst of the live workers).",
    ["database"],
    multiprocess_mode="livemax",
)
#: Coarser than :data:`LATENCY_BUCKETS`: a check every 15 s needs no millisecond resolution (1 s: the default
#: ``degraded_latency_seconds``).
HEALTH_CHECK_BUCKETS = (0.01, 0.05, 0.25, 1.0, 5.0)
HEALTH_CHECK_DURATION = Histogram(
    "gateway_health_check_duration_seconds",
    "Time of one active health check of a database's sector system (failed ones included).",
    ["database"],
    buckets=HEALTH_CHECK_BUCKETS,
)
HEALTH_CHECK_FAILURES = Counter(
    "gateway_health_check_failures_total",
    "Failed health checks, by database and reason (timeout, connect, rate_limited, protocol, status_5xx, "
    "contract_violation, refused, connector_error, canary_missing, down, error).",
    ["database", "reason"],
)
HEALTH_CHECK_FAILURE_REASONS = (*UPSTREAM_ERROR_REASONS, "canary_missing", "down", "error")


@lru_cache(maxsize=1024)
def circuit_state(database: str) -> Gauge:
    """The pre-bound circuit-state gauge of one database."""
    return CIRCUIT_STATE.labels(database)


def declare_health(database: str) -> None:
    """Create a checked database's health-check latency series at zero; its failure reasons appear with their first
    failure (no alert counts them: ``AxisDatabaseDown`` reads the state, and every failed check is in the database's
    check history)."""
    HEALTH_CHECK_DURATION.labels(database)


@lru_cache(maxsize=1024)
def exchange_outcomes(database: str) -> dict[str, Counter]:
    """The pre-bound exchange-outcome counters of one database, by outcome."""
    return {outcome: EXCHANGE_OPERATIONS.labels(database, outcome) for outcome in EXCHANGE_OUTCOMES}


@lru_cache(maxsize=1024)
def exchange_delivery(database: str) -> Histogram:
    """The pre-bound delivery-duration histogram of one database."""
    return EXCHANGE_DELIVERY_DURATION.labels(database)


def declare_exchange(database: str) -> None:
    """Create a database's exchange series at zero."""
    exchange_outcomes(database)
    exchange_delivery(database)
    EXCHANGE_PAYLOADS_ERASED.labels(database)
    for outcome in ("ok", "error"):
        WEBHOOK_DELIVERIES.labels(database, outcome)


@dataclass(frozen=True, slots=True)
class OpsSnapshot:
    """State shared by every gateway process through the database, exported by whichever process is scraped.

    ``states``: catalogue id -> connection state (every catalogue entry); ``states_all``: the possible states;
    ``last_success``: catalogue id -> Unix time of the last good health check; ``last_answered``: of the last real
    call answered well (any process); ``audit_verified``: the outcome of
    the last verification of the audit chain (``None``: never verified) and ``audit_good_at`` when it last
    verified good; expiry times of the active signing keys and of the clients' registered certificates.
    """

    states: dict[str, str]
    states_all: tuple[str, ...]
    up_states: frozenset[str]
    connected_target: int
    last_success: dict[str, float] = field(default_factory=dict)
    last_answered: dict[str, float] = field(default_factory=dict)
    audit_verified: bool | None = None
    audit_good_at: float | None = None
    signing_key_expiry: dict[str, float] = field(default_factory=dict)
    certificate_expiry: dict[tuple[str, str], float] = field(default_factory=dict)
    exchange_databases: tuple[str, ...] = ()
    exchange_depth: dict[tuple[str, str], int] = field(default_factory=dict)
    exchange_oldest_pending: dict[str, float] = field(default_factory=dict)


class OpsCollector(Collector):
    """Exports the :class:`OpsSnapshot` set by the running gateway: the axis gauges, audit-chain and key expiry.

    These values live in the shared database, so every worker exports the same ones and nothing is counted twice.
    """

    def __init__(self) -> None:
        self.snapshot: OpsSnapshot | None = None

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        by_state = GaugeMetricFamily(
            "gateway_axis_databases", "Catalogued national databases in each connection state.", labels=["state"]
        )
        for state in snap.states_all:
            by_state.add_metric([state], sum(1 for value in snap.states.values() if value == state))
        yield by_state
        up = GaugeMetricFamily(
            "gateway_axis_database_up",
            "1 when the database is connected through the axis (connected or degraded), else 0.",
            labels=["database"],
        )
        current = GaugeMetricFamily(
            "gateway_axis_database_state",
            "1 for the current connection state of each catalogued database, 0 for the others.",
            labels=["database", "state"],
        )
        for database, state in sorted(snap.states.items()):
            up.add_metric([database], 1.0 if state in snap.up_states else 0.0)
            for candidate in snap.states_all:
                current.add_metric([database, candidate], 1.0 if candidate == state else 0.0)
        yield up
        yield current
        yield GaugeMetricFamily(
            "gateway_axis_connected_target",
            "How many catalogued databases the province's plan says must be connected.",
            value=snap.connected_target,
        )
        last = GaugeMetricFamily(
            "gateway_health_check_last_success_timestamp_seconds",
            "Unix time of the last successful health check of each database.",
            labels=["database"],
        )
        for database, timestamp in sorted(snap.last_success.items()):
            last.add_metric([database], timestamp)
        yield last
        answered = GaugeMetricFamily(
            "gateway_axis_last_answered_timestamp_seconds",
            "Unix time of the last real call through the gateway that the database's sector system answered well "
            "(any gateway process; not a failure, no record breaking the contract).",
            labels=["database"],
        )
        for database, timestamp in sorted(snap.last_answered.items()):
            answered.add_metric([database], timestamp)
        yield answered
        if snap.audit_verified is not None:
            yield GaugeMetricFamily(
                "gateway_audit_chain_verified",
                "1 when the last verification of the whole audit chain found it intact, 0 when it found a bad event.",
                value=1.0 if snap.audit_verified else 0.0,
            )
        if snap.audit_good_at is not None:
            yield GaugeMetricFamily(
                "gateway_audit_chain_last_verified_timestamp_seconds",
                "Unix time of the last verification that found the audit chain intact.",
                value=snap.audit_good_at,
            )
        keys = GaugeMetricFamily(
            "gateway_signing_key_expiry_timestamp_seconds",
            "Unix time by which the gateway's active signing key must be rotated (signing_key_max_age_days).",
            labels=["kid"],
        )
        for kid, timestamp in sorted(snap.signing_key_expiry.items()):
            keys.add_metric([kid], timestamp)
        yield keys
        certificates = GaugeMetricFamily(
            "gateway_client_certificate_expiry_timestamp_seconds",
            "Unix time at which a client's registered certificate expires (notAfter).",
            labels=["client", "kid"],
        )
        for (client, kid), timestamp in sorted(snap.certificate_expiry.items()):
            certificates.add_metric([client, kid], timestamp)
        yield certificates
        yield from _exchange_families(snap)


def _exchange_families(snap: OpsSnapshot) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "gateway_exchange_queue_depth",
        "Submitted operations not delivered yet, by database and state (pending, delivering, dead).",
        labels=["database", "state"],
    )
    oldest = GaugeMetricFamily(
        "gateway_exchange_oldest_pending_age_seconds",
        "Age of the oldest operation still waiting for delivery (pending or delivering), by database; 0 if none.",
        labels=["database"],
    )
    for database in snap.exchange_databases:
        for state in EXCHANGE_QUEUE_STATES:
            depth.add_metric([database, state], snap.exchange_depth.get((database, state), 0))
        oldest.add_metric([database], snap.exchange_oldest_pending.get(database, 0.0))
    yield depth
    yield oldest


OPS = OpsCollector()
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def process_exiting() -> None:
    """In multiprocess mode, drop this process's live gauges (circuit states) from what the others export."""
    if MULTIPROCESS:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _exposition_registry() -> CollectorRegistry:
    if not MULTIPROCESS:
        REGISTRY.register(OPS)
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(OPS)
    return registry


#: What ``/metrics`` exposes: this process's metrics, or every worker's in multiprocess mode, and the shared state.
EXPOSITION = _exposition_registry()


# --- data quality ----------------------------------------------------------------------------------------------------

QUALITY_DIMENSIONS = ("correct", "complete", "clean", "live")
QUALITY_SOURCES = ("scan", "submitted")
QUALITY_RESULTS = ("passed", "failed")


@dataclass(frozen=True, slots=True)
class QualitySnapshot:
    """Data-quality counts shared by every gateway process through the database.

    ``counts``: (database, source, dimension) -> (records checked, records failed); ``served``: the databases this
    gateway serves, whose scan series are exported even before anything was counted (zero records, an unknown
    ratio); ``submitting``: those of them that accept submissions, whose submitted series are too; ``scannable``:
    those whose connector can sample its records for a scan; ``last_scan``: database -> Unix time of its last scan.
    """

    counts: dict[tuple[str, str, str], tuple[int, int]]
    served: tuple[str, ...] = ()
    submitting: tuple[str, ...] = ()
    scannable: tuple[str, ...] = ()
    last_scan: dict[str, float] = field(default_factory=dict)


class QualityCollector(Collector):
    """Exports the :class:`QualitySnapshot` set by the running gateway: the share of records passing each
    dimension of data quality, per database and source, and the counts behind it."""

    def __init__(self) -> None:
        self.snapshot: QualitySnapshot | None = None

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        counts = dict(snap.counts)
        for source, databases in (("scan", snap.served), ("submitted", snap.submitting)):
            for database in databases:
                for dimension in QUALITY_DIMENSIONS:
                    counts.setdefault((database, source, dimension), (0, 0))
        ratio = GaugeMetricFamily(
            "gateway_data_quality_ratio",
            "Share of the checked records that pass every rule of a data-quality dimension (correct, complete, clean, "
            "live), by database and source (scan, submitted); NaN before any record was checked.",
            labels=["database", "dimension", "source"],
        )
        records = GaugeMetricFamily(
            "gateway_data_quality_records",
            "Records checked for a data-quality dimension, by database, source and result (passed, failed).",
            labels=["database", "dimension", "source", "result"],
        )
        for (database, source, dimension), (checked, failed) in sorted(counts.items()):
            ratio.add_metric([database, dimension, source], (checked - failed) / checked if checked else math.nan)
            records.add_metric([database, dimension, source, "passed"], checked - failed)
            records.add_metric([database, dimension, source, "failed"], failed)
        yield ratio
        yield records
        scans = GaugeMetricFamily(
            "gateway_data_quality_last_scan_timestamp_seconds",
            "Unix time of the last data-quality scan of each database.",
            labels=["database"],
        )
        for database, timestamp in sorted(snap.last_scan.items()):
            scans.add_metric([database], timestamp)
        yield scans
        scannable = GaugeMetricFamily(
            "gateway_data_quality_scannable",
            "1 when the connector of a served database can sample its records for a data-quality scan, 0 when it "
            "cannot (its configuration declares no listing to sample): `gateway quality scan --all` skips it.",
            labels=["database"],
        )
        for database in snap.served:
            scannable.add_metric([database], 1 if database in snap.scannable else 0)
        yield scannable


QUALITY = QualityCollector()
EXPOSITION.register(QUALITY)
