"""``gateway connector new``, in process: the package it writes type-checks (``mypy --strict``, as the gateway's own
code), its connector reads at most ``max_response_bytes`` of an answer however large the sector system's, a title is
written as given, and nothing in the package's place is written over. The generated package is imported from the
directory it was written to, not installed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mypy import api as mypy_api

from connectors.base import ConnectorError, UpstreamError
from gateway.scaffold import ScaffoldError, connector_names, create_connector_package
from simulators.http import SimulatorServer

NAME = "scaffold_size_probe"
PACKAGE = f"{NAME}_connector"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ModuleType, ModuleType]]:
    """The package, written and imported: its connector module and its sandbox."""
    package = create_connector_package(connector_names(NAME, "Sở Giáo dục và Đào tạo"), tmp_path_factory.mktemp("pkg"))
    sys.path.insert(0, str(package))
    try:
        connector = __import__(f"{PACKAGE}.connector", fromlist=["*"])
        sandbox = __import__(f"{PACKAGE}.sandbox", fromlist=["*"])
        yield package, connector, sandbox
    finally:
        sys.path.remove(str(package))
        for module in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[module]


def test_the_generated_package_passes_mypy_strict(generated: tuple[Path, ModuleType, ModuleType]) -> None:
    """Its code and its tests, the conftest's fixtures included (which once used an attribute the simulators'
    server does not declare)."""
    package, _, _ = generated
    out, err, status = mypy_api.run(
        [
            "--strict",
            "--no-incremental",
            "--config-file",
            str(package / "pyproject.toml"),
            "--cache-dir",
            str(package / ".mypy_cache"),
            str(package / PACKAGE),
            str(package / "tests"),
        ]
    )
    assert status == 0, out + err


@pytest.mark.anyio
async def test_the_generated_connector_refuses_an_answer_too_large_to_hold(
    generated: tuple[Path, ModuleType, ModuleType],
) -> None:
    """An answer beyond ``max_response_bytes`` (10 MiB unless configured) is an UpstreamError, its body read no
    further than the limit: a sector system answering without bound cannot fill the gateway's memory. Answers
    within the limit are read as before."""
    _, connector_module, sandbox_module = generated
    huge = {"ma": "HS-0001", "ho_ten": "Nguyễn Thị Mai", "ngay_cap_nhat": "2025-01-01", "ghi_chu": "x" * 11_000_000}
    small = {"ma": "HS-0002", "ho_ten": "Trần Văn Hùng", "ngay_cap_nhat": "2025-01-02", "ghi_chu": "y" * 2000}
    query_model = __import__(f"{PACKAGE}.contract", fromlist=["*"]).ScaffoldSizeProbeQuery
    with SimulatorServer(sandbox_module.Sandbox([huge, small])) as server:
        config: dict[str, Any] = {"base_url": server.url, "api_key": sandbox_module.API_KEY}
        async with connector_module.ScaffoldSizeProbeConnector.from_config(config) as connector:
            assert (await connector.get("HS-0002")).name == "Trần Văn Hùng"
            with pytest.raises(UpstreamError, match="the answer is larger than 10485760 bytes") as read:
                await connector.get("HS-0001")
            assert read.value.reason == "protocol"
            with pytest.raises(UpstreamError, match="the answer is larger than"):
                await connector.search(query_model(name="Nguyễn Thị Mai"), limit=5)
        limited = connector_module.ScaffoldSizeProbeConnector.from_config({**config, "max_response_bytes": 1024})
        async with limited:
            with pytest.raises(UpstreamError, match="the answer is larger than 1024 bytes"):
                await limited.get("HS-0002")


def test_a_title_naming_a_placeholder_is_written_as_given(tmp_path: Path) -> None:
    title = "Hệ thống __NAME__ của __CLASS__"
    package = create_connector_package(connector_names("school_marks", title), tmp_path)
    readme = (package / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {title}: an axis-gateway connector\n"), readme[:200]
    assert 'title = "Hệ thống __NAME__ của __CLASS__"' in (package / "school_marks_connector/connector.py").read_text(
        encoding="utf-8"
    )


def test_a_link_in_the_packages_place_is_refused(tmp_path: Path) -> None:
    """A symbolic link where the package would go, even one to nowhere, is left alone: a clear error, no traceback."""
    link = tmp_path / "axis-connector-school-marks"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ScaffoldError, match="already exists"):
        create_connector_package(connector_names("school_marks"), tmp_path)
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


def test_the_generated_connector_always_checks_tls_and_takes_a_ca_bundle(
    generated: tuple[Path, ModuleType, ModuleType], tmp_path: Path
) -> None:
    """As the SDK's own adapters: no setting turns certificate checks off (``verify_tls: false`` is refused as an
    unknown setting), and a private CA is given as ``ca_bundle``, a file that must exist."""
    _, connector_module, _ = generated
    connector_class = connector_module.ScaffoldSizeProbeConnector
    base = {"base_url": "https://127.0.0.1:9/api", "api_key": "k"}
    with pytest.raises(ConnectorError, match="verify_tls"):
        connector_class.from_config({**base, "verify_tls": False})
    with pytest.raises(ConnectorError, match="ca_bundle"):
        connector_class.from_config({**base, "ca_bundle": str(tmp_path / "missing.pem")})
    assert "verify_tls" not in connector_class.config_model.model_fields
