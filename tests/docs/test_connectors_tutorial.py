"""``docs/connectors.md`` is run as written: every ``sh`` block, in order, in a shell, in an environment of its
own (a virtual environment layered over this one, so the tutorial's ``pip install -e`` does not touch the test
environment). The record the tutorial shows must be the record the gateway serves."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from support import free_port

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "connectors.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
#: The tutorial's gateway and sandbox listen on ports of their own, never the demo's (8000): a reader runs it with
#: the demo still running. The test puts free ports in their place.
TUTORIAL_PORT, SANDBOX_PORT, DEMO_PORT = "8100", "8200", "8000"

WRAPPERS = {
    # No download, ever: the tutorial's packages are all installed already, and the build backend too.
    "pip": 'if [ "$1" = install ]; then shift; exec "{python}" -m pip install --no-index --no-build-isolation "$@"; '
    'fi\nexec "{python}" -m pip "$@"',
    "pytest": 'exec "{python}" -m pytest -p no:cacheprovider "$@"',
    "gateway": 'exec "{python}" -m gateway "$@"',
}


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(TUTORIAL.read_text(encoding="utf-8")) if lang == language]


def layered_venv(path: Path) -> Path:
    """A virtual environment that sees this environment's packages (through a .pth file) and installs into its own
    site-packages. Returns its ``bin`` directory, with ``pip``, ``pytest`` and ``gateway`` in it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    purelib = Path(
        subprocess.run(
            [str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    )
    # An "import" line of a .pth file runs: addsitedir also reads that directory's own .pth files (the gateway's
    # editable install is one).
    parent = sysconfig.get_paths()["purelib"]
    (purelib / "_test_environment.pth").write_text(f"import site; site.addsitedir({parent!r})\n", encoding="utf-8")
    bin_dir = path / "bin"
    for name, body in WRAPPERS.items():
        wrapper = bin_dir / name
        wrapper.write_text("#!/bin/sh\n" + body.format(python=bin_dir / "python") + "\n", encoding="utf-8")
        wrapper.chmod(0o755)
    return bin_dir


def test_the_tutorial_keeps_off_the_demos_port_and_waits_for_live_servers() -> None:
    """Next to a running demo, a tutorial gateway on port 8000 would exit 3 (the address is taken) while the demo
    answered its health check, its token requests and its reads. So the tutorial uses other ports, and every loop
    that waits for a server started in the background stops, showing its log, when that server has exited."""
    script = "\n".join(blocks("sh"))
    assert DEMO_PORT not in script
    assert f"--port {TUTORIAL_PORT}" in script and f"--port {SANDBOX_PORT}" in script
    waits = [line for line in script.splitlines() if line.lstrip("(").startswith("until ")]
    assert len(waits) >= 2
    for line in waits:
        assert re.search(r"kill -0 \$\w+ .*\|\| \{ cat \S+\.log; exit 1; \}", line), line
        assert line.startswith("(") and line.endswith(")"), f"not in a subshell (its exit would end the shell): {line}"
    backgrounded = [line for line in script.splitlines() if line.rstrip().endswith("&")]
    assert backgrounded and all(re.search(r"> \S+\.log 2>&1 &$", line) for line in backgrounded), backgrounded


@pytest.mark.skipif(shutil.which("curl") is None, reason="the tutorial uses curl")
def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    commands = blocks("sh")
    assert len(commands) >= 6
    gateway_port, sandbox_port = free_port(), free_port()
    script = "\n".join(commands).replace(TUTORIAL_PORT, str(gateway_port)).replace(SANDBOX_PORT, str(sandbox_port))
    bin_dir = layered_venv(tmp_path / "venv")
    work = tmp_path / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GATEWAY_", "PYTHON"))}
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
        "GATEWAY_DATA_DIR": str(work / "var"),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    prologue = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    run = subprocess.run(
        ["bash", "-c", prologue + script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, f"stdout:\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-4000:]}"
    # Step 2: the kit passed, and the gateway listed the connector.
    assert re.search(r"\d+ passed", run.stdout) and " failed" not in run.stdout
    assert re.search(r"^land_registry\s+land_registry_connector\.connector\.LandRegistryConnector", run.stdout, re.M)
    # Step 4: the record shown in the tutorial is the one served.
    (shown,) = blocks("json")
    decoder = json.JSONDecoder()
    served = [decoder.raw_decode(run.stdout, match.start())[0] for match in re.finditer(r'\{"code"', run.stdout)]
    assert served == [json.loads(shown)], run.stdout[-2000:]
    # The audit trail holds the token request and the read, and verifies.
    verified = re.search(r"audit trail intact: (\d+) events", run.stdout)
    assert verified and int(verified.group(1)) >= 1, run.stdout[-2000:]
    # Nothing leaked into the test environment.
    assert not (Path(sysconfig.get_paths()["purelib"]) / "_test_environment.pth").exists()
    listed = subprocess.run(
        [sys.executable, "-m", "gateway", "connector", "list"], capture_output=True, text=True, timeout=120, check=False
    )
    assert "land_registry" not in listed.stdout
