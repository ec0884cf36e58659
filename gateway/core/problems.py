"""Errors of the gateway and their RFC 9457 ``application/problem+json`` form.

Every error the gateway answers with is a :class:`Problem` subclass; each kind has a stable ``type`` URI
(``/problems/<slug>``, documented at that address by the gateway itself). Connector errors are mapped here,
in one place, and nothing else builds error responses. :mod:`gateway.http.problem_handlers` turns every error
raised while answering a request into its problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import orjson
from starlette.responses import Response
from starlette.types import Scope

from connectors import errors as ce
from gateway.core.i18n import DEFAULT_LANGUAGE, language_of, localize_extensions, localize_problem

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"


class Problem(Exception):
    """An error answered as problem details. Subclasses set ``status``, ``slug`` and ``title``."""

    status: int = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    description: ClassVar[str] = "The gateway failed; the request id identifies the event in its logs."
    #: Statuses other than ``status`` that this kind of problem may be answered with.
    other_statuses: ClassVar[tuple[int, ...]] = ()

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        if status is not None:
            self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions

    @classmethod
    def type_uri(cls) -> str:
        """The stable ``type`` URI of this kind of problem."""
        return PROBLEM_BASE + cls.slug

    @classmethod
    def statuses(cls) -> list[int]:
        """Every HTTP status this kind of problem may be answered with."""
        return sorted({cls.status, *cls.other_statuses})

    def body(self, instance: str | None = None, *, language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
        """The problem details object; ``title`` and ``detail`` in ``language`` (see :mod:`gateway.core.i18n`)."""
        title, detail = localize_problem(self.slug, self.title, self.detail, language)
        body: dict[str, Any] = {"type": self.type_uri(), "title": title, "status": self.status}
        if detail:
            body["detail"] = detail
        if instance:
            body["instance"] = instance
        body.update(localize_extensions(self.extensions, language))
        return body


class BadRequest(Problem):
    status, slug, title = 400, "bad-request", "Bad request"
    description = "The request is malformed."


class MalformedJson(BadRequest):
    slug, title = "malformed-json", "Malformed JSON"
    description = "The request body is not valid JSON."


class InvalidCursor(BadRequest):
    slug, title = "invalid-cursor", "Invalid cursor"
    description = "The cursor was not issued by this gateway for this search; start again without one."


class UnsupportedQuery(BadRequest):
    slug, title = "unsupported-query", "Unsupported query"
    description = "The database cannot run this combination of search fields."


class ValidationFailed(Problem):
    status, slug, title = 422, "validation-error", "Validation error"
    description = "The request is well-formed but some values are invalid; `errors` lists them."


class InvalidToken(Problem):
    status, slug, title = 401, "invalid-token", "Invalid token"
    description = "The bearer token is missing, malformed, expired, not yet valid, or not signed by a trusted key."

    def __init__(self, reason: str = "invalid") -> None:
        super().__init__(
            "The access token is missing or invalid.",
            headers={"WWW-Authenticate": 'Bearer realm="axis-gateway", error="invalid_token"'},
        )
        self.reason = reason


class InsufficientScope(Problem):
    status, slug, title = 403, "insufficient-scope", "Insufficient scope"
    description = "The token is valid but does not carry the scope this operation needs."

    def __init__(self, required: Sequence[str]) -> None:
        scope = " ".join(required)
        super().__init__(
            f"This operation needs the scope {scope!r}.",
            headers={"WWW-Authenticate": f'Bearer realm="axis-gateway", error="insufficient_scope", scope="{scope}"'},
            required_scope=scope,
        )


class BadHeader(BadRequest):
    slug, title = "bad-header", "Missing or malformed header"
    description = "A header the grant requires (X-Purpose, X-Actor-Id) is missing or malformed; `header` names it."

    def __init__(self, detail: str, *, header: str) -> None:
        super().__init__(detail, header=header)


class AccessDenied(Problem):
    status, slug, title = 403, "access-denied", "Access denied"
    description = (
        "No grant in force allows this operation on this database for this purpose, or the request uses fields "
        "the grant does not cover (a submitted operation: writes them, or deletes a record without the right to)."
    )


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"
    description = "There is no resource at this address."


class RecordNotFound(NotFound):
    slug, title = "record-not-found", "Record not found"
    description = "The database holds no record with this key."


class UnknownContract(NotFound):
    slug, title = "unknown-contract", "Unknown contract"
    description = "No contract (or contract version) of this name is known."


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"
    description = "The request conflicts with what already exists, such as a client id that is taken."


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"
    description = "The resource exists but does not accept this method."


class OperationNotSupported(MethodNotAllowed):
    slug, title = "operation-not-supported", "Operation not supported"
    description = "The database's connector does not offer this operation."


class OAuthError(Problem):
    """An OAuth 2.0 token endpoint error (RFC 6749 section 5.2); the ``error`` member carries its code."""

    status, slug, title = 400, "oauth-error", "OAuth error"
    description = (
        "The token request was refused; `error` holds the OAuth 2.0 error code "
        "(401 for `invalid_client`, 400 otherwise)."
    )
    other_statuses = (401,)

    def __init__(
        self,
        error: str,
        detail: str,
        *,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(detail, headers=headers, status=status, error=error, error_description=detail)
        self.reason = reason


class UpstreamFailed(Problem):
    status, slug, title = 502, "upstream-error", "Sector system error"
    description = "The sector system answered with an error or with something that is not valid."


class ContractViolation(UpstreamFailed):
    slug, title = "contract-violation", "Contract violation"
    description = "The sector system returned data that fails the contract; it was not passed on."


class UpstreamRefused(UpstreamFailed):
    slug, title = "upstream-refused", "Refused by the integration platform"
    description = (
        "The integration platform the database is reached through (the national axis NDXP, the province's LGSP) "
        "refused the gateway's call: it did not issue or accept the gateway's token, or it refused the request's "
        "metadata (a missing public-service procedure code, agency or officer: send `X-Purpose` and "
        "`X-Actor-Id`). The same request will be refused again until the connection or the request changes."
    )


class UpstreamUnavailable(Problem):
    status, slug, title = 503, "upstream-unavailable", "Sector system unavailable"
    description = "The sector system behind this database cannot be reached. Try again later."


class CircuitOpen(Problem):
    status, slug, title = 503, "circuit-open", "Circuit open"
    description = (
        "The sector system behind this database has been failing, so the gateway refuses requests to it at once "
        "for a while (circuit breaker) instead of making callers wait. Retry after `Retry-After` seconds."
    )


class UpstreamTimeout(Problem):
    status, slug, title = 504, "upstream-timeout", "Sector system timeout"
    description = "The sector system did not answer within the deadline."


class HttpError(Problem):
    status, slug, title = 400, "http-error", "HTTP error"
    description = "An HTTP-level error without a more specific type, such as an unreadable form body."


class AuditUnavailable(Problem):
    status, slug, title = 503, "audit-unavailable", "Audit trail unavailable"
    description = (
        "The exchange could not be recorded in the audit trail, so its answer was withheld: no data leaves the "
        "gateway unaudited. Try again later."
    )

    def __init__(self) -> None:
        super().__init__(
            "The audit trail cannot be written right now, so the answer was withheld. Try again later.",
            headers={"Retry-After": "5"},
        )


class ChangeNotRecorded(AuditUnavailable):
    """An administrator's change whose audit event could not be appended: it was not made."""

    def __init__(self) -> None:
        super(AuditUnavailable, self).__init__(  # its own detail, not AuditUnavailable's
            "The audit trail cannot be written right now, so the change was not made. Try again later.",
            headers={"Retry-After": "5"},
        )


class ExchangeUnavailable(Problem):
    status, slug, title = 503, "exchange-unavailable", "Submissions cannot be stored"
    description = (
        "The gateway could not complete the submission: its database, where operations, receipts and the audit "
        "trail are kept, failed or cannot be reached. Nothing is accepted by this answer. Send the same request "
        "again, with the same `Idempotency-Key`, later: operations are stored at most once, and a retry of a "
        "submission that was stored after all is answered with its receipt."
    )

    def __init__(self) -> None:
        super().__init__(
            "The submission could not be completed, so nothing was accepted by this answer. Retry with the same "
            "Idempotency-Key.",
            headers={"Retry-After": "5"},
        )


class ExchangeQueueFull(Problem):
    status, slug, title = 429, "exchange-queue-full", "Too many operations waiting for delivery"
    description = (
        "The submission would leave the client with more operations waiting for delivery to this database "
        "(accepted, not yet taken for delivery) than one client may have "
        "(`GATEWAY_EXCHANGE_CLIENT_QUEUE_MAX`), so that its backlog does not hold back the other clients' "
        "submissions: `unfinished` is how many of its operations wait, `limit` the bound, `submitted` how many "
        "this submission would have added. Nothing was stored. Send the same request again, with the same "
        "`Idempotency-Key`, after `Retry-After` seconds: as the sector system takes the earlier operations (their "
        "receipts show it), room is made."
    )

    def __init__(self, *, database: str, unfinished: int, limit: int, submitted: int) -> None:
        super().__init__(
            f"{unfinished} operations of this client are still waiting for delivery to {database}, and at most "
            f"{limit} may wait: the {submitted} of this submission do not fit. Nothing was stored; submit again "
            "after Retry-After seconds.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            unfinished=unfinished,
            limit=limit,
            submitted=submitted,
        )


class IdempotencyKeyReused(Problem):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency key reused"
    description = (
        "The `Idempotency-Key` was already used by this client for a different request to this database; a "
        "repetition must carry the same operations. Use a new key for a new submission."
    )


class SubmissionRejected(Problem):
    status, slug, title = 422, "submission-rejected", "Submission rejected"
    description = (
        "No operation of the submission could be accepted; `rejected` gives each one's problem (invalid for "
        "the contract, fields outside the grant...). Nothing was stored."
    )


class QualityRefused(Problem):
    status, slug, title = 422, "quality-refused", "Refused for data quality"
    description = (
        "An operation of the submission breaks a data-quality rule this database refuses (a name not normalised, a "
        "date of death before the date of birth...): `rule` and `field` name the first, `findings` lists "
        "each operation, rule, field and finding. Nothing was stored; correct the records and submit again."
    )


class NotReady(Problem):
    status, slug, title = 503, "not-ready", "Not ready"
    description = (
        "The gateway cannot serve requests now: a store it needs (its database, Redis for a rate limiter failing "
        "closed) is unreachable, or no connector loaded (`/readyz`: `checks` says which), or its database could "
        "not be reached while answering. Try again later."
    )


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"
    description = "The request body is not of the media type the operation takes: JSON (application/json)."


class ContentTooLarge(Problem):
    status, slug, title = 413, "content-too-large", "Content too large"
    description = "The request body is larger than the gateway accepts; `max_bytes` gives the limit."

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The request body exceeds {max_bytes} bytes.", max_bytes=max_bytes)


class HeaderFieldsTooLarge(Problem):
    status, slug, title = 431, "header-fields-too-large", "Request header fields too large"
    description = (
        "The request's head (request line and headers) has more header lines or more bytes than the gateway "
        "accepts (`GATEWAY_MAX_HEADER_COUNT`, `GATEWAY_MAX_HEADER_BYTES`); the connection is closed."
    )


class RequestTimeout(Problem):
    status, slug, title = 408, "request-timeout", "Request timeout"
    description = (
        "The request's headers did not arrive within `GATEWAY_HEADER_READ_TIMEOUT_SECONDS` of the connection's "
        "start (or of the request's first byte on a kept-alive connection); the connection is closed."
    )


class RateLimited(Problem):
    status, slug, title = 429, "rate-limited", "Too many requests"
    description = (
        "The client has used up its requests for now (per second or per day). Retry after `Retry-After` "
        "seconds; the `RateLimit-*` headers, on every answer, describe the client's limits."
    )


class TooManyFailures(RateLimited):
    slug, title = "too-many-failures", "Too many failed authentications"
    description = (
        "Token requests claiming this client id, or coming from this address, have failed too often in the last "
        "minutes; they are refused, before their credentials are checked, until `Retry-After` seconds have "
        "passed. Failures against one client id do not stop other clients."
    )

    def __init__(self, detail: str, *, headers: Mapping[str, str], reason: str) -> None:
        super().__init__(detail, headers=headers)
        self.reason = reason


class RateLimitUnavailable(Problem):
    status, slug, title = 503, "rate-limit-unavailable", "Rate limiting unavailable"
    description = (
        "The store that counts clients' requests cannot be reached, and the gateway does not serve requests it "
        "cannot count. Try again later."
    )


class DeadlineExceeded(Problem):
    status, slug, title = 504, "deadline-exceeded", "Deadline exceeded"
    description = "The gateway could not answer within its per-request deadline; the work was cancelled."


def _all_problem_types() -> list[type[Problem]]:
    seen: list[type[Problem]] = []
    stack: list[type[Problem]] = [Problem]
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: c.slug)


#: Every problem type by slug; a variant with a detail of its own (a subclass keeping its parent's slug) is its
#: parent's type.
PROBLEM_TYPES: dict[str, type[Problem]] = {}
for _type in _all_problem_types():
    PROBLEM_TYPES.setdefault(_type.slug, _type)


# Most specific first: (connector error, problem answered, whether to suggest a retry).
_CONNECTOR_PROBLEMS: tuple[tuple[type[ce.ConnectorError], type[Problem], bool], ...] = (
    (ce.RecordNotFound, RecordNotFound, False),
    (ce.BadQuery, UnsupportedQuery, False),
    (ce.OperationNotSupported, OperationNotSupported, False),
    (ce.UpstreamUnavailable, UpstreamUnavailable, True),
    (ce.UpstreamTimeout, UpstreamTimeout, True),
    (ce.ContractViolation, ContractViolation, False),
    (ce.UpstreamRefused, UpstreamRefused, False),
    (ce.UpstreamError, UpstreamFailed, False),
)
RETRY_AFTER_SECONDS = 5


def from_connector_error(exc: ce.ConnectorError) -> Problem:
    """The problem answered for a connector error (the connector's message is meant for callers)."""
    for error_type, problem_type, retry in _CONNECTOR_PROBLEMS:
        if isinstance(exc, error_type):
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if retry else None
            return problem_type(exc.message, headers=headers)
    return Problem()


def problem_response(problem: Problem, *, instance: str | None = None, scope: Scope | None = None) -> Response:
    """Render a problem as an ``application/problem+json`` response, in the language the request of ``scope``
    asks for (``Accept-Language``; English without one)."""
    language = language_of(scope)
    return Response(
        content=orjson.dumps(problem.body(instance, language=language)),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers={**problem.headers, "Content-Language": language, "Vary": "Accept-Language"},
    )


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Reduce pydantic errors to ``loc``/``msg``/``type``: the submitted values are not echoed back."""
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
