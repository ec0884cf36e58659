"""The OpenAPI document: errors are documented as what they are, ``application/problem+json``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from .problems import PROBLEM_MEDIA_TYPE


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; kinds of problem may add members (``errors``, ``error``, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable URI of the kind of problem; `GET` it for its meaning.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="The path of the request.")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Route ``responses`` declaring problem details for ``statuses``."""
    return {status: {"model": ProblemDetails, "description": HTTPStatus(status).phrase} for status in statuses}


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, with every 4xx/5xx response under ``application/problem+json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["ProblemDetails"] = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for code, response in operation.get("responses", {}).items():
                        if code[:1] in "45":
                            response["content"] = problem
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
