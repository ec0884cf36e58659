"""``/problems``: what each problem ``type`` URI of the gateway's errors means (in Vietnamese with
``Accept-Language: vi``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from gateway.core.i18n import language_of, problem_description, problem_title
from gateway.core.problems import PROBLEM_TYPES, NotFound

router = APIRouter(prefix="/problems", tags=["operations"])


class ProblemType(BaseModel):
    """One kind of error."""

    type: str
    title: str
    status: int = Field(description="The HTTP status it is usually answered with.")
    statuses: list[int] = Field(description="Every HTTP status it may be answered with.")
    description: str


def _describe(slug: str, language: str) -> ProblemType:
    cls = PROBLEM_TYPES[slug]
    return ProblemType(
        type=cls.type_uri(),
        title=problem_title(slug, cls.title, language),
        status=cls.status,
        statuses=cls.statuses(),
        description=problem_description(slug, cls.description, language),
    )


def _negotiate(request: Request, response: Response) -> str:
    language = language_of(request.scope)
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language"
    return language


@router.get("", summary="Every problem type")
async def list_problem_types(request: Request, response: Response) -> list[ProblemType]:
    """The catalogue of error types the gateway answers with."""
    language = _negotiate(request, response)
    return [_describe(slug, language) for slug in PROBLEM_TYPES]


@router.get("/{slug}", summary="One problem type")
async def get_problem_type(slug: str, request: Request, response: Response) -> ProblemType:
    """What this error type means."""
    language = _negotiate(request, response)
    if slug not in PROBLEM_TYPES:
        raise NotFound(f"No problem type {slug!r}.")
    return _describe(slug, language)
