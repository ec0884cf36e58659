"""The gateway's settings: one class, read from ``GATEWAY_*`` environment variables (and ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConnectorInstance(BaseModel):
    """One national database served by the gateway: which connector adapts it, and its configuration.

    The key under which it appears in ``Settings.connectors`` is the database id used in URLs and scopes.
    """

    model_config = ConfigDict(extra="forbid")

    connector: str | None = Field(
        default=None, description="Entry-point name of the connector class; defaults to the database id."
    )
    enabled: bool = Field(default=True, description="Load and serve this database.")
    config: dict[str, Any] = Field(default_factory=dict, description="The connector's configuration.")


class Settings(BaseSettings):
    """Every setting of the gateway. Nested values use ``__``:
    ``GATEWAY_CONNECTORS__POPULATION__CONFIG__URL=postgresql://reader@db/population``."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_nested_delimiter="__", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = Field(
        default="development", description="``production`` refuses demo-only behaviour."
    )
    data_dir: Path = Field(default=Path("var"), description="Where the embedded database, keys and demo data live.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the gateway's own database; defaults to SQLite in ``data_dir``.",
    )
    signing_key_path: Path | None = Field(
        default=None,
        description="PEM private key that signs tokens; generated (mode 0600) on first start when absent.",
    )
    signing_algorithm: Literal["ES256", "RS256"] = "ES256"
    token_issuer: str = Field(default="axis-gateway", description="``iss`` of the tokens the gateway issues.")
    token_audience: str = Field(
        default="axis-gateway", description="The gateway's own identifier: the ``aud`` tokens must carry."
    )
    token_ttl_seconds: int = Field(default=900, ge=30, le=86400, description="Lifetime of issued tokens.")
    token_leeway_seconds: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf.")
    token_cache_size: int = Field(default=50_000, ge=0, description="Verified tokens kept until they expire.")
    access_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How long a client's grants are cached; changes through the gateway invalidate at once.",
    )
    connectors: dict[str, ConnectorInstance] = Field(
        default_factory=dict,
        description="Database id -> connector instance. The population database is configured by default.",
    )
    connector_plugins: list[str] | None = Field(
        default=None, description="Restrict which connector entry points are loaded (all when unset)."
    )
    page_size_default: int = Field(default=20, ge=1, le=1000)
    page_size_max: int = Field(default=100, ge=1, le=1000)
    log_level: str = Field(default="INFO")
    log_format: Literal["json", "console"] = Field(default="json")
    access_log: bool = Field(default=False, description="Log every request (costs throughput).")

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'gateway.db'}"
        if self.signing_key_path is None:
            self.signing_key_path = self.data_dir / "keys" / "signing-key.pem"
        population = self.connectors.setdefault("population", ConnectorInstance())
        population.config.setdefault("url", f"sqlite+aiosqlite:///{self.population_demo_path}")
        if self.page_size_default > self.page_size_max:
            raise ValueError("page_size_default exceeds page_size_max")
        return self

    @property
    def population_demo_path(self) -> Path:
        """The SQLite file of the simulated population database used by the demo."""
        return self.data_dir / "sectors" / "population.db"

    @property
    def key_path(self) -> Path:
        """The signing key path, after defaults."""
        assert self.signing_key_path is not None
        return self.signing_key_path


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (tests clear the cache or pass their own to ``create_app``)."""
    return Settings()
