"""``GET /v1/audit``: the audit trail, for clients holding the ``audit`` scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from gateway.audit.query import AuditFilters, AuditPage, search_events
from gateway.http.deps import AUDIT_ONLY, SessionDep
from gateway.http.openapi import problem_responses
from gateway.identity.request_state import request_state

router = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=AUDIT_ONLY)


@router.get(
    "",
    summary="Search the audit trail",
    response_model=AuditPage,
    responses=problem_responses(400, 401, 403, 422),
)
async def search_audit_trail(
    request: Request, session: SessionDep, filters: Annotated[AuditFilters, Query()]
) -> AuditPage:
    """Every exchange with the gateway, allowed or refused, newest first: filter by client, database, operation,
    purpose, outcome, time, and by data subject (`subject`: a record id, such as a citizen's personal id, to
    see which agencies looked at that record, when and why). Needs the scope `audit`.

    Administration (operation `admin`: the admin API's requests and the command line's changes) names its
    `action`, the client it acted on (`target_client`) and what changed (`change`): filter by `target` (a client
    id) and `action` to see who gave a client which access, and when.

    Events carry identifiers only, never the personal data exchanged nor a secret. This search is itself recorded
    in the audit trail (with the subject looked up).
    """
    if filters.subject is not None:
        request_state(request.scope).record_ids = [filters.subject]
    return await search_events(await session.connection(), filters)
