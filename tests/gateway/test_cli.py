"""The ``gateway`` command on a temporary data directory with the embedded SQLite default: versions, migrations,
clients and their secrets, and serving (one and two workers). Serving, ``--version``, the private data directory and
one of each command run as real subprocesses (``python -m gateway``); the other commands run in this process,
through typer's runner, with the same environment (starting the interpreter takes seconds each time).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from support import STATED, CommandResult, assert_private, free_port, port_open, run_gateway_command

from gateway import __version__
from gateway.core import migrations
from gateway.identity.passwords import pepper_id
from simulators.population import CITIZENS, seed_population

AGENCY = "Sở Y tế"
AGENCY_CODE = "000.00.00.H41"


def cli_env(data_dir: Path, *, population: bool = True) -> dict[str, str]:
    """The environment of a user who only set the data directory (no GATEWAY_DATABASE_URL, no other setting) and,
    with ``population``, the population database (where :func:`_seed_population` puts it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATA_DIR"] = str(data_dir)
    env["PYTHONIOENCODING"] = "utf-8"
    if population:
        env["GATEWAY_CONNECTORS__POPULATION__CONFIG__URL"] = (
            f"sqlite+aiosqlite:///{data_dir / 'sectors' / 'population.db'}"
        )
    return env


def gateway(
    data_dir: Path,
    *args: str,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    in_process: bool | None = None,
) -> subprocess.CompletedProcess[str] | CommandResult:
    """Run ``gateway ARGS`` to completion in the data directory (so no stray ``.env`` is read): in this process, or
    without ``in_process`` as ``python -m gateway ARGS`` (by default ``serve`` only: it would serve in this
    process if it did not stop)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if in_process is None:
        in_process = "serve" not in args
    if in_process:
        return run_gateway_command(args, env=env or cli_env(data_dir), cwd=data_dir)
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=data_dir,
        env=env or cli_env(data_dir),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str] | CommandResult) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


@dataclass(frozen=True)
class CreatedClient:
    client_id: str
    client_secret: str
    result: subprocess.CompletedProcess[str] | CommandResult


def create_client(data_dir: Path, *args: str, in_process: bool = True) -> CreatedClient:
    result = gateway(data_dir, "clients", "create", *args, in_process=in_process)
    assert result.returncode == 0, result.stderr
    client_id = re.search(r"^client_id:\s+(\S+)$", result.stdout, re.MULTILINE)
    secret = re.search(r"^client_secret:\s+(\S+)$", result.stdout, re.MULTILINE)
    assert client_id
    assert secret
    return CreatedClient(client_id.group(1), secret.group(1), result)


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serving(
    data_dir: Path, *args: str, startup_timeout: float = 60, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """``gateway serve --port <free> ARGS`` until ``/healthz`` answers; SIGTERM and a wait at the end."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    stderr = data_dir.parent / f"serve-{port}.log"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port), *args],
            cwd=data_dir,
            env=env or cli_env(data_dir),
            stdout=err,
            stderr=err,
        )
    served = Served(f"http://127.0.0.1:{port}", process, stderr)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            assert process.poll() is None, f"gateway serve exited with {process.returncode}:\n{served.log()}"
            assert time.monotonic() < deadline, f"gateway serve did not answer /healthz:\n{served.log()}"
            try:
                if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose database is upgraded by ``gateway db upgrade``."""
    directory = tmp_path_factory.mktemp("cli") / "data"
    result = gateway(directory, "db", "upgrade", in_process=False)
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture(scope="module")
def created(data_dir: Path) -> CreatedClient:
    """The health department's client, created with ``gateway clients create``."""
    return create_client(data_dir, AGENCY, "--scope", "population:read", "--agency-code", AGENCY_CODE, in_process=False)


@pytest.fixture(scope="module")
def server(data_dir: Path, created: CreatedClient) -> Iterator[Served]:
    """``gateway serve`` on the same data directory (already migrated)."""
    with serving(data_dir, "--no-migrate") as served:
        yield served


# --- version and database -----------------------------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    result = gateway(tmp_path, "--version", in_process=False)
    assert result.returncode == 0
    assert result.stdout.strip() == f"axis-gateway {__version__}"
    assert not (tmp_path / "gateway.db").exists()


def test_without_arguments_it_shows_the_commands(tmp_path: Path) -> None:
    result = gateway(tmp_path)
    output = result.stdout + result.stderr
    for command in ("serve", "demo", "db", "clients"):
        assert command in output


def _revisions(database: Path) -> list[tuple[str]]:
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchall()


def test_db_upgrade_creates_the_sqlite_file_and_db_downgrade_reverts_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = gateway(data, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert f"database at {migrations.HEAD} (head)" in result.stdout
    database = data / "gateway.db"
    assert database.is_file()
    assert _revisions(database) == [(migrations.head_revision(),)]
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"clients", "signing_keys", "alembic_version"} <= tables

    down = gateway(data, "db", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert "database at base" in down.stdout
    assert _revisions(database) == []


# --- clients ------------------------------------------------------------------------------------------------------


def test_clients_create_prints_the_id_and_the_secret_once(created: CreatedClient) -> None:
    assert re.fullmatch(r"client-[0-9a-f]{16}", created.client_id)
    assert len(created.client_secret) >= 32
    output = created.result.stdout + created.result.stderr
    assert output.count(created.client_secret) == 1
    assert "not kept" in created.result.stderr
    no_traceback(created.result)


def test_the_secret_is_not_stored_in_plaintext(data_dir: Path, created: CreatedClient) -> None:
    secret = created.client_secret.encode()
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert data_dir / "gateway.db" in files
    for path in files:
        assert secret not in path.read_bytes(), path
    with sqlite3.connect(data_dir / "gateway.db") as conn:
        client = conn.execute(
            "SELECT name, agency_code, scopes, status FROM clients WHERE client_id = ?", (created.client_id,)
        ).fetchone()
        hashes = [
            h
            for (h,) in conn.execute("SELECT secret_hash FROM client_secrets WHERE client_id = ?", (created.client_id,))
        ]
        grants = conn.execute(
            "SELECT database, operations, fields FROM grants WHERE client_id = ?", (created.client_id,)
        ).fetchall()
    # The data scope became a grant on every field; the client row keeps only non-data scopes.
    assert client == (AGENCY, AGENCY_CODE, "[]", "active")
    assert grants == [("population", '["read"]', None)]
    assert len(hashes) == 1
    # A keyed hash under the pepper the command generated in the data directory.
    pepper = (data_dir / "keys" / "secret-pepper").read_bytes().strip()
    assert hashes[0].startswith(f"hmac-sha256${pepper_id(pepper)}$")
    assert created.client_secret not in hashes[0]


def test_the_secret_works_at_the_token_endpoint(server: Served, created: CreatedClient) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        basic = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(created.client_id, created.client_secret),
        )
        assert basic.status_code == 200, basic.text
        assert basic.json()["scope"] == "population:read"
        post = http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created.client_id,
                "client_secret": created.client_secret,
            },
        )
        assert post.status_code == 200, post.text
        wrong = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(created.client_id, created.client_secret[:-1] + ("A" if created.client_secret[-1] != "A" else "B")),
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"


def test_clients_list_shows_the_client_but_not_the_secret(data_dir: Path, created: CreatedClient) -> None:
    result = gateway(data_dir, "clients", "list")
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [created.client_id, "active", "population:read", AGENCY] in rows
    assert created.client_secret not in result.stdout + result.stderr
    assert "$argon2" not in result.stdout
    assert "hmac-sha256$" not in result.stdout


def _client_names(data_dir: Path, client_id: str) -> list[str]:
    with sqlite3.connect(data_dir / "gateway.db") as conn:
        return [row[0] for row in conn.execute("SELECT name FROM clients WHERE client_id = ?", (client_id,))]


def test_a_duplicate_client_id_is_refused(data_dir: Path) -> None:
    first = gateway(data_dir, "clients", "create", "Sở Tư pháp", "--scope", "population:read", "--client-id", "so-tp")
    assert first.returncode == 0, first.stderr
    second = gateway(data_dir, "clients", "create", "Another", "--scope", "population:search", "--client-id", "so-tp")
    assert second.returncode != 0
    assert "already exists" in second.stderr
    assert "client_secret" not in second.stdout
    no_traceback(second)
    assert _client_names(data_dir, "so-tp") == ["Sở Tư pháp"]


@pytest.mark.parametrize("scope", ["Population:Read", "population read", "a:b:c"])
def test_a_malformed_scope_is_refused(data_dir: Path, scope: str) -> None:
    client_id = f"bad-scope-{abs(hash(scope)) % 10_000}"
    result = gateway(data_dir, "clients", "create", "X", "--scope", scope, "--client-id", client_id)
    assert result.returncode != 0
    assert "unknown scope" in result.stderr
    assert "client_secret" not in result.stdout
    no_traceback(result)
    assert _client_names(data_dir, client_id) == []


@pytest.mark.parametrize("client_id", ["has space", "a" * 65])
def test_an_invalid_client_id_is_refused(data_dir: Path, client_id: str) -> None:
    result = gateway(data_dir, "clients", "create", "X", "--scope", "population:read", "--client-id", client_id)
    assert result.returncode != 0
    assert "invalid client id" in result.stderr
    no_traceback(result)


def test_a_client_needs_a_scope(data_dir: Path) -> None:
    result = gateway(data_dir, "clients", "create", "X")
    assert result.returncode == 2
    assert "--scope" in result.stderr
    no_traceback(result)


# --- an unmigrated database ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("clients", "list"),
        ("clients", "create", "X", "--scope", "population:read"),
        ("serve", "--no-migrate", "--port", "0"),
    ],
    ids=["clients-list", "clients-create", "serve-no-migrate"],
)
def test_commands_on_an_unmigrated_database_say_to_upgrade(tmp_path: Path, args: tuple[str, ...]) -> None:
    if "serve" in args:
        args = (*args[:-1], str(free_port()))
    started = time.monotonic()
    result = gateway(tmp_path / "data", *args, timeout=60)
    assert result.returncode != 0
    assert "gateway db upgrade" in result.stderr
    no_traceback(result)
    assert time.monotonic() - started < 30


def test_commands_create_a_private_data_directory(tmp_path: Path) -> None:
    """The data directory a command creates is 0700 and the database it writes (with its journal files) 0600,
    whatever the user's umask."""
    data = tmp_path / "fresh" / "var"
    env = cli_env(data)
    for args in (("db", "upgrade"), ("clients", "create", "Office", "--scope", "population:read")):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import os, sys, runpy; os.umask(0o022); sys.argv = ['gateway', *sys.argv[1:]]; "
                "runpy.run_module('gateway', run_name='__main__')",
                *args,
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert "gateway.db" in assert_private(data)


# --- serving ------------------------------------------------------------------------------------------------------


def test_serve_migrates_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    with serving(data) as served:
        port = int(served.url.rpartition(":")[2])
        assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{served.url}/readyz")
        assert ready.status_code == 200, ready.text
        with sqlite3.connect(data / "gateway.db") as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (migrations.head_revision(),)
            # The signing key is in the database, its private part encrypted with the data key; no key file.
            stored = conn.execute("SELECT private_key FROM signing_keys").fetchall()
        assert len(stored) == 1 and stored[0][0].startswith("enc:v1:") and "PRIVATE KEY" not in stored[0][0]
        assert not (data / "keys" / "signing-key.pem").exists()
        # The command became the server (the same process, its signals reach uvicorn): a process of its own
        # module, not of the command line's (typer, click, the migrations' alembic are not in a worker's memory).
        cmdline = Path(f"/proc/{served.process.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:3] == [b"-m", b"gateway.http.serve"], cmdline
        key = data / "keys" / "data-keys"
        assert key.is_file()
        assert key.stat().st_mode & 0o777 == 0o600
        # The data directory (made 0755 by the test) is the gateway's only; so is everything it wrote in it: the
        # database with its write-ahead log and shared memory, the data key and its directory.
        written = assert_private(data)
        assert {"gateway.db", "gateway.db-wal", "gateway.db-shm", "keys", "keys/data-keys"} <= written
        served.process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so that the process ends "killed by SIGTERM"
        # (exit 143 for a shell or Docker; a clean stop for systemd).
        assert served.process.wait(timeout=15) in (0, -signal.SIGTERM)
    log = served.log()
    assert "Traceback" not in log
    assert "Application shutdown complete" in log
    assert "Finished server process" in log
    assert not port_open("127.0.0.1", port)


def test_the_serving_module_loads_neither_the_command_line_nor_the_server_until_it_serves() -> None:
    script = (
        "import sys, gateway.http.serve\n"
        "print(sorted(m for m in ('typer', 'click', 'alembic', 'uvicorn', 'sqlalchemy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_serve_without_connectors_serves_an_empty_catalogue_and_says_what_configures_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(data, env=cli_env(data, population=False)) as served:
        ready = httpx.get(f"{served.url}/readyz", timeout=10)
        paths = httpx.get(f"{served.url}/openapi.json", timeout=10).json()["paths"]
    assert ready.status_code == 503 and ready.json()["checks"]["connectors"] == {}
    assert not [path for path in paths if path.startswith("/v1/databases/")]
    log = served.log()
    assert "no connectors configured" in log
    assert "GATEWAY_CONNECTORS" in log and "[connectors.<id>]" in log and "GATEWAY_CONFIG" in log
    assert "population" not in log  # no database configured behind the operator's back


def test_serve_reads_its_settings_file_in_every_worker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _seed_population(data, 50)
    settings_file = data.parent / "gateway.toml"
    population = data / "sectors" / "population.db"
    settings_file.write_text(
        f'log_format = "console"\n[connectors.population]\nconfig = {{ url = "sqlite+aiosqlite:///{population}" }}\n',
        encoding="utf-8",
    )
    env = cli_env(data, population=False)
    with serving(data, "--workers", "2", "--config", str(settings_file), env=env) as served:
        for _ in range(6):  # whichever worker answers
            ready = httpx.get(f"{served.url}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["connectors"]["population"]["reachable"] is True
    assert "no connectors configured" not in served.log()

    broken = gateway(data, "serve", "--config", str(settings_file.with_name("missing.toml")), env=env)
    assert broken.returncode == 2 and "does not exist" in broken.stderr
    no_traceback(broken)


def test_production_refuses_several_workers_without_redis(tmp_path: Path) -> None:
    data = tmp_path / "data"
    production = cli_env(data) | {"GATEWAY_ENVIRONMENT": "production"}
    refused = gateway(data, "serve", "--workers", "2", "--port", str(free_port()), env=production)
    assert refused.returncode == 2, refused.stderr
    no_traceback(refused)
    assert "GATEWAY_REDIS_URL" in refused.stderr and "rate limits" in refused.stderr
    assert "--workers 1" in refused.stderr
    assert not (data / "gateway.db").exists()  # refused before touching anything
    development = gateway(
        data, "serve", "--workers", "2", "--no-migrate", "--port", str(free_port()), env=cli_env(data)
    )
    # Development allows it: refused only for another reason (the database is not migrated).
    assert development.returncode != 0 and "gateway db upgrade" in development.stderr
    assert "GATEWAY_REDIS_URL" not in development.stderr


def _seed_population(data_dir: Path, count: int) -> list[str]:
    """Put a small simulated population database where :func:`cli_env` points the population connector."""
    url = f"sqlite+aiosqlite:///{data_dir / 'sectors' / 'population.db'}"

    async def run() -> list[str]:
        await seed_population(url, count=count, seed=68)
        from gateway.core.db import create_engine

        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                stmt = sa.select(CITIZENS.c.so_dinh_danh).where(CITIZENS.c.ngay_mat.is_(None)).limit(5)
                return list((await conn.execute(stmt)).scalars())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _worker_counts(metrics_dir: Path) -> dict[str, tuple[float, float]]:
    """(tokens issued, records read) of each worker process, from its own multiprocess metrics file."""
    counts: dict[str, tuple[float, float]] = {}
    for path in sorted(metrics_dir.glob("counter_*.db")):
        tokens = records = 0.0
        for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(str(path)):
            _metric, sample, labels, _help = json.loads(key)
            if sample == "gateway_tokens_issued_total":
                tokens += value
            elif sample == "gateway_http_requests_total" and labels == {
                "method": "GET",
                "route": "/v1/databases/population/records/{personal_id}",
                "status": "200",
            }:
                records += value
        counts[path.stem] = (tokens, records)
    return counts


def _scraped_counts(http: httpx.Client) -> tuple[float, float]:
    """(tokens issued, records read) as a scrape reports them: the sum over the workers."""
    tokens = records = 0.0
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "gateway_tokens_issued_total":
                tokens = sample.value
            elif sample.name == "gateway_http_requests_total" and sample.labels == {
                "method": "GET",
                "route": "/v1/databases/population/records/{personal_id}",
                "status": "200",
            }:
                records = sample.value
    return tokens, records


def test_two_workers_share_the_signing_key(data_dir: Path, created: CreatedClient) -> None:
    """Every request goes on a new connection, so the kernel spreads them over both worker processes: every
    token, whichever worker issued it, is accepted by whichever worker verifies it."""
    data = data_dir
    ids = _seed_population(data, 300)
    client = created
    # No keep-alive: each request on a new connection, accepted by either worker.
    one_shot = httpx.Limits(max_keepalive_connections=0)
    with serving(data, "--workers", "2") as served, httpx.Client(base_url=served.url, limits=one_shot) as http:
        # The first worker up answers while the second may still be starting: wait for both.
        deadline = time.monotonic() + 60
        while served.log().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, served.log()
            time.sleep(0.1)
        tokens = []
        for _ in range(8):
            response = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client.client_id, client.client_secret),
            )
            assert response.status_code == 200, response.text
            tokens.append(response.json()["access_token"])

        def read(n: int, token: str, personal_id: str) -> None:
            response = http.get(
                f"/v1/databases/population/records/{personal_id}",
                headers={"Authorization": f"Bearer {token}", **STATED},
            )
            assert response.status_code == 200, (n, response.text)
            assert response.json()["personal_id"] == personal_id

        # Several connections at once: a worker busy with one leaves the next to the other (one at a time, the
        # kernel may hand every connection to the same, idle, worker).
        with ThreadPoolExecutor(max_workers=8) as pool:
            reads = [pool.submit(read, n, token, pid) for n, token in enumerate(tokens) for pid in ids]
            for future in reads:
                future.result()
        kids = {k["kid"] for _ in range(10) for k in http.get("/.well-known/jwks.json").json()["keys"]}
        scraped = {_scraped_counts(http) for _ in range(10)}
        workers = _worker_counts(data / "metrics")
    assert len(kids) == 1
    assert sorted(p.name for p in (data / "keys").iterdir()) == ["data-keys", "secret-pepper"]
    total = (len(tokens), len(tokens) * len(ids))
    # Whichever worker answers the scrape reports the sum of both (multiprocess metrics)...
    assert scraped == {total}
    # ... and each worker's own file shows what it served: a worker that served some, but not all, of the
    # requests proves that the other one served the rest.
    assert len(workers) == 2, workers
    assert_private(data / "metrics")
    assert any(0 < mine[i] < total[i] for mine in workers.values() for i in (0, 1)), (workers, served.log())
    assert "Traceback" not in served.log()
