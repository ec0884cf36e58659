"""The OpenAPI document: errors are documented as what they are, ``application/problem+json``."""

from __future__ import annotations

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
    """Route ``responses`` declaring problem details for ``statuses``."""
    return {status: {"model": ProblemDetails, "description": HTTPStatus(status).phrase} for status in statuses}


#: Problems any request may meet: a malformed request (400), invalid values (422), the deadline (504).
COMMON_STATUSES = (400, 422, 504)
#: Problems of a request with a body: too large (413).
BODY_STATUSES = (413,)
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


def document_problems(operation: dict[str, Any]) -> None:
    """Add to ``operation`` every problem status it can answer, each as ``application/problem+json``."""
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses_of(operation)):
        responses.setdefault(str(status), {"description": HTTPStatus(status).phrase})
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    for code, response in responses.items():
        if code[:1] in "45":
            response["content"] = problem


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, with every 4xx/5xx response under ``application/problem+json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["ProblemDetails"] = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    document_problems(operation)
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
