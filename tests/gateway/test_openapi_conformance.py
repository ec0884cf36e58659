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
from jsonschema import Draft202012Validator
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance
from support import STATED, TEST_PEPPER, empty_databases

from gateway.core import migrations
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.access import HEADER_VALUE
from gateway.identity.clients import create_client
from simulators.population import seed_population

ALL_SCOPES = ("admin", "audit", "axis", "population:read", "population:search", "population:submit")


@pytest.fixture(scope="module")
def conformance_settings(
    make_settings: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    with empty_databases(tmp_path_factory.mktemp("openapi"), "oagateway", "oapopulation") as (gateway, population):
        migrations.upgrade(gateway)
        asyncio.run(seed_population(population, count=50, seed=5))
        # A data directory of its own: the run rotates the signing key, which must not be the shared servers' one.
        yield make_settings(
            data_dir=tmp_path_factory.mktemp("openapi-data"),
            secret_pepper=TEST_PEPPER,
            database_url=gateway,
            connectors={"population": {"config": {"url": population, "writes": {}, "timeout_seconds": 2}}},
        )


def _new_token(app: Any, settings: Settings) -> str:
    """A token of a new client holding every scope, with its grants."""

    async def make() -> tuple[str, str]:
        async with standalone_session(settings.database_url) as session:
            client, secret = await create_client(
                session, name="Conformance", scopes=ALL_SCOPES, client_id=f"oa-{uuid.uuid4().hex[:8]}"
            )
            return client.client_id, secret

    client_id, secret = asyncio.run(make())
    with asgi.get_client(app) as http:
        answer = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


@pytest.fixture(scope="module")
def conformance_app(conformance_settings: Settings) -> Iterator[Any]:
    app = create_app(conformance_settings)
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture
def app_and_token(conformance_app: Any, conformance_settings: Settings) -> tuple[Any, str]:
    """The application and a new client's token: the schemathesis run changes clients and grants at random."""
    return conformance_app, _new_token(conformance_app, conformance_settings)


@pytest.fixture(scope="module")
def api_schema(conformance_app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", conformance_app)


# Plain regressions of what schemathesis found, independent of what it generates; before the schemathesis run,
# which changes clients and grants at random.


def _call(app: Any, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    headers = {**STATED, **({"Authorization": f"Bearer {token}"} if token else {}), **kwargs.pop("headers", {})}
    with asgi.get_client(app) as http:
        return http.request(method, path, headers=headers, **kwargs)


def _documented(api: dict[str, Any], method: str, template: str) -> set[str]:
    return set(api["paths"][template][method.lower()]["responses"])


def test_an_empty_cursor_is_the_first_page(app_and_token: tuple[Any, str]) -> None:
    app, token = app_and_token
    first = _call(
        app,
        "POST",
        "/v1/databases/population/search",
        token,
        json={"full_name": "Nguyễn Văn An", "date_of_birth": "1985"},
    )
    empty = _call(
        app,
        "POST",
        "/v1/databases/population/search",
        token,
        json={"full_name": "Nguyễn Văn An", "date_of_birth": "1985", "cursor": ""},
    )
    assert empty.status_code == 200, empty.text
    assert empty.json() == first.json()
    audit = _call(app, "GET", "/v1/audit", token, params={"cursor": ""})
    assert audit.status_code == 200, audit.text


@pytest.mark.parametrize("value", [False, True, "0", 1.5])
def test_overlap_seconds_is_a_json_integer(app_and_token: tuple[Any, str], value: Any) -> None:
    app, token = app_and_token
    created = _call(app, "POST", "/v1/admin/clients", token, json={"name": "Rotation"})
    assert created.status_code == 201, created.text
    client_id = created.json()["client_id"]
    refused = _call(app, "POST", f"/v1/admin/clients/{client_id}/secret", token, json={"overlap_seconds": value})
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "/problems/validation-error"
    accepted = _call(app, "POST", f"/v1/admin/clients/{client_id}/secret", token, json={"overlap_seconds": 60.0})
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/admin/grants", {"client_id": "x1", "database": "population", "operations": ["read"], "require_actor": 0}),
        ("/v1/admin/clients", {"name": "Flags", "rate_limit_per_second": True}),
    ],
)
def test_booleans_and_integers_are_not_interchangeable(
    app_and_token: tuple[Any, str], path: str, body: dict[str, Any]
) -> None:
    app, token = app_and_token
    answer = _call(app, "POST", path, token, json=body)
    assert answer.status_code == 422, answer.text


def test_an_integer_beyond_64_bits_in_a_submission_is_a_422(app_and_token: tuple[Any, str]) -> None:
    app, token = app_and_token
    body = b'{"operations": [{"op": "create", "record_id": "068185900001", "fields": {"n": 123456789012345678901234}}]}'
    answer = _call(
        app,
        "POST",
        "/v1/databases/population/records",
        token,
        data=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": f"big-{uuid.uuid4().hex[:8]}"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == "/problems/validation-error"


def test_a_wrong_method_answers_405_with_the_routes_methods(app_and_token: tuple[Any, str]) -> None:
    app, token = app_and_token
    api = _call(app, "GET", "/openapi.json").json()
    for path, template in [
        ("/v1/admin/grants", "/v1/admin/grants"),
        ("/v1/admin/clients/x1", "/v1/admin/clients/{client_id}"),
        ("/v1/databases/population/search", "/v1/databases/population/search"),
    ]:
        answer = _call(app, "PUT", path, token, json={})
        assert answer.status_code == 405, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        allowed = {method.strip() for method in answer.headers["allow"].split(",")}
        documented = {method.upper() for method in api["paths"][template]}
        # HEAD is served wherever GET is (gateway.http.head), as the OpenAPI document leaves unsaid.
        assert allowed == documented | ({"HEAD"} if "GET" in documented else set())


@pytest.mark.parametrize(
    ("method", "template", "path"),
    [
        ("GET", "/problems/{slug}", "/problems/no-such-problem"),
        ("GET", "/v1/contracts/{name}", "/v1/contracts/no.such"),
        ("GET", "/v1/admin/clients/{client_id}", "/v1/admin/clients/nobody-here"),
    ],
)
def test_404_is_documented_where_it_is_answered(
    app_and_token: tuple[Any, str], method: str, template: str, path: str
) -> None:
    app, token = app_and_token
    api = _call(app, "GET", "/openapi.json").json()
    answer = _call(app, method, path, token)
    assert answer.status_code == 404
    assert "404" in _documented(api, method, template)
    assert api["paths"][template][method.lower()]["responses"]["404"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    }


def test_authenticated_operations_document_the_authentication_problems(app_and_token: tuple[Any, str]) -> None:
    api = _call(app_and_token[0], "GET", "/openapi.json").json()
    for template, operations in api["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert {"400", "422", "504"} <= documented, (method, template)
            if operation.get("security"):
                assert {"401", "403", "429", "503"} <= documented, (method, template)
            if "requestBody" in operation:
                assert "413" in documented, (method, template)


@pytest.mark.parametrize(
    ("template", "name", "where"),
    [
        ("/v1/databases/population/records/{personal_id}", "X-Purpose", "header"),
        ("/v1/databases/population/records", "Idempotency-Key", "header"),
    ],
)
def test_header_patterns_are_stated(app_and_token: tuple[Any, str], template: str, name: str, where: str) -> None:
    api = _call(app_and_token[0], "GET", "/openapi.json").json()
    operation = next(iter(api["paths"][template].values()))
    parameter = next(p for p in operation["parameters"] if p["name"] == name and p["in"] == where)
    pattern = parameter["schema"].get("pattern") or parameter["schema"]["anyOf"][0]["pattern"]
    assert pattern == HEADER_VALUE.pattern


def _valid(api: dict[str, Any], component: str, body: Any) -> list[str]:
    """What in ``body`` breaks the document's ``component``."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": api["components"]}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(body)]


def test_the_idempotency_key_is_documented_as_required(app_and_token: tuple[Any, str]) -> None:
    app, token = app_and_token
    api = _call(app, "GET", "/openapi.json").json()
    operation = api["paths"]["/v1/databases/population/records"]["post"]
    keys = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert len(keys) == 1 and keys[0]["required"] is True and keys[0]["in"] == "header"
    # Missing, it is still the problem that names it.
    answer = _call(app, "POST", "/v1/databases/population/records", token, json={"operations": [{}]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["header"] == "Idempotency-Key"


def test_a_submission_its_receipt_and_the_feed_are_answered_as_documented(app_and_token: tuple[Any, str]) -> None:
    app, token = app_and_token
    api = _call(app, "GET", "/openapi.json").json()
    submit = api["paths"]["/v1/databases/population/records"]["post"]["responses"]["202"]
    assert {"Location", "Idempotent-Replayed", "X-Request-Id"} <= set(submit["headers"])
    submission = api["components"]["schemas"]["Submission"]["properties"]["operations"]["items"]
    assert submission["title"] == "SubmittedOperation"
    assert set(submission["required"]) == {"op", "record_id", "metadata"}
    assert api["components"]["schemas"]["Submission"]["properties"]["operations"]["maxItems"] == 500
    receipt = api["components"]["schemas"]["Receipt"]
    accepted = receipt["properties"]["accepted"]["items"]
    assert accepted == {"$ref": "#/components/schemas/AcceptedOperation"}
    assert api["components"]["schemas"]["Change"]["required"]
    after = next(
        p for p in api["paths"]["/v1/databases/population/changes"]["get"]["parameters"] if p["name"] == "after"
    )
    assert after["schema"]["pattern"] == "^[0-9]{0,18}$"

    body = {
        "operations": [
            {
                "op": "update",
                "record_id": "068185000123",
                "fields": {"marital_status": "married"},
                "metadata": {"changed_at": "2026-01-05T08:00:00+07:00"},
            },
            {
                "op": "update",
                "record_id": "068185000123",
                "fields": {"no_such_field": 1},
                "metadata": {"changed_at": "2026-01-05T08:00:00+07:00"},
            },
        ]
    }
    headers = {"Idempotency-Key": f"doc-{uuid.uuid4().hex[:8]}"}
    answer = _call(app, "POST", "/v1/databases/population/records", token, json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert _valid(api, "Receipt", answer.json()) == []
    assert answer.json()["rejected"][0]["problem"]["type"] == "/problems/validation-error"
    again = _call(app, "POST", "/v1/databases/population/records", token, json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    read = _call(app, "GET", answer.headers["location"], token)
    assert read.status_code == 200, read.text
    assert "state" in read.json()["accepted"][0]
    assert _valid(api, "Receipt", read.json()) == []
    feed = _call(app, "GET", "/v1/databases/population/changes", token)
    assert feed.status_code == 200, feed.text
    assert _valid(api, "ChangePage", feed.json()) == []


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
#: client, a scope on a database this gateway does not serve) and rules across values (an end before a start;
#: `scopes` may be left out of a change but not set to null; `delete` needs `submit`; a month not begun yet).
REFERENCE_ERRORS = frozenset(
    {
        "unknown_client",
        "unknown_database",
        "unknown_operation",
        "unknown_field",
        "validity",
        "purpose_required",
        "not_nullable",
        "delete_needs_submit",
        "month_not_begun",
    }
)


def _error_types(response: Any) -> set[str]:
    try:
        errors = response.json().get("errors") or [{}]
    except (ValueError, AttributeError):
        return {""}
    return {str(error.get("type", "")) for error in errors}


SECTOR_UNAVAILABLE = frozenset({"/problems/upstream-unavailable", "/problems/circuit-open"})

# Generated subscription URLs name random hosts, and checking a destination resolves its host: the run would send
# DNS queries off this machine. The route's refusals of bad URLs (422, never a 500) are tested with IP literals in
# test_exchange.py.
UNCHECKED = frozenset({"POST /v1/databases/population/subscriptions"})


def _run_all(api_schema: Any, authorization: str) -> list[str]:
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.label in UNCHECKED:
            continue

        @given(case=operation.as_strategy())
        @CONFORMANCE
        def check(case: Any) -> None:
            # The grants require a stated purpose and actor, which the document cannot make required (a grant
            # may not): sent unless generated.
            case.headers = {**STATED, **(case.headers or {}), "Authorization": authorization}
            response = case.call()
            excluded = []
            if case.operation.path.startswith("/v1/databases/") and response.status_code in (400, 422):
                # A contract's rules go beyond what its JSON Schema states (a personal id's province and birth year,
                # the combinations of search fields, a webhook URL's form): refusals there are checked for their
                # status, type and body, not as rejections.
                excluded.append(positive_data_acceptance)
            if response.status_code == 503 and _problem_type(response) in SECTOR_UNAVAILABLE:
                # The sector system's state, documented, not a failure of the gateway.
                excluded.append(not_a_server_error)
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
