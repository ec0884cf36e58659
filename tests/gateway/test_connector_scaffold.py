"""``gateway connector new``: the package it writes installs as its own distribution, passes its conformance tests,
is clean under ruff, and the gateway discovers and loads it through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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
