"""The rule set of every contract: the generic rules derived from the contract, then the rules its package declares.

The gateway names no sector here. A contract package declares what only it knows (expected fields, identity,
record checks, links to other databases) as a :class:`contracts.quality.QualityRules` registered under the
entry-point group ``gateway.quality_rules`` (:mod:`.declared`); this module turns a declaration into rules.

Cross-database rules (links) ask other national databases through :class:`~gateway.quality.rules.Lookups` (a
sampled scan has them; submitted records are checked without network calls, so those rules do not apply there). A
record whose question the other database leaves unanswered is :class:`~gateway.quality.rules.Unverified` for the
rule, never passed:

* :class:`PersonIsCitizen`: the person a record names is a citizen with the same name, birth date and gender (live:
  the identity follows the population database);
* :class:`DeathPropagated`: a death another database records reached this one (live);
* :class:`NoDocumentAfterDeath`: nothing issued after the person's death (correct);
* :class:`MovePropagated`: the province this record holds for a person is that of their permanent address (live).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any, Final, TypeVar

from pydantic import BaseModel

from contracts import Contract
from contracts import quality as declared
from contracts.names import normalize_name
from gateway.quality._clean import AddressesNormalised, NamesNormalised, UniqueIdentity, UniqueKey
from gateway.quality._declared import declared_rules
from gateway.quality._generic import (
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
from gateway.quality.rules import (
    OK,
    SKIP,
    CitizenLookup,
    DeathLookup,
    Dimension,
    Failure,
    Lookups,
    NotApplicable,
    Outcome,
    RecordRule,
    Rule,
    RuleContext,
    as_date,
    as_partial_date,
    unverified,
)
from gateway.records.registry import ConnectorRegistry

__all__ = [
    "LOOKUP_CONCURRENCY",
    "DeathPropagated",
    "DeclaredCheck",
    "MovePropagated",
    "NoDocumentAfterDeath",
    "PersonIsCitizen",
    "rule_needs_lookups",
    "rules_for",
    "rules_for_database",
    "rules_from",
]

LOOKUP_CONCURRENCY: Final = 8
"""Lookups one cross-database rule runs at once."""

Answer = TypeVar("Answer")


async def _answers(lookup: Callable[[str], Awaitable[Answer]], ids: Sequence[str | None]) -> list[Answer | LookupError]:
    """The lookup's answer for each id (the ``LookupError`` it raised when it has none; :class:`NotApplicable`
    without an id), at most a few at a time."""
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def one(personal_id: str | None) -> Answer | LookupError:
        if personal_id is None:
            return NotApplicable("no personal id")
        async with gate:
            try:
                return await lookup(personal_id)
            except LookupError as exc:
                return exc

    return list(await asyncio.gather(*(one(i) for i in ids)))


def _at(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split(".") if path else ():
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _person_id(record: Mapping[str, Any], person: str) -> str | None:
    found = _at(record, person)
    return declared.text(found.get("personal_id")) if isinstance(found, Mapping) else None


class _LinkRule(Rule):
    """A rule asking another database, through one of the :class:`~gateway.quality.rules.Lookups`, about the person
    a record names, and judging each record by the answer. It does not apply without the lookup (submitted
    records), to a record naming no person or one the other database does not know (:class:`NotApplicable`); a
    record whose question that database leaves unanswered is :class:`~gateway.quality.rules.Unverified`."""

    person: str = ""

    @abstractmethod
    def lookup(self, lookups: Lookups) -> Callable[[str], Awaitable[Any]] | None:
        """The lookup the rule asks (``None``: not available)."""

    @abstractmethod
    def judge(self, record: Mapping[str, Any], answer: Any, context: RuleContext) -> Outcome:
        """The outcome for one record, given the lookup's answer."""

    def personal_id(self, record: Mapping[str, Any]) -> str | None:
        """The personal id of the person the rule asks about."""
        return _person_id(record, self.person)

    def applies(self, record: Mapping[str, Any]) -> bool:
        """Whether the rule can apply to the record whatever the answer (it is not asked about otherwise)."""
        return True

    async def evaluate(self, records: Sequence[Mapping[str, Any]], context: RuleContext) -> list[Outcome]:
        lookup = self.lookup(context.lookups) if context.lookups else None
        if lookup is None:
            return [SKIP] * len(records)
        answers = await _answers(
            lookup, [self.personal_id(record) if self.applies(record) else None for record in records]
        )
        return [self._outcome(record, answer, context) for record, answer in zip(records, answers, strict=True)]

    def _outcome(self, record: Mapping[str, Any], answer: Any, context: RuleContext) -> Outcome:
        if isinstance(answer, NotApplicable):
            return SKIP
        if isinstance(answer, LookupError):
            return unverified(answer)
        return self.judge(record, answer, context)


class DeathPropagated(_LinkRule):
    """A death another database records (the civil status database's registration, or the population database's
    record) is recorded, with the same date, in this one."""

    dimension = Dimension.LIVE
    slug = "death_propagated"

    def __init__(self, contract_name: str, *, source: str, person: str = "", field: str = "date_of_death") -> None:
        super().__init__(contract_name)
        self.source = source
        self.person = person
        self.field = field
        if source == declared.DEATH_REGISTRATIONS:
            self.title = "Deaths registered in civil status are recorded"
            self.title_vi = "Khai tử trong CSDL hộ tịch đã được cập nhật"
        else:
            self.title = "Deaths recorded in the population database are recorded"
            self.title_vi = "Người đã chết theo CSDL dân cư đã được cập nhật"

    def lookup(self, lookups: Lookups) -> DeathLookup | None:
        return lookups.civil_status_death if self.source == declared.DEATH_REGISTRATIONS else lookups.population_death

    def judge(self, record: Mapping[str, Any], answer: Any, context: RuleContext) -> Outcome:
        died = answer if isinstance(answer, date) else None
        recorded = as_date(_at(record, self.field))
        if died is None or recorded == died:
            return OK
        if recorded is None:
            late = max(1, (context.today - died).days)
            where = "registered" if self.source == declared.DEATH_REGISTRATIONS else "recorded in the population"
            return Failure(f"death {where} {late} days ago is not recorded", weight=late)
        return Failure(f"{self.field} differs from the recorded death", weight=1)


class NoDocumentAfterDeath(_LinkRule):
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

    def lookup(self, lookups: Lookups) -> DeathLookup | None:
        return lookups.population_death

    def applies(self, record: Mapping[str, Any]) -> bool:
        return bool(self.dates(record))

    def judge(self, record: Mapping[str, Any], answer: Any, context: RuleContext) -> Outcome:
        died = answer if isinstance(answer, date) else None
        issued = self.dates(record)
        if not issued:
            return SKIP
        if died is None or max(issued) <= died:
            return OK
        late = (max(issued) - died).days
        return Failure(f"{self.what} issued {late} days after the {self.person}'s death", late)


class PersonIsCitizen(_LinkRule):
    """The person a record names is a citizen of the population database with the same name (normalised), date of
    birth and gender."""

    dimension = Dimension.LIVE
    slug = "person_is_citizen"

    def __init__(self, contract_name: str, *, person: str, dimension: Dimension = Dimension.LIVE) -> None:
        super().__init__(contract_name)
        self.person = person
        self.dimension = dimension  # type: ignore[misc]
        self.title = f"The {person.replace('_', ' ')}'s identity is the population database's"
        self.title_vi = "Danh tính khớp với CSDL quốc gia về dân cư"

    def lookup(self, lookups: Lookups) -> CitizenLookup | None:
        return lookups.citizen

    def judge(self, record: Mapping[str, Any], answer: Any, context: RuleContext) -> Outcome:
        if answer is None:
            return Failure(f"{self.person}.personal_id: no such citizen in the population database", weight=3)
        person = _at(record, self.person)
        assert isinstance(person, Mapping)  # the personal id was read from it
        problems = []
        name, their_name = person.get("full_name"), answer.get("full_name")
        if isinstance(name, str) and isinstance(their_name, str) and normalize_name(name) != normalize_name(their_name):
            problems.append(f"{self.person}.full_name")
        born, their_born = as_partial_date(person.get("date_of_birth")), as_partial_date(answer.get("date_of_birth"))
        if born is not None and their_born is not None and born != their_born:
            problems.append(f"{self.person}.date_of_birth")
        gender, their_gender = person.get("gender"), answer.get("gender")
        if gender is not None and their_gender is not None and str(gender) != str(their_gender):
            problems.append(f"{self.person}.gender")
        if problems:
            return Failure(f"differs from the population database: {', '.join(problems)}", weight=len(problems))
        return OK


class MovePropagated(_LinkRule):
    """A change of permanent residence reached this database: the province it holds for the person (where they are
    managed) is that of the permanent address the population database records."""

    dimension = Dimension.LIVE
    slug = "move_propagated"

    def __init__(
        self,
        contract_name: str,
        *,
        person: str,
        province: Callable[[Mapping[str, Any]], str | None],
        what: str,
        what_vi: str,
    ) -> None:
        super().__init__(contract_name)
        self.person = person
        self.province = province
        self.what = what
        self.title = f"Moves of residence reached the {what}"
        self.title_vi = f"Thay đổi nơi thường trú đã cập nhật {what_vi}"

    def lookup(self, lookups: Lookups) -> CitizenLookup | None:
        return lookups.citizen

    def applies(self, record: Mapping[str, Any]) -> bool:
        return self.province(record) is not None

    def judge(self, record: Mapping[str, Any], answer: Any, context: RuleContext) -> Outcome:
        held = self.province(record)
        address = answer.get("permanent_address") if isinstance(answer, Mapping) else None
        lives = address.get("province_code") if isinstance(address, Mapping) else None
        if held is None or lives is None:
            return SKIP
        if str(lives) != held:
            return Failure(f"{self.what}: not in the province of the permanent address")
        return OK


class DeclaredCheck(RecordRule):
    """A :class:`contracts.quality.RecordCheck` a contract package declares."""

    def __init__(self, contract_name: str, declared_check: declared.RecordCheck) -> None:
        self.slug = declared_check.slug  # type: ignore[misc]
        super().__init__(contract_name)
        self.dimension = declared_check.dimension  # type: ignore[misc]
        self.title = declared_check.title
        self.title_vi = declared_check.title_vi
        self.declared = declared_check

    def check(self, record: Mapping[str, Any], context: RuleContext) -> Outcome:
        try:
            verdict = self.declared.check(record, context.today)
        except (KeyError, TypeError, ValueError, AttributeError):
            return SKIP
        if verdict is None:
            return SKIP
        if isinstance(verdict, declared.Problem):
            return Failure(verdict.detail, verdict.weight)
        return OK if verdict else Failure("check failed")


def _link_rule(name: str, link: declared.Link) -> Rule:
    if isinstance(link, declared.PersonIsCitizen):
        return PersonIsCitizen(name, person=link.person, dimension=link.dimension)
    if isinstance(link, declared.DeathRecorded):
        return DeathPropagated(name, source=link.source, person=link.person, field=link.field)
    if isinstance(link, declared.NoIssueAfterDeath):
        return NoDocumentAfterDeath(name, person=link.person, dates=link.dates, what=link.what)
    return MovePropagated(name, person=link.person, province=link.province, what=link.what, what_vi=link.what_vi)


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


def rules_from(contract: type[Contract], declaration: declared.QualityRules | None) -> tuple[Rule, ...]:
    """The rule set of a contract given its declaration (``None``: the generic rules only)."""
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
    if declaration is not None and declaration.expected_fields:
        rules.append(ExpectedFields(name, declaration.expected_fields))
    rules.append(UniqueKey(name, contract.record_key))
    if declaration is not None and declaration.identity is not None:
        identity = declaration.identity
        rules.append(
            UniqueIdentity(
                name,
                contract.record_key,
                identity.key,
                what=identity.what,
                what_vi=identity.what_vi,
                query=identity.query,
            )
        )
    if "full_name" in fields:
        rules.append(NamesNormalised(name))
    if "line" in fields:
        rules.append(AddressesNormalised(name))
    if "last_updated" in contract.model_fields:
        rules.append(Fresh(name))
    if declaration is not None:
        rules += [DeclaredCheck(name, check) for check in declaration.checks]
        rules += [_link_rule(name, link) for link in declaration.links]
    return tuple(rules)


@cache
def rules_for(contract: type[Contract]) -> tuple[Rule, ...]:
    """The rule set of a contract: the generic rules that apply to its fields, then the rules its package declares
    (entry-point group ``gateway.quality_rules``). The one function the gateway calls for a contract's rules."""
    return rules_from(contract, declared_rules().get(contract.contract_name))


def rules_for_database(registry: ConnectorRegistry, database_id: str) -> tuple[Rule, ...]:
    """The rule set of a served database: that of its connector's contract (``KeyError`` if it is not served)."""
    return rules_for(registry.databases[database_id].connector.contract)


def rule_needs_lookups(rule: Rule) -> bool:
    """Whether a rule asks other databases (it applies only where lookups are given)."""
    return isinstance(rule, _LinkRule)
