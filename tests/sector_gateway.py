"""Helper of the sector end-to-end tests: whether a connector finds its canary record."""

from __future__ import annotations

from typing import Any

from connectors.discovery import discover_connectors


async def canary_found(connector_name: str, config: dict[str, Any]) -> bool:
    """Whether the connector configured with ``config`` finds its canary record, valid under the contract."""
    connector_class = discover_connectors(only={connector_name}).connectors[connector_name]
    async with connector_class.from_config(config) as connector:
        return await connector.canary()
