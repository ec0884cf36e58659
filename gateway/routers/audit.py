"""``GET /v1/audit``: the audit trail, for clients holding the ``audit`` scope."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/audit", tags=["audit"])
