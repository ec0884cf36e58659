"""``/v1/databases/{id}/...``: records of each served national database, one router per database.

Routes are generated from each connector's contract and query model, so that the OpenAPI document shows the
real record schema and search fields of every database.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the generated models as objects.

import inspect
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from connectors.base import Capability
from contracts import Contract, ContractQuery
from gateway.core.problems import AccessDenied, ValidationFailed, validation_errors
from gateway.core.settings import Settings
from gateway.core.strict_json import JsonInt
from gateway.http.data_path import LeanRead
from gateway.http.deps import data_access
from gateway.http.openapi import RECORD_KEY, problem_responses
from gateway.http.routes.exchange import add_exchange_routes
from gateway.identity.access import Decision
from gateway.identity.request_state import request_state
from gateway.records.context import request_context
from gateway.records.registry import Database
from gateway.records.search_fields import searched_paths, ungranted_criteria
from gateway.records.service import read_record, search_records

PRIVATE = {"Cache-Control": "no-store"}


def _json(body: bytes | str) -> Response:
    return Response(content=body, media_type="application/json", headers=PRIVATE)


def _key_adapter(contract: type[Contract]) -> TypeAdapter[Any]:
    field = contract.model_fields[contract.record_key]
    if not field.metadata:  # a key without constraints: Annotated needs at least one
        return TypeAdapter(field.annotation)  # type: ignore[arg-type]
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)])  # type: ignore[arg-type]


def _search_request(query_model: type[ContractQuery], settings: Settings) -> type[ContractQuery]:
    return create_model(
        f"{query_model.__name__}Request",
        __base__=query_model,
        __doc__=query_model.__doc__,
        page_size=(
            JsonInt,
            Field(
                default=settings.page_size_default,
                ge=1,
                le=settings.page_size_max,
                description="Records per page.",
            ),
        ),
        cursor=(
            str | None,
            Field(
                default=None,
                max_length=512,
                description="`next_cursor` of the previous page; empty or absent for the first page.",
            ),
        ),
    )


def _page_model(contract: type[Contract]) -> type[BaseModel]:
    return create_model(
        f"{contract.__name__}Page",
        items=(list[contract], ...),  # type: ignore[valid-type]
        next_cursor=(
            str | None,
            Field(default=None, description="Cursor of the next page; null on the last."),
        ),
        skipped=(
            int,
            Field(
                default=0,
                ge=0,
                description="Records of this page that matched but were left out because the sector system's data "
                "breaks the contract (counted as contract violations); present only when some were.",
            ),
        ),
    )


def _serialize(record: Contract, include: dict[str, Any] | None) -> bytes:
    return record.__pydantic_serializer__.to_json(record, include=include)


def _serialize_page(
    items: Sequence[Contract], next_cursor: str | None, include: dict[str, Any] | None, skipped: int = 0
) -> bytes:
    cursor = b"null" if next_cursor is None else b'"' + next_cursor.encode() + b'"'
    tail = b',"skipped":' + str(skipped).encode() + b"}" if skipped else b"}"
    return b'{"items":[' + b",".join(_serialize(r, include) for r in items) + b'],"next_cursor":' + cursor + tail


ACCESS_NOTE = (
    "The answer carries only the fields your grant covers (the record's schema requires only its key: any other "
    "field may be absent). Most grants require the headers `X-Purpose` (the "
    "public-service procedure) and `X-Actor-Id` (the officer); see `GET /v1/services`."
)


def database_router(database: Database, settings: Settings) -> APIRouter:
    """The routes of one database: read by key, and search when the connector supports it."""
    connector = database.connector
    contract = connector.contract
    key_name = contract.record_key
    key_adapter = _key_adapter(contract)
    router = APIRouter(prefix=f"/v1/databases/{database.id}", tags=[connector.title])

    async def read_by_key(request: Request, decision: Decision, record_id: str) -> Response:
        try:
            key = str(key_adapter.validate_python(record_id))
        except ValidationError as exc:
            errors = [{**e, "loc": ("path", key_name)} for e in validation_errors(exc.errors())]
            raise ValidationFailed(f"Invalid {key_name}.", errors=errors) from None
        request_state(request.scope).record_ids = [key]
        record = await read_record(database, key, request_context(request))
        return _json(_serialize(record, decision.projection(key_name)))

    async def read(
        request: Request,
        decision: Annotated[Decision, Depends(data_access(database.id, "read"))],
        record_id: Annotated[str, Path(alias=key_name, description=f"The record's `{key_name}`.")],
    ) -> Response:
        return await read_by_key(request, decision, record_id)

    router.add_api_route(
        f"/records/{{{key_name}}}",
        read,
        methods=["GET"],
        response_model=contract,
        responses=problem_responses(401, 403, 404, 422, 502, 503, 504),
        summary=f"Read one record ({contract.contract_id()})",
        description=f"Needs the scope `{database.scope('read')}` and a grant for `read`. {ACCESS_NOTE}",
        name=f"{database.id}:read",
        openapi_extra={RECORD_KEY: key_name},
    )

    query_model = connector.query_model
    if query_model is not None and connector.offers(Capability.SEARCH):
        request_model = _search_request(query_model, settings)
        query_fields = set(query_model.model_fields)
        # The contract fields each criterion compares: searching by one needs a grant covering them all.
        compared = searched_paths(contract, query_model)

        async def search(
            request: Request,
            decision: Annotated[Decision, Depends(data_access(database.id, "search"))],
            body: Annotated[request_model, Body()],  # type: ignore[valid-type]
        ) -> Response:
            params: Any = body
            values = {k: getattr(params, k) for k in query_fields}
            ungranted = ungranted_criteria(decision, compared, values)
            if ungranted:
                raise AccessDenied(f"Your grant does not cover searching by: {', '.join(ungranted)}.")
            query = query_model.model_construct(**values)
            items, next_cursor, skipped = await search_records(
                database, query, request_context(request), limit=params.page_size, cursor=params.cursor
            )
            request_state(request.scope).record_ids = [item.record_id() for item in items]
            return _json(_serialize_page(items, next_cursor, decision.projection(key_name), skipped))

        router.add_api_route(
            "/search",
            search,
            methods=["POST"],
            response_model=_page_model(contract),
            responses=problem_responses(400, 401, 403, 422, 502, 503, 504),
            summary=f"Search records ({contract.contract_id()})",
            description=inspect.cleandoc(query_model.__doc__ or "")
            + f"\n\nNeeds the scope `{database.scope('search')}` and a grant for `search` covering the fields "
            f"searched by. {ACCESS_NOTE}",
            name=f"{database.id}:search",
            openapi_extra={RECORD_KEY: key_name},
        )

    if connector.offers(Capability.SUBMIT):
        add_exchange_routes(router, database, settings)

    for route in router.routes:
        if isinstance(route, APIRoute):
            operation = route.name.rpartition(":")[2]
            route.metric_labels = (database.id, operation)  # type: ignore[attr-defined]
            if operation == "read":
                # Served by the lean path (gateway.http.data_path) with the same checks; the route documents it.
                route.lean_read = LeanRead(  # type: ignore[attr-defined]
                    route, database.id, key_name, (database.scope("read"),), read_by_key
                )
    return router
