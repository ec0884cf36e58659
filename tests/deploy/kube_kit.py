"""The Kubernetes kit of deploy/kubernetes/, read for the tests: its overlays built by ``kubectl kustomize``, its
tools (the validator, the PrometheusRule generator) loaded as modules, and ``gateway config check`` run on the
settings an overlay gives its pods."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path, PurePosixPath
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


def build_with_component(component: str) -> list[dict[str, Any]]:
    """The production overlay with ``components/<component>`` added to it, as an operator adds it: built from a copy
    of the kit (a component must be listed by the overlay that generates the ConfigMaps it refers to)."""
    kubectl_path = kubectl()
    with tempfile.TemporaryDirectory() as directory:
        copy = Path(directory) / "kubernetes"
        shutil.copytree(KIT, copy, ignore=shutil.ignore_patterns("tools", "README.md"))
        kustomization = copy / "overlays" / "production" / "kustomization.yaml"
        document = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
        document["components"] = [*document.get("components", []), f"../../components/{component}"]
        kustomization.write_text(yaml.safe_dump(document), encoding="utf-8")
        text = _build(str(copy / "overlays" / "production"), kubectl_path)
    return [document for document in yaml.safe_load_all(text) if document]


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


def pod_environment(resources: list[dict[str, Any]]) -> dict[str, str]:
    """The environment variables the server's pods get: the ConfigMap of their ``envFrom``."""
    deployment = one(resources, "Deployment", "axis-gateway")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (name,) = [ref["configMapRef"]["name"] for ref in container["envFrom"] if "configMapRef" in ref]
    data: dict[str, str] = one(resources, "ConfigMap", name)["data"]
    return data


def settings_file(resources: list[dict[str, Any]]) -> str:
    """The settings file the server's pods read (``GATEWAY_CONFIG``): found through the volume mounted there."""
    path = PurePosixPath(pod_environment(resources)["GATEWAY_CONFIG"])
    template = one(resources, "Deployment", "axis-gateway")["spec"]["template"]["spec"]
    (container,) = template["containers"]
    (mount,) = [m for m in container["volumeMounts"] if PurePosixPath(m["mountPath"]) == path.parent]
    (volume,) = [v for v in template["volumes"] if v["name"] == mount["name"]]
    text: str = one(resources, "ConfigMap", volume["configMap"]["name"])["data"][path.name]
    return text


def _moved(directory: Path, value: str) -> str:
    """A path of the pods, moved under ``directory``; any other value as it is."""
    return str(directory / value.lstrip("/")) if value.startswith("/") else value


def gateway(directory: Path, environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``gateway ARGS`` in ``directory`` with ``environment`` (and none of this process's ``GATEWAY_*``)."""
    return command(directory, environment, [sys.executable, "-m", "gateway", *args])


def command(directory: Path, environment: dict[str, str], argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``argv`` in ``directory`` with ``environment`` (and none of this process's ``GATEWAY_*``), the ``gateway``
    command and ``python`` of this environment first on the ``PATH``, as in the image."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
    return subprocess.run(
        argv,
        cwd=directory,
        env=base | {"PYTHONIOENCODING": "utf-8"} | environment,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def config_check(
    resources: list[dict[str, Any]], directory: Path, secrets: dict[str, str], settings: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``gateway config check`` as the pods' config-check step runs it: the pods' environment, with the paths of
    their volumes moved under ``directory``; the settings file of the overlay (or ``settings``); the secrets
    directory holding ``secrets`` (file name -> value)."""
    environment = {name: _moved(directory, value) for name, value in pod_environment(resources).items()}
    config = Path(environment["GATEWAY_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(settings_file(resources) if settings is None else settings, encoding="utf-8")
    if "GATEWAY_SECRETS_DIR" in environment:
        secrets_dir = Path(environment["GATEWAY_SECRETS_DIR"])
        secrets_dir.mkdir(parents=True, exist_ok=True)
        for name, value in secrets.items():
            (secrets_dir / name).write_text(value, encoding="utf-8")
    return gateway(directory, environment, "config", "check")


def pod_spec(resource: dict[str, Any]) -> dict[str, Any]:
    """The pod template's spec of a Deployment, Job or CronJob."""
    spec: dict[str, Any] = resource["spec"]
    if resource["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]["spec"]
    return template


def run_container(
    resources: list[dict[str, Any]],
    kind: str,
    name: str,
    directory: Path,
    secrets: dict[str, dict[str, str]],
    args: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the command of the (only) container of ``kind/name`` here, as in its pod (with ``args`` in place of its
    own, if given): its environment (``envFrom`` ConfigMaps and ``env``) and only the volumes it mounts, under
    ``directory``: the ConfigMaps' files, ``secrets`` (Secret name -> key -> value) as the Secret volumes give them,
    empty directories. The ``gateway`` command runs as ``python -m gateway``, any other (a shell script calling it)
    with this environment's ``gateway`` and ``python`` on its ``PATH``. The root filesystem of the pods is
    read-only: the command must write nothing but in its ``emptyDir`` volumes."""
    template = pod_spec(one(resources, kind, name))
    (container,) = template["containers"]
    environment: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        environment |= one(resources, "ConfigMap", ref["configMapRef"]["name"])["data"]
    environment |= {variable["name"]: variable["value"] for variable in container.get("env", [])}
    volumes = {volume["name"]: volume for volume in template["volumes"]}
    writable: list[Path] = []
    for mount in container["volumeMounts"]:
        target = Path(_moved(directory, mount["mountPath"]))
        target.mkdir(parents=True, exist_ok=True)
        volume = volumes[mount["name"]]
        if "emptyDir" in volume and not mount.get("readOnly"):
            writable.append(target)
        files: dict[str, str] = {}
        if "configMap" in volume:
            files = one(resources, "ConfigMap", volume["configMap"]["name"])["data"]
        sources = (
            [{"secret": {**volume["secret"], "name": volume["secret"]["secretName"]}}] if "secret" in volume else []
        )
        for source in sources + volume.get("projected", {}).get("sources", []):
            data = secrets[source["secret"]["name"]]
            items = source["secret"].get("items") or [{"key": key, "path": key} for key in data]
            files |= {item["path"]: data[item["key"]] for item in items}
        for file_name, text in files.items():
            (target / file_name).write_text(text, encoding="utf-8")
    environment = {variable: _moved(directory, value) for variable, value in environment.items()}
    before = {path for path in directory.rglob("*") if path.is_file()}
    args = container.get("args", []) if args is None else args
    if container["command"] == ["gateway"]:
        run = gateway(directory, environment, *[_moved(directory, arg) for arg in args])
    else:
        run = command(directory, environment, [*container["command"], *args])
    written = {path for path in directory.rglob("*") if path.is_file()} - before
    outside = sorted(str(path) for path in written if not any(path.is_relative_to(w) for w in writable))
    assert not outside, f"{kind}/{name} writes outside its emptyDir volumes (a read-only filesystem): {outside}"
    return run
