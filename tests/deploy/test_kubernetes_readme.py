"""deploy/kubernetes/README.md as an operator follows it: the blocks marked ``# offline:`` (the keys, building and
validating the manifests) are run as written and give what the gateway accepts; the other commands need a cluster
and are checked against the kit: the ``gateway`` commands exist, the Secrets and their keys are those the
manifests mount, the secret settings created are settings that ``gateway config check`` accepts with the settings
file, the names and paths are the kit's."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from kube_kit import KIT, accepted_by_the_cli, build, build_with_component, config_check, kubectl, one, settings_file

from gateway.core.settings import Settings
from gateway.identity.datakeys import DataKeys
from gateway.identity.passwords import MIN_PEPPER_BYTES

ROOT = KIT.parents[1]
README = KIT / "README.md"
BLOCK = re.compile(r"^( *)```(\w+)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
OFFLINE = "# offline:"
SEPARATORS = {"|", "||", "&&", ";", "{", "}", ">", "<"}


def sh_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    found = []
    for indent, language, body in BLOCK.findall(text):
        if language == "sh":
            found.append("".join(line.removeprefix(indent) for line in body.splitlines(keepends=True)))
    return found


def commands(block: str) -> list[list[str]]:
    """The simple commands of a block: continuation lines joined, comments dropped, split at pipes and lists."""
    found: list[list[str]] = []
    for line in block.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in lexer:
            if token in SEPARATORS:
                if current:
                    found.append(current)
                current = []
            else:
                current.append(token)
        if current:
            found.append(current)
    return found


def all_commands() -> list[list[str]]:
    return [command for block in sh_blocks() for command in commands(block)]


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return build("production")


def test_the_offline_blocks_run_as_written(tmp_path: Path) -> None:
    """The keys made as the README says are keys the gateway loads; the manifests build and validate."""
    kubectl()
    blocks = [block for block in sh_blocks() if block.startswith(OFFLINE)]
    assert len(blocks) >= 2
    (tmp_path / "deploy").symlink_to(ROOT / "deploy")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "python3"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    run = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + "\n".join(blocks)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    assert "0 invalid" in run.stdout
    keys = DataKeys(path=tmp_path / "data-keys")
    assert keys.decrypt(keys.encrypt("webhook secret")) == "webhook secret"
    pepper = (tmp_path / "secret-pepper").read_bytes().strip()
    assert len(pepper) >= MIN_PEPPER_BYTES
    assert not (tmp_path / "signing-key.pem").exists(), "the signing keys are made by the gateway, in its database"
    for name in ("secret-pepper", "data-keys"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, f"{name} is readable by others"


def created_secrets() -> dict[str, dict[str, str | None]]:
    """The Secrets the README creates: name -> key -> the literal value (``None`` for a file)."""
    created: dict[str, dict[str, str | None]] = {}
    for command in all_commands():
        if command[:1] == ["kubectl"] and "create" in command and "secret" in command:
            name = command[command.index("generic") + 1]
            keys = created.setdefault(name, {})
            for arg in command:
                if arg.startswith("--from-literal="):
                    key, value = arg.removeprefix("--from-literal=").split("=", 1)
                    keys[key] = value
                elif arg.startswith("--from-file="):
                    value = arg.removeprefix("--from-file=")
                    keys[value.split("=", 1)[0] if "=" in value else Path(value).name] = None
    return created


def test_the_secrets_created_are_those_the_manifests_use(production: list[dict[str, Any]]) -> None:
    template = one(production, "Deployment")["spec"]["template"]["spec"]
    (container,) = template["containers"]
    assert not [ref for ref in container["envFrom"] if "secretRef" in ref], "no secret in the environment"
    wanted: dict[str, set[str]] = {}
    for volume in template["volumes"]:
        if "secret" in volume:
            items = volume["secret"].get("items", [])
            wanted.setdefault(volume["secret"]["secretName"], set()).update(item["key"] for item in items)
        for source in volume.get("projected", {}).get("sources", []):
            secret = source["secret"]
            wanted.setdefault(secret["name"], set()).update(item["key"] for item in secret["items"])
    for command in all_commands():
        if command[:1] == ["kubectl"] and "create" in command and "secret" in command:
            assert command[command.index("-n") + 1] == one(production, "Namespace")["metadata"]["name"]
    created = created_secrets()
    assert set(created) == set(wanted)
    for name, keys in wanted.items():
        assert keys <= set(created[name]), f"{name}: the README creates {set(created[name])}, the pods read {keys}"
    assert {"gateway_database_url", "gateway_redis_url"} <= set(created["axis-gateway-secrets"])


def test_every_secret_file_is_a_setting(production: list[dict[str, Any]], tmp_path: Path) -> None:
    """Each key of the Secret that is the secrets directory names a setting (its variable in lower case), and the
    pods' ``gateway config check`` accepts the settings file with those secrets, reading each where it belongs."""
    secrets = created_secrets()["axis-gateway-secrets"]
    for name in secrets:
        assert name == name.lower() and name.startswith("gateway_"), name
        field, *nested = name.removeprefix("gateway_").split("__")
        assert field in Settings.model_fields, name
        if field == "connectors":
            assert nested[1] == "config" and nested[0] in production_connectors(production), name
    values = {name: value or "" for name, value in secrets.items()}
    run = config_check(production, tmp_path, values)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    assert "PASSWORD" not in run.stdout
    assert shown["database_url"] == values["gateway_database_url"].replace("PASSWORD", "**********")
    assert shown["redis_url"] == values["gateway_redis_url"].replace("PASSWORD", "**********")
    population = values["gateway_connectors__population__config__url"]
    assert shown["connectors"]["population"]["config"]["url"] == population.replace("PASSWORD", "**********")


def production_connectors(production: list[dict[str, Any]]) -> set[str]:
    return set(tomllib.loads(settings_file(production)).get("connectors", {}))


def test_the_gateway_commands_exist() -> None:
    run_in_pods = [command[command.index("--") + 1 :] for command in all_commands() if "--" in command]
    assert len(run_in_pods) >= 4
    for command in run_in_pods:
        assert command[0] == "gateway"
        accepted_by_the_cli(command[1:])
    text = README.read_text(encoding="utf-8")
    for quoted in re.findall(r"`gateway ([a-z][^`]*)`", text):
        accepted_by_the_cli([arg for arg in shlex.split(quoted) if not arg.isupper()])


def test_names_and_paths_are_the_kits(production: list[dict[str, Any]]) -> None:
    namespaces = {"axis-gateway", "axis-gateway-demo"}
    # The upgrade from a file-based signing key adds the component signing-key-import for a while.
    names = {f"{r['kind'].lower()}/{r['metadata']['name']}" for r in build_with_component("signing-key-import")}
    for command in all_commands():
        if command[0] != "kubectl":
            continue
        if "-n" in command:
            assert command[command.index("-n") + 1] in namespaces, command
        for arg in command:
            if re.fullmatch(r"(job|deployment|service|deploy)/[a-z-]+", arg):
                kind, name = arg.split("/")
                kind = {"deploy": "deployment"}.get(kind, kind)
                assert f"{kind}/{name}" in names, arg
            if arg.startswith("deploy/") and kubectl_path_argument(command, arg):
                assert (ROOT / arg).exists(), arg
    for path in re.findall(r"`((?:deploy|overlays|base|components|tools)/[\w./-]+)`", README.read_text("utf-8")):
        assert (ROOT / path).exists() or (KIT / path).exists(), path


def kubectl_path_argument(command: list[str], arg: str) -> bool:
    """``arg`` is a file or directory of the repository (not ``deploy/axis-gateway``, a Deployment)."""
    return command[command.index(arg) - 1] in {"-k", "-f", "kustomize"}
