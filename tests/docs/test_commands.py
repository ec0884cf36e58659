"""Every command the documentation shows is run by a test, and every route it names is a route of the gateway.

The shell blocks (``sh``, ``bash``, ``shell``, ``console``) of the README and of ``docs/`` are:

- run as written by this module, page by page, in one shell per page, next to a demo gateway started here (from
  the directory the demo runs in, as the pages say), with ``curl`` failing on any HTTP error (a wrong path or
  method fails the page);
- or run by the test a page names in ``RUN_ELSEWHERE`` (the tutorials, which start their own gateway);
- or marked as not to be run, by a first line ``# not run: REASON`` (they need Docker, a cluster, a collector).

A shell block with none of these fails the test: nothing is skipped silently. Blocks of other languages are
output or files, never commands. Every ``gateway`` option the pages name is checked by ``tests/test_readme.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import TEST_PEPPER, free_port

ROOT = Path(__file__).resolve().parents[2]
FORKSERVER = Path(__file__).resolve().parent / "cli_forkserver.py"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SHELL = {"sh", "bash", "shell", "console"}
NOT_RUN = re.compile(r"\A# not run: \S.{10,}")
DEMO_URL = "http://127.0.0.1:8000"

RUN_ELSEWHERE = {
    # The two commands: .ci/run runs the test command as written; tests/test_readme.py holds both to the letter,
    # and tests/gateway/test_demo.py runs the demo.
    "README.md": "tests/test_readme.py",
    "docs/index.md": "tests/test_readme.py",
    # Tutorials that start a gateway of their own.
    "docs/connectors.md": "tests/docs/test_connectors_tutorial.py",
    "docs/vi/README.md": "tests/docs/test_vi_guides.py",
    "docs/vi/co-quan.md": "tests/docs/test_vi_guides.py",
    "docs/vi/van-hanh.md": "tests/docs/test_vi_guides.py",
}

# What a page's commands must print or write, beyond succeeding.
EXPECTED: dict[str, list[str]] = {
    "docs/api.md": [r'\{"items": ?\[', r'"grants": ?\[', r'"type": ?"/problems/bad-header"'],
    "docs/cli.md": [
        r"^axis-gateway \d",
        r"^\d+ of 16 national databases connected",
        r"audit trail intact: \d+ events",
        r"so-tu-phap",
    ],
    "docs/configuration.md": [],
    "docs/databases.md": [],
    "docs/exchange.md": [
        r'"state":"delivered"',
        r"(?i)^idempotent-replayed: true",
        r'^\{"personal_id":"068325000417"',
        r'"record_id":"068325000417","op":"create"',
        r"^population \d+ create 068325000417$",
        r'^\{"subscriptions":\[\{"id":"[0-9a-f-]{36}","database":"population","url":"http://127\.0\.0\.1:\d+/changes","cursor":"[1-9]',
    ],
    "docs/quality.md": [],
    "docs/troubleshooting.md": [r"^settings valid$", r'"status": ?"ready"'],
}
#: Ports a page's own servers listen on (the webhook receiver of docs/exchange.md): a free port takes their place.
OWN_PORTS: dict[str, list[str]] = {"docs/exchange.md": ["8300"]}
FILES: dict[str, list[str]] = {
    "docs/configuration.md": ["settings.json"],
    "docs/databases.md": ["axis-report.html", "axis-report.json"],
    "docs/quality.md": ["quality-population.html"],
}


def relative(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def blocks(page: Path) -> list[tuple[str, str]]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def runnable(page: Path) -> list[str]:
    """The shell blocks of a page this module runs."""
    if relative(page) in RUN_ELSEWHERE:
        return []
    return [body for lang, body in blocks(page) if lang in SHELL and not NOT_RUN.match(body)]


RUN_HERE = [page for page in PAGES if runnable(page)]


def test_every_shell_block_is_run_or_marked() -> None:
    for page in PAGES:
        name = relative(page)
        if name in RUN_ELSEWHERE:
            runner = ROOT / RUN_ELSEWHERE[name]
            assert runner.is_file(), name
            # The runner names the page it runs (by path, or by file name for the Vietnamese guides' ORDER).
            assert name in runner.read_text(encoding="utf-8") or page.name in runner.read_text(encoding="utf-8")
            continue
        for lang, body in blocks(page):
            if lang in SHELL and body.startswith("# not run"):
                assert NOT_RUN.match(body), f"{name}: a block marked not to run must say why: {body[:80]!r}"
    # Every page that shows commands is run: by this module, or by its own test.
    assert {relative(page) for page in RUN_HERE} == set(EXPECTED), "pages run here: keep EXPECTED up to date"


def test_the_readme_and_the_home_page_show_only_the_two_commands() -> None:
    from test_readme import DEMO_COMMAND, TEST_COMMAND

    for name in ("README.md", "docs/index.md"):
        shell = [body.strip() for lang, body in blocks(ROOT / name) if lang in SHELL]
        assert shell == [DEMO_COMMAND, TEST_COMMAND], name


COMMAND = re.compile(r"^(?:\.venv/bin/)?(?:gateway|curl|docker|kubectl|pip|python3?|pytest|mkdocs|apt-get) ", re.M)


def test_no_command_hides_in_a_block_that_is_not_run() -> None:
    """Commands go in shell blocks, where they are run or marked; ``text`` blocks show output. (The Vietnamese
    guides keep their install commands in ``text`` blocks, as they say: their own test runs their ``sh`` blocks.)"""
    for page in PAGES:
        if relative(page).startswith("docs/vi/"):
            continue
        for lang, body in blocks(page):
            if lang not in SHELL:
                assert not COMMAND.search(body), f"{relative(page)}: a command in a {lang or 'plain'} block"


@dataclass
class Demo:
    url: str
    work: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``gateway demo`` with 300 citizens on a free port, in a directory of its own (its data in ``./var``, the
    repository's ``examples/`` beside it, as in a clone), and the environment the pages' commands run in: the
    ``gateway`` command of this environment (through ``cli_forkserver.py``, which saves each command the import of
    the gateway), and ``curl`` that fails on an HTTP error."""
    if shutil.which("curl") is None:
        pytest.skip("the documentation uses curl")
    base = tmp_path_factory.mktemp("docs")
    bin_dir, work = base / "bin", base / "work"
    bin_dir.mkdir()
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    commands = base / "gateway.sock"
    forkserver = subprocess.Popen(
        [sys.executable, str(FORKSERVER), "serve", str(commands)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wrappers = {
        "gateway": f'exec "{sys.executable}" -S "{FORKSERVER}" run "{commands}" "$@"',
        "curl": f'exec "{shutil.which("curl")}" --fail-with-body --show-error "$@"',
    }
    for name, body in wrappers.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GATEWAY_", "PYTHON"))}
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
        "GATEWAY_DATA_DIR": str(work / "var"),
        "GATEWAY_SECRET_PEPPER": TEST_PEPPER,
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    port = free_port()
    log = (base / "demo.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--citizens", "300", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert forkserver.stdout is not None and forkserver.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (base / "demo.log").read_text(encoding="utf-8")[-4000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not become ready"
            time.sleep(0.5)
        yield Demo(url=url, work=work, env=env)
    finally:
        for child in (process, forkserver):
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        log.close()


@pytest.mark.parametrize("page", RUN_HERE, ids=relative)
def test_the_page_runs_as_written(page: Path, demo: Demo) -> None:
    name = relative(page)
    script = "\n".join(runnable(page)).replace(DEMO_URL, demo.url)
    for port in OWN_PORTS.get(name, []):
        assert port in script, f"{name}: no port {port}"
        script = script.replace(port, str(free_port()))
    # A server a page starts in the background is stopped with the page's shell, even when a command fails.
    prologue = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    run = subprocess.run(
        ["bash", "-c", prologue + script],
        cwd=demo.work,
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, f"{name}\nstdout:\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-4000:]}"
    for pattern in EXPECTED[name]:
        assert re.search(pattern, run.stdout, re.MULTILINE), f"{name}: no {pattern!r} in\n{run.stdout[-4000:]}"
    for file in FILES.get(name, []):
        assert (demo.work / file).stat().st_size > 0, f"{name}: {file} not written"


ROUTE = re.compile(r"`((?:(?:GET|POST|PUT|PATCH|DELETE)`?,? `?)+)(/[^`\s?]*|\.\.\./[^`\s?]*)")
URL = re.compile(r"http://127\.0\.0\.1:8000(/[^\s\"'?)]*|\$\w+)")


def _curl_method(command: str) -> str:
    explicit = re.search(r"(?:-X|--request)\s+(\w+)", command)
    if explicit:
        return explicit.group(1).upper()
    if re.search(r"(?:^|\s)(?:-d|--data(?:-\w+)?|--json|-F|--form)\s", command):
        return "POST"
    return "GET"


def documented_routes(page: Path) -> list[tuple[str, str, str]]:
    """(method, path, where) for each route the page names: ``METHOD /path`` in code spans (``POST``, ``GET
    /path`` names both; ``POST .../suspend`` is the end of a path), and each ``curl`` of the demo's address in its
    code (the method as curl sends it)."""
    text = page.read_text(encoding="utf-8")
    found: list[tuple[str, str, str]] = []
    for methods, path in ROUTE.findall(text):
        for method in re.findall(r"GET|POST|PUT|PATCH|DELETE", methods):
            found.append((method, path, f"`{method} {path}`"))
    commands = "\n".join(body for _, body in BLOCK.findall(text)).replace("\\\n", " ")
    commands += "\n" + "\n".join(re.findall(r"`(curl [^`]+)`", text))
    for line in commands.splitlines():
        if "curl " not in line:
            continue
        for path in URL.findall(line):
            if not path.startswith("$"):
                found.append((_curl_method(line), path, line.strip()[:120]))
    return found


def _matches(documented: str, template: str) -> bool:
    """Whether a documented path (with ``{placeholders}``, ``$VARIABLES`` or concrete values) names a route of the
    gateway's template. ``.../end`` names the end of a path."""
    wanted, route = documented.rstrip("/").split("/"), template.rstrip("/").split("/")
    if wanted[0] == "...":
        wanted = wanted[1:]
        if len(wanted) >= len(route):
            return False
        route = route[-len(wanted) :]
    if len(wanted) != len(route):
        return False
    placeholder = re.compile(r"\{\w+\}|\$\w+|\$\{\w+\}|\w*\.\.\.|[A-Z][A-Z_]*")
    return all(
        a == b or placeholder.fullmatch(a) or (b.startswith("{") and a != "")
        for a, b in zip(wanted, route, strict=True)
    )


# Routes of another gateway than the demo: the tutorial's own connector, served by its own gateway (and run there).
OTHER_GATEWAY = {"docs/connectors.md"}
# Routes of other systems the pages describe.
OTHER_SYSTEMS = {
    # The simulated national platform (simulators/ndxp_hub): its token endpoint.
    ("docs/axis-platform.md", "POST", "/token"),
    ("docs/axis-platform.md", "GET", "/token"),
}


def test_every_route_the_docs_name_is_a_route_of_the_gateway(demo: Demo) -> None:
    """Against the running demo's OpenAPI document (its twelve databases' routes included): a wrong path, or a
    method the path does not take, fails."""
    spec: dict[str, Any] = json.loads(httpx.get(f"{demo.url}/openapi.json", timeout=30).text)
    routes = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    checked = 0
    wrong = []
    for page in PAGES:
        if relative(page) in OTHER_GATEWAY:
            continue
        for method, path, where in documented_routes(page):
            if (relative(page), method, path) in OTHER_SYSTEMS:
                continue
            checked += 1
            if not any(m == method and _matches(path, template) for m, template in routes):
                wrong.append(f"{relative(page)}: {method} {path} ({where})")
    assert checked > 80
    assert not wrong, "\n".join(wrong)
