"""The Dockerfile (docker is not run): the image serves on GATEWAY_HOST:GATEWAY_PORT and its HEALTHCHECK asks
/healthz on that port, whatever it is. The health check's command is run as written against a real
``gateway serve`` that took its port from GATEWAY_PORT."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from ops_kit import ROOT
from support import TEST_PEPPER, free_port

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
# The runtime stage: instructions after the last FROM, continuation lines joined.
RUNTIME = re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[-1].replace("\\\n", " ")


def instruction(name: str) -> str:
    (found,) = re.findall(rf"^{name} (.*)$", RUNTIME, flags=re.MULTILINE)
    return found.strip()


def image_env() -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", instruction("ENV")))


def healthcheck() -> list[str]:
    """The HEALTHCHECK's command (exec form)."""
    options_and_command = instruction("HEALTHCHECK")
    command = options_and_command[options_and_command.index("CMD ") + 4 :]
    parsed: list[str] = json.loads(command)
    return parsed


def run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    command = healthcheck()
    assert command[0] == "python"
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env["GATEWAY_PORT"] = str(port)
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """``gateway serve`` as the image runs it (no --host, no --port), on a port given by GATEWAY_PORT."""
    data = tmp_path_factory.mktemp("dockerfile") / "var"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATA_DIR": str(data),
        "GATEWAY_SECRET_PEPPER": TEST_PEPPER,
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
    }
    command = instruction("CMD")
    log = data.parent / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", *json.loads(command)[1:]],
            env=env,
            stdout=out,
            stderr=out,
            cwd=data.parent,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "gateway serve did not answer on GATEWAY_PORT"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_image_serves_on_the_configured_port() -> None:
    command = json.loads(instruction("CMD"))
    assert command == ["gateway", "serve"], "host and port come from GATEWAY_HOST and GATEWAY_PORT"
    env = image_env()
    assert env["GATEWAY_HOST"] == "0.0.0.0"
    assert instruction("EXPOSE") == env["GATEWAY_PORT"]


def test_the_health_check_asks_the_configured_port() -> None:
    code = healthcheck()[-1]
    assert "GATEWAY_PORT" in code and "/healthz" in code
    assert "127.0.0.1:8000" not in code, "the port is not hard-coded"
    assert re.search(r"--timeout=\d+s", instruction("HEALTHCHECK"))


def test_the_health_check_passes_on_a_serving_gateway_and_fails_elsewhere(served: int) -> None:
    healthy = run_healthcheck(served)
    assert healthy.returncode == 0, healthy.stderr
    assert run_healthcheck(free_port()).returncode != 0
