"""The repository's two distributions, built as pip builds them: ``axis-gateway`` (``pyproject.toml``: the packages
``gateway``, ``connectors`` and ``contracts``, what the production image installs) and ``axis-gateway-demo``
(``demo/pyproject.toml``: the package ``simulators``, the simulated sector systems of the demo and the tests). The
gateway's wheel carries no simulator; its ``demo`` extra asks for the demo's distribution, which pins the gateway's
version; and pip resolves the README's install of the two together from the checkout alone, without an index."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import simulators
from gateway import __version__

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Distribution name -> its wheel, built from the checkout (no download: the build backend is installed)."""
    out = tmp_path_factory.mktemp("wheels")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
            str(DEMO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    found = {path.name.split("-")[0].replace("_", "-"): path for path in out.glob("*.whl")}
    assert set(found) == {"axis-gateway", "axis-gateway-demo"}, found
    return found


def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def dist_info(wheel: Path, file: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (path,) = [name for name in archive.namelist() if name.endswith(f".dist-info/{file}")]
        return archive.read(path).decode("utf-8")


def metadata(wheel: Path) -> Message:
    return Parser().parsestr(dist_info(wheel, "METADATA"))


def top_level(wheel: Path) -> set[str]:
    return {name.split("/")[0] for name in names(wheel) if not name.split("/")[0].endswith(".dist-info")}


def test_the_gateways_wheel_carries_no_simulator(wheels: dict[str, Path]) -> None:
    wheel = wheels["axis-gateway"]
    assert top_level(wheel) == {"gateway", "connectors", "contracts"}
    assert not [name for name in names(wheel) if "simulators" in name]
    assert "gateway/_alembic/env.py" in names(wheel), "the migrations ship inside the gateway package"
    published = {path.relative_to(ROOT).as_posix() for path in (ROOT / "contracts/published").rglob("*.json")}
    assert published, "the contracts' published snapshots are in the source tree"
    assert published <= set(names(wheel)), "the published snapshots ship in the wheel"
    # No entry point leads into the simulators (the connectors and quality rules are the gateway's own).
    assert "simulators" not in dist_info(wheel, "entry_points.txt")


def test_the_demo_wheel_carries_the_simulators_alone(wheels: dict[str, Path]) -> None:
    wheel = wheels["axis-gateway-demo"]
    assert top_level(wheel) == {"simulators"}
    shipped = set(names(wheel))
    packaged = {path.relative_to(DEMO).as_posix() for path in (DEMO / "simulators").rglob("*") if path.is_file()}
    packaged = {name for name in packaged if "__pycache__" not in name}
    assert packaged <= shipped, sorted(packaged - shipped)
    assert "simulators/py.typed" in shipped, "typed, as the gateway's packages are"


def test_the_two_distributions_share_one_version(wheels: dict[str, Path]) -> None:
    """The demo's version is the gateway's, and it requires that version of the gateway exactly: its simulated
    systems are built on the contracts and connectors of the same release."""
    gateway, demo = metadata(wheels["axis-gateway"]), metadata(wheels["axis-gateway-demo"])
    assert gateway["Version"] == demo["Version"] == simulators.__version__ == __version__
    assert demo.get_all("Requires-Dist") == [f"axis-gateway=={__version__}"]
    assert gateway["Requires-Python"] == demo["Requires-Python"]


def test_the_demo_and_dev_extras_ask_for_the_demo(wheels: dict[str, Path]) -> None:
    gateway = metadata(wheels["axis-gateway"])
    assert {"demo", "dev"} <= set(gateway.get_all("Provides-Extra") or [])
    requires = [Requirement(line) for line in gateway.get_all("Requires-Dist") or []]
    demo = {str(requirement.marker) for requirement in requires if requirement.name == "axis-gateway-demo"}
    assert demo == {'extra == "demo"', 'extra == "dev"'}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["optional-dependencies"]["demo"] == ["axis-gateway-demo"]


def test_pip_resolves_the_readmes_install_from_the_checkout_alone(tmp_path: Path) -> None:
    """``pip install '.[demo]' ./demo`` (the README's first command) resolves with no index at all: the demo extra's
    requirement is met by ./demo named beside it, and the demo's pin of the gateway by ``.`` (a dry run, in this
    environment, whose other packages are installed)."""
    from test_readme import DEMO_COMMAND

    install = DEMO_COMMAND.split(" && ")[1].split()
    assert install[:2] == [".venv/bin/pip", "install"]
    report = tmp_path / "report.json"
    resolved = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--no-index",
            "--no-build-isolation",
            "--report",
            str(report),
            *(argument.strip("'") for argument in install[2:]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert resolved.returncode == 0, resolved.stderr
    installed = {
        item["metadata"]["name"]: item["download_info"]["url"]
        for item in json.loads(report.read_text(encoding="utf-8"))["install"]
    }
    assert installed.get("axis-gateway") == ROOT.as_uri()
    assert installed.get("axis-gateway-demo") == DEMO.as_uri()
