"""The OpenAPI document is the contract: schemathesis generates requests for every operation of the served
document and checks every answer against it (no 5xx, every status documented, every body, header and content
type as documented, schema-valid input accepted, schema-invalid input refused), with a token holding every
scope and with an invalid one. The application is called in process (ASGI), with a fixed seed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance
from support import empty_databases

from gateway import migrations
from gateway.app import create_app
from gateway.db import standalone_session
from gateway.services.clients import create_client
from gateway.settings import Settings
from simulators.population import seed_population

ALL_SCOPES = ("admin", "audit", "axis", "population:read", "population:search", "population:submit")


@pytest.fixture(scope="module")
def conformance_settings(
    make_settings: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    with empty_databases(tmp_path_factory.mktemp("openapi"), "oagateway", "oapopulation") as (gateway, population):
        migrations.upgrade(gateway)
        asyncio.run(seed_population(population, count=50, seed=5))
        yield make_settings(
            database_url=gateway,
            connectors={"population": {"config": {"url": population, "writes": {}, "timeout_seconds": 2}}},
        )


@pytest.fixture(scope="module")
def app_and_token(conformance_settings: Settings) -> Iterator[tuple[Any, str]]:
    async def make() -> tuple[str, str]:
        async with standalone_session(conformance_settings.database_url) as session:
            client, secret = await create_client(
                session, name="Conformance", scopes=ALL_SCOPES, client_id=f"oa-{uuid.uuid4().hex[:8]}"
            )
            return client.client_id, secret

    client_id, secret = asyncio.run(make())
    app = create_app(conformance_settings)
    with asgi.get_client(app) as http:
        answer = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
    try:
        yield app, token
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(app_and_token: tuple[Any, str]) -> Any:
    app, _ = app_and_token
    return schemathesis.openapi.from_asgi("/openapi.json", app)


CONFORMANCE = settings(
    max_examples=8,
    deadline=timedelta(seconds=10),
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _problem_type(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


#: Validation errors that JSON Schema cannot state: references to what does not exist (a grant for an unknown
#: client, a scope on a database this gateway does not serve) and rules across values (an end before a start).
REFERENCE_ERRORS = frozenset({"unknown_client", "unknown_database", "unknown_operation", "validity"})


def _error_types(response: Any) -> set[str]:
    try:
        errors = response.json().get("errors") or [{}]
    except (ValueError, AttributeError):
        return {""}
    return {str(error.get("type", "")) for error in errors}


def _run_all(api_schema: Any, authorization: str) -> list[str]:
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @CONFORMANCE
        def check(case: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": authorization}
            response = case.call()
            excluded = []
            if response.status_code == 400 and _problem_type(response) == "/problems/invalid-cursor":
                # A cursor is opaque: a string of the documented form that the gateway did not issue is refused.
                excluded.append(positive_data_acceptance)
            if response.status_code == 422 and _error_types(response) <= REFERENCE_ERRORS:
                # A well-formed reference to something that does not exist (a grant for an unknown client).
                excluded.append(positive_data_acceptance)
            case.validate_response(response, excluded_checks=excluded)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # FailureGroup: every distinct failure of one operation
            failures.append(f"{operation.label}: {exc}")
    return failures


def test_every_answer_is_documented(api_schema: Any, app_and_token: tuple[Any, str]) -> None:
    failures = _run_all(api_schema, f"Bearer {app_and_token[1]}")
    assert not failures, "\n\n".join(failures)


def test_every_answer_to_an_invalid_token_is_documented(api_schema: Any) -> None:
    failures = _run_all(api_schema, "Bearer not-a-token")
    assert not failures, "\n\n".join(failures)
