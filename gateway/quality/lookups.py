"""Cross-database questions of the data-quality rules, answered by the connectors the gateway serves.

The population database is whichever served database has the contract :data:`contracts.quality.CITIZENS`, the
civil status database the one with :data:`contracts.quality.DEATH_REGISTRATIONS`. Answers are cached for the length
of one scan.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Hashable, Mapping
from datetime import date
from typing import Any, TypeVar

from pydantic import ValidationError

from connectors.base import Capability, Connector, ConnectorError, RecordNotFound
from contracts import Contract
from contracts.quality import CITIZENS, DEATH_REGISTRATIONS
from gateway.quality.rules import CitizenLookup, DeathLookup, Lookups, RecordSearch, as_date
from gateway.records.registry import ConnectorRegistry

__all__ = ["connector_lookups", "connector_search", "registry_lookups"]

Source = Connector[Any]
Question = TypeVar("Question")
Answer = TypeVar("Answer")


def _connector_for(registry: ConnectorRegistry, contract_name: str) -> Source | None:
    for database in sorted(registry.databases.values(), key=lambda d: d.id):
        if database.connector.contract.contract_name == contract_name:
            return database.connector
    return None


def _cached(
    ask: Callable[[Question], Awaitable[Answer]], signature: Callable[[Question], Hashable] = lambda question: question
) -> Callable[[Question], Awaitable[Answer]]:
    """``ask`` with its answers, ``LookupError`` included, remembered by the question's ``signature``."""
    answers: dict[Hashable, Answer | LookupError] = {}

    async def cached(question: Question) -> Answer:
        key = signature(question)
        if key not in answers:
            try:
                answers[key] = await ask(question)
            except LookupError as exc:
                answers[key] = exc
        answer = answers[key]
        if isinstance(answer, LookupError):
            raise answer
        return answer

    return cached


def _citizen(connector: Source) -> CitizenLookup:
    async def ask(personal_id: str) -> Mapping[str, Any] | None:
        try:
            citizen: Contract = await connector.get(personal_id)
        except RecordNotFound:
            return None
        except ConnectorError as exc:
            raise LookupError(f"population: {type(exc).__name__}") from None
        return citizen.model_dump(mode="json")

    return _cached(ask)


def _population_death(citizen: CitizenLookup) -> DeathLookup:
    async def ask(personal_id: str) -> date | None:
        record = await citizen(personal_id)
        if record is None:
            raise LookupError("population: no such citizen")
        return as_date(record.get("date_of_death"))

    return ask


def _civil_status_death(connector: Source) -> DeathLookup:
    query_model = connector.query_model

    async def ask(personal_id: str) -> date | None:
        if query_model is None or not connector.offers(Capability.SEARCH):
            raise LookupError("civil status: cannot search")
        try:
            query = query_model.model_validate({"personal_id": personal_id, "kind": "death"})
            page = await connector.search(query, limit=5)
        except (ValidationError, ConnectorError) as exc:
            raise LookupError(f"civil status: {type(exc).__name__}") from None
        for registration in page.items:
            death = getattr(registration, "death", None)
            died = getattr(death, "date_of_death", None)
            if isinstance(died, date):
                return died
        return None

    return _cached(ask)


SEARCH_LIMIT = 20
"""Matches one identity search reads (a record with more namesakes than that is compared with the first ones)."""


def connector_search(connector: Source) -> RecordSearch | None:
    """A search of the scanned database through its connector (``None`` when it cannot search); the records found
    come back as contract data, answers cached for the length of one scan."""
    query_model = connector.query_model
    if query_model is None or not connector.offers(Capability.SEARCH):
        return None

    async def search(query: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            page = await connector.search(query_model.model_validate(dict(query)), limit=SEARCH_LIMIT)
            return [item.model_dump(mode="json") for item in page.items]
        except (ValidationError, ConnectorError) as exc:
            raise LookupError(f"search: {type(exc).__name__}") from None

    return _cached(search, lambda query: json.dumps(query, sort_keys=True, default=str))


def connector_lookups(population: Source | None, civil_status: Source | None = None) -> Lookups:
    """The lookups the connectors of the population and civil status databases answer (either may be missing)."""
    citizen = _citizen(population) if population is not None else None
    return Lookups(
        population_death=_population_death(citizen) if citizen is not None else None,
        citizen=citizen,
        civil_status_death=_civil_status_death(civil_status) if civil_status is not None else None,
    )


def registry_lookups(registry: ConnectorRegistry) -> Lookups:
    """The lookups the served databases can answer (the population and civil status databases, when served)."""
    return connector_lookups(_connector_for(registry, CITIZENS), _connector_for(registry, DEATH_REGISTRATIONS))
