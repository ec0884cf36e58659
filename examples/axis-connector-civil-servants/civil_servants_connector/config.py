"""The settings of the civil_servants connector."""

from __future__ import annotations

from connectors.base import ConnectorConfig
from pydantic import AnyHttpUrl, Field, SecretStr


class CivilServantsConfig(ConnectorConfig):
    """Where the sector system is and how to call it (``timeout_seconds`` comes from ``ConnectorConfig``)."""

    base_url: AnyHttpUrl = Field(title="Base URL", description="The sector system's API, e.g. https://host/api.")
    api_key: SecretStr = Field(title="API key", description="Sent in the X-API-Key header.")
    verify_tls: bool = Field(default=True, title="Verify TLS", description="Check the server's certificate.")
