"""Domain rules of the contracts that matter most, and the rule set of every contract.

Cross-database rules ask other national databases through :class:`~gateway.quality.rules.Lookups` (a sampled scan
has them; submitted records are checked without network calls, so those rules do not apply there):

* ``population.citizen``: a death the civil status database registered is recorded in the population database
  (live: deaths propagated);
* ``driving_licences.licence`` and ``vehicles.registration``: no licence class issued, no vehicle registered,
  after the holder's or owner's death as the population database records it (correct);
* ``civil_status.registration``: a birth or death is registered on or after the event (correct).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any, Final

from pydantic import BaseModel

from contracts import Contract
from contracts.names import normalize_name

from .clean import AddressesNormalised, IdentityKey, IdentityQuery, NamesNormalised, UniqueIdentity, UniqueKey
from .generic import (
    AdminUnitsExist,
    ContractValid,
    DatesPossible,
    ExpectedFields,
    Fresh,
    PersonIdConsistent,
    RequiredFields,
    model_of,
    required_paths,
)
from .rules import (
    OK,
    SKIP,
    DeathLookup,
    Dimension,
    Failure,
    Lookups,
    Outcome,
    RecordRule,
    Rule,
    RuleContext,
    as_date,
    as_partial_date,
)

__all__ = [
    "EXPECTED_FIELDS",
    "IDENTITIES",
    "LOOKUP_CONCURRENCY",
    "CivilRegistrationAfterEvent",
    "DeathPropagated",
    "NoDocumentAfterDeath",
    "rule_needs_lookups",
    "rules_for",
]

LOOKUP_CONCURRENCY: Final = 8
"""Lookups one cross-database rule runs at once."""


async def _answers(lookup: DeathLookup, ids: Sequence[str | None]) -> list[date | LookupError | None]:
    """The lookup's answer for each id (``LookupError`` when it has none), at most a few at a time."""
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def one(personal_id: str | None) -> date | LookupError | None:
        if personal_id is None:
            return LookupError("no personal id")
        async with gate:
            try:
                return await lookup(personal_id)
            except LookupError as exc:
                return exc

    return list(await asyncio.gather(*(one(i) for i in ids)))


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class _DeathRule(Rule):
    """A rule that asks another database, through one of the :class:`~gateway.quality.rules.Lookups`, when the
    person a record names died, and judges each record by the answer (it does not apply where there is none)."""

    @abstractmethod
    def death_lookup(self, lookups: Lookups) -> DeathLookup | None:
        """The lookup the rule asks (``None``: not available)."""

    @abstractmethod
    def personal_id(self, record: Mapping[str, Any]) -> str | None:
        """The personal id of the person whose death matters."""

    @abstractmethod
    def judge(self, record: Mapping[str, Any], died: date | None, context: RuleContext) -> Outcome:
        """The outcome for one record, given the date of death the lookup answered (``None``: none recorded)."""

    async def evaluate(self, records: Sequence[Mapping[str, Any]], context: RuleContext) -> list[Outcome]:
        lookup = self.death_lookup(context.lookups) if context.lookups else None
        if lookup is None:
            return [SKIP] * len(records)
        answers = await _answers(lookup, [self.personal_id(record) for record in records])
        return [
            SKIP if isinstance(died, LookupError) else self.judge(record, died, context)
            for record, died in zip(records, answers, strict=True)
        ]


class DeathPropagated(_DeathRule):
    """A death the civil status database registered is recorded, with the same date, in the population database."""

    dimension = Dimension.LIVE
    slug = "death_propagated"
    title = "Deaths registered in civil status are recorded"
    title_vi = "Khai tử trong CSDL hộ tịch đã được cập nhật"

    def death_lookup(self, lookups: Lookups) -> DeathLookup | None:
        return lookups.civil_status_death

    def personal_id(self, record: Mapping[str, Any]) -> str | None:
        return _text(record.get("personal_id"))

    def judge(self, record: Mapping[str, Any], died: date | None, context: RuleContext) -> Outcome:
        recorded = as_date(record.get("date_of_death"))
        if died is None or recorded == died:
            return OK
        if recorded is None:
            late = max(1, (context.today - died).days)
            return Failure(f"death registered {late} days ago is not recorded", weight=late)
        return Failure("date_of_death differs from the registered death", weight=1)


class NoDocumentAfterDeath(_DeathRule):
    """No document (a licence class, a vehicle registration) was issued to a person after their death, as the
    population database records it."""

    dimension = Dimension.CORRECT
    slug = "no_issue_after_death"

    def __init__(
        self, contract_name: str, *, person: str, dates: Callable[[Mapping[str, Any]], list[date]], what: str
    ) -> None:
        super().__init__(contract_name)
        self.title = f"No {what} issued after the {person}'s death"
        self.title_vi = "Không cấp mới cho người đã chết"
        self.person = person
        self.dates = dates
        self.what = what

    def death_lookup(self, lookups: Lookups) -> DeathLookup | None:
        return lookups.population_death

    def personal_id(self, record: Mapping[str, Any]) -> str | None:
        person = record.get(self.person)
        return _text(person.get("personal_id")) if isinstance(person, Mapping) else None

    def judge(self, record: Mapping[str, Any], died: date | None, context: RuleContext) -> Outcome:
        issued = self.dates(record)
        if not issued:
            return SKIP
        if died is None or max(issued) <= died:
            return OK
        late = (max(issued) - died).days
        return Failure(f"{self.what} issued {late} days after the {self.person}'s death", late)


class CivilRegistrationAfterEvent(RecordRule):
    """A birth or a death is registered on or after the day it happened."""

    dimension = Dimension.CORRECT
    slug = "registered_after_event"
    title = "Registered on or after the event"
    title_vi = "Ngày đăng ký không trước sự kiện"

    def check(self, record: Mapping[str, Any], context: RuleContext) -> Outcome:
        registered = as_date(record.get("registration_date"))
        kind = record.get("kind")
        details = record.get(str(kind)) if kind in ("birth", "death") else None
        if registered is None or not isinstance(details, Mapping):
            return SKIP
        happened = as_date(details.get("date_of_birth" if kind == "birth" else "date_of_death"))
        if happened is None:
            return SKIP
        if registered < happened:
            return Failure(f"{kind} registered {(happened - registered).days} days before it happened")
        return OK


# --- rule sets -------------------------------------------------------------------------------------------------------


def _field_names(model: type[BaseModel], seen: frozenset[type[BaseModel]] = frozenset()) -> set[str]:
    """Every field name in ``model`` and the models nested in it (lists of models included)."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        nested = model_of(info.annotation) or _list_model(info.annotation)
        if nested is not None and nested not in seen:
            names |= _field_names(nested, seen | {model})
    return names


def _list_model(annotation: Any) -> type[BaseModel] | None:
    for argument in getattr(annotation, "__args__", ()):
        found = model_of(argument) or _list_model(argument)
        if found is not None:
            return found
    return None


def _citizen_identity(record: Mapping[str, Any]) -> Hashable | None:
    name, born = record.get("full_name"), as_partial_date(record.get("date_of_birth"))
    if not isinstance(name, str) or born is None or record.get("gender") is None:
        return None
    registered = record.get("place_of_birth_registration")
    province = registered.get("province_code") if isinstance(registered, Mapping) else None
    return normalize_name(name), str(born), str(record["gender"]), province


def _citizen_query(record: Mapping[str, Any]) -> dict[str, Any] | None:
    name, born = record.get("full_name"), as_partial_date(record.get("date_of_birth"))
    return {"full_name": name, "date_of_birth": str(born)} if isinstance(name, str) and born is not None else None


def _vehicle_identity(record: Mapping[str, Any]) -> Hashable | None:
    frame = _text(record.get("frame_number"))
    return frame.upper() if frame else None


def _civil_identity(record: Mapping[str, Any]) -> Hashable | None:
    kind, person = record.get("kind"), record.get("person")
    if kind not in ("birth", "death") or not isinstance(person, Mapping) or not _text(person.get("personal_id")):
        return None
    return kind, _text(person.get("personal_id"))


def _vehicle_query(record: Mapping[str, Any]) -> dict[str, Any] | None:
    frame = _text(record.get("frame_number"))
    return {"frame_number": frame} if frame else None


def _civil_query(record: Mapping[str, Any]) -> dict[str, Any] | None:
    identity = _civil_identity(record)
    return None if identity is None else {"kind": record["kind"], "personal_id": record["person"]["personal_id"]}


def _licence_dates(record: Mapping[str, Any]) -> list[date]:
    classes = record.get("classes")
    if not isinstance(classes, list):
        return []
    found = [as_date(c.get("issue_date")) for c in classes if isinstance(c, Mapping)]
    return [d for d in found if d is not None]


def _registration_dates(record: Mapping[str, Any]) -> list[date]:
    registered = as_date(record.get("registration_date"))
    return [registered] if registered is not None else []


# contract name -> optional fields a complete record has.
EXPECTED_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "population.citizen": ("household_id", "relation_to_head", "marital_status"),
}
# contract name -> (identity attributes, their names in English and Vietnamese, the search finding candidates).
IDENTITIES: Final[dict[str, tuple[IdentityKey, str, str, IdentityQuery]]] = {
    "population.citizen": (
        _citizen_identity,
        "name, birth date, gender, birth province",
        "họ tên, ngày sinh, giới tính, nơi đăng ký khai sinh",
        _citizen_query,
    ),
    "vehicles.registration": (_vehicle_identity, "frame number", "số khung", _vehicle_query),
    "civil_status.registration": (
        _civil_identity,
        "kind and person",
        "loại đăng ký, người được đăng ký",
        _civil_query,
    ),
}


def _domain_rules(name: str) -> list[Rule]:
    if name == "population.citizen":
        return [DeathPropagated(name)]
    if name == "driving_licences.licence":
        return [NoDocumentAfterDeath(name, person="holder", dates=_licence_dates, what="licence class")]
    if name == "vehicles.registration":
        return [NoDocumentAfterDeath(name, person="owner", dates=_registration_dates, what="vehicle registration")]
    if name == "civil_status.registration":
        return [CivilRegistrationAfterEvent(name)]
    return []


@cache
def rules_for(contract: type[Contract]) -> tuple[Rule, ...]:
    """The rule set of a contract: the generic rules that apply to its fields, then its domain rules."""
    name = contract.contract_name
    fields = _field_names(contract)
    rules: list[Rule] = [ContractValid(name)]
    if "personal_id" in fields:
        rules.append(PersonIdConsistent(name))
    if fields & {"province_code", "ward_code"}:
        rules.append(AdminUnitsExist(name))
    if any(f.endswith("date") or f.startswith("date_of_") for f in fields) or "last_updated" in fields:
        rules.append(DatesPossible(name, tracks_death="date_of_death" in contract.model_fields))
    rules.append(RequiredFields(name, required_paths(contract)))
    if name in EXPECTED_FIELDS:
        rules.append(ExpectedFields(name, EXPECTED_FIELDS[name]))
    rules.append(UniqueKey(name, contract.record_key))
    if name in IDENTITIES:
        identity, what, what_vi, query = IDENTITIES[name]
        rules.append(UniqueIdentity(name, contract.record_key, identity, what=what, what_vi=what_vi, query=query))
    if "full_name" in fields:
        rules.append(NamesNormalised(name))
    if "line" in fields:
        rules.append(AddressesNormalised(name))
    if "last_updated" in contract.model_fields:
        rules.append(Fresh(name))
    rules += _domain_rules(name)
    return tuple(rules)


def rule_needs_lookups(rule: Rule) -> bool:
    """Whether a rule asks other databases (it applies only where lookups are given)."""
    return isinstance(rule, _DeathRule)
