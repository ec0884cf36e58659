"""The README's promise, end to end: ``gateway demo`` seeds a simulated population database, prints ready
``curl`` command lines, and serves; the printed lines work when pasted into a shell (run here with the real
``curl``). A second start on the same data directory reuses the data and renews the demo client's secret; a
second start on a port already taken changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import STATED, TEST_PEPPER, assert_private, free_port

from contracts.names import normalize_name
from contracts.population import Citizen
from gateway.core import migrations
from gateway.demo import DemoInfo, keep_tokens_fresh

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="the curl binary is not installed")


@dataclass
class Demo:
    """A running ``gateway demo`` and what it printed."""

    process: subprocess.Popen[str]
    url: str
    banner: list[str]
    seconds_to_healthy: float
    stderr: Path
    directory: Path
    """The demo's working directory, which is also its data directory."""
    rest: queue.Queue[str] = field(default_factory=queue.Queue)

    def token(self, client_id: str = "demo") -> str:
        """The current token of one of the demo's clients, from the file the printed commands read."""
        return (self.directory / "demo-tokens" / client_id).read_text(encoding="ascii")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def line(self, pattern: str) -> str:
        """The one banner line matching ``pattern``, stripped."""
        found = [line.strip() for line in self.banner if re.search(pattern, line)]
        assert len(found) == 1, (pattern, self.banner)
        return found[0]

    @property
    def citizens(self) -> int:
        match = re.search(r"simulated population database: (\d+) citizens", self.line("citizens in"))
        assert match
        return int(match.group(1))

    @property
    def client_secret(self) -> str:
        return self.line(r"^\s*client_secret:").split()[-1]

    @property
    def fetch_command(self) -> str:
        return self.line(r"^\s*curl .*/v1/databases/population/records/")

    @property
    def token_command(self) -> str:
        return self.line(r"^\s*curl .* -u .*/oauth/token")

    @property
    def search_command(self) -> str:
        return self.line(r"^\s*curl .*/v1/databases/population/search")

    @property
    def submit_command(self) -> str:
        return self.line(r"^\s*curl .*/v1/databases/population/records$")

    @property
    def axis_command(self) -> str:
        return self.line(r"^\s*curl .*/v1/axis$")

    @property
    def audit_command(self) -> str:
        return self.line(r"^\s*curl .*/v1/audit\?subject=")

    @property
    def admin_command(self) -> str:
        return self.line(r"^\s*curl .*/v1/admin/clients$")

    def staff_secret(self, client_id: str) -> str:
        return self.line(rf"^\s*{client_id} \(scope \w+\): secret ").split()[-1]

    @property
    def served(self) -> list[str]:
        match = re.search(r"national databases served: (\d+) \(([a-z_, ]+)\)", self.line("databases served"))
        assert match
        served = match.group(2).split(", ")
        assert len(served) == int(match.group(1))
        return served


def demo_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATA_DIR"] = str(data_dir)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@contextmanager
def running_demo(data_dir: Path, *args: str, timeout: float = 120) -> Iterator[Demo]:
    """Start ``python -m gateway demo --port <free> ARGS``, read its banner up to the documentation line, and
    wait until ``/healthz`` answers. Stopped with SIGINT (Ctrl+C) at the end."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    stderr = data_dir.parent / f"demo-{port}.log"
    began = time.monotonic()
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "demo", "--port", str(port), *args],
            cwd=data_dir,
            env=demo_env(data_dir),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            encoding="utf-8",
        )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        banner: list[str] = []
        deadline = began + timeout
        while not (banner and banner[-1].startswith("API documentation:")):
            assert process.poll() is None, f"gateway demo exited with {process.returncode}:\n{stderr.read_text()}"
            assert time.monotonic() < deadline, f"no banner after {timeout} s: {banner}"
            try:
                banner.append(lines.get(timeout=0.2))
            except queue.Empty:
                continue
        while True:
            assert process.poll() is None, f"gateway demo exited with {process.returncode}:\n{stderr.read_text()}"
            assert time.monotonic() < deadline, "the demo never answered /healthz"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        yield Demo(process, url, banner, time.monotonic() - began, stderr, data_dir, lines)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_pasted(demo: Demo, command: str) -> Any:
    """Run a printed command line pasted into a shell of its own in the demo's directory, with the real curl;
    return its JSON output (the answer must be a success)."""
    assert command.startswith("curl ")
    assert CURL is not None
    result = subprocess.run(
        ["bash", "-c", f"{command} -w '\n%{{http_code}}'"],
        cwd=demo.directory,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.rpartition("\n")
    assert 200 <= int(status) < 300, (status, body)
    return json.loads(body)


def stop(demo: Demo) -> None:
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=30) == 0
    log = demo.stderr.read_text(encoding="utf-8", errors="replace")
    assert "Application shutdown complete" in log
    assert "Traceback" not in log


def fetch_token(url: str, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(f"{url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))


@needs_curl
def test_the_printed_commands_work_and_a_restart_renews_only_the_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_demo(data, "--citizens", "2000") as first:
        print(f"\nfirst demo start (2,000 citizens): {first.seconds_to_healthy:.2f} s until /healthz")
        assert first.citizens == 2000
        assert all(not line.lstrip().startswith(("{", "20")) for line in first.banner), "logs on stdout"
        assert first.line(r"^\s*client_id:").split()[-1] == "demo"

        # The ready request, pasted: a valid Citizen, the one named in the URL.
        fetch = first.fetch_command
        personal_id = fetch.rsplit("/", 1)[1]
        assert re.fullmatch(r"068\d{9}", personal_id)
        assert f"{first.url}/v1/databases/population/records/{personal_id}" in fetch
        citizen = Citizen.model_validate(run_pasted(first, fetch))
        assert citizen.personal_id == personal_id
        assert citizen.date_of_death is None

        # "Get a new token", pasted.
        issued = run_pasted(first, first.token_command)
        assert issued["token_type"] == "Bearer"
        scopes = set(issued["scope"].split())
        assert "axis" in scopes
        assert {f"{database}:read" for database in first.served} <= scopes
        assert {"population:read", "population:search"} <= scopes
        fresh = httpx.get(
            f"{first.url}/v1/databases/population/records/{personal_id}",
            headers={"Authorization": f"Bearer {issued['access_token']}", **STATED},
        )
        assert fresh.status_code == 200
        assert fresh.json() == citizen.model_dump(mode="json")

        # The search line, pasted: the sample citizen's name and year of birth find them.
        page = run_pasted(first, first.search_command)
        assert page["items"], page
        for item in page["items"]:
            assert normalize_name(item["full_name"]) == normalize_name(citizen.full_name)
            assert item["date_of_birth"][:4] == fresh.json()["date_of_birth"][:4]
        # The axis line, pasted: every served database connected (once checked), the other catalogue entries
        # pending.
        deadline = time.monotonic() + 30
        while (axis := run_pasted(first, first.axis_command))["connected"] < len(first.served):
            assert time.monotonic() < deadline, axis
            time.sleep(0.2)
        assert axis["total"] == 16
        assert axis["connected"] == len(first.served)
        assert axis["by_state"]["pending"] == 16 - len(first.served)
        # (connected, or degraded when the machine is loaded: both count as connected)
        connected = {item["id"] for item in axis["databases"] if item["state"] in ("connected", "degraded")}
        assert connected == set(first.served)
        # At least three of them are reached through the (simulated) national axis platform, and healthy.
        via_axis = {item["id"] for item in axis["databases"] if item["route"] == "axis"}
        assert len(via_axis) >= 3 and via_axis <= connected, axis
        assert {item["route"] for item in axis["databases"] if item["id"] in connected - via_axis} == {"direct"}
        assert first.line("national axis platform:").endswith(", ".join(sorted(via_axis)))
        # The submission line, pasted: the change is accepted, delivered, and read back.
        receipt = run_pasted(first, first.submit_command)
        assert [entry["record_id"] for entry in receipt["accepted"]] == [personal_id], receipt
        bearer = {"Authorization": f"Bearer {issued['access_token']}", **STATED}
        deadline = time.monotonic() + 30
        while (status := httpx.get(f"{first.url}/v1/receipts/{receipt['receipt_id']}", headers=bearer).json())[
            "accepted"
        ][0]["state"] != "delivered":
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        changed = httpx.get(f"{first.url}/v1/databases/population/records/{personal_id}", headers=bearer).json()
        assert changed["marital_status"] == "married"
        assert run_pasted(first, first.submit_command) == receipt  # pasted twice: the same receipt, nothing new
        # The audit line, pasted (as the demo-audit client): who looked at this citizen, the demo client among them.
        trail = run_pasted(first, first.audit_command)
        looked = {(item["client_id"], item["operation"]) for item in trail["items"]}
        assert ("demo", "read") in looked, trail
        assert all(personal_id in item["record_ids"] for item in trail["items"])
        # The admin line, pasted (as the demo-admin client): the demo's three clients.
        clients = {client["client_id"]: set(client["scopes"]) for client in run_pasted(first, first.admin_command)}
        assert clients["demo-audit"] == {"audit"} and clients["demo-admin"] == {"admin"}
        for client_id in ("demo-audit", "demo-admin"):
            assert fetch_token(first.url, client_id, first.staff_secret(client_id)).status_code == 200
        # The printed commands are short: they read the token from its file instead of carrying it.
        assert all(len(line) < 500 for line in first.banner), max(first.banner, key=len)
        first_secret = first.client_secret
        # From another directory, the gateway command manages this demo: its database and its connectors.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        scan = _manage(data, "quality", "scan", "land", cwd=elsewhere)
        assert scan.returncode == 0, scan.stderr
        assert f"using the gateway database sqlite+aiosqlite:///{data / 'gateway.db'}" in scan.stderr
        assert f"(settings: {data / 'demo.yaml'})" in scan.stderr
        assert "scores stored" in scan.stdout
        # The submission pasted above is delivered before the demo stops (else the next start delivers it, and
        # writes to the population database the check below compares).
        deadline = time.monotonic() + 60
        while _unfinished_operations(data / "gateway.db"):
            assert time.monotonic() < deadline, "the pasted submission was not delivered"
            time.sleep(0.2)
        stop(first)
    # The data directory and everything the demo wrote in it (the gateway's database, its key, the simulated
    # sector systems' databases) are private to the gateway's user.
    written = assert_private(data)
    assert {"gateway.db", "keys/data-keys", "sectors/population.db", "sectors/demo.json", "demo.yaml"} <= written

    # What the population database holds, the change delivered above included (a reseed would undo it). Its file
    # may still change on disk without a row changing (SQLite's checkpoint of a journal), so rows are compared.
    population = data / "sectors" / "population.db"
    seeded = _rows_digest(population)

    with running_demo(data, "--citizens", "2000") as second:
        print(f"second demo start (same data): {second.seconds_to_healthy:.2f} s until /healthz")
        assert second.citizens == 2000
        assert _rows_digest(population) == seeded, "the demo data was reseeded"
        assert second.fetch_command.rsplit("/", 1)[1] == personal_id
        assert second.client_secret != first_secret
        refused = fetch_token(second.url, "demo", first_secret)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        assert fetch_token(second.url, "demo", second.client_secret).status_code == 200
        assert Citizen.model_validate(run_pasted(second, second.fetch_command)).personal_id == personal_id
        stop(second)

    # What each start did to the clients is in the audit trail, as a command's change (no client, the OS user,
    # status 0): the first created the three clients and granted the demo client every database, the second gave
    # each a new secret and granted nothing more. The chain stays whole.
    staff = ["demo", "demo-admin", "demo-audit"]
    changes = _administration(data / "gateway.db")
    assert all(
        client is None and request_id.startswith("cli-") and status == 0 for *_, client, request_id, status in changes
    )
    assert sorted(str(target) for action, target, *_ in changes if action == "client.create") == staff
    assert [target for action, target, *_ in changes if action == "grant.add"] == ["demo"] * len(first.served)
    assert sorted(str(target) for action, target, *_ in changes if action == "secret.rotate") == staff
    verify = _manage(data, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _rows_digest(database: Path) -> str:
    """A digest of every row of every table of a SQLite database, in each table's stored order."""
    digest = hashlib.sha256()
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            digest.update(table.encode())
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                digest.update(repr(row).encode())
    return digest.hexdigest()


def _manage(data: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``gateway --data-dir DATA ARGS...`` on the demo's data directory, named on the command line only."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", "--data-dir", str(data), *args],
        cwd=cwd,
        env={k: v for k, v in demo_env(data).items() if k != "GATEWAY_DATA_DIR"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def _administration(gateway_db: Path) -> list[tuple[str, str | None, str | None, str, int]]:
    """The audit trail's changes of clients and grants, in order: action, client acted on, client, request id,
    status."""
    with closing(sqlite3.connect(f"file:{gateway_db}?mode=ro", uri=True)) as conn:
        query = (
            "SELECT action, target_client, client_id, request_id, status FROM audit_events "
            "WHERE action IN ('client.create', 'secret.rotate', 'client.update', 'grant.add') ORDER BY seq"
        )
        return [(str(a), t, c, str(r), int(st)) for a, t, c, r, st in conn.execute(query)]


def _unfinished_operations(gateway_db: Path) -> int:
    with closing(sqlite3.connect(gateway_db)) as conn:
        query = "SELECT count(*) FROM exchange_operations WHERE state IN ('pending', 'delivering')"
        return int(conn.execute(query).fetchone()[0])


@needs_curl
def test_a_second_demo_on_a_taken_port_changes_nothing(tmp_path: Path) -> None:
    """Started again in the same directory on the port the first one serves on, the demo says so in one line and
    exits non-zero before renewing any secret or printing anything: the first demo's secret and commands work."""
    data = tmp_path / "data"
    with running_demo(data, "--citizens", "300") as first:
        token_before = first.token()
        gateway_db = data / "gateway.db"
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "demo", "--port", str(first.port), "--citizens", "300"],
            cwd=data,
            env={**demo_env(data), "GATEWAY_LOG_LEVEL": "WARNING"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 3
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"error: cannot listen on 127.0.0.1:{first.port}: the address is already in use (is another gateway or "
            "demo running there?); nothing was changed"
        ]
        assert first.token() == token_before
        assert fetch_token(first.url, "demo", first.client_secret).status_code == 200
        assert Citizen.model_validate(run_pasted(first, first.fetch_command)).personal_id
        assert gateway_db.exists()
        stop(first)


# ``python -m gateway ARGS`` in an environment where the package ``simulators`` cannot be imported, as when the
# distribution axis-gateway-demo is not installed (a None in sys.modules makes every import of it fail).
WITHOUT_SIMULATORS = (
    "import runpy, sys; sys.modules['simulators'] = None; sys.argv = ['gateway', *sys.argv[1:]]; "
    "runpy.run_module('gateway', run_name='__main__', alter_sys=True)"
)


def test_the_demo_without_the_simulators_says_how_to_install_them(tmp_path: Path) -> None:
    """Without the distribution axis-gateway-demo, ``gateway demo`` prints one line giving the command that
    installs it (with this Python's pip) and exits 2, before reading settings or writing anything; the other
    commands do not need it."""
    env = {**demo_env(tmp_path / "var"), "GATEWAY_SECRET_PEPPER": TEST_PEPPER}
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_SIMULATORS, "demo", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: gateway demo needs the simulated sector systems (the distribution axis-gateway-demo, in the "
        "repository's demo/), which are not installed; from the repository's root: "
        f"{shlex.quote(sys.executable)} -m pip install '.[demo]' ./demo"
    ]
    assert not any(tmp_path.iterdir()), "nothing was written"
    upgraded = subprocess.run(
        [sys.executable, "-c", WITHOUT_SIMULATORS, "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"database at {migrations.HEAD} (head)"


def test_serve_on_a_taken_port_says_so_before_touching_the_database(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
            cwd=tmp_path,
            env={**demo_env(tmp_path / "var"), "GATEWAY_SECRET_PEPPER": TEST_PEPPER},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: the address is already in use (is another gateway or demo "
        "running there?); nothing was changed"
    ]
    assert not (tmp_path / "var").exists()


def test_the_token_files_are_renewed_while_the_demo_serves(tmp_path: Path) -> None:
    """The files the printed commands read get a new, working token when half of the old one's life has passed
    (here with a lifetime of two seconds, against a running demo)."""
    with running_demo(tmp_path / "data", "--citizens", "300") as demo:
        before = {client_id: demo.token(client_id) for client_id in ("demo", "demo-audit", "demo-admin")}
        info = DemoInfo(
            citizens=300,
            population_url="",
            client_id="demo",
            client_secret=demo.client_secret,
            access_token=before["demo"],
            expires_in=2,
            token_directory=demo.directory / "demo-tokens",
            sample_personal_id="",
            sample_full_name="",
            sample_birth_year="",
            staff_secrets={client_id: demo.staff_secret(client_id) for client_id in ("demo-audit", "demo-admin")},
        )
        stopped = threading.Event()
        refresher = threading.Thread(target=keep_tokens_fresh, args=(info, demo.url, stopped), daemon=True)
        refresher.start()
        try:
            deadline = time.monotonic() + 30
            while any(demo.token(client_id) == token for client_id, token in before.items()):
                assert time.monotonic() < deadline, "the token files were not renewed"
                time.sleep(0.1)
        finally:
            stopped.set()
            refresher.join(timeout=30)
        assert not refresher.is_alive()
        assert_private(demo.directory / "demo-tokens")
        renewed = httpx.get(f"{demo.url}/v1/axis", headers={"Authorization": f"Bearer {demo.token()}"})
        assert renewed.status_code == 200
        stop(demo)


def test_a_second_start_never_reseeds_even_with_another_size(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_demo(data, "--citizens", "300") as first:
        assert first.citizens == 300
        stop(first)
    with running_demo(data, "--citizens", "5000") as second:
        assert second.citizens == 300
        stop(second)


def test_the_demo_refuses_production(tmp_path: Path) -> None:
    env = {**demo_env(tmp_path), "GATEWAY_ENVIRONMENT": "production"}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "production" in result.stderr
    assert not (tmp_path / "sectors").exists()


def test_the_default_demo_of_20000_citizens(tmp_path: Path) -> None:
    """The plain ``gateway demo``: 20,000 citizens seeded on the first start (timed, shown with ``-s``)."""
    with running_demo(tmp_path / "data") as demo:
        print(f"\ndefault demo first start (20,000 citizens): {demo.seconds_to_healthy:.2f} s until /healthz")
        assert demo.citizens == 20000
        personal_id = demo.fetch_command.rsplit("/", 1)[1]
        response = httpx.get(
            f"{demo.url}/v1/databases/population/records/{personal_id}",
            headers={"Authorization": f"Bearer {demo.token()}", **STATED},
        )
        assert response.status_code == 200
        assert Citizen.model_validate(response.json()).personal_id == personal_id
        ready = httpx.get(f"{demo.url}/readyz").json()
        assert ready["checks"]["connectors"]["population"]["reachable"] is True
        stop(demo)


#: The series budget of one replica serving the demo's twelve databases (docs/metrics.md): the samples one scrape of
#: /metrics returns.
SERIES_BUDGET = 1000


def test_the_demo_metrics_stay_within_the_series_budget(tmp_path: Path) -> None:
    """The demo's twelve databases after representative traffic (reads, searches, 4xx, a submission, tokens,
    refused credentials, the axis): one scrape stays under the documented budget, without ``_created`` series."""
    with running_demo(tmp_path / "data", "--citizens", "300") as demo:
        bearer = {"Authorization": f"Bearer {demo.token()}", **STATED}
        with httpx.Client(base_url=demo.url, timeout=30) as http:
            personal_id = demo.fetch_command.rsplit("/", 1)[1]
            for database in demo.served:
                for record_id in (personal_id, "000000000000", "x"):
                    http.get(f"/v1/databases/{database}/records/{record_id}", headers=bearer)
            http.post("/v1/databases/population/search", headers=bearer, json={"full_name": "Nguyễn Văn A"})
            submit = shlex.split(demo.submit_command)
            change = json.loads(submit[submit.index("-d") + 1])
            accepted = http.post(
                "/v1/databases/population/records", headers={**bearer, "Idempotency-Key": "budget-1"}, json=change
            )
            assert accepted.status_code < 300, accepted.text
            assert fetch_token(demo.url, "demo", demo.client_secret).status_code == 200
            assert fetch_token(demo.url, "demo", "wrong").status_code == 401
            for path in ("/v1/axis", "/v1/services", "/v1/contracts", "/healthz", "/readyz", "/no/such/thing"):
                http.get(path, headers=bearer)
            http.get("/v1/services")  # 401
            http.get("/metrics")
            scrape = http.get("/metrics").text
        stop(demo)
    samples = [sample for family in text_string_to_metric_families(scrape) for sample in family.samples]
    names = {sample.name for sample in samples}
    assert "gateway_http_request_duration_seconds_bucket" in names and "gateway_requests_total" in names
    assert not [name for name in names if name.endswith("_created")]
    by_family: dict[str, int] = {}
    for sample in samples:
        by_family[sample.name] = by_family.get(sample.name, 0) + 1
    heaviest = sorted(by_family.items(), key=lambda item: -item[1])[:8]
    print(f"\ndemo /metrics after traffic: {len(samples)} samples; heaviest: {heaviest}")
    assert len(samples) < SERIES_BUDGET, heaviest
