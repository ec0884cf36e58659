"""``gateway connector new NAME``: a connector package another agency starts from.

The package holds a connector (HTTP, with ``httpx``), its configuration model, the mapping from the sector
system's fields to a contract, a contract, a sandbox (a small simulated sector system), a README, the conformance
kit's test, and the entry-point line that lets the gateway find it. It passes its own tests as generated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).with_name("template")
NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_SUFFIX = ".tmpl"


class ScaffoldError(ValueError):
    """The package cannot be created (a bad name, a directory in the way)."""


@dataclass(frozen=True, slots=True)
class ConnectorNames:
    """The names of a new connector derived from its database id (``land_registry``)."""

    name: str
    title: str

    @property
    def package(self) -> str:
        """The import package: ``land_registry_connector``."""
        return f"{self.name}_connector"

    @property
    def distribution(self) -> str:
        """The distribution: ``axis-connector-land-registry``."""
        return "axis-connector-" + self.name.replace("_", "-")

    @property
    def class_prefix(self) -> str:
        """The classes' prefix: ``LandRegistry``."""
        return "".join(part.capitalize() for part in self.name.split("_") if part)

    def substitutions(self) -> dict[str, str]:
        """Placeholder -> value, applied to the template's paths and contents."""
        return {
            "__PACKAGE__": self.package,
            "__DIST__": self.distribution,
            "__CLASS__": self.class_prefix,
            "__UPPER__": self.name.upper(),
            "__TITLE__": self.title,
            "__NAME__": self.name,
        }


def connector_names(name: str, title: str | None = None) -> ConnectorNames:
    """Validate ``name`` (the database id: lower case letters, digits and ``_``) and derive the others."""
    if not NAME.match(name) or "__" in name or name.endswith("_"):
        raise ScaffoldError(
            f"{name!r} is not a connector name: 2-32 lower-case letters, digits and single underscores, "
            "starting with a letter (it becomes the database id: land_registry)"
        )
    shown = title or name.replace("_", " ").capitalize()
    if any(char in shown for char in '"\\\n'):
        raise ScaffoldError("the title may not contain quotes, backslashes or new lines")
    return ConnectorNames(name, shown)


def _render(text: str, substitutions: dict[str, str]) -> str:
    for placeholder, value in substitutions.items():
        text = text.replace(placeholder, value)
    return text


def create_connector_package(names: ConnectorNames, parent: Path) -> Path:
    """Write the package into ``parent/<distribution>`` (which must not exist) and return its path."""
    target = parent / names.distribution
    if target.exists():
        raise ScaffoldError(f"{target} already exists")
    substitutions = names.substitutions()
    for source in sorted(TEMPLATE.rglob(f"*{_SUFFIX}")):
        relative = _render(str(source.relative_to(TEMPLATE)), substitutions).removesuffix(_SUFFIX)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(_render(source.read_text(encoding="utf-8"), substitutions), encoding="utf-8")
    return target
