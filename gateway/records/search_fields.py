"""Which contract fields each search criterion compares, so that a search is allowed only on fields the caller may
read.

A criterion of a contract's query model is not always the contract field of the same name: the enterprise query's
``name`` matches the enterprise's ``name`` or its ``name_en``, the land query's ``owner_personal_id`` the owner's or
the co-owner's ``personal_id``. A search tells its caller which records match, hence something of every field it
compares: a caller who may read ``name`` but not ``name_en`` could otherwise learn ``name_en`` by trying words in
``name``. So a criterion needs a grant covering every field it compares (:func:`ungranted_criteria`).

Each query model declares the fields of its criteria (:attr:`contracts.ContractQuery.compared_fields`, those its
``matches`` reads). A criterion it does not declare and that is not a contract field of its own name compares fields
the gateway cannot name: only a grant on every field allows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from contracts import Contract, ContractQuery
from gateway.identity.access import Decision


@cache
def searched_paths(contract: type[Contract], query_model: type[ContractQuery]) -> dict[str, tuple[str, ...] | None]:
    """Each criterion of ``query_model`` and the contract field paths it compares; ``None`` for a criterion whose
    fields are not known (neither declared in ``compared_fields`` nor a contract field of its name)."""
    declared = query_model.compared_fields
    paths: dict[str, tuple[str, ...] | None] = {}
    for name in query_model.model_fields:
        if name in declared:
            paths[name] = tuple(declared[name])
        elif name in contract.model_fields:
            paths[name] = (name,)
        else:
            paths[name] = None
    return paths


def ungranted_criteria(
    decision: Decision, paths: Mapping[str, tuple[str, ...] | None], criteria: Mapping[str, object]
) -> list[str]:
    """The criteria given (not ``None``) in ``criteria`` that compare a field ``decision``'s grants do not cover."""
    if decision.fields is None:
        return []
    return sorted(
        name
        for name, value in criteria.items()
        if value is not None
        and ((compared := paths.get(name)) is None or not all(decision.covers(path) for path in compared))
    )
