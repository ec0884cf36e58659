"""``/v1/contracts``: the common contracts and their JSON Schemas, checked against real records served by the
gateway with an independent validator (``jsonschema``, draft 2020-12)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from support import PlantedSearch

CITIZEN = "population.citizen"
RECORDS = "/v1/databases/population/records"
SEARCH = "/v1/databases/population/search"


@pytest.fixture(scope="module")
def citizen_schema(api: httpx.Client) -> dict[str, Any]:
    response = api.get(f"/v1/contracts/{CITIZEN}")
    assert response.status_code == 200, response.text
    schema = response.json()["schema"]
    assert isinstance(schema, dict)
    return schema


@pytest.fixture(scope="module")
def validator(citizen_schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(citizen_schema)
    return Draft202012Validator(citizen_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_catalogue_lists_the_citizen_contract(api: httpx.Client) -> None:
    response = api.get("/v1/contracts")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    entries = {entry["name"]: entry for entry in response.json()}
    citizen = entries[CITIZEN]
    assert citizen["version"] == 1
    assert citizen["versions"] == [1]
    assert citizen["title"] == "Citizen"
    assert citizen["description"].startswith("A citizen's record")
    assert citizen["schema_url"] == f"/v1/contracts/{CITIZEN}?version=1"
    for entry in entries.values():
        assert entry["version"] == max(entry["versions"])
        followed = api.get(entry["schema_url"])
        assert followed.status_code == 200, entry
        assert followed.json()["name"] == entry["name"]
        assert followed.json()["version"] == entry["version"]


def test_the_contract_carries_its_json_schema(api: httpx.Client, citizen_schema: dict[str, Any]) -> None:
    body = api.get(f"/v1/contracts/{CITIZEN}").json()
    assert body["name"] == CITIZEN
    assert body["version"] == 1
    assert body["versions"] == [1]
    assert citizen_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert citizen_schema["x-contract-name"] == CITIZEN
    assert citizen_schema["x-contract-version"] == 1
    assert citizen_schema["x-record-key"] == "personal_id"
    assert "personal_id" in citizen_schema["required"]
    # Descriptions are plain text for people: no docstring indentation.
    assert "\n    " not in body["description"]


def test_version_1_is_the_same_contract(api: httpx.Client) -> None:
    newest = api.get(f"/v1/contracts/{CITIZEN}")
    pinned = api.get(f"/v1/contracts/{CITIZEN}", params={"version": 1})
    assert pinned.status_code == 200
    assert pinned.json() == newest.json()


def test_a_record_served_by_the_gateway_validates_against_the_published_schema(
    api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch, validator: Draft202012Validator
) -> None:
    response = api.get(f"{RECORDS}/{planted.personal_ids[0]}", headers=bearer)
    assert response.status_code == 200, response.text
    record = response.json()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(record)]
    assert errors == []
    assert record["personal_id"] == planted.personal_ids[0]


def test_a_page_of_search_results_validates_against_the_published_schema(
    api: httpx.Client, bearer: dict[str, str], planted: PlantedSearch, validator: Draft202012Validator
) -> None:
    response = api.post(
        SEARCH,
        json={"full_name": planted.full_name, "date_of_birth": str(planted.year), "page_size": 100},
        headers=bearer,
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == len(planted.personal_ids)
    for item in items:
        assert list(validator.iter_errors(item)) == [], item["personal_id"]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("personal_id",), "12345"),
        (("personal_id",), None),
        (("gender",), "robot"),
        (("date_of_birth",), 19850312),
        (("permanent_address", "ward_code"), "1"),
        (("unexpected_field",), "x"),
    ],
)
def test_the_schema_is_not_vacuous(
    api: httpx.Client,
    bearer: dict[str, str],
    planted: PlantedSearch,
    validator: Draft202012Validator,
    path: tuple[str, ...],
    value: object,
) -> None:
    record = api.get(f"{RECORDS}/{planted.personal_ids[1]}", headers=bearer).json()
    broken = copy.deepcopy(record)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert not validator.is_valid(broken)
    assert validator.is_valid(record)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        (CITIZEN, {"version": 2}),
        (CITIZEN, {"version": 999999999999}),
        ("population.citizens", {}),
        ("no.such.contract", {}),
        ("population", {}),
        ("POPULATION.CITIZEN", {}),
    ],
)
def test_unknown_contracts_and_versions_are_404(api: httpx.Client, name: str, params: dict[str, object]) -> None:
    response = api.get(f"/v1/contracts/{name}", params=params)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/unknown-contract"
    assert body["status"] == 404
    assert body["instance"] == f"/v1/contracts/{name}"


@pytest.mark.parametrize("version", ["0", "-1", "abc", "1.5", "", "1e3"])
def test_a_malformed_version_is_422(api: httpx.Client, version: str) -> None:
    response = api.get(f"/v1/contracts/{CITIZEN}", params={"version": version})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "/problems/validation-error"
    assert [e["loc"] for e in body["errors"]] == [["query", "version"]]
