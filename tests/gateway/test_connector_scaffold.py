"""``gateway connector new``: the package it writes installs as its own distribution, passes its conformance tests,
is clean under ruff, and the gateway discovers and loads it through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import pytest

PYTHON = sys.executable
BIN = Path(PYTHON).parent


def _gateway(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "gateway", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A scaffolded connector, installed (as a wheel built from it) into a site directory of its own."""
    work = tmp_path_factory.mktemp("scaffold")
    created = _gateway("connector", "new", "land_registry", "--title", "Sổ địa chính tỉnh", cwd=work)
    assert created.returncode == 0, created.stderr
    package = work / "axis-connector-land-registry"
    assert f"created {package.name}" in created.stdout
    site = work / "site"
    install = subprocess.run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(package),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    env = {key: value for key, value in env.items() if not key.startswith("GATEWAY_")} | {"PYTHONPATH": str(site)}
    return package, env


def test_the_package_has_every_part(installed: tuple[Path, dict[str, str]]) -> None:
    package, _ = installed
    for part in (
        "pyproject.toml",
        "README.md",
        "land_registry_connector/__init__.py",
        "land_registry_connector/connector.py",
        "land_registry_connector/config.py",
        "land_registry_connector/mapping.py",
        "land_registry_connector/contract.py",
        "land_registry_connector/sandbox.py",
        "tests/test_conformance.py",
    ):
        assert (package / part).is_file(), part
    pyproject = (package / "pyproject.toml").read_text(encoding="utf-8")
    assert '[project.entry-points."gateway.connectors"]' in pyproject
    assert 'land_registry = "land_registry_connector.connector:LandRegistryConnector"' in pyproject
    assert 'name = "axis-connector-land-registry"' in pyproject
    assert "jsonschema" in pyproject.split("[project.optional-dependencies]")[1].split("\n\n")[0]  # the kit needs it
    readme = (package / "README.md").read_text(encoding="utf-8")
    assert "Sổ địa chính tỉnh" in readme
    # The ways the settings configure a connector (README.md's Configuration): no other variable is needed.
    assert "export GATEWAY_CONNECTORS__LAND_REGISTRY__CONFIG__BASE_URL=" in readme
    assert "[connectors.land_registry.config]" in readme
    assert "export GATEWAY_CONNECTORS__LAND_REGISTRY__CONNECTOR" not in readme


def test_the_gateway_discovers_the_installed_connector(installed: tuple[Path, dict[str, str]]) -> None:
    package, env = installed
    listed = _gateway("connector", "list", cwd=package, env=env)
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("land_registry "))
    assert "land_registry_connector.connector.LandRegistryConnector" in line
    assert line.split()[2:] == ["land_registry.record@1", "read,search"]  # its contract and capabilities


def test_the_gateway_loads_and_serves_it_from_its_configuration(installed: tuple[Path, dict[str, str]]) -> None:
    package, env = installed
    script = textwrap.dedent(
        """
        import asyncio
        from gateway.records.registry import ConnectorRegistry
        from gateway.core.settings import Settings
        from land_registry_connector.sandbox import API_KEY, Sandbox
        from simulators.http import SimulatorServer

        async def main(url: str) -> None:
            settings = Settings(connectors={"land_registry": {"config": {"base_url": url, "api_key": API_KEY}}})
            registry = ConnectorRegistry.from_settings(settings)
            assert registry.failures == {}, registry.failures
            connector = registry.databases["land_registry"].connector
            await registry.start()
            try:
                assert (await connector.check()).ok
                record = await connector.get("HS-0002")
                print(record.contract_id(), record.model_dump_json())
            finally:
                await registry.close()

        with SimulatorServer(Sandbox()) as server:
            asyncio.run(main(server.url))
        """
    )
    run = subprocess.run(
        [PYTHON, "-c", script], cwd=package, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("land_registry.record@1 ")
    assert '"code":"HS-0002"' in run.stdout and '"name":"Trần Văn Hùng"' in run.stdout


def test_its_conformance_tests_pass_as_generated(installed: tuple[Path, dict[str, str]]) -> None:
    """The generated package's tests run the whole conformance kit, and pass: nothing skipped."""
    package, env = installed
    run = subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
    # The whole kit runs: the sandbox gives every check what it needs (a broken record for the search rules, a
    # connector that refuses submissions for the write path...), so none is skipped.
    assert "skipped" not in run.stdout, run.stdout[-3000:]


def test_the_generated_code_is_clean(installed: tuple[Path, dict[str, str]]) -> None:
    package, _ = installed
    lint = subprocess.run(
        [
            str(BIN / "ruff"),
            "check",
            "--isolated",
            "--no-cache",
            "--line-length",
            "120",
            "--select",
            "E,F,W,I,B,UP,SIM",
            ".",
        ],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout
    formatted = subprocess.run(
        [str(BIN / "ruff"), "format", "--isolated", "--no-cache", "--line-length", "120", "--check", "."],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Land Registry", "is not a connector name"),
        ("land__registry", "is not a connector name"),
        ("1land", "is not a connector name"),
        ("x", "is not a connector name"),
    ],
)
def test_a_bad_name_is_refused(tmp_path: Path, name: str, message: str) -> None:
    refused = _gateway("connector", "new", name, cwd=tmp_path)
    assert refused.returncode == 2
    assert message in refused.stderr
    assert not any(tmp_path.iterdir())


def test_an_existing_directory_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "axis-connector-tax_extra".replace("_", "-")).mkdir()
    refused = _gateway("connector", "new", "tax_extra", cwd=tmp_path)
    assert refused.returncode == 2
    assert "already exists" in refused.stderr


def _width(text: str) -> int:
    """Columns, as ruff counts them: two for an East Asian wide character."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


# The widest title allowed (80 columns), Vietnamese and wide characters in it, and the longest names: one without
# underscores (the longest class names), one with many.
WIDEST_TITLE = "Cơ sở dữ liệu đất đai tỉnh Lâm Đồng 地籍簿 (Sở Nông nghiệp và Môi trường) bản đồ"
assert _width(WIDEST_TITLE) == 80, _width(WIDEST_TITLE)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("land_registry", "Provincial land registry"),
        ("land_registry", WIDEST_TITLE),
        ("abcdefghijklmnopqrstuvwxyz012345", WIDEST_TITLE),
        ("a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p", "Sổ địa chính tỉnh"),
    ],
)
def test_the_package_passes_its_own_lint_whatever_the_name_and_title(tmp_path: Path, name: str, title: str) -> None:
    """``ruff check`` and ``ruff format --check`` in the generated package, with its own configuration: clean for
    any name and title allowed (a title on a docstring's first line made E501 once)."""
    created = _gateway("connector", "new", name, "--title", title, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    (package,) = tmp_path.iterdir()
    for command in (["check"], ["format", "--check"]):
        run = subprocess.run(
            [str(BIN / "ruff"), *command, "--no-cache", "."],
            cwd=package,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, f"ruff {' '.join(command)}:\n{run.stdout}{run.stderr}"


@pytest.mark.parametrize(
    ("title", "message"),
    [
        (WIDEST_TITLE + "x", "81 columns wide, more than the 80 allowed"),
        ("地" * 41, "82 columns wide"),
        ("Sổ\tđịa chính", "control characters"),
        ('Sổ "địa chính"', "quotes"),
        ("   ", "may not be empty"),
    ],
)
def test_a_title_the_package_cannot_hold_is_refused(tmp_path: Path, title: str, message: str) -> None:
    refused = _gateway("connector", "new", "land_registry", "--title", title, cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout
    assert message in refused.stderr
    assert not any(tmp_path.iterdir())


def test_a_directory_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    """``--directory`` names where the package goes: one that does not exist is an error (a mistyped path would
    become a tree of new directories), and so is a file; the package's own directory is still created inside an
    existing one."""
    missing = tmp_path / "no" / "such" / "dir"
    refused = _gateway("connector", "new", "land_registry", "--directory", str(missing), cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout
    assert f"--directory {missing} does not exist" in refused.stderr
    assert not (tmp_path / "no").exists()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a directory\n", encoding="utf-8")
    refused = _gateway("connector", "new", "land_registry", "--directory", str(a_file), cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout
    assert "is not a directory" in refused.stderr
    (tmp_path / "packages").mkdir()
    created = _gateway("connector", "new", "land_registry", "--directory", str(tmp_path / "packages"), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "packages" / "axis-connector-land-registry" / "pyproject.toml").is_file()


@pytest.mark.parametrize(
    ("name", "target"),
    [("population", "connectors.population:PopulationConnector"), ("rest", "connectors.rest:RestConnector")],
)
def test_the_name_of_an_installed_connector_is_refused(tmp_path: Path, name: str, target: str) -> None:
    """A name an installed distribution already registers in ``gateway.connectors``: two connectors under one name
    would clash (the gateway loads neither), so the package is not written."""
    refused = _gateway("connector", "new", name, cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout
    assert f"{name!r} is already the name of an installed connector, {target}" in refused.stderr
    assert "axis-gateway" in refused.stderr  # the distribution that registers it
    assert not any(tmp_path.iterdir())


def test_the_generated_connector_refuses_cursors_not_its_own(installed: tuple[Path, dict[str, str]]) -> None:
    """Its cursors are offsets in ASCII digits: Unicode digits (which ``str.isdigit()`` takes, and ``int()`` reads
    as digits or refuses), signs, spaces and offsets beyond what the sector system takes are refused with BadQuery,
    never a ValueError."""
    package, env = installed
    script = textwrap.dedent(
        """
        from connectors.base import BadQuery
        from land_registry_connector.connector import LandRegistryConnector

        assert LandRegistryConnector._offset(None) == 0
        assert LandRegistryConnector._offset("7") == 7
        assert LandRegistryConnector._offset(str(2**31 - 1)) == 2**31 - 1
        for cursor in ["²", "٣", "３", "1²", "-1", "+1", " 1", "1\\n", "0", "007", "", "1e3", str(2**31), "9" * 30]:
            try:
                LandRegistryConnector._offset(cursor)
            except BadQuery:
                continue
            raise SystemExit(f"{cursor!r} was taken for a cursor")
        print("refused")
        """
    )
    run = subprocess.run(
        [PYTHON, "-c", script], cwd=package, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "refused"
