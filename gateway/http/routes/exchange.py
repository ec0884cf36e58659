"""The exchange routes: ``POST /v1/databases/{id}/records`` (submit), ``GET /v1/databases/{id}/changes`` (the
change feed) and ``GET /v1/receipts/{id}``."""

# No ``from __future__ import annotations`` here: FastAPI must see the annotations as objects.

import uuid
from functools import cache
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, GetJsonSchemaHandler, create_model
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from gateway.core.problems import BadHeader, NotFound, ValidationFailed
from gateway.core.settings import Settings
from gateway.exchange import webhooks
from gateway.exchange.feed import parse_cursor, read_changes
from gateway.exchange.intake import Finding, IntakeService, named_records, receipt_of, written_fields
from gateway.exchange.models import ExchangeReceipt, WebhookSubscription
from gateway.exchange.operations import OperationChecker, SubmittedOperation
from gateway.http.deps import PrincipalDep, SessionDep, StateDep, data_access
from gateway.http.openapi import ProblemDetails, problem_responses
from gateway.identity.access import HEADER_VALUE, Decision
from gateway.identity.request_state import request_state
from gateway.records.context import request_context
from gateway.records.registry import Database

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: A feed position as the document states it (:data:`gateway.exchange.feed.CURSOR`).
CURSOR_PATTERN = "^[0-9]{1,18}$"
#: ``after`` of the change feed: a position, or empty (the start).
AFTER_PATTERN = "^[0-9]{0,18}$"
PRIVATE = {"Cache-Control": "no-store"}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=PRIVATE | (headers or {})
    )


class DocumentedAs:
    """Documents a value as ``model`` while validating it as its own type: each operation of a submission is
    checked on its own (accepted or rejected in the receipt), not with the request body."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(self.model.__pydantic_core_schema__)


class Submission(BaseModel):
    """A batch of operations on records of one database. Nothing else: another key (``"atomic": true``, say) is
    refused, not ignored, so that no sender believes it asked for something the gateway does not do."""

    model_config = ConfigDict(extra="forbid")

    operations: list[Annotated[dict[str, Any], DocumentedAs(SubmittedOperation)]] = Field(
        min_length=1,
        description="The operations, applied in this order; each one a `SubmittedOperation` "
        "(`op`, `record_id`, `fields`, `metadata`). Each is accepted or rejected on its own.",
    )


@cache
def submission_model(batch_max: int) -> type[Submission]:
    """:class:`Submission` documenting the most operations a submission carries (``GATEWAY_EXCHANGE_BATCH_MAX``;
    more are refused with a problem that says so), one class for every database of an app."""
    return create_model(
        "Submission",
        __base__=Submission,
        __doc__=Submission.__doc__,
        operations=(
            list[Annotated[dict[str, Any], DocumentedAs(SubmittedOperation)]],
            Field(
                min_length=1,
                json_schema_extra={"maxItems": batch_max},
                description=f"The operations (at most {batch_max}), applied in this order; each one a "
                "`SubmittedOperation` (`op`, `record_id`, `fields`, `metadata`). Each is accepted or rejected on "
                "its own.",
            ),
        ),
    )


class AcceptedOperation(BaseModel):
    """An accepted operation: stored, then delivered to the sector system. Its delivery (``state`` to
    ``fields_erased_at``) is shown by ``GET /v1/receipts/{receipt_id}``, not in the answer to the submission."""

    index: int = Field(description="Its position in the submission, from 0.")
    record_id: str
    op: Literal["create", "update", "delete"]
    operation_id: int
    state: Literal["pending", "delivering", "delivered", "dead", "dismissed"] | None = Field(
        default=None,
        description="`pending` (waiting), `delivering`, `delivered`, `dead` (dead-lettered), or `dismissed` (a dead "
        "letter an operator closed: never delivered).",
    )
    attempts: int | None = Field(default=None, description="Deliveries tried.")
    outcome: str | None = Field(default=None, description="The last delivery's outcome.")
    delivered_at: AwareDatetime | None = None
    last_error: str | None = Field(
        default=None,
        description="Why the last delivery failed; for an operation applied in part, the fields not sent because "
        "a change made later was applied already (never a value).",
    )
    fields_erased_at: AwareDatetime | None = Field(
        default=None, description="When its submitted field values were erased (retention)."
    )


class RejectedOperation(BaseModel):
    """An operation refused at intake and not stored, with its problem details."""

    index: int = Field(description="Its position in the submission, from 0.")
    record_id: str | None = Field(description="Its `record_id`, when it had a readable one.")
    problem: ProblemDetails


class Receipt(BaseModel):
    """What the gateway stored: the accepted operations and the rejected ones with their problems, and the
    data-quality findings flagged on accepted ones."""

    receipt_id: uuid.UUID
    database: str
    idempotency_key: str
    received_at: AwareDatetime
    accepted: list[AcceptedOperation]
    rejected: list[RejectedOperation]
    findings: list[Finding] = Field(
        default_factory=list,
        description="Data-quality rules accepted operations break, where the database flags them: each with the "
        "operation's `index` and `record_id`, the `rule` (and its `title`, `title_vi`), the `field` and the "
        "`finding`.",
    )


class Change(BaseModel):
    """One operation applied to the database."""

    cursor: str = Field(pattern=CURSOR_PATTERN, description="Its position in the feed.")
    record_id: str
    op: Literal["create", "update", "delete"]
    changed_fields: list[str] = Field(description="The fields written that the reader's grant covers (paths).")
    changed_at: AwareDatetime | None = Field(description="`metadata.changed_at` of the submission.")
    applied_at: AwareDatetime


class ChangePage(BaseModel):
    """Changes applied to a database, oldest first."""

    changes: list[Change]
    next_cursor: str = Field(
        pattern=CURSOR_PATTERN, description="Pass as `after` to read on; returned even when no change is new."
    )
    more: bool = Field(description="Whether further changes are already waiting.")


class Subscription(BaseModel):
    """A webhook subscription to a database's change feed, as its owner sees it."""

    id: uuid.UUID
    database: str
    url: str
    cursor: str = Field(pattern=CURSOR_PATTERN, description="The last change posted and answered 2xx (`0`: none).")
    active: bool = Field(description="`false` once stopped (`gone`, `cursor-beyond-feed`): nothing is posted again.")
    failures: int = Field(description="Posts failed in a row.")
    last_error: str | None = Field(
        description="The class of the last failure: `connection-failed`, `timeout`, `non-2xx`, `refused-destination`, "
        "`not-authorised`, `gateway-error`, `gone`, `cursor-beyond-feed`."
    )
    last_delivered_at: AwareDatetime | None
    created_at: AwareDatetime


class NewSubscriptionAnswer(Subscription):
    """A new subscription, with the secret its posts are signed with, shown this once."""

    secret: str = Field(description="The key of `X-Axis-Signature` (its UTF-8 text); shown this once.")


class Subscriptions(BaseModel):
    """The calling client's subscriptions to this database."""

    subscriptions: list[Subscription]


LOCATION_HEADER = {"Location": {"description": "The path of what was created.", "schema": {"type": "string"}}}
SUBMISSION_HEADERS = {
    "Location": {"description": "The receipt's path, `/v1/receipts/{receipt_id}`.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this `Idempotency-Key` was submitted before with the same operations: the "
        "receipt is the first one's and nothing was stored again.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": True,
    "description": "Your unique key of this submission: send it again, unchanged, to retry safely (the same key "
    "with other operations is 422 `idempotency-key-reused`). Missing or malformed: 400 `bad-header`.",
    "schema": {"type": "string", "pattern": HEADER_VALUE.pattern},
}


def add_exchange_routes(router: APIRouter, database: Database, settings: Settings) -> None:
    """``POST .../records`` and ``GET .../changes`` for a database whose connector accepts submissions."""
    checker = OperationChecker(database.connector.contract)
    batch_max = settings.exchange_batch_max
    request_model = submission_model(batch_max)

    async def submit(
        state: StateDep,
        request: Request,
        decision: Annotated[Decision, Depends(data_access(database.id, "submit"))],
        body: Annotated[request_model, Body()],  # type: ignore[valid-type]
        idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER, include_in_schema=False)] = None,
    ) -> Response:
        if idempotency_key is None or not HEADER_VALUE.fullmatch(idempotency_key):
            raise BadHeader(
                f"{IDEMPOTENCY_HEADER} is required: 1-64 letters, digits or ._:@/- unique to this submission.",
                header=IDEMPOTENCY_HEADER,
            )
        submission: Any = body
        operations: list[dict[str, Any]] = submission.operations
        if len(operations) > batch_max:
            raise ValidationFailed(f"A submission carries at most {batch_max} operations.")
        service = IntakeService(state.sessionmaker, database.id, checker, state.settings)
        audited = request_state(request.scope)
        audited.record_ids = named_records(operations)  # refused as a whole, the submission is audited with them
        intake = await service.submit(
            operations, decision=decision, idempotency_key=idempotency_key, context=request_context(request)
        )
        audited.record_ids = named_records(operations, intake.receipt)
        audited.written_fields = written_fields(operations, intake.receipt)
        if not intake.replayed and state.dispatcher is not None:
            state.dispatcher.wake()
        headers = {"Location": f"/v1/receipts/{intake.receipt['receipt_id']}"}
        if intake.replayed:
            headers["Idempotent-Replayed"] = "true"
        return _json(intake.receipt, 202, headers)

    router.add_api_route(
        "/records",
        submit,
        methods=["POST"],
        status_code=202,
        response_model=Receipt,
        responses=problem_responses(400, 401, 403, 413, 422, 503) | {202: {"headers": SUBMISSION_HEADERS}},
        # Documented as required, as it is; declared optional above so that its absence is the 400 bad-header
        # problem that names it rather than a validation error.
        openapi_extra={"parameters": [IDEMPOTENCY_PARAMETER]},
        summary=f"Submit record changes ({database.connector.contract.contract_id()})",
        description=(
            f"Create, update or delete records. Needs the scope `{database.scope('submit')}`, a grant for "
            "`submit` covering the fields written, and an `Idempotency-Key`. Accepted operations are stored "
            "before the answer, then delivered to the sector system in order per record; the receipt's "
            "`Location` shows their progress. Each operation is a `SubmittedOperation`, checked on its own: one "
            "that breaks its schema or the contract is rejected (in the receipt's `rejected`), the others accepted."
        ),
        name=f"{database.id}:submit",
    )

    async def changes(
        request: Request,
        session: SessionDep,
        decision: Annotated[Decision, Depends(data_access(database.id, "read"))],
        after: Annotated[
            str | None,
            Query(
                description="`next_cursor` of a previous page; empty or left out, the start of the feed.",
                json_schema_extra={"pattern": AFTER_PATTERN},
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=settings.page_size_max)] = settings.page_size_default,
    ) -> Response:
        page = await read_changes(session, database.id, after=parse_cursor(after), limit=limit, decision=decision)
        request_state(request.scope).record_ids = list(dict.fromkeys(change["record_id"] for change in page["changes"]))
        return _json(page)

    router.add_api_route(
        "/changes",
        changes,
        methods=["GET"],
        response_model=ChangePage,
        responses=problem_responses(400, 401, 403, 422),
        summary="Changes applied through the gateway (change feed)",
        description=(
            f"The operations applied to this database, in the order applied. Needs `{database.scope('read')}` "
            "and a read grant; `changed_fields` lists only the fields the grant covers. Read the records "
            "themselves with `GET .../records/{key}`."
        ),
        name=f"{database.id}:changes",
    )

    class NewSubscription(BaseModel):
        """Where to post the changes of this database, and from which position."""

        url: str = Field(max_length=2000, description="The http(s) URL the changes are posted to.")
        after: str | None = Field(
            default=None,
            description="Start after this cursor of the change feed (`0`: its start); from now on when left out.",
            json_schema_extra={"pattern": CURSOR_PATTERN},
        )

    async def subscribe(
        state: StateDep,
        session: SessionDep,
        decision: Annotated[Decision, Depends(data_access(database.id, "read"))],
        body: Annotated[NewSubscription, Body()],
    ) -> Response:
        after = None if body.after is None else parse_cursor(body.after)
        row, secret = await webhooks.subscribe(
            session, decision, body.url, settings=settings, data_keys=state.data_keys, after=after
        )
        return _json(
            webhooks.subscription_view(row, secret=secret), 201, {"Location": f"{router.prefix}/subscriptions/{row.id}"}
        )

    router.add_api_route(
        "/subscriptions",
        subscribe,
        methods=["POST"],
        status_code=201,
        response_model=NewSubscriptionAnswer,
        responses=problem_responses(400, 401, 403, 409, 422) | {201: {"headers": LOCATION_HEADER}},
        summary="Subscribe a webhook to the change feed",
        description=(
            "The gateway posts the changes after the subscription's cursor to `url`, in order, in batches of up "
            "to 100: `{subscription, database, changes, next_cursor, more}`. Each post is signed: "
            "`X-Axis-Signature: sha256=HMAC-SHA256(secret, X-Axis-Timestamp + '.' + body)`. Failed posts (no "
            "2xx answer) are retried with backoff; the cursor moves only on success; a `410 Gone` answer stops "
            "the subscription (`active` false, `last_error` `gone`). The `secret` is answered "
            f"once. Needs `{database.scope('read')}` and a read grant, checked again before every post. The url's "
            "host must resolve to public addresses only (loopback, private, link-local, multicast and reserved "
            "addresses are refused, 422, unless the operator allow-lists them), checked again before every post; "
            "redirects are not followed. A client holds at most `GATEWAY_WEBHOOK_MAX_SUBSCRIPTIONS` (409)."
        ),
        name=f"{database.id}:subscribe",
    )

    async def list_subscriptions(
        session: SessionDep, decision: Annotated[Decision, Depends(data_access(database.id, "read"))]
    ) -> Response:
        rows = await webhooks.subscriptions_of(session, decision.client_id, database.id)
        return _json({"subscriptions": [webhooks.subscription_view(row) for row in rows]})

    router.add_api_route(
        "/subscriptions",
        list_subscriptions,
        methods=["GET"],
        response_model=Subscriptions,
        responses=problem_responses(401, 403),
        summary="Your webhook subscriptions to this database, with their cursors and last errors",
        name=f"{database.id}:subscriptions",
    )

    async def unsubscribe(
        subscription_id: uuid.UUID,
        session: SessionDep,
        decision: Annotated[Decision, Depends(data_access(database.id, "read"))],
    ) -> Response:
        row = await session.get(WebhookSubscription, str(subscription_id))
        if row is None or row.client_id != decision.client_id or row.database_id != database.id:
            raise NotFound("There is no subscription with that id for this client.")
        await session.delete(row)
        await session.commit()
        return Response(status_code=204)

    router.add_api_route(
        "/subscriptions/{subscription_id}",
        unsubscribe,
        methods=["DELETE"],
        status_code=204,
        responses=problem_responses(401, 403, 404),
        summary="End a webhook subscription",
        name=f"{database.id}:unsubscribe",
    )


router = APIRouter(prefix="/v1/receipts", tags=["exchange"])


@router.get(
    "/{receipt_id}",
    response_model=Receipt,
    responses=problem_responses(401, 404),
    summary="A submission's receipt, with each operation's delivery state",
)
async def get_receipt(
    receipt_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, request: Request
) -> Response:
    """Only the client that submitted sees its receipts. Audited, with the records it names."""
    row = await session.get(ExchangeReceipt, str(receipt_id))
    if row is None or row.client_id != principal.client_id:
        raise NotFound("There is no receipt with that id for this client.")
    receipt = await receipt_of(session, row, with_states=True)
    request_state(request.scope).record_ids = [entry["record_id"] for entry in receipt["accepted"]]
    return _json(receipt)
