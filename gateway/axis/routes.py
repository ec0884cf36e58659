"""Which route each connection takes: ``direct`` to the sector system, or ``axis``, through the national data
integration platform (NDXP) or the province's LGSP.

The route is derived from the configuration, never stored: a connector configured with an axis profile (its
``axis`` setting, :class:`connectors.platform.AxisProfile`) goes through the platform the profile names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from connectors.platform import AxisProfile
from gateway.core.settings import ConnectorInstance

__all__ = ["DEFAULT_PLATFORM", "Route", "connection_route", "connection_routes"]

Route = Literal["direct", "axis"]
DEFAULT_PLATFORM: str = AxisProfile.model_fields["platform"].default


def connection_route(config: Mapping[str, Any]) -> tuple[Route, str | None]:
    """``("axis", platform)`` for a connector configuration with an axis profile, else ``("direct", None)``."""
    profile = config.get("axis")
    if isinstance(profile, AxisProfile):
        return "axis", profile.platform
    if isinstance(profile, Mapping):
        platform = profile.get("platform")
        return "axis", platform if isinstance(platform, str) and platform else DEFAULT_PLATFORM
    return "direct", None


def connection_routes(connectors: Mapping[str, ConnectorInstance]) -> dict[str, tuple[Route, str | None]]:
    """The route of every enabled connector of the settings, by database id."""
    return {db_id: connection_route(inst.config) for db_id, inst in connectors.items() if inst.enabled}
