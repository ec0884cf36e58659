"""The signing keys in the database: a key file of an earlier version is imported keeping its kid (by command, or
on the first start), gateways starting at once on an empty database make one key, and a data key that does not
decrypt the active key stops the start (and a rotation) with a clear error."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import jwt
import pytest
from sqlmodel import delete
from support import ClientCredentials, LiveServer, empty_databases, fetch_token

from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.identity.datakeys import PREFIX, DataKeyError, DataKeys, new_key, write_key_file
from gateway.identity.key_material import SigningKeyFile, new_signing_key
from gateway.identity.models import SigningKey
from gateway.identity.signing_keys import (
    SigningKeyUnavailable,
    ensure_signing_key,
    list_signing_keys,
    publish_signing_key,
)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """An empty, migrated gateway database of its own (on the suite's backend)."""
    with empty_databases(tmp_path, "gwkeystore") as (url,):
        migrations.upgrade(url)
        yield url


@pytest.fixture
def settings_for(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings on that database, with a data directory (so a data key file) of their own."""
    data_dir = tmp_path / "var"

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": database_url,
            "data_dir": data_dir,
            "data_key": None,  # the data key file of this data directory
            "connectors": {},
        }
        return make_settings(**(values | overrides))

    return make


def rows(url: str) -> list[SigningKey]:
    async def load() -> list[SigningKey]:
        async with standalone_session(url) as session:
            return await list_signing_keys(session)

    return asyncio.run(load())


def admin_client(url: str) -> ClientCredentials:
    async def run() -> ClientCredentials:
        async with standalone_session(url) as session:
            client, secret = await create_client(session, name="Key store test", scopes=["admin"])
            return ClientCredentials(client.client_id, secret)

    return asyncio.run(run())


def minted(key: SigningKeyFile, settings: Settings, subject: str) -> str:
    """An admin token signed with ``key``, as the gateway holding it signs."""
    now = int(time.time())
    claims = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": subject,
        "scope": "admin",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": os.urandom(8).hex(),
    }
    return jwt.encode(claims, key.pem, algorithm=key.algorithm, headers={"kid": key.kid})


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_DATABASE_URL": settings.database_url, "GATEWAY_DATA_DIR": str(settings.data_dir)})
    if settings.data_key is not None:
        env["GATEWAY_DATA_KEY"] = settings.data_key.get_secret_value()
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=settings.data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def legacy_deployment(settings: Settings, path: Path) -> SigningKeyFile:
    """What an earlier version left: the private key in a PEM file, its public half published in the database."""
    key = new_signing_key(settings.signing_algorithm)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.pem)

    async def publish() -> None:
        async with standalone_session(settings.database_url) as session:
            await publish_signing_key(session, key)

    asyncio.run(publish())
    return key


def test_the_import_command_keeps_the_kid_and_stores_the_key_encrypted(
    settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_for()
    settings.data_dir.mkdir(parents=True)
    legacy = legacy_deployment(settings, tmp_path / "old" / "signing-key.pem")
    admin = admin_client(settings.database_url)
    issued_before = minted(legacy, settings, admin.client_id)  # a token of the file-based deployment

    result = cli(settings, "keys", "import", "--path", str(tmp_path / "old" / "signing-key.pem"), "--json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["kid"] == legacy.kid and outcome["imported"] is True
    assert "PRIVATE" not in result.stderr + result.stdout
    (row,) = rows(settings.database_url)
    assert row.kid == legacy.kid and row.retired_at is None
    # The private key column holds ciphertext only: the data key decrypts it to the very key of the file.
    assert row.private_key is not None and row.private_key.startswith(PREFIX)
    assert legacy.pem.decode() not in row.private_key and "PRIVATE KEY" not in row.private_key
    assert DataKeys.from_settings(settings).decrypt(row.private_key) == legacy.pem.decode()
    with pytest.raises(DataKeyError):
        DataKeys(keys=[new_key()]).decrypt(row.private_key)
    assert row.private_key not in result.stderr

    again = cli(settings, "keys", "import", "--path", str(tmp_path / "old" / "signing-key.pem"), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["imported"] is False

    # A gateway started without the file signs with the imported key; the token issued before still verifies.
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as api:
        assert kid_of(fetch_token(api, admin)) == legacy.kid
        listed = api.get("/v1/admin/signing-keys", headers={"Authorization": f"Bearer {issued_before}"})
        assert listed.status_code == 200, listed.text
        assert [(key["kid"], key["active"]) for key in listed.json()] == [(legacy.kid, True)]

    missing = cli(settings, "keys", "import", "--path", str(tmp_path / "nowhere.pem"))
    assert missing.returncode == 1 and "cannot import" in missing.stderr


def test_the_first_start_imports_the_key_file_then_no_longer_reads_it(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for()
    legacy = legacy_deployment(settings, settings.key_path)
    admin = admin_client(settings.database_url)
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as api:
        assert kid_of(fetch_token(api, admin)) == legacy.kid
        listed = api.get(
            "/v1/admin/signing-keys", headers={"Authorization": f"Bearer {minted(legacy, settings, admin.client_id)}"}
        )
        assert listed.status_code == 200, listed.text
    (row,) = rows(settings.database_url)
    assert row.private_key is not None and row.private_key.startswith(PREFIX)

    # Once the database holds the keys, another file at the path is not read (the command imports it).
    other = new_signing_key(settings.signing_algorithm)
    settings.key_path.write_bytes(other.pem)
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as api:
        assert kid_of(fetch_token(api, admin)) == legacy.kid
    assert [row.kid for row in rows(settings.database_url)] == [legacy.kid]


def test_gateways_starting_at_once_on_an_empty_database_make_one_key(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for()
    admin = admin_client(settings.database_url)
    servers = [LiveServer(create_app(settings)) for _ in range(2)]
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=2) as pool:
        for server in pool.map(lambda server: server.__enter__(), servers):
            stack.callback(server.__exit__)
        kids = {kid_of(fetch_token(httpx.Client(base_url=server.url, timeout=30), admin)) for server in servers}
    (row,) = rows(settings.database_url)
    assert kids == {row.kid}
    assert row.serial == 1 and row.retired_at is None

    # The same at the level of the startup step, more processes at once, on an empty table again.
    async def start_many() -> set[str]:
        async with standalone_session(settings.database_url) as session:
            await session.exec(delete(SigningKey))
            await session.commit()

        async def one() -> str:
            async with standalone_session(settings.database_url) as session:
                return (await ensure_signing_key(session, settings, DataKeys.from_settings(settings))).kid

        return set(await asyncio.gather(*(one() for _ in range(4))))

    for _round in range(3):
        made = asyncio.run(start_many())
        (row,) = rows(settings.database_url)
        assert made == {row.kid} and row.retired_at is None


def test_a_data_key_that_does_not_decrypt_the_signing_key_stops_the_start(
    settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_for()

    async def start(given: Settings) -> None:
        state = create_app(given).state.gateway
        try:
            await state.start()
        finally:
            await state.engine.dispose()

    # The first start makes the key; a process with another data key, or none (a new key file is made), cannot
    # use it: the start fails saying so (no key material in the message), before serving any token.
    admin = admin_client(settings.database_url)
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as api:
        headers = {"Authorization": f"Bearer {fetch_token(api, admin)}"}
        # A running process whose data key file was replaced by a foreign key refuses to rotate (409, no 500).
        kept = settings.data_key_file_path.read_text()
        write_key_file(settings.data_key_file_path, [new_key()])
        try:
            refused_api = api.post("/v1/admin/signing-keys/rotate", headers=headers)
        finally:
            write_key_file(settings.data_key_file_path, kept.split())
        assert refused_api.status_code == 409, refused_api.text
        assert refused_api.headers["content-type"] == "application/problem+json"
        assert "does not decrypt the active signing key" in refused_api.json()["detail"]
    (row,) = rows(settings.database_url)
    for wrong in (settings_for(data_key=new_key()), settings_for(data_dir=tmp_path / "elsewhere")):
        with pytest.raises(SigningKeyUnavailable, match="no data key decrypts the signing key") as caught:
            asyncio.run(start(wrong))
        assert "GATEWAY_DATA_KEY" in str(caught.value) and row.kid in str(caught.value)

    # The commands refuse to rotate, or to seal the audit trail, with a data key no process uses; nothing changes.
    for command in (("keys", "rotate"), ("audit", "seal")):
        refused = cli(settings_for(data_key=new_key()), *command)
        assert refused.returncode == 1 and "no data key decrypts the signing key" in refused.stderr, command
    assert [(r.kid, r.private_key) for r in rows(settings.database_url)] == [(row.kid, row.private_key)]
    sealed = cli(settings, "audit", "seal")
    assert sealed.returncode == 0, sealed.stderr
