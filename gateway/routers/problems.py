"""``/problems``: what each problem ``type`` URI of the gateway's errors means."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..problems import PROBLEM_TYPES, NotFound

router = APIRouter(prefix="/problems", tags=["operations"])


class ProblemType(BaseModel):
    """One kind of error."""

    type: str
    title: str
    status: int = Field(description="The HTTP status it is usually answered with.")
    statuses: list[int] = Field(description="Every HTTP status it may be answered with.")
    description: str


def _describe(slug: str) -> ProblemType:
    cls = PROBLEM_TYPES[slug]
    return ProblemType(
        type=cls.type_uri(), title=cls.title, status=cls.status, statuses=cls.statuses(), description=cls.description
    )


@router.get("", summary="Every problem type")
async def list_problem_types() -> list[ProblemType]:
    """The catalogue of error types the gateway answers with."""
    return [_describe(slug) for slug in PROBLEM_TYPES]


@router.get("/{slug}", summary="One problem type")
async def get_problem_type(slug: str) -> ProblemType:
    """What this error type means."""
    if slug not in PROBLEM_TYPES:
        raise NotFound(f"No problem type {slug!r}.")
    return _describe(slug)
