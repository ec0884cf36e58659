"""A search may compare only fields the caller's grant covers, whatever its criteria are named: the enterprise
query's ``name`` also matches ``name_en``, so a client granted ``name`` only must not search by it (it would learn
``name_en`` by trying words); a criterion named after no contract field compares the nested field its query
documents (``holder.full_name``), which a grant may cover."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
import sector_rest_fixtures as rest
from support import STATED, ClientCredentials, LiveServer, fetch_token

from connectors.fields import has_field_path
from contracts.registry import all_contracts
from gateway.core.db import standalone_session
from gateway.core.settings import Settings
from gateway.http.app import create_app
from gateway.identity.access import Decision
from gateway.identity.clients import create_client
from gateway.identity.grants import GrantCreate, add_grant
from gateway.records.search_fields import searched_paths, ungranted_criteria
from simulators.sectors import SectorContext, load_sector_system

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def decision(*fields: str) -> Decision:
    return Decision("c", "db", "search", None, None, frozenset(fields), (1,))


def test_every_criterion_of_every_contract_names_the_fields_it_compares() -> None:
    """Each query criterion resolves to contract fields that exist (a typo in the table would let nothing, or the
    wrong field, through)."""
    contracts = {contract.contract_id(): contract for contract in all_contracts()}
    for contract in contracts.values():
        query_model = getattr(contract, "query_model", None)
        if query_model is None:
            continue
        assert set(query_model.compared_fields) <= set(query_model.model_fields), contract.contract_id()
        for criterion, paths in searched_paths(contract, query_model).items():
            assert paths, f"{contract.contract_id()}: {criterion} compares no known field"
            for path in paths:
                assert has_field_path(contract, path), f"{contract.contract_id()}: {path}"


def test_a_criterion_needs_every_field_it_compares() -> None:
    enterprise = next(c for c in all_contracts() if c.contract_id() == "business.enterprise@1")
    paths = searched_paths(enterprise, enterprise.query_model)  # type: ignore[attr-defined]
    assert ungranted_criteria(decision("enterprise_code", "name"), paths, {"name": "company"}) == ["name"]
    assert ungranted_criteria(decision("name", "name_en"), paths, {"name": "company"}) == []
    assert ungranted_criteria(decision("name"), paths, {"name": None, "representative_personal_id": None}) == []
    assert ungranted_criteria(
        decision("legal_representative.full_name"), paths, {"representative_personal_id": "068185000123"}
    ) == ["representative_personal_id"]
    assert ungranted_criteria(decision("legal_representative"), paths, {"representative_personal_id": "0"}) == []
    # An unknown criterion: only a grant on every field allows it.
    assert ungranted_criteria(decision("name"), {}, {"other": 1}) == ["other"]
    everything = Decision("c", "db", "search", None, None, None, (1,))
    assert ungranted_criteria(everything, {}, {"other": 1}) == []


@pytest.fixture(scope="module")
def business(
    tmp_path_factory: pytest.TempPathFactory,
    make_settings: Callable[..., Settings],
    gateway_database_url: str,
) -> Iterator[tuple[httpx.Client, Callable[..., dict[str, str]]]]:
    """A live gateway serving the business registry (the demo's REST simulator on 127.0.0.1), and a maker of the
    headers of a new client holding the grants given."""
    with ExitStack() as stack:
        context = SectorContext(
            data_dir=tmp_path_factory.mktemp("business"),
            citizens=rest.CITIZENS,
            seed=rest.SEED,
            today=rest.TODAY,
            stack=stack,
        )
        system = load_sector_system("business")
        config = asyncio.run(system.start(context))
        settings = make_settings(
            connectors={"population": {"enabled": False}, "business": {"config": config, "connector": system.connector}}
        )
        with LiveServer(create_app(settings)) as live, httpx.Client(base_url=live.url, timeout=30) as http:

            def headers(*grants: dict[str, Any]) -> dict[str, str]:
                client_id = f"rv-{uuid.uuid4().hex[:10]}"

                async def make() -> str:
                    async with standalone_session(gateway_database_url) as session:
                        _client, secret = await create_client(session, name="Narrow reader", client_id=client_id)
                        for values in grants:
                            await add_grant(session, GrantCreate(client_id=client_id, database="business", **values))
                        return secret

                secret = asyncio.run(make())
                token = fetch_token(http, ClientCredentials(client_id, secret))
                return {"Authorization": f"Bearer {token}", **STATED}

            yield http, headers


def test_a_client_granted_name_only_cannot_search_name_en(
    business: tuple[httpx.Client, Callable[..., dict[str, str]]],
) -> None:
    http, headers = business
    everything = headers({"operations": ["search"]})
    # "company" is in the English names only: the search compares name_en too.
    found = http.post("/v1/databases/business/search", json={"name": "company", "page_size": 5}, headers=everything)
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert items, "the English names hold the word"
    assert all("company" not in item["name"].lower() for item in items)

    narrow = headers({"operations": ["search"], "fields": ["enterprise_code", "name"]})
    refused = http.post("/v1/databases/business/search", json={"name": "company", "page_size": 5}, headers=narrow)
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"] == "/problems/access-denied"
    assert "name" in refused.json()["detail"]

    both = headers({"operations": ["search"], "fields": ["enterprise_code", "name", "name_en"]})
    allowed = http.post("/v1/databases/business/search", json={"name": "company", "page_size": 5}, headers=both)
    assert allowed.status_code == 200, allowed.text
    assert [item["enterprise_code"] for item in allowed.json()["items"]] == [item["enterprise_code"] for item in items]
    assert all(set(item) == {"enterprise_code", "name", "name_en"} for item in allowed.json()["items"])


def test_a_criterion_on_a_nested_field_is_allowed_by_a_grant_on_it(
    business: tuple[httpx.Client, Callable[..., dict[str, str]]],
) -> None:
    http, headers = business
    everything = headers({"operations": ["read", "search"]})
    first = http.post("/v1/databases/business/search", json={"name": "công ty", "page_size": 1}, headers=everything)
    assert first.status_code == 200, first.text
    representative = first.json()["items"][0]["legal_representative"]["personal_id"]
    body = {"representative_personal_id": representative, "page_size": 5}

    granted = headers({"operations": ["search"], "fields": ["enterprise_code", "legal_representative.personal_id"]})
    allowed = http.post("/v1/databases/business/search", json=body, headers=granted)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["items"]
    for item in allowed.json()["items"]:
        assert item["legal_representative"] == {"personal_id": representative}

    other = headers({"operations": ["search"], "fields": ["enterprise_code", "legal_representative.full_name"]})
    refused = http.post("/v1/databases/business/search", json=body, headers=other)
    assert refused.status_code == 403, refused.text
