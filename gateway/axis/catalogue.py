"""The catalogue of national databases the province connects through the integration axis.

It ships as ``catalogue.toml`` beside this module (the 16 databases of a provincial plan); operators point
``GATEWAY_AXIS_CATALOGUE_PATH`` at their own copy to add, disable (maintenance) or remove entries. The file is
validated when loaded: a broken catalogue stops the gateway with a message naming the problem.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.core.settings import DATABASE_ID

DEFAULT_CATALOGUE = Path(__file__).with_name("catalogue.toml")


class CatalogueError(ValueError):
    """The catalogue file cannot be read or is not valid."""


class CatalogueEntry(BaseModel):
    """One national database or information system of the plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=DATABASE_ID.pattern, description="Database id: URLs, scopes, metric labels.")
    name_vi: str = Field(min_length=1, max_length=300, description="Vietnamese name.")
    name_en: str = Field(min_length=1, max_length=300, description="English name.")
    agency: str = Field(min_length=1, max_length=300, description="The owning ministry or agency.")
    contracts: tuple[str, ...] = Field(
        default=(), description="Contracts its records follow, by name (population.citizen)."
    )
    enabled: bool = Field(default=True, description="False puts the entry under maintenance: not checked, not served.")

    @field_validator("contracts")
    @classmethod
    def _contract_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            domain, dot, record = name.partition(".")
            if not dot or not DATABASE_ID.fullmatch(domain) or not DATABASE_ID.fullmatch(record):
                raise ValueError(f"{name!r} is not a contract name like 'population.citizen'")
        return names


class Catalogue(BaseModel):
    """The entries, in the file's order; ids are unique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    databases: tuple[CatalogueEntry, ...] = Field(min_length=1)

    @field_validator("databases")
    @classmethod
    def _unique_ids(cls, entries: tuple[CatalogueEntry, ...]) -> tuple[CatalogueEntry, ...]:
        seen: set[str] = set()
        for entry in entries:
            if entry.id in seen:
                raise ValueError(f"database id {entry.id!r} appears twice")
            seen.add(entry.id)
        return entries

    @property
    def ids(self) -> tuple[str, ...]:
        """The entries' ids, in order."""
        return tuple(entry.id for entry in self.databases)

    def get(self, database_id: str) -> CatalogueEntry | None:
        """The entry ``database_id``, if catalogued."""
        return next((entry for entry in self.databases if entry.id == database_id), None)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate the catalogue at ``path`` (the shipped one when ``None``); :class:`CatalogueError` if bad."""
    source = path or DEFAULT_CATALOGUE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"cannot read the axis catalogue {source}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"the axis catalogue {source} is not valid TOML: {exc}") from None
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise CatalogueError(f"the axis catalogue {source} is not valid: {problems}") from None
