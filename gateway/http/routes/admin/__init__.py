"""``/v1/admin/...``: managing clients, grants, keys and the axis. Every route needs the ``admin`` scope.

Each module's router carries the full prefix and the admin dependency itself: FastAPI records a nested router's
routes with their inner paths only, and metrics label requests by the route's path.
"""

from __future__ import annotations

from gateway.http.routes.admin import axis, clients, grants, keys

routers = (clients.router, grants.router, keys.router, axis.router)
