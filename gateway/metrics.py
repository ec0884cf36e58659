"""Every Prometheus metric of the gateway, in one place.

Names follow ``gateway_<subsystem>_<name>_<unit>``; counters end in ``_total``. Label values come from
configuration and route templates, never from request input, so label sets stay bounded. Hot paths use the
pre-bound children returned by the helpers below instead of calling ``.labels()`` per request.
"""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import Counter, Histogram

# 1 ms .. 10 s
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "gateway_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "gateway_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
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
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_REQUEST_DURATION = Histogram(
    "gateway_upstream_request_duration_seconds",
    "Time spent waiting for the sector system, by database.",
    ["database"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total",
    "Failed calls to sector systems, by database and reason "
    "(timeout, connect, protocol, status_5xx, contract_violation).",
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
AUDIT_SEALS = Counter(
    "gateway_audit_seals_total",
    "Seals (signatures of the audit chain head) written by this process.",
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
    "invalid_client",
    "unknown_issuer",
    "wrong_audience",
    "invalid_assertion",
    "replayed_assertion",
)
JWKS_FETCH_OUTCOMES = ("ok", "error")
UPSTREAM_ERROR_REASONS = ("timeout", "connect", "protocol", "status_5xx", "contract_violation")


@lru_cache(maxsize=4096)
def http_children(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """Pre-bound HTTP request metrics for one (method, route template, status)."""
    labels = (method, route, str(status))
    return HTTP_REQUESTS.labels(*labels), HTTP_REQUEST_DURATION.labels(*labels)


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


def declare_database(database: str, operations: tuple[str, ...]) -> None:
    """Create the series of a configured database at zero, so that rates and alerts see it from the start."""
    upstream_duration(database)
    for reason in UPSTREAM_ERROR_REASONS:
        UPSTREAM_ERRORS.labels(database, reason)
    for operation in operations:
        REQUEST_DURATION.labels(database, operation)


def declare_static() -> None:
    """Create the label-free and fixed-label series at zero."""
    for reason in AUTH_FAILURE_REASONS:
        AUTH_FAILURES.labels(reason)


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
