"""The example third-party connector (``examples/axis-connector-civil-servants``), as another agency ships it: built
and installed as a distribution of its own, it passes the conformance kit, the gateway discovers it through its
entry point, and serves its records through HTTP with a token and a grant."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "axis-connector-civil-servants"
PYTHON = sys.executable


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example, built into a wheel and installed into a directory of its own (not into this environment)."""
    target = tmp_path_factory.mktemp("example-site")
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
            str(target),
            str(EXAMPLE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    assert (target / "civil_servants_connector" / "connector.py").is_file()
    assert any(path.name.startswith("axis_connector_civil_servants-") for path in target.glob("*.dist-info"))
    return target


def _env(site: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    return env | {"PYTHONPATH": str(site)}


def test_the_installed_example_passes_the_conformance_kit(site: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests"), "--rootdir", str(EXAMPLE)],
        cwd=tmp_path,  # not the checkout: the package must come from the installed distribution
        env=_env(site),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "failed" not in run.stdout and " passed" in run.stdout
    assert "TestCivilServantsConnector" in run.stdout or "passed" in run.stdout


def test_the_gateway_discovers_it_through_its_entry_point(site: Path, tmp_path: Path) -> None:
    listed = subprocess.run(
        [PYTHON, "-m", "gateway", "connector", "list"],
        cwd=tmp_path,
        env=_env(site),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("civil_servants "))
    assert "civil_servants_connector.connector.CivilServantsConnector" in line
    assert line.split()[2:] == ["civil_servants.official@1", "read,search"]  # its contract and capabilities
    assert "BROKEN" not in listed.stdout


def test_the_gateway_serves_it_with_a_token_and_a_grant(site: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, json, sys, threading, time
        import httpx, uvicorn
        from civil_servants_connector.sandbox import API_KEY, Sandbox, officials
        from gateway.core import migrations
        from gateway.http.app import create_app
        from gateway.core.db import standalone_session
        from gateway.identity.clients import create_client
        from gateway.core.settings import Settings
        from simulators.http import SimulatorServer

        data = sys.argv[1]
        url = f"sqlite+aiosqlite:///{data}/gateway.db"
        migrations.upgrade(url)

        async def client():
            async with standalone_session(url) as session:
                return await create_client(
                    session, name="Sở Tài chính", scopes=["civil_servants:read", "civil_servants:search", "axis"]
                )

        made, secret = asyncio.run(client())
        first = officials()[0]
        with SimulatorServer(Sandbox()) as api:
            settings = Settings(
                data_dir=data,
                database_url=url,
                connectors={"civil_servants": {"config": {"base_url": api.url, "api_key": API_KEY}}},
                log_level="WARNING",
            )
            server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_config=None))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.02)
            base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
            with httpx.Client(base_url=base, timeout=30) as http:
                token = http.post(
                    "/oauth/token", data={"grant_type": "client_credentials"}, auth=(made.client_id, secret)
                ).json()["access_token"]
                headers = {
                    "Authorization": f"Bearer {token}",
                    "X-Purpose": "1.001612.000.00.00.H41",
                    "X-Actor-Id": "CB-068-0001",
                }
                record = http.get(f"/v1/databases/civil_servants/records/{first['ma_can_bo']}", headers=headers)
                search = http.post(
                    "/v1/databases/civil_servants/search",
                    headers=headers,
                    json={"personal_id": first["so_dinh_danh"]},
                )
                missing = http.get("/v1/databases/civil_servants/records/CB-068-9999", headers=headers)
                deadline = time.monotonic() + 20
                while True:
                    axis = http.get("/v1/axis/civil_servants", headers=headers).json()
                    if axis["state"] == "connected" or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
            server.should_exit = True
            thread.join(timeout=30)
        print(json.dumps({
            "record": [record.status_code, record.json()],
            "search": [search.status_code, search.json()],
            "missing": missing.status_code,
            "axis": axis["state"],
            "expected": first,
        }, ensure_ascii=False))
        """
    )
    run = subprocess.run(
        [PYTHON, "-c", script, str(tmp_path)],
        cwd=tmp_path,
        env=_env(site),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    import json

    seen = json.loads(run.stdout.strip().splitlines()[-1])
    expected = seen["expected"]
    status, record = seen["record"]
    assert status == 200, record
    assert record["staff_code"] == expected["ma_can_bo"]
    assert record["person"]["personal_id"] == expected["so_dinh_danh"]
    assert record["person"]["full_name"] == expected["ho_ten"]
    assert record["category"] in ("cadre", "civil_servant", "public_employee")
    status, page = seen["search"]
    assert status == 200, page
    assert [item["staff_code"] for item in page["items"]] == [expected["ma_can_bo"]]
    assert seen["missing"] == 404
    assert seen["axis"] == "connected"
