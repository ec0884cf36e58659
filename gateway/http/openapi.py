"""The OpenAPI document: errors are documented as what they are, ``application/problem+json``."""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from gateway.core.problems import PROBLEM_MEDIA_TYPE


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; kinds of problem may add members (``errors``, ``error``, ...). ``title`` and
    ``detail`` are in Vietnamese when the request sends ``Accept-Language: vi`` (``Content-Language`` says which)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable URI of the kind of problem; `GET` it for its meaning.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="The path of the request.")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Route ``responses`` declaring problem details for ``statuses``. They name no model: :func:`install_openapi`
    gives every 4xx and 5xx answer the one ``ProblemDetails`` schema (:func:`document_problems`). A model here
    would make FastAPI build a validator and a serializer of it for each route and status, used by nothing (272
    of them for the demo's twelve databases, 0.7 MiB of every worker's memory)."""
    return {status: {"description": HTTPStatus(status).phrase} for status in statuses}


#: Problems any request may meet: a malformed request (400), invalid values (422), the deadline (504).
COMMON_STATUSES = (400, 422, 504)
#: Problems of a request with a body: too large (413), not JSON (415).
BODY_STATUSES = (413, 415)
#: Problems of a request to a resource named in its path: none there (404).
PATH_STATUSES = (404,)
#: Problems of an authenticated request: token (401), scope or grant (403), rate limit (429), and the rate
#: limiter's store or a sector system unavailable (503).
SECURED_STATUSES = (401, 403, 429, 503)


def statuses_of(operation: dict[str, Any]) -> set[int]:
    """The problem statuses an operation of the document can answer, from what it takes."""
    statuses = set(COMMON_STATUSES)
    if "requestBody" in operation:
        statuses.update(BODY_STATUSES)
    if any(parameter.get("in") == "path" for parameter in operation.get("parameters", [])):
        statuses.update(PATH_STATUSES)
    if operation.get("security"):
        statuses.update(SECURED_STATUSES)
    return statuses


#: The headers answers carry, in ``components/headers``.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "The request's id, on every answer: the caller's own when it sent one of 1-128 characters "
        "of `A-Za-z0-9._:-`, else a new one. Quote it to the operator: it finds the request in the logs.",
        "schema": {"type": "string"},
    },
    "Content-Language": {
        "description": "The language of a problem's `title` and `detail`: `vi` when `Accept-Language` prefers "
        "Vietnamese, else `en`.",
        "schema": {"type": "string", "enum": ["en", "vi"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again (sent with `rate-limited`, `too-many-failures`, "
        "`upstream-unavailable`, `circuit-open`, `upstream-timeout`, `exchange-unavailable`, `exchange-queue-full`, "
        "`audit-unavailable`, `rate-limit-unavailable` and `not-ready`).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": 'The Bearer challenge (RFC 6750): `error="invalid_token"` on a 401, '
        '`error="insufficient_scope"` and the `scope` needed on a 403 for a missing scope.',
        "schema": {"type": "string"},
    },
}
#: Problem statuses whose answers may carry ``Retry-After`` or ``WWW-Authenticate``.
STATUS_HEADERS: dict[str, tuple[str, ...]] = {
    "401": ("WWW-Authenticate",),
    "403": ("WWW-Authenticate",),
    "429": ("Retry-After",),
    "503": ("Retry-After",),
    "504": ("Retry-After",),
}


def _header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def document_problems(operation: dict[str, Any]) -> None:
    """Add to ``operation`` every problem status it can answer, each as ``application/problem+json``, and the
    headers of every answer (``X-Request-Id``; ``Content-Language``, ``Retry-After``, ``WWW-Authenticate`` on
    problems)."""
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses_of(operation)):
        responses.setdefault(str(status), {"description": HTTPStatus(status).phrase})
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    for code, response in responses.items():
        headers = response.setdefault("headers", {})
        headers.update(_header_refs("X-Request-Id"))
        if code[:1] in "45":
            response["content"] = problem
            headers.update(_header_refs("Content-Language", *STATUS_HEADERS.get(code, ())))


#: The extension naming the record key of an operation answering records cut to the caller's grant.
RECORD_KEY = "x-record-key"


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rpartition("/")[2] if isinstance(ref, str) else None


def _answered_record(operation: dict[str, Any], components: dict[str, Any]) -> str | None:
    """The component of the records ``operation`` answers: its 200 body's, or its page's ``items``'."""
    body = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
    name = _ref_name(body.get("schema", {}))
    if name is None:
        return None
    items = components[name].get("properties", {}).get("items", {})
    return _ref_name(items.get("items", {})) if items.get("type") == "array" else name


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        name = _ref_name(node)
        if name is not None:
            yield name
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def document_projection(schema: dict[str, Any]) -> None:
    """Records are answered with only the fields the caller's grant covers: in the components of the records of
    the operations marked with :data:`RECORD_KEY`, and of the objects nested in them, no field but the record key
    is required (the contract's own schema, with what it requires, is ``GET /v1/contracts/{name}``)."""
    components = schema.get("components", {}).get("schemas", {})
    projected: set[str] = set()
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            key = operation.get(RECORD_KEY)
            record = _answered_record(operation, components) if key else None
            if record is None or record in projected:
                continue
            top = components[record]
            top["required"] = [key] if key in top.get("properties", {}) else []
            top["description"] = (
                top.get("description", "").rstrip()
                + f"\n\nOnly the fields the caller's grant covers are answered (`GET /v1/services` lists them): any "
                f"field but `{key}`, at any depth, may be absent. The contract's schema, with the fields it requires, "
                "is `GET /v1/contracts/{name}`."
            ).strip()
            projected.add(record)
            pending = list(_references(top))
            while pending:
                name = pending.pop()
                if name in projected:
                    continue
                projected.add(name)
                components[name].pop("required", None)
                pending.extend(_references(components[name]))


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, with every 4xx/5xx response under ``application/problem+json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            schema["components"]["headers"] = HEADERS
            components["ProblemDetails"] = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    document_problems(operation)
            document_projection(schema)
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
