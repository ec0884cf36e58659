"""The exchange routes: ``POST /v1/databases/{id}/records`` (submit), ``GET /v1/databases/{id}/changes`` (the
change feed) and ``GET /v1/receipts/{id}``."""

# No ``from __future__ import annotations`` here: FastAPI must see the annotations as objects.

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.core.problems import BadHeader, NotFound, ValidationFailed
from gateway.core.settings import Settings
from gateway.exchange import webhooks
from gateway.exchange.feed import parse_cursor, read_changes
from gateway.exchange.intake import IntakeService, receipt_of
from gateway.exchange.models import ExchangeReceipt, WebhookSubscription
from gateway.exchange.operations import OperationChecker, SubmittedOperation
from gateway.http.deps import PrincipalDep, SessionDep, StateDep, data_access
from gateway.http.openapi import problem_responses
from gateway.identity.access import HEADER_VALUE, Decision
from gateway.identity.request_state import request_state
from gateway.records.context import request_context
from gateway.records.registry import Database

IDEMPOTENCY_HEADER = "Idempotency-Key"
PRIVATE = {"Cache-Control": "no-store"}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=PRIVATE | (headers or {})
    )


class Submission(BaseModel):
    """A batch of operations on records of one database."""

    operations: list[dict[str, Any]] = Field(
        min_length=1,
        description="The operations, applied in this order; each one a `SubmittedOperation` "
        "(`op`, `record_id`, `fields`, `metadata`). Each is accepted or rejected on its own.",
    )


class Receipt(BaseModel):
    """What the gateway stored: the accepted operations and the rejected ones with their problems, and the
    data-quality findings flagged on accepted ones."""

    receipt_id: str
    database: str
    idempotency_key: str
    received_at: str
    accepted: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    findings: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Data-quality rules accepted operations break, where the database flags them: each with the "
        "operation's `index` and `record_id`, the `rule` (and its `title`, `title_vi`), the `field` and the "
        "`finding`.",
    )


class ChangePage(BaseModel):
    """Changes applied to a database, oldest first."""

    changes: list[dict[str, Any]]
    next_cursor: str = Field(description="Pass as `after` to read on; returned even when no change is new.")
    more: bool = Field(description="Whether further changes are already waiting.")


def add_exchange_routes(router: APIRouter, database: Database, settings: Settings) -> None:
    """``POST .../records`` and ``GET .../changes`` for a database whose connector accepts submissions."""
    checker = OperationChecker(database.connector.contract)
    batch_max = settings.exchange_batch_max

    async def submit(
        state: StateDep,
        request: Request,
        decision: Annotated[Decision, Depends(data_access(database.id, "submit"))],
        body: Annotated[Submission, Body()],
        idempotency_key: Annotated[
            str | None,
            Header(
                alias=IDEMPOTENCY_HEADER,
                json_schema_extra={"pattern": HEADER_VALUE.pattern},
                description="Your unique key of this submission: send it again, unchanged, to retry safely.",
            ),
        ] = None,
    ) -> Response:
        if idempotency_key is None or not HEADER_VALUE.match(idempotency_key):
            raise BadHeader(
                f"{IDEMPOTENCY_HEADER} is required: 1-64 letters, digits or ._:@/- unique to this submission.",
                header=IDEMPOTENCY_HEADER,
            )
        if len(body.operations) > batch_max:
            raise ValidationFailed(f"A submission carries at most {batch_max} operations.")
        service = IntakeService(state.sessionmaker, database.id, checker, state.settings)
        intake = await service.submit(
            body.operations, decision=decision, idempotency_key=idempotency_key, context=request_context(request)
        )
        request_state(request.scope).record_ids = [entry["record_id"] for entry in intake.receipt["accepted"]]
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
        responses=problem_responses(400, 401, 403, 413, 422, 503),
        summary=f"Submit record changes ({database.connector.contract.contract_id()})",
        description=(
            f"Create, update or delete records. Needs the scope `{database.scope('submit')}`, a grant for "
            "`submit` covering the fields written, and an `Idempotency-Key`. Accepted operations are stored "
            "before the answer, then delivered to the sector system in order per record; the receipt's "
            "`Location` shows their progress. Each operation is a `SubmittedOperation`:\n\n"
            f"```json\n{orjson.dumps(SubmittedOperation.model_json_schema(), option=orjson.OPT_INDENT_2).decode()}\n```"
        ),
        name=f"{database.id}:submit",
    )

    async def changes(
        request: Request,
        session: SessionDep,
        decision: Annotated[Decision, Depends(data_access(database.id, "read"))],
        after: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
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
            default=None, description="Start after this cursor of the change feed; from now on when left out."
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
        responses=problem_responses(400, 401, 403, 409, 422),
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
