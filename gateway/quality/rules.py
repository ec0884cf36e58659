"""The building blocks of data-quality rules: dimensions, outcomes, the context a rule sees, and raw values.

A rule looks at *raw* records: the contract data a connector mapped from the sector system, before contract
validation (a record that fails validation is exactly an incorrect one), or the records an agency submitted. Values
may therefore be of any type (a date as text or as a ``date``); the helpers here read them leniently and a rule
that cannot read what it needs does not apply (:data:`SKIP`) rather than fail: reading is the contract rule's job.

A rule that asks another database and gets no answer (the database is unreachable, timed out, refused the call, or
answered with a record the gateway cannot read) neither passes nor skips the record: the record is
:class:`Unverified` for that rule, and a scan counts it apart (:mod:`.evaluate`, :mod:`.service`).

Every rule belongs to one of four dimensions, the "đúng, đủ, sạch, sống" of the national data strategy:
*correct* (đúng), *complete* (đủ), *clean* (sạch) and *live* (sống). Failure details name fields and rules, never a
personal value (a name, an id): they end up in reports read by people who may not see the records.
"""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Final, Literal

from contracts import Contract
from contracts.dates import VIETNAM_TIME
from contracts.quality import Dimension, as_date, as_partial_date

__all__ = [
    "OK",
    "SKIP",
    "CitizenLookup",
    "DeathLookup",
    "Dimension",
    "Failure",
    "LookupUnanswered",
    "Lookups",
    "MappingRule",
    "NotApplicable",
    "Outcome",
    "RecordRule",
    "RecordSearch",
    "Rule",
    "RuleContext",
    "Unverified",
    "as_date",
    "as_datetime",
    "as_partial_date",
    "join_problems",
    "mask_key",
    "outcome_of",
    "person_dicts",
    "unverified",
    "walk_dicts",
    "where",
]


@dataclass(frozen=True, slots=True)
class Failure:
    """A record that breaks a rule: ``detail`` says how (field names and rules, never a personal value) and
    ``weight`` how badly (errors found, days late...), so that reports show the worst records first."""

    detail: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Unverified:
    """The rule applies to the record but could not judge it: the database it asks (``database``) gave no usable
    answer. ``outage``: it did not answer at all (unreachable, timed out, refused, failed); otherwise it answered
    with a record the gateway cannot read (the person's record there breaks its contract, a defect of that database
    that its own scan counts). Neither a pass nor a failure: counted apart, never as checked."""

    database: str
    reason: str
    outage: bool = True


OK: Final = "ok"
"""The record satisfies the rule."""
SKIP: Final = "skip"
"""The rule does not apply to the record (the fields it checks are absent, the person is unknown to the database it
asks, or the lookups it needs are not given: submitted records)."""

Outcome = Literal["ok", "skip"] | Failure | Unverified
"""What a rule says of one record."""


class LookupUnanswered(LookupError):
    """A database asked about one record gave no usable answer: the record is :class:`Unverified` for the rule.

    ``database`` names it (``population``); ``reason`` says why (the connector error's class, never a personal
    value); ``outage`` is false when it answered with a record that breaks its contract."""

    def __init__(self, database: str, reason: str, *, outage: bool = True) -> None:
        super().__init__(f"{database}: {reason}")
        self.database = database
        self.reason = reason
        self.outage = outage


class NotApplicable(LookupError):
    """The question has no answer to judge by, and the rule does not apply to the record: the database asked has no
    such person (another rule, the identity's, fails that), or cannot run that kind of query (a search: duplicates
    are then looked for within the batch only)."""


def unverified(error: LookupError) -> Unverified:
    """The outcome of a record whose lookup raised ``error`` (any ``LookupError`` but :class:`NotApplicable`): a
    plain ``LookupError`` is taken as a database that did not answer, named by its class only (its message may hold
    the value asked about)."""
    if isinstance(error, LookupUnanswered):
        return Unverified(error.database, error.reason, outage=error.outage)
    return Unverified("lookup", type(error).__name__)


DeathLookup = Callable[[str], Awaitable[date | None]]
"""Personal id -> the date of death another database records (``None``: none recorded); raises
:class:`NotApplicable` when that database does not know the person, another ``LookupError`` (preferably
:class:`LookupUnanswered`) when it cannot answer."""

CitizenLookup = Callable[[str], Awaitable[Mapping[str, Any] | None]]
"""Personal id -> the population database's record of that citizen, as contract data (``None``: no such citizen);
raises :class:`LookupUnanswered` (or another ``LookupError``) when that database cannot answer, or its record
breaks the contract."""

RecordSearch = Callable[[Mapping[str, Any]], Awaitable[list[dict[str, Any]]]]
"""Query (fields of the contract's query model) -> the records of the scanned database matching it, as contract
data; raises :class:`NotApplicable` when the database cannot run that query, another ``LookupError``
(preferably :class:`LookupUnanswered`) when it cannot answer."""


@dataclass(frozen=True, slots=True)
class Lookups:
    """Questions a rule may ask the databases (cross-database rules); ``None`` when not available.

    ``population_death``: the death the population database records for a personal id;
    ``civil_status_death``: the death the civil status database registered for a personal id;
    ``search``: a search of the database being scanned, so that a sampled record's duplicates are found among all
    records, not only among those sampled;
    ``citizen``: the population database's record of a personal id (identity, permanent address).
    """

    population_death: DeathLookup | None = None
    civil_status_death: DeathLookup | None = None
    search: RecordSearch | None = None
    citizen: CitizenLookup | None = None


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What rules know besides the records: the contract, the time of the evaluation (timezone-aware), the
    database's freshness target (``None``: none set) and the cross-database lookups (``None`` for submitted records:
    no network calls)."""

    contract: type[Contract]
    now: datetime
    freshness: timedelta | None = None
    lookups: Lookups | None = None

    @property
    def today(self) -> date:
        """The day of the evaluation, in Viet Nam (UTC+7)."""
        return self.now.astimezone(VIETNAM_TIME).date()


class Rule(ABC):
    """One data-quality rule: an id (``population.death_propagated``), a dimension, English and Vietnamese titles.

    The id is the contract's name and the rule's :attr:`slug`; the titles are class attributes, or set by a rule
    whose titles depend on its arguments. :meth:`evaluate` gives one :data:`Outcome` per record of a batch; rules
    that compare records with each other (duplicates) see the whole batch.
    """

    id: str
    dimension: ClassVar[Dimension]
    slug: ClassVar[str]
    title: str
    title_vi: str

    def __init__(self, contract_name: str) -> None:
        self.id = f"{contract_name}.{self.slug}"

    @abstractmethod
    async def evaluate(self, records: Sequence[Mapping[str, Any]], context: RuleContext) -> list[Outcome]:
        """One outcome per record, in order."""


class RecordRule(Rule):
    """A rule that looks at one record at a time, without asking other databases."""

    @abstractmethod
    def check(self, record: Mapping[str, Any], context: RuleContext) -> Outcome:
        """The outcome for one record."""

    async def evaluate(self, records: Sequence[Mapping[str, Any]], context: RuleContext) -> list[Outcome]:
        """:meth:`check` of every record."""
        return [self.check(record, context) for record in records]


class MappingRule(RecordRule):
    """A rule that looks at each mapping of a record (:func:`walk_dicts`, or those :meth:`mappings` gives): it
    applies to the record when it applies to one of them, and fails with the problems found in all of them."""

    def mappings(self, record: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """The mappings to look at, with their dotted paths (every mapping of the record by default)."""
        return walk_dicts(record)

    @abstractmethod
    def problems(self, path: str, item: Mapping[str, Any], context: RuleContext) -> list[str] | None:
        """The problems of one mapping (``None``: the rule does not apply to it)."""

    def collect(self, record: Mapping[str, Any], context: RuleContext) -> tuple[list[str], bool]:
        """The problems of every mapping of the record, and whether the rule applied to any of them."""
        found: list[str] = []
        applies = False
        for path, item in self.mappings(record):
            problems = self.problems(path, item, context)
            if problems is not None:
                applies = True
                found += problems
        return found, applies

    def check(self, record: Mapping[str, Any], context: RuleContext) -> Outcome:
        return outcome_of(*self.collect(record, context))


# --- raw values -----------------------------------------------------------------------------------------------------


def as_datetime(value: Any) -> datetime | None:
    """An aware timestamp from ISO text or a ``datetime`` (naive ones are taken as UTC); ``None`` if unreadable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# Values that hold no mapping (checked first: an ABC check on every leaf would dominate a scan's time).
_LEAVES: Final = (str, int, float, date, type(None))


def walk_dicts(value: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every mapping inside ``value`` (itself included), with its dotted path (``holder``, ``classes.0``)."""
    if isinstance(value, _LEAVES):
        return
    if isinstance(value, Mapping):
        yield path, value
        for key, item in value.items():
            if not isinstance(item, _LEAVES):
                yield from walk_dicts(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if not isinstance(item, _LEAVES):
                yield from walk_dicts(item, f"{path}.{index}" if path else str(index))


def person_dicts(record: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The people a record names: mappings holding a ``personal_id`` with a ``full_name``, ``gender`` or
    ``date_of_birth`` (the record itself for a citizen, ``holder``, ``owner``, ``marriage.husband``...)."""
    for path, item in walk_dicts(record):
        if "personal_id" in item and any(key in item for key in ("full_name", "gender", "date_of_birth")):
            yield path, item


_MAX_DETAIL: Final = 300


def join_problems(parts: Sequence[str]) -> str:
    """The problems found in one record as one detail, cut to 300 characters."""
    text = "; ".join(parts)
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def outcome_of(problems: Sequence[str], applies: bool = True) -> Outcome:
    """The outcome of a rule that found ``problems`` in a record: :data:`SKIP` when it does not apply, :data:`OK`
    without problems, else one :class:`Failure` weighing as many as the problems."""
    if not applies:
        return SKIP
    return Failure(join_problems(problems), weight=len(problems)) if problems else OK


def where(path: str, field: str) -> str:
    """``path.field``, or ``field`` at the top."""
    return f"{path}.{field}" if path else field


def mask_key(value: Any) -> str:
    """A record key shown without revealing it: its first three and last two characters (``068*******45``)."""
    text = unicodedata.normalize("NFC", str(value)).strip()
    if len(text) >= 8:
        return text[:3] + "*" * (len(text) - 5) + text[-2:]
    if len(text) >= 4:
        return text[0] + "*" * (len(text) - 2) + text[-1]
    return "*" * len(text)
