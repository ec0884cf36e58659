"""``/v1/admin/...``: managing clients, grants and keys. Every route needs the ``admin`` scope."""

from __future__ import annotations

from fastapi import APIRouter, Security

from ...deps import authenticate
from . import clients, grants, keys

router = APIRouter(prefix="/v1/admin", dependencies=[Security(authenticate, scopes=["admin"])])
for module in (clients, grants, keys):
    router.include_router(module.router)
