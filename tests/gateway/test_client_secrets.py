"""Client secrets and the token endpoint under attack, on running gateways: secrets stored as keyed hashes
(HMAC-SHA-256 under the pepper), argon2 hashes of earlier versions replaced on their next use, failed token
requests counted per client id and per address (429 ``too-many-failures`` with ``Retry-After``, audited), in
memory or in Redis shared by several gateways."""

from __future__ import annotations

import asyncio
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from limits.aio.storage import RedisStorage
from sqlmodel import col, select
from support import ClientCredentials, LiveServer, free_port, need_service, port_open

from gateway.audit.models import AuditEvent
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.http.server import uvicorn_options
from gateway.identity import passwords
from gateway.identity.clients import create_client
from gateway.identity.models import ClientSecret
from gateway.identity.passwords import (
    SCHEME,
    argon2_hash,
    hash_secret,
    keyed_tag,
    load_or_create_pepper,
    pepper_id,
    tag_matches,
    use_pepper,
    verify_secrets,
)
from gateway.identity.ratelimits import storage_uri
from gateway.identity.tokens import CLIENT_ASSERTION_TYPE

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "/oauth/token"


@pytest.fixture(scope="module")
def new_client(gateway_database_url: str) -> Callable[..., ClientCredentials]:
    def make(*scopes: str) -> ClientCredentials:
        async def run() -> ClientCredentials:
            async with standalone_session(gateway_database_url) as session:
                client, secret = await create_client(
                    session, name="Secret test", scopes=scopes, client_id=f"cs-{uuid.uuid4().hex[:12]}"
                )
                return ClientCredentials(client.client_id, secret)

        return asyncio.run(run())

    return make


@pytest.fixture(scope="module")
def serve(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., str]]:
    """Start gateways with the given settings (stopped at the end of the module); their URLs."""
    with ExitStack() as stack:

        def start(**overrides: object) -> str:
            return stack.enter_context(LiveServer(create_app(make_settings(**overrides)))).url

        yield start


def ask(
    url: str, client_id: str, secret: str, *, source: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A token request, from the loopback address ``source`` when given (127.0.0.1 otherwise)."""
    transport = httpx.HTTPTransport(local_address=source) if source else None
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.post(
            f"{url}{TOKEN}", data={"grant_type": "client_credentials"}, auth=(client_id, secret), headers=headers
        )


async def _stored(url: str, client_id: str) -> list[str]:
    async with standalone_session(url) as session:
        rows = await session.exec(
            select(ClientSecret.secret_hash).where(ClientSecret.client_id == client_id).order_by(col(ClientSecret.id))
        )
        return list(rows)


def stored_hashes(url: str, client_id: str) -> list[str]:
    return asyncio.run(_stored(url, client_id))


async def _set_hash(url: str, client_id: str, secret_hash: str) -> None:
    async with standalone_session(url) as session:
        rows = await session.exec(select(ClientSecret).where(ClientSecret.client_id == client_id))
        for row in rows:
            row.secret_hash = secret_hash
            session.add(row)
        await session.commit()


async def _token_events(url: str, client_id: str) -> list[AuditEvent]:
    async with standalone_session(url) as session:
        rows = await session.exec(
            select(AuditEvent)
            .where(AuditEvent.client_id == client_id, AuditEvent.operation == "token")
            .order_by(col(AuditEvent.seq))
        )
        return list(rows)


def refused(response: httpx.Response, slug: str = "too-many-failures") -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{slug}"
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


# --- the stored form ----------------------------------------------------------------------------------------------


def test_secrets_are_stored_as_keyed_hashes(
    http: httpx.Client, server: LiveServer, settings: Settings, gateway_database_url: str, make_client: Any
) -> None:
    # The session's gateway runs in this process, whose current pepper is the last one a gateway here started with
    # (other tests start gateways with peppers of their own): make it the session gateway's again, as a gateway
    # process of its own would have it.
    assert settings.secret_pepper is not None
    use_pepper(settings.secret_pepper.get_secret_value().encode())
    admin = make_client("admin")
    token = http.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(admin.client_id, admin.client_secret))
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    created = http.post("/v1/admin/clients", json={"name": "Keyed"}, headers=headers).json()
    [stored] = stored_hashes(gateway_database_url, created["client_id"])
    scheme, ident, digest = stored.split("$")
    # Made by the server, with the pepper of its settings.
    assert settings.secret_pepper is not None
    assert (scheme, ident) == (SCHEME, pepper_id(settings.secret_pepper.get_secret_value().encode()))
    assert len(digest) == 64
    assert created["client_secret"] not in stored
    assert ask(server.url, created["client_id"], created["client_secret"]).status_code == 200
    assert ask(server.url, created["client_id"], created["client_secret"][:-1]).status_code == 401


@pytest.mark.anyio
async def test_a_keyed_hash_needs_its_pepper(tmp_path: Path) -> None:
    secret = "a-secret-of-forty-three-characters-exactly!"
    use_pepper(b"p" * 32)
    first = hash_secret(secret)
    use_pepper(b"q" * 32)
    second = hash_secret(secret)
    assert first != second
    assert first.startswith(f"{SCHEME}${pepper_id(b'p' * 32)}$")
    match = await verify_secrets([first, second], secret)
    assert match is not None
    assert (match.index, match.legacy) == (0, False)
    assert await verify_secrets([first, second], secret + "x") is None
    # A hash made with a pepper this process does not know verifies nothing.
    assert await verify_secrets([f"{SCHEME}$000000000000${first.rsplit('$', 1)[1]}"], secret) is None
    # The pepper: the setting, else a generated file that stays.
    assert load_or_create_pepper(Settings(data_dir=tmp_path, secret_pepper="s" * 40)) == b"s" * 40
    generated = load_or_create_pepper(Settings(data_dir=tmp_path))
    assert len(generated) >= 32
    assert load_or_create_pepper(Settings(data_dir=tmp_path)) == generated
    with pytest.raises(ValueError, match="at least 32"):
        Settings(data_dir=tmp_path, secret_pepper="short")
    use_pepper(b"the test suite's secret pepper, not a real one")


def test_an_argon2_hash_is_replaced_on_its_next_use(
    server: LiveServer, gateway_database_url: str, new_client: Callable[..., ClientCredentials]
) -> None:
    client = new_client("population:read")
    legacy = argon2_hash(client.client_secret)
    asyncio.run(_set_hash(gateway_database_url, client.client_id, legacy))
    assert ask(server.url, client.client_id, "wrong-" + client.client_secret).status_code == 401
    assert stored_hashes(gateway_database_url, client.client_id) == [legacy]  # a failure changes nothing
    assert ask(server.url, client.client_id, client.client_secret).status_code == 200
    [migrated] = stored_hashes(gateway_database_url, client.client_id)
    assert migrated != legacy
    assert migrated.startswith(SCHEME + "$")
    assert ask(server.url, client.client_id, client.client_secret).status_code == 200
    assert ask(server.url, client.client_id, "wrong-" + client.client_secret).status_code == 401
    assert stored_hashes(gateway_database_url, client.client_id) == [migrated]


# --- failed requests ----------------------------------------------------------------------------------------------

#: The failure window of the tests below.
WINDOW = 60


def clear_of_the_window_edge(margin: float = 10.0) -> None:
    """Wait, when a window's edge is near, until the failures a test counts fall in one window. The sliding window
    counter's windows are aligned on multiples of their length; failures counted just before an edge weigh a little
    less than one each just after it, and the count, rounded down, lets one more in (the counter's approximation:
    at most one request a window). A test asserting the refusal that follows a number of failures must not cross
    an edge."""
    into = time.time() % WINDOW
    if into > WINDOW - margin:
        time.sleep(WINDOW - into + 0.05)


def test_a_client_id_is_refused_after_its_failures_and_audited(
    serve: Callable[..., str], gateway_database_url: str, new_client: Callable[..., ClientCredentials]
) -> None:
    url = serve(token_failures_per_client=3, token_failures_per_address=0, token_failure_window_seconds=WINDOW)
    target, bystander = new_client("population:read"), new_client("population:read")
    clear_of_the_window_edge()
    for _ in range(3):
        assert ask(url, target.client_id, "guess").status_code == 401
    retry_after = refused(ask(url, target.client_id, "guess"))
    assert retry_after <= WINDOW
    # Refused before its secret is checked: the right secret does not get through either (no oracle).
    refused(ask(url, target.client_id, target.client_secret))
    # Another client, from the same address, is not blocked.
    assert ask(url, bystander.client_id, bystander.client_secret).status_code == 200
    # Nor is the target from its own address: whoever knows a client id cannot keep that client from its tokens.
    assert ask(url, target.client_id, target.client_secret, source="127.0.0.2").status_code == 200
    events = asyncio.run(_token_events(gateway_database_url, target.client_id))[:-1]
    assert [(e.status, e.reason) for e in events[-5:]] == [
        (401, "oauth-error:invalid_client"),
        (401, "oauth-error:invalid_client"),
        (401, "oauth-error:invalid_client"),
        (429, "too-many-failures:client"),
        (429, "too-many-failures:client"),
    ]
    assert all(e.outcome == "refused" for e in events[-5:])


def test_an_address_is_refused_after_its_failures(
    serve: Callable[..., str], gateway_database_url: str, new_client: Callable[..., ClientCredentials]
) -> None:
    url = serve(token_failures_per_client=0, token_failures_per_address=4, token_failure_window_seconds=WINDOW)
    legitimate = new_client("population:read")
    assert ask(url, legitimate.client_id, legitimate.client_secret).status_code == 200
    clear_of_the_window_edge()
    for n in range(4):  # made-up client ids, each failing once
        assert ask(url, f"nobody-{n}-{uuid.uuid4().hex[:6]}", "guess").status_code == 401
    refused(ask(url, f"nobody-{uuid.uuid4().hex[:6]}", "guess"))
    # From this address now, even a good client waits (it shares the address with the attacker).
    refused(ask(url, legitimate.client_id, legitimate.client_secret))
    [event] = asyncio.run(_token_events(gateway_database_url, legitimate.client_id))[-1:]
    assert (event.status, event.reason) == (429, "too-many-failures:address")


def _timed(request: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def test_a_failure_takes_as_long_whether_the_client_exists_or_not(
    serve: Callable[..., str], new_client: Callable[..., ClientCredentials]
) -> None:
    # A known client's access is cached after its first use; an unknown id costs a database read. The floor keeps
    # that difference out of the answer's delay, for secrets and assertions alike.
    floor = 1.0
    url = serve(token_failure_floor_seconds=floor, token_failures_per_client=0, token_failures_per_address=0)
    known = new_client("population:read")
    success, took = _timed(lambda: ask(url, known.client_id, known.client_secret))
    assert success.status_code == 200, success.text
    assert took < floor  # a success is not delayed
    nobody = f"nobody-{uuid.uuid4().hex[:8]}"
    key = ec.generate_private_key(ec.SECP256R1())
    claims = {"iss": nobody, "sub": nobody, "aud": url + TOKEN, "exp": int(time.time()) + 60, "jti": uuid.uuid4().hex}
    assertion = jwt.encode(claims, key, algorithm="ES256")
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    for request in (
        lambda: ask(url, known.client_id, "wrong-" + known.client_secret),
        lambda: ask(url, nobody, "guess"),
        lambda: httpx.post(url + TOKEN, data=form, timeout=30),
    ):
        failure, took = _timed(request)
        assert failure.status_code == 401, failure.text
        assert failure.json()["error"] == "invalid_client"
        assert took >= floor
    # With no floor, a failure is answered at once.
    eager = serve(token_failure_floor_seconds=0, token_failures_per_client=0, token_failures_per_address=0)
    failure, took = _timed(lambda: ask(eager, nobody, "guess"))
    assert failure.status_code == 401
    assert took < floor


@pytest.mark.parametrize("proxy", [None, "127.0.0.1"])
def test_x_forwarded_for_is_believed_only_from_the_proxies_named(
    make_settings: Callable[..., Settings], new_client: Callable[..., ClientCredentials], proxy: str | None
) -> None:
    """The server ``gateway serve`` runs believes no X-Forwarded-For by default (uvicorn's believes 127.0.0.1): a
    local attacker could otherwise pick the address its failures count against. With the proxy named in
    ``GATEWAY_FORWARDED_ALLOW_IPS``, each client behind it is counted by its own address."""
    settings = make_settings(
        token_failures_per_client=0, token_failures_per_address=2, token_failure_window_seconds=WINDOW
    ).model_copy(update={"forwarded_allow_ips": proxy or ""})
    options = uvicorn_options(settings, host="127.0.0.1", port=0)
    options.pop("workers")
    legitimate = new_client("population:read")
    with LiveServer(create_app(settings), **options) as live:
        clear_of_the_window_edge()
        for n in range(2):
            attacker = {"X-Forwarded-For": f"198.51.100.{n}"}
            assert ask(live.url, f"nobody-{uuid.uuid4().hex[:6]}", "guess", headers=attacker).status_code == 401
        elsewhere = ask(
            live.url, legitimate.client_id, legitimate.client_secret, headers={"X-Forwarded-For": "203.0.113.9"}
        )
        if proxy is None:
            # Both failures counted against 127.0.0.1, whatever the header said: the next request from it waits.
            refused(elsewhere)
        else:
            assert elsewhere.status_code == 200, elsewhere.text


def test_successes_do_not_count(serve: Callable[..., str], new_client: Callable[..., ClientCredentials]) -> None:
    url = serve(token_failures_per_client=2, token_failures_per_address=2, token_failure_window_seconds=WINDOW)
    client = new_client("population:read")
    for _ in range(5):
        assert ask(url, client.client_id, client.client_secret).status_code == 200


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    parts = urlsplit(REDIS_URL)
    if not port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        need_service(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"gwtest-{uuid.uuid4().hex[:12]}"
    yield prefix
    asyncio.run(RedisStorage(storage_uri(REDIS_URL), key_prefix=prefix).reset())


def test_failures_add_up_across_gateways_in_redis(
    serve: Callable[..., str], redis_prefix: str, new_client: Callable[..., ClientCredentials]
) -> None:
    shared = {
        "redis_url": REDIS_URL,
        "rate_limit_key_prefix": redis_prefix,
        "token_failures_per_client": 4,
        "token_failures_per_address": 0,
        "token_failure_window_seconds": WINDOW,
    }
    first, second = serve(**shared), serve(**shared)
    target, bystander = new_client("population:read"), new_client("population:read")
    clear_of_the_window_edge()
    for url in (first, second, first, second):
        assert ask(url, target.client_id, "guess").status_code == 401
    refused(ask(first, target.client_id, target.client_secret))
    refused(ask(second, target.client_id, target.client_secret))
    assert ask(second, bystander.client_id, bystander.client_secret).status_code == 200


def test_an_unreachable_store_stops_token_requests_as_it_stops_data_requests(
    serve: Callable[..., str], new_client: Callable[..., ClientCredentials]
) -> None:
    """Failing closed (the default): no failure can be counted, and the data requests are refused too, so token
    requests are 503 ``rate-limit-unavailable``, never served uncounted (they used to be, silently). Failing
    open, they are served without counting, as the data requests are."""
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    client = new_client("population:read")
    closed_url = serve(redis_url=closed, token_failures_per_client=1, token_failures_per_address=1)
    for secret in ("guess", "guess", client.client_secret):
        answer = ask(closed_url, client.client_id, secret)
        assert answer.status_code == 503 and answer.json()["type"] == "/problems/rate-limit-unavailable"
        assert int(answer.headers["retry-after"]) >= 1
    open_url = serve(
        redis_url=closed, rate_limit_fail_open=True, token_failures_per_client=1, token_failures_per_address=1
    )
    for _ in range(3):
        assert ask(open_url, client.client_id, "guess").status_code == 401
    assert ask(open_url, client.client_id, client.client_secret).status_code == 200


def test_without_a_pepper_set_one_is_generated_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    pepper = load_or_create_pepper(settings)
    assert len(pepper) >= 32
    assert settings.pepper_path.read_bytes().strip() == pepper
    assert stat.S_IMODE(settings.pepper_path.stat().st_mode) == 0o600
    assert load_or_create_pepper(Settings(data_dir=tmp_path)) == pepper  # kept, not made anew


def test_a_keyed_tag_is_recognised_under_every_pepper_known_and_no_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_peppers", passwords._Peppers())
    old, new = os.urandom(32), os.urandom(32)
    passwords.use_pepper(old)
    tag = keyed_tag(b"cursor", b"payload")
    assert len(tag) == 16
    assert tag_matches(b"cursor", b"payload", tag)
    assert not tag_matches(b"cursor", b"payload!", tag)
    assert not tag_matches(b"other use", b"payload", tag)  # the purpose keeps uses apart
    passwords.use_pepper(new)  # a rotation: what the old pepper tagged is still recognised here
    assert keyed_tag(b"cursor", b"payload") != tag
    assert tag_matches(b"cursor", b"payload", tag)
    monkeypatch.setattr(passwords, "_peppers", passwords._Peppers())
    passwords.use_pepper(new)  # a process that never had the old pepper
    assert not tag_matches(b"cursor", b"payload", tag)
