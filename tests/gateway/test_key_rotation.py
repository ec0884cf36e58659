"""Rotating the gateway's signing key with two gateway processes (two apps served by uvicorn) sharing one
database (which holds the keys, their private parts encrypted with the data key) and one data key: the new key
signs everywhere soon, tokens of the old key keep working until they expire, and the old key leaves the JWKS
after that; a rotation of the data key re-encrypts the signing keys."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support import STATED, ClientCredentials, LiveServer, PlantedSearch, fetch_token, postgres_database

from gateway.core import migrations
from gateway.core.db import standalone_session, utcnow
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.clients import create_client
from gateway.identity.datakeys import PREFIX, DataKeyError, DataKeys
from gateway.identity.key_material import SigningKeyFile, public_jwk
from gateway.identity.models import SigningKey
from gateway.identity.signing_keys import active_signing_key, list_signing_keys

REFRESH_SECONDS = 1.0


@dataclass
class Pair:
    """Two gateway processes on one database and one data key."""

    a: httpx.Client
    b: httpx.Client
    settings: Settings
    admin: ClientCredentials
    reader: ClientCredentials

    def active_key(self) -> SigningKeyFile:
        """The active signing key as the database holds it (decrypted with the data key)."""

        async def load() -> SigningKeyFile:
            async with standalone_session(self.settings.database_url) as session:
                return await active_signing_key(session, DataKeys.from_settings(self.settings))

        return asyncio.run(load())

    def stored(self) -> dict[str, str | None]:
        """Every signing key's stored private part, by kid."""

        async def load() -> dict[str, str | None]:
            async with standalone_session(self.settings.database_url) as session:
                return {row.kid: row.private_key for row in await list_signing_keys(session)}

        return asyncio.run(load())


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own: rotating keys must not disturb the rest of the suite's gateway."""
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if server:
        with postgres_database(server, prefix="gwrotate") as url:
            migrations.upgrade(url)
            yield url
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('rotation') / 'gateway.db'}"
        migrations.upgrade(url)
        yield url


def _client(database_url: str, *scopes: str) -> ClientCredentials:
    async def run() -> ClientCredentials:
        async with standalone_session(database_url) as session:
            client, secret = await create_client(session, name="Rotation test", scopes=scopes)
            return ClientCredentials(client.client_id, secret)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def pair(
    make_settings: Callable[..., Settings], database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    settings = make_settings(
        database_url=database_url,
        # A data directory (so a data key file) of its own: the data key rotates here.
        data_dir=tmp_path_factory.mktemp("rotation-data"),
        data_key=None,
        signing_key_refresh_seconds=REFRESH_SECONDS,
        signing_key_refetch_seconds=0.2,
        token_ttl_seconds=120,
        token_leeway_seconds=5,
    )
    admin = _client(database_url, "admin")
    reader = _client(database_url, "population:read")
    with (
        LiveServer(create_app(settings)) as first,
        LiveServer(create_app(settings)) as second,
        httpx.Client(base_url=first.url, timeout=30) as a,
        httpx.Client(base_url=second.url, timeout=30) as b,
    ):
        yield Pair(a, b, settings, admin, reader)


@pytest.fixture(scope="module")
def record_path(planted: PlantedSearch) -> str:
    return f"/v1/databases/population/records/{planted.personal_ids[0]}"


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def published(api: httpx.Client) -> set[str]:
    return {key["kid"] for key in api.get("/.well-known/jwks.json").json()["keys"]}


def read(api: httpx.Client, path: str, token: str) -> int:
    return api.get(path, headers={"Authorization": f"Bearer {token}", **STATED}).status_code


def minted(pem: bytes, settings: Settings, subject: str) -> str:
    """A fresh token signed with ``pem`` (a private key the test kept), as a gateway process holding it signs."""
    now = int(time.time())
    claims = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": subject,
        "scope": "population:read",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": os.urandom(8).hex(),
    }
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return jwt.encode(claims, pem, algorithm="ES256", headers={"kid": public_jwk(private, "ES256")["kid"]})


def wait_until(condition: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_rotation_reaches_every_process_and_old_tokens_keep_working(pair: Pair, record_path: str) -> None:
    old_token = fetch_token(pair.b, pair.reader)
    old_kid = kid_of(old_token)
    assert kid_of(fetch_token(pair.a, pair.reader)) == old_kid  # both processes sign with the database's key
    old_pem = pair.active_key().pem
    assert read(pair.a, record_path, old_token) == 200

    admin = {"Authorization": f"Bearer {fetch_token(pair.a, pair.admin)}"}
    response = pair.a.post("/v1/admin/signing-keys/rotate", headers=admin)
    assert response.status_code == 201, response.text
    rotation = response.json()
    new_kid = rotation["kid"]
    assert new_kid != old_kid
    assert rotation["retired"] == [old_kid]

    # The active key is in the database, its private part encrypted; no key file is written.
    assert pair.active_key().kid == new_kid
    stored = pair.stored()
    for kid in (old_kid, new_kid):
        private = stored[kid]
        assert private is not None and private.startswith(PREFIX) and "PRIVATE KEY" not in private
    assert not pair.settings.key_path.exists()

    # The process that rotated signs with the new key at once; the other one trusts it at once.
    new_token = fetch_token(pair.a, pair.reader)
    assert kid_of(new_token) == new_kid
    assert read(pair.b, record_path, new_token) == 200
    # ... and signs with it within its refresh interval.
    assert wait_until(lambda: kid_of(fetch_token(pair.b, pair.reader)) == new_kid)

    # Tokens of the old key work until they expire, in both processes, cached or not.
    for api in (pair.a, pair.b):
        assert read(api, record_path, old_token) == 200
        assert read(api, record_path, minted(old_pem, pair.settings, pair.reader.client_id)) == 200
        assert published(api) == {old_kid, new_kid}

    listed = pair.a.get("/v1/admin/signing-keys", headers=admin)
    assert listed.status_code == 200
    by_kid = {key["kid"]: key for key in listed.json()}
    assert by_kid[new_kid]["active"] is True
    assert by_kid[new_kid]["retired_at"] is None
    assert by_kid[old_kid]["active"] is False
    assert by_kid[old_kid]["retired_at"] is not None
    assert by_kid[old_kid]["published_until"] is not None


def test_retired_key_leaves_when_its_tokens_have_expired(pair: Pair, record_path: str) -> None:
    admin = {"Authorization": f"Bearer {fetch_token(pair.a, pair.admin)}"}
    keys = pair.a.get("/v1/admin/signing-keys", headers=admin).json()
    retired = [key["kid"] for key in keys if key["retired_at"] is not None]
    assert retired
    active = next(key["kid"] for key in keys if key["active"])
    assert published(pair.a) == {active, *retired}

    async def age(kid: str) -> None:
        async with standalone_session(pair.settings.database_url) as session:
            row = await session.get(SigningKey, kid)
            assert row is not None
            row.retired_at = utcnow() - timedelta(seconds=pair.settings.token_ttl_seconds + 1)
            session.add(row)
            await session.commit()

    for kid in retired:
        asyncio.run(age(kid))
    # Once the tokens it signed have expired, a retired key leaves the JWKS of every process.
    assert published(pair.a) == {active}
    assert published(pair.b) == {active}
    assert read(pair.b, record_path, fetch_token(pair.a, pair.reader)) == 200


def test_retired_key_tokens_are_refused_once_it_left(pair: Pair, record_path: str) -> None:
    # Rotate again, keeping the outgoing private key, then age it out.
    kept = pair.active_key().pem
    admin = {"Authorization": f"Bearer {fetch_token(pair.b, pair.admin)}"}
    rotation = pair.b.post("/v1/admin/signing-keys/rotate", headers=admin).json()
    old_kid = rotation["retired"][0]
    for api in (pair.a, pair.b):
        assert read(api, record_path, minted(kept, pair.settings, pair.reader.client_id)) == 200

    async def age() -> None:
        async with standalone_session(pair.settings.database_url) as session:
            row = await session.get(SigningKey, old_kid)
            assert row is not None
            row.retired_at = utcnow() - timedelta(seconds=pair.settings.token_ttl_seconds + 1)
            session.add(row)
            await session.commit()

    asyncio.run(age())
    for api in (pair.a, pair.b):
        assert wait_until(
            lambda api=api: read(api, record_path, minted(kept, pair.settings, pair.reader.client_id)) == 401
        )


def test_cli_rotation_is_picked_up_by_running_processes(pair: Pair) -> None:
    before = kid_of(fetch_token(pair.a, pair.reader))
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_DATABASE_URL": pair.settings.database_url,
            "GATEWAY_DATA_DIR": str(pair.settings.data_dir),
            "GATEWAY_SIGNING_KEY_REFRESH_SECONDS": str(REFRESH_SECONDS),
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "rotate", "--json"],
        cwd=pair.settings.data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rotation = json.loads(result.stdout)
    assert rotation["retired"] == [before]
    new_kid = rotation["kid"]
    # Neither the key nor its ciphertext is logged.
    assert "PRIVATE" not in result.stderr + result.stdout
    assert all(private not in result.stderr for private in pair.stored().values() if private)
    for api in (pair.a, pair.b):
        assert wait_until(lambda api=api: kid_of(fetch_token(api, pair.reader)) == new_kid)

    listed = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "signing"],
        cwd=pair.settings.data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert rows[0][:3] == [new_kid, "ES256", "active"]
    assert before in {row[0] for row in rows if row[2] == "retired"}


def cli_env(pair: Pair) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_DATABASE_URL": pair.settings.database_url, "GATEWAY_DATA_DIR": str(pair.settings.data_dir)})
    return env


def test_rotating_the_data_key_reencrypts_the_signing_keys(pair: Pair, record_path: str) -> None:
    before = pair.stored()
    old_data_keys = pair.settings.data_key_file_path.read_text().split()
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "rotate-data-key", "--drop-old"],
        cwd=pair.settings.data_dir,
        env=cli_env(pair),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    held = [kid for kid, private in before.items() if private]
    assert f"signing keys: {len(held)}" in result.stdout
    after = pair.stored()
    new_data_keys = DataKeys(keys=pair.settings.data_key_file_path.read_text().split())
    for kid in held:
        old, new = before[kid], after[kid]
        assert old is not None and new is not None and new.startswith(PREFIX) and new != old
        assert new_data_keys.decrypt(new) == DataKeys(keys=old_data_keys).decrypt(old)
        with pytest.raises(DataKeyError):
            DataKeys(keys=old_data_keys).decrypt(new)
    # The running processes keep signing; a rotation made by one (encrypting with the new data key, which it
    # reloaded) is decrypted and used by the other.
    admin = {"Authorization": f"Bearer {fetch_token(pair.a, pair.admin)}"}
    rotation = pair.a.post("/v1/admin/signing-keys/rotate", headers=admin).json()
    assert new_data_keys.decrypt(pair.stored()[rotation["kid"]] or "").startswith("-----BEGIN PRIVATE KEY-----")
    assert wait_until(lambda: kid_of(fetch_token(pair.b, pair.reader)) == rotation["kid"])
    assert read(pair.a, record_path, fetch_token(pair.b, pair.reader)) == 200


@pytest.mark.skipif(not os.environ.get("GATEWAY_TEST_DATABASE_URL"), reason="NOTIFY: PostgreSQL only (SQLite polls)")
def test_a_rotation_is_announced_to_processes_that_poll_rarely(pair: Pair) -> None:
    """On PostgreSQL a rotation reaches a process at once (``NOTIFY``), long before its refresh interval."""
    settings = pair.settings.model_copy(update={"signing_key_refresh_seconds": 600.0})
    with LiveServer(create_app(settings)) as third, httpx.Client(base_url=third.url, timeout=30) as c:
        assert kid_of(fetch_token(c, pair.reader)) == pair.active_key().kid
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "keys", "rotate", "--json"],
            cwd=pair.settings.data_dir,
            env=cli_env(pair),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        new_kid = json.loads(result.stdout)["kid"]
        assert wait_until(lambda: kid_of(fetch_token(c, pair.reader)) == new_kid, seconds=5)
