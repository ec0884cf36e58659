"""What an agency system generating its client from ``/openapi.json`` relies on: the answers the gateway really
gives validate against the document, a record cut to the caller's grant included, and the document names the
headers the answers carry."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from support import STATED, ClientCredentials, PlantedSearch, fetch_token

from gateway.core.db import standalone_session
from gateway.identity.clients import create_client
from gateway.identity.grants import GrantCreate, add_grant


def _validator(document: dict[str, Any], component: str) -> Draft202012Validator:
    """A validator of ``component`` of the document, its references resolved within the document."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _problems(validator: Draft202012Validator, body: Any) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(body)]


@pytest.fixture(scope="module")
def document(api: httpx.Client) -> dict[str, Any]:
    answer = api.get("/openapi.json")
    assert answer.status_code == 200
    return dict(answer.json())


@pytest.fixture(scope="module")
def narrow_token(api: httpx.Client, gateway_database_url: str) -> str:
    """A token of a client whose grant covers two fields of a citizen, a nested one among them."""

    async def make() -> ClientCredentials:
        async with standalone_session(gateway_database_url) as session:
            client, secret = await create_client(session, name="Narrow", client_id=f"narrow-{uuid.uuid4().hex[:8]}")
            spec = GrantCreate(
                client_id=client.client_id,
                database="population",
                operations=["read", "search"],
                fields=["full_name", "date_of_birth", "permanent_address.province_code"],
            )
            await add_grant(session, spec)
            return ClientCredentials(client.client_id, secret)

    return fetch_token(api, asyncio.run(make()))


def test_a_record_cut_to_the_grant_is_valid_against_the_document(
    api: httpx.Client, document: dict[str, Any], narrow_token: str, planted: PlantedSearch
) -> None:
    headers = {"Authorization": f"Bearer {narrow_token}", **STATED}
    answer = api.get(f"/v1/databases/population/records/{planted.personal_ids[0]}", headers=headers)
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert set(record) == {"personal_id", "full_name", "date_of_birth", "permanent_address"}
    assert set(record["permanent_address"]) == {"province_code"}
    assert _problems(_validator(document, "Citizen"), record) == []
    # The key is always there: the document still requires it.
    assert _problems(_validator(document, "Citizen"), {"full_name": "Nguyễn Văn An"}) != []


def test_a_page_cut_to_the_grant_is_valid_against_the_document(
    api: httpx.Client, document: dict[str, Any], narrow_token: str, planted: PlantedSearch
) -> None:
    headers = {"Authorization": f"Bearer {narrow_token}", **STATED}
    body = {"full_name": planted.full_name, "date_of_birth": str(planted.year), "page_size": 2}
    answer = api.post("/v1/databases/population/search", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"], answer.text
    assert _problems(_validator(document, "CitizenPage"), answer.json()) == []


def test_the_document_says_which_fields_may_be_missing(document: dict[str, Any]) -> None:
    citizen = document["components"]["schemas"]["Citizen"]
    assert citizen["required"] == ["personal_id"]
    assert "grant covers" in citizen["description"]
    assert "required" not in document["components"]["schemas"]["Address"]
    # Request bodies keep what they require.
    assert document["components"]["schemas"]["TokenResponse"]["required"]


def test_every_answer_documents_its_request_id_and_problems_their_headers(
    api: httpx.Client, document: dict[str, Any]
) -> None:
    headers = document["components"]["headers"]
    assert {"X-Request-Id", "Content-Language", "Retry-After", "WWW-Authenticate"} <= set(headers)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                named = set(response.get("headers", {}))
                assert "X-Request-Id" in named, (method, path, status)
                if status[0] in "45":
                    assert "Content-Language" in named, (method, path, status)
                if status in ("429", "503"):
                    assert "Retry-After" in named, (method, path, status)
                if status == "401":
                    assert "WWW-Authenticate" in named, (method, path, status)
    # As answered:
    answer = api.get("/v1/databases/population/records/068185000123", headers={**STATED, "Accept-Language": "vi"})
    assert answer.status_code == 401
    assert answer.headers["content-language"] == "vi"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.headers["x-request-id"]
