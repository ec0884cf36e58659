"""Data-quality rules a contract declares: what a complete record holds, what identifies it, what must hold of it.

The gateway measures the quality of every database in four dimensions, the "đúng, đủ, sạch, sống" of the national
data strategy: *correct*, *complete*, *clean* and *live*. The rules that hold for every contract (the contract's
validation, required fields, unique keys, normalised names, possible dates...) are derived by the gateway from the
contract itself. What only the contract's owners know is declared next to the contract, as a
:class:`QualityRules` object, and registered under the entry-point group ``gateway.quality_rules`` (the name is the
contract's name)::

    [project.entry-points."gateway.quality_rules"]
    "transport.vehicle" = "transport_contracts.quality:QUALITY"

A declaration is plain data and plain functions over *raw* records (contract field names, values of any type:
a date may come as text), so that a contract package needs nothing from the gateway:

* ``expected_fields``: optional fields a complete record has (complete);
* ``identity``: what makes two records the same real-world thing (clean: no duplicate identities);
* ``checks``: :class:`RecordCheck` functions looking at one record;
* ``links``: rules asking other databases, of the kinds the gateway knows: :class:`PersonIsCitizen`,
  :class:`DeathRecorded`, :class:`NoIssueAfterDeath`, :class:`MoveRecorded`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from contracts.dates import PartialDate

__all__ = [
    "CITIZENS",
    "DEATH_REGISTRATIONS",
    "ENTRY_POINT_GROUP",
    "DeathRecorded",
    "Dimension",
    "Identity",
    "Link",
    "MoveRecorded",
    "NoIssueAfterDeath",
    "PersonIsCitizen",
    "Problem",
    "QualityRules",
    "RecordCheck",
    "Verdict",
    "as_date",
    "as_partial_date",
    "text",
]

ENTRY_POINT_GROUP: Final = "gateway.quality_rules"
"""The entry-point group under which contract packages register their :class:`QualityRules`."""

CITIZENS: Final = "population.citizen"
"""The contract of the register links ask about people (:class:`PersonIsCitizen`, :class:`MoveRecorded`...)."""
DEATH_REGISTRATIONS: Final = "civil_status.registration"
"""The contract of the register of deaths a :class:`DeathRecorded` may name as its source."""


class Dimension(StrEnum):
    """The four dimensions of data quality: correct, complete, clean, live (đúng, đủ, sạch, sống)."""

    CORRECT = "correct"
    COMPLETE = "complete"
    CLEAN = "clean"
    LIVE = "live"

    @property
    def title_vi(self) -> str:
        """The Vietnamese name of the dimension."""
        return _DIMENSION_VI[self]


_DIMENSION_VI: Final = {
    Dimension.CORRECT: "Đúng",
    Dimension.COMPLETE: "Đủ",
    Dimension.CLEAN: "Sạch",
    Dimension.LIVE: "Sống",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a record (field names and rules, never a personal value) and how badly (``weight``)."""

    detail: str
    weight: float = 1.0


Verdict = bool | Problem | None
"""What a :class:`RecordCheck` says of one record: ``True`` (it holds), a :class:`Problem` (it does not), or
``None`` (it does not apply: the fields it looks at are absent or unreadable)."""


@dataclass(frozen=True, slots=True)
class RecordCheck:
    """A rule looking at one record at a time: ``check(record, today)`` gives its :data:`Verdict` (``today`` is the
    day of the evaluation in Viet Nam). ``slug`` names it within the contract (the rule id is
    ``<contract name>.<slug>``)."""

    slug: str
    dimension: Dimension
    title: str
    title_vi: str
    check: Callable[[Mapping[str, Any], date], Verdict]


@dataclass(frozen=True, slots=True)
class Identity:
    """What identifies the real-world thing a record describes, besides its key.

    ``key(record)`` gives the identity attributes (``None`` when the record lacks them): two records with equal
    identities under different keys are duplicates. ``what`` and ``what_vi`` name the attributes for reports;
    ``query(record)``, when given, is the search (fields of the contract's query model) that finds the records
    which may share the record's identity, so that a sample finds duplicates among all records.
    """

    key: Callable[[Mapping[str, Any]], Hashable | None]
    what: str
    what_vi: str
    query: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None


@dataclass(frozen=True, slots=True)
class PersonIsCitizen:
    """The person at ``person`` (a path to a mapping with ``personal_id``, ``full_name``, ``date_of_birth``,
    ``gender``) is a citizen of the population database, with the same name, date of birth and gender.

    The population database is the reference of a citizen's identity: a copy that differs was not kept up to date
    with it, so the rule is *live* by default."""

    person: str
    dimension: Dimension = Dimension.LIVE


@dataclass(frozen=True, slots=True)
class DeathRecorded:
    """A death another database records reached this one (live): ``source`` is ``population.citizen`` (the death the
    population database records) or ``civil_status.registration`` (a registered death); ``person`` the path of the
    person in this record (empty: the record is the person); ``field`` the record's date of death."""

    source: str
    person: str = ""
    field: str = "date_of_death"


@dataclass(frozen=True, slots=True)
class NoIssueAfterDeath:
    """Nothing was issued to the person at ``person`` after their death as the population database records it
    (correct); ``dates(record)`` gives the dates of issue, ``what`` names what was issued."""

    person: str
    dates: Callable[[Mapping[str, Any]], list[date]]
    what: str


@dataclass(frozen=True, slots=True)
class MoveRecorded:
    """A change of the permanent residence the population database records reached this database (live):
    ``province(record)`` gives the province code this record holds for the person at ``person`` (where they are
    managed, registered for care...), which must be that of the citizen's permanent address."""

    person: str
    province: Callable[[Mapping[str, Any]], str | None]
    what: str
    what_vi: str


Link = PersonIsCitizen | DeathRecorded | NoIssueAfterDeath | MoveRecorded
"""A cross-database rule: a kind the gateway knows how to answer with the databases it serves."""


@dataclass(frozen=True, slots=True)
class QualityRules:
    """The quality rules a contract declares (see the module); the generic rules are added by the gateway."""

    contract_name: str
    expected_fields: tuple[str, ...] = ()
    identity: Identity | None = None
    checks: tuple[RecordCheck, ...] = ()
    links: tuple[Link, ...] = field(default=())


# --- lenient readers of raw values ---------------------------------------------------------------------------------


def text(value: Any) -> str | None:
    """A non-empty stripped text, else ``None``."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def as_partial_date(value: Any) -> PartialDate | None:
    """A (possibly partial) date from text, a ``date`` or a :class:`PartialDate`; ``None`` if unreadable."""
    if isinstance(value, PartialDate):
        return value
    if isinstance(value, datetime):
        return PartialDate.from_date(value.date())
    if isinstance(value, date):
        return PartialDate.from_date(value)
    if isinstance(value, str):
        try:
            return PartialDate.parse(value.strip())
        except ValueError:
            return None
    return None


def as_date(value: Any) -> date | None:
    """A complete date from text (``YYYY-MM-DD``, or a timestamp) or a ``date``; ``None`` if unreadable."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        try:
            return date.fromisoformat(stripped[:10]) if len(stripped) >= 10 else None
        except ValueError:
            return None
    return None
