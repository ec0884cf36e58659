"""Cross-database questions of the data-quality rules, answered by the connectors the gateway serves.

The population database is whichever served database has the contract :data:`contracts.quality.CITIZENS`, the
civil status database the one with :data:`contracts.quality.DEATH_REGISTRATIONS`. Answers are cached for the length
of one scan.

What a connector's error means for the rule asking:

* the database does not have the person (:class:`~connectors.base.RecordNotFound`), cannot run the query
  (:class:`~connectors.base.BadQuery`, :class:`~connectors.base.OperationNotSupported`, a query its model refuses):
  :class:`~gateway.quality.rules.NotApplicable`, the question has no answer to judge by;
* its record of the person breaks the contract (:class:`~connectors.base.ContractViolation`):
  :class:`~gateway.quality.rules.LookupUnanswered`, not an outage;
* any other failure (unreachable, timed out, refused, failed): :class:`~gateway.quality.rules.LookupUnanswered`, an
  outage. The records it leaves unverified are counted apart, and a scan with too many is not stored
  (:mod:`.service`). After :data:`GIVE_UP_AFTER` outages in a row a database is not asked again in the scan: the
  questions left are unanswered at once, so that a scan against a database that is down ends in seconds, not after
  a timeout per record.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import replace
from datetime import date
from typing import Any, Final, TypeVar

from pydantic import ValidationError

from connectors.base import (
    BadQuery,
    Capability,
    Connector,
    ConnectorError,
    ContractViolation,
    OperationNotSupported,
    RecordNotFound,
)
from contracts import Contract
from contracts.quality import CITIZENS, DEATH_REGISTRATIONS
from gateway.quality.rules import (
    CitizenLookup,
    DeathLookup,
    Lookups,
    LookupUnanswered,
    NotApplicable,
    RecordSearch,
    as_date,
)
from gateway.records.circuit import FailureRun
from gateway.records.registry import ConnectorRegistry

__all__ = ["GIVE_UP_AFTER", "connector_lookups", "connector_search", "registry_lookups", "unanswered"]

Source = Connector[Any]
Question = TypeVar("Question")
Answer = TypeVar("Answer")


def _database_for(registry: ConnectorRegistry, contract_name: str) -> tuple[str, Source] | None:
    for database in sorted(registry.databases.values(), key=lambda d: d.id):
        if database.connector.contract.contract_name == contract_name:
            return database.id, database.connector
    return None


def unanswered(database: str, error: ConnectorError | ValidationError) -> LookupError:
    """What a failed question to ``database`` means for the rule asking (see the module's documentation)."""
    if isinstance(error, BadQuery | OperationNotSupported | ValidationError | RecordNotFound):
        return NotApplicable(f"{database}: {type(error).__name__}")
    return LookupUnanswered(database, type(error).__name__, outage=not isinstance(error, ContractViolation))


GIVE_UP_AFTER: Final = 25
"""Questions in a row a database may leave unanswered (an outage) before a scan stops asking it."""


class _Reachability:
    """Whether one database still answers, for the length of one scan: after :data:`GIVE_UP_AFTER` outages in a
    row (no answer, not even "no such record", in between) it is not asked again, and every later question is
    unanswered at once, for the same reason as the last one.

    Not the connection's :class:`~gateway.records.circuit.CircuitBreaker`, though both count failures in a row
    (:class:`~gateway.records.circuit.FailureRun`): the breaker protects the requests a process serves for as long
    as it runs, so it lets a trial call through after a cool-down and closes again; a scan is a bounded piece of
    work, and a database given up is given up until it ends (a trial would make the questions left wait for a
    timeout again). Its refusals are unanswered questions, which the scan counts (too many and it is not stored:
    :class:`~gateway.quality.service.IncompleteScan`), not a 503; and it exports no state."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.outages = FailureRun()
        self.last: LookupUnanswered | None = None

    async def ask(self, call: Callable[[], Awaitable[Answer]]) -> Answer:
        if self.last is not None and self.outages.count >= GIVE_UP_AFTER:
            raise LookupUnanswered(self.database, self.last.reason)
        try:
            answer = await call()
        except LookupUnanswered as exc:
            if self.outages.record(failed=exc.outage):
                self.last = exc
            raise
        except LookupError:
            self.outages.record(failed=False)
            raise
        self.outages.record(failed=False)
        return answer


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


def _citizen(connector: Source, database: str) -> CitizenLookup:
    reachability = _Reachability(database)

    async def get(personal_id: str) -> Mapping[str, Any] | None:
        try:
            citizen: Contract = await connector.get(personal_id)
        except RecordNotFound:
            return None
        except ConnectorError as exc:
            raise unanswered(database, exc) from None
        return citizen.model_dump(mode="json")

    async def ask(personal_id: str) -> Mapping[str, Any] | None:
        return await reachability.ask(lambda: get(personal_id))

    return _cached(ask)


def _population_death(citizen: CitizenLookup, database: str) -> DeathLookup:
    async def ask(personal_id: str) -> date | None:
        record = await citizen(personal_id)
        if record is None:
            raise NotApplicable(f"{database}: no such citizen")
        return as_date(record.get("date_of_death"))

    return ask


def _searches(connector: Source) -> bool:
    return connector.query_model is not None and connector.offers(Capability.SEARCH)


def _civil_status_death(connector: Source, database: str) -> DeathLookup:
    query_model = connector.query_model
    reachability = _Reachability(database)

    async def find(personal_id: str) -> date | None:
        if query_model is None:  # not given: connector_lookups asks only a connector that searches
            raise NotApplicable(f"{database}: cannot search")
        try:
            query = query_model.model_validate({"personal_id": personal_id, "kind": "death"})
            page = await connector.search(query, limit=5)
        except (ValidationError, ConnectorError) as exc:
            raise unanswered(database, exc) from None
        for registration in page.items:
            death = getattr(registration, "death", None)
            died = getattr(death, "date_of_death", None)
            if isinstance(died, date):
                return died
        return None

    async def ask(personal_id: str) -> date | None:
        return await reachability.ask(lambda: find(personal_id))

    return _cached(ask)


SEARCH_LIMIT = 20
"""Matches one identity search reads (a record with more namesakes than that is compared with the first ones)."""


def connector_search(connector: Source, database: str = "scanned database") -> RecordSearch | None:
    """A search of the scanned database (``database``) through its connector (``None`` when it cannot search); the
    records found come back as contract data, answers cached for the length of one scan."""
    query_model = connector.query_model
    if query_model is None or not connector.offers(Capability.SEARCH):
        return None
    reachability = _Reachability(database)

    async def find(query: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            page = await connector.search(query_model.model_validate(dict(query)), limit=SEARCH_LIMIT)
            return [item.model_dump(mode="json") for item in page.items]
        except (ValidationError, ConnectorError) as exc:
            raise unanswered(database, exc) from None

    async def search(query: Mapping[str, Any]) -> list[dict[str, Any]]:
        return await reachability.ask(lambda: find(query))

    return _cached(search, lambda query: json.dumps(query, sort_keys=True, default=str))


def connector_lookups(
    population: Source | None,
    civil_status: Source | None = None,
    *,
    population_id: str = "population",
    civil_status_id: str = "civil_status",
) -> Lookups:
    """The lookups the connectors of the population and civil status databases answer (either may be missing; a
    civil status connector that cannot search answers none), the databases named by their ids in what the rules
    say of the records left unverified."""
    citizen = _citizen(population, population_id) if population is not None else None
    deaths = civil_status is not None and _searches(civil_status)
    return Lookups(
        population_death=_population_death(citizen, population_id) if citizen is not None else None,
        citizen=citizen,
        civil_status_death=_civil_status_death(civil_status, civil_status_id) if civil_status and deaths else None,
    )


def registry_lookups(registry: ConnectorRegistry) -> Lookups:
    """The lookups the served databases can answer (the population and civil status databases, when served).

    A population or civil status database that is configured but whose connector could not be loaded answers
    nothing rather than being absent: its rules' records are unverified (and a scan with too many is not stored),
    where a database not configured at all leaves those rules out."""
    population = _database_for(registry, CITIZENS)
    civil_status = _database_for(registry, DEATH_REGISTRATIONS)
    lookups = connector_lookups(
        population[1] if population else None,
        civil_status[1] if civil_status else None,
        population_id=population[0] if population else "population",
        civil_status_id=civil_status[0] if civil_status else "civil_status",
    )
    if population is None and (unloaded := _unloaded(registry, CITIZENS)) is not None:
        citizen = _unanswerable(unloaded)
        lookups = replace(lookups, citizen=citizen, population_death=_population_death(citizen, unloaded))
    if civil_status is None and (unloaded := _unloaded(registry, DEATH_REGISTRATIONS)) is not None:
        lookups = replace(lookups, civil_status_death=_unanswerable(unloaded))
    return lookups


#: The reason of the questions a database whose connector could not be loaded leaves unanswered.
NOT_LOADED: Final = "ConnectorNotLoaded"


def _unloaded(registry: ConnectorRegistry, contract_name: str) -> str | None:
    """The configured database of ``contract_name`` whose connector could not be loaded, if any."""
    return min((db for db, name in registry.unloaded_contracts.items() if name == contract_name), default=None)


def _unanswerable(database: str) -> Callable[[str], Awaitable[Any]]:
    """A lookup of ``database`` that answers no question: an outage, for as long as its connector is not loaded."""

    async def ask(_personal_id: str) -> Any:
        raise LookupUnanswered(database, NOT_LOADED)

    return ask
