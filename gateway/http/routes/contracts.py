"""``/v1/contracts``: the common contracts, their versions and JSON Schemas."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from gateway.http.deps import StateDep
from gateway.records.contracts import find_contract, known_contracts

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])


class ContractSummary(BaseModel):
    """One contract in the catalogue."""

    name: str = Field(examples=["population.citizen"])
    version: int = Field(description="The newest version.")
    versions: list[int]
    title: str
    description: str
    schema_url: str


class ContractDetail(ContractSummary):
    """One contract version with its JSON Schema."""

    json_schema: dict[str, Any] = Field(alias="schema", serialization_alias="schema")


@router.get("", summary="List the contracts")
async def list_contracts(state: StateDep) -> list[ContractSummary]:
    """Every contract the gateway serves, newest version first in ``versions``."""
    summaries = []
    for name, versions in known_contracts(state.registry).items():
        model = versions[max(versions)]
        summaries.append(
            ContractSummary(
                name=name,
                version=model.contract_version,
                versions=sorted(versions),
                title=model.__name__,
                description=inspect.cleandoc(model.__doc__ or ""),
                schema_url=f"/v1/contracts/{name}?version={model.contract_version}",
            )
        )
    return summaries


@router.get("/{name}", summary="One contract and its JSON Schema", response_model_by_alias=True)
async def get_contract(
    state: StateDep,
    name: str,
    version: Annotated[int | None, Query(ge=1, description="A version; the newest when absent.")] = None,
) -> ContractDetail:
    """The contract's JSON Schema (draft 2020-12), with ``x-contract-name`` and ``x-contract-version``."""
    model, versions = find_contract(state.registry, name, version)
    return ContractDetail(
        name=name,
        version=model.contract_version,
        versions=versions,
        title=model.__name__,
        description=inspect.cleandoc(model.__doc__ or ""),
        schema_url=f"/v1/contracts/{name}?version={model.contract_version}",
        schema=model.contract_schema(),
    )
