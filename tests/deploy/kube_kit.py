"""The Kubernetes kit of deploy/kubernetes/, read for the tests: its overlays built by ``kubectl kustomize`` and its
tools (the validator, the PrometheusRule generator) loaded as modules."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli import app as cli_app

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "deploy" / "kubernetes"
TOOLS = KIT / "tools"
OVERLAYS = ("demo", "production")


def tool(name: str) -> ModuleType:
    """``deploy/kubernetes/tools/<name>.py`` as a module."""
    module_name = f"kube_kit_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def kubectl() -> str:
    """The path of kubectl; skips the test without it, except in CI (CI=true), where it fails."""
    found = shutil.which("kubectl")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl is missing: .ci/run installs it (Debian's kubernetes-client)")
        pytest.skip("kubectl is not installed (apt-get install kubernetes-client); CI runs these tests")
    return found


@cache
def _build(path: str, kubectl_path: str) -> str:
    run = subprocess.run([kubectl_path, "kustomize", path], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, f"kubectl kustomize {path} failed:\n{run.stderr}"
    return run.stdout


def build_text(overlay: str) -> str:
    """``kubectl kustomize deploy/kubernetes/overlays/<overlay>``: the YAML stream."""
    return _build(str(KIT / "overlays" / overlay), kubectl())


def build(overlay: str) -> list[dict[str, Any]]:
    """The resources of an overlay, as built by ``kubectl kustomize``."""
    return [document for document in yaml.safe_load_all(build_text(overlay)) if document]


def one(resources: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The only resource of ``kind`` (and ``name``) among ``resources``."""
    found = [r for r in resources if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} resources named {name}"
    return found[0]


def kinds(resources: list[dict[str, Any]]) -> set[str]:
    return {resource["kind"] for resource in resources}


def accepted_by_the_cli(args: list[str]) -> None:
    """``gateway ARGS`` names a command and options that exist (``--help`` stops before anything runs)."""
    umask = os.umask(0o022)
    try:
        result = CliRunner().invoke(cli_app, [*args, "--help"])
    finally:
        os.umask(umask)  # the gateway's callback restricts the umask of the process
    assert result.exit_code == 0, f"gateway {' '.join(args)}: {result.output}"
