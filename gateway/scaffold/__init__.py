"""``gateway connector new NAME``: a connector package another agency starts from.

The package holds a connector (HTTP, with ``httpx``), its configuration model, the mapping from the sector
system's fields to a contract, a contract and its published snapshot (``published/``: what version 1 promises its
readers and writers, :mod:`contracts.compatibility`), a sandbox (a small simulated sector system), a README, the
conformance kit's test, and the entry-point line that lets the gateway find it. It passes its own tests as
generated, and its own lint (``ruff check``, ``ruff format --check``) whatever the name and title allowed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from connectors.discovery import ENTRY_POINT_GROUP

TEMPLATE = Path(__file__).with_name("template")
NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
TITLE_WIDTH = 80
"""The widest title allowed, in columns (a wide character, of East Asian scripts, takes two): the templates keep
every line that holds the title within the generated package's line length (120) at that width."""
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
    if not NAME.fullmatch(name) or "__" in name or name.endswith("_"):
        raise ScaffoldError(
            f"{name!r} is not a connector name: 2-32 lower-case letters, digits and single underscores, "
            "starting with a letter (it becomes the database id: land_registry)"
        )
    shown = (title or name.replace("_", " ").capitalize()).strip()
    if any(char in shown for char in '"\\') or not shown.isprintable():
        raise ScaffoldError("the title may not contain quotes, backslashes, new lines or other control characters")
    if not shown:
        raise ScaffoldError("the title may not be empty")
    if (width := text_width(shown)) > TITLE_WIDTH:
        raise ScaffoldError(
            f"the title is {width} columns wide, more than the {TITLE_WIDTH} allowed (the generated code quotes it on "
            "lines of at most 120): shorten it; the README can say more"
        )
    return ConnectorNames(name, shown)


def text_width(text: str) -> int:
    """Columns ``text`` takes in a terminal or an editor (ruff counts lines so): two for a wide character (East
    Asian scripts), none for a combining mark, one for the others."""
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text
    )


def installed_connector(name: str) -> str | None:
    """What an installed distribution registers under ``name`` in the ``gateway.connectors`` entry-point group
    (``"module:Class"``, with the distribution's name), or ``None`` when the name is free. The entry points are
    read, not loaded."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        dist = getattr(ep, "dist", None)
        return f"{ep.value} (distribution {dist.name})" if dist is not None else ep.value
    return None


def _render(text: str, substitutions: dict[str, str]) -> str:
    """``text`` with each placeholder replaced, in one pass: a value is never read again for placeholders (a title
    that says ``__NAME__`` stays as written)."""
    placeholders = re.compile("|".join(map(re.escape, substitutions)))
    return placeholders.sub(lambda found: substitutions[found.group()], text)


def create_connector_package(names: ConnectorNames, parent: Path) -> Path:
    """Write the package into ``parent/<distribution>`` and return its path.

    ``parent`` must be an existing directory (it is not created: a mistyped path would otherwise become a tree of
    new directories); the package's own directory must not exist. The name must not be an installed connector's
    (:func:`installed_connector`): the gateway finds connectors by it, and two under one name load neither.
    """
    if not parent.is_dir():
        problem = "is not a directory" if parent.exists() else "does not exist"
        raise ScaffoldError(f"--directory {parent} {problem}: create it first (the package is written inside it)")
    if (taken := installed_connector(names.name)) is not None:
        raise ScaffoldError(
            f"{names.name!r} is already the name of an installed connector, {taken}: the gateway finds connectors "
            f"by that name (the {ENTRY_POINT_GROUP} entry point), so choose another name"
        )
    target = parent / names.distribution
    if target.exists() or target.is_symlink():  # a link to nowhere is in the way too
        raise ScaffoldError(f"{target} already exists")
    try:
        target.mkdir()
    except FileExistsError:  # created meanwhile
        raise ScaffoldError(f"{target} already exists") from None
    except OSError as exc:
        raise ScaffoldError(f"{target} cannot be created: {exc.strerror or exc}") from None
    substitutions = names.substitutions()
    for source in sorted(TEMPLATE.rglob(f"*{_SUFFIX}")):
        relative = _render(str(source.relative_to(TEMPLATE)), substitutions).removesuffix(_SUFFIX)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(_render(source.read_text(encoding="utf-8"), substitutions), encoding="utf-8")
    _publish_contract(names, target)
    return target


def _publish_contract(names: ConnectorNames, target: Path) -> None:
    """Write the snapshot of the new package's contract, version 1, into ``target/published``: run in a process
    of its own, which imports the new package (registering its contract) without touching this one's registry."""
    target = target.resolve()
    search_path = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "PYTHONPATH": search_path}
    command = [sys.executable, "-m", "contracts.compatibility", "--write", f"{names.name}.record", "1"]
    command += ["--snapshots", str(target / "published"), "--import", f"{names.package}.contract"]
    # The command is this interpreter and a validated package name (connector_names): no untrusted input.
    done = subprocess.run(command, env=environment, cwd=target, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise ScaffoldError(f"the contract's snapshot could not be written: {(done.stderr or done.stdout).strip()}")
