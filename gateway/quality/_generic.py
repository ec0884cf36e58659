"""Rules that hold for every contract, derived from the contract itself or from the shared value types (those of
the clean dimension are in :mod:`gateway.quality._clean`).

* correct: the record passes the contract's validation; the people it names have personal ids agreeing with
  their gender and year of birth; its administrative units exist; its dates are possible;
* complete: the fields the contract requires, and those the rule set expects, are present;
* live: the record was updated within the database's freshness target.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, Final, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from connectors.base import describe_violation
from contracts.admin_units import UnknownAdminUnit, province_name, ward_province
from contracts.identity import parse_personal_id
from contracts.provinces import BIRTH_REGISTRATION_PROVINCES
from gateway.quality.rules import (
    OK,
    SKIP,
    Dimension,
    Failure,
    MappingRule,
    Outcome,
    RecordRule,
    RuleContext,
    as_datetime,
    as_partial_date,
    outcome_of,
    person_dicts,
    where,
)

__all__ = [
    "AdminUnitsExist",
    "ContractValid",
    "DatesPossible",
    "ExpectedFields",
    "Fresh",
    "PersonIdConsistent",
    "RequiredFields",
    "is_empty",
    "model_of",
    "required_paths",
]

MAX_AGE_YEARS = 120
# Date fields that may lie in the future (the end of a validity), by the end of their name.
_FUTURE_ALLOWED: Final = ("expiry_date", "valid_until", "valid_to", "end_date", "until")


class ContractValid(RecordRule):
    """The record passes the contract's validation (types, formats, code lists and the contract's own rules)."""

    dimension = Dimension.CORRECT
    slug = "contract_valid"
    title = "Passes the contract's validation"
    title_vi = "Đạt kiểm tra theo hợp đồng dữ liệu"

    def check(self, record: Mapping[str, Any], context: RuleContext) -> Outcome:
        try:
            context.contract.model_validate(record)
        except ValidationError as exc:
            return outcome_of([describe_violation(e) for e in exc.errors(include_input=False, include_url=False)])
        return OK


class PersonIdConsistent(MappingRule):
    """Every person the record names has a well-formed personal id whose century/gender digit agrees with their
    gender and whose year digits agree with their year of birth; a citizen's birth-registration province agrees
    with the id's province code."""

    dimension = Dimension.CORRECT
    slug = "personal_id_consistent"
    title = "Personal id agrees with gender, birth year and birth province"
    title_vi = "Số định danh khớp giới tính, năm sinh, nơi đăng ký khai sinh"

    def mappings(self, record: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
        return person_dicts(record)

    def problems(self, path: str, person: Mapping[str, Any], context: RuleContext) -> list[str]:
        try:
            parts = parse_personal_id(str(person["personal_id"]))
        except ValueError:
            return [f"{where(path, 'personal_id')}: not a valid personal id"]
        problems: list[str] = []
        gender = person.get("gender")
        if gender is not None and str(gender) != parts.gender.value:
            problems.append(f"{where(path, 'gender')}: disagrees with the century/gender digit of personal_id")
        born = as_partial_date(person.get("date_of_birth"))
        if born is not None and born.year != parts.birth_year:
            problems.append(f"{where(path, 'date_of_birth')}: year disagrees with personal_id")
        registered = person.get("place_of_birth_registration")
        if isinstance(registered, Mapping) and registered.get("province_code") is not None:
            origin = BIRTH_REGISTRATION_PROVINCES[parts.province_code]
            if str(registered["province_code"]) != origin.current_province_code:
                problems.append(
                    f"{where(path, 'place_of_birth_registration.province_code')}: "
                    "not the province of personal_id's code"
                )
        return problems


class AdminUnitsExist(MappingRule):
    """Every province and ward code in the record is a current administrative unit, each ward in its province."""

    dimension = Dimension.CORRECT
    slug = "admin_units_exist"
    title = "Administrative unit codes exist"
    title_vi = "Mã đơn vị hành chính tồn tại"

    def problems(self, path: str, item: Mapping[str, Any], context: RuleContext) -> list[str] | None:
        province = item.get("province_code")
        ward = item.get("ward_code")
        if province is None and ward is None:
            return None
        if province is not None:
            try:
                province_name(str(province))
            except (UnknownAdminUnit, ValueError):
                return [f"{where(path, 'province_code')}: no such province"]
        if ward is not None:
            try:
                actual = ward_province(str(ward))
            except (UnknownAdminUnit, ValueError):
                return [f"{where(path, 'ward_code')}: no such ward"]
            if province is not None and actual != str(province):
                return [f"{where(path, 'ward_code')}: the ward is in another province"]
        return []


def _is_date_field(name: str) -> bool:
    return name.endswith("date") or name.startswith("date_of_")


class DatesPossible(MappingRule):
    """Every date of the record can be read and is possible: events (births, registrations, issues, deaths) not
    in the future, no death before birth, nobody alive older than 120 years, no update stamped in the future."""

    dimension = Dimension.CORRECT
    slug = "dates_possible"
    title = "Dates are possible"
    title_vi = "Ngày tháng hợp lý"

    def __init__(self, contract_name: str, *, tracks_death: bool = False) -> None:
        super().__init__(contract_name)
        self.tracks_death = tracks_death
        """Whether the records are people whose death the record would show (a citizen): without a date of death
        such a person is alive, and may not be older than 120 years."""

    def problems(self, path: str, item: Mapping[str, Any], context: RuleContext) -> list[str] | None:
        # A mapping without any date holds no date of birth or death either: the rule does not apply to it.
        problems: list[str] = []
        seen = False
        today = context.today
        for name, value in item.items():
            if value is None or not isinstance(name, str) or not _is_date_field(name):
                continue
            seen = True
            parsed = as_partial_date(value)
            if parsed is None:
                problems.append(f"{where(path, name)}: not a date")
            elif parsed.earliest() > today and not name.endswith(_FUTURE_ALLOWED):
                problems.append(f"{where(path, name)}: in the future")
        if not seen:
            return None
        born = as_partial_date(item.get("date_of_birth"))
        died = as_partial_date(item.get("date_of_death"))
        if born is not None and died is not None and died.latest() < born.earliest():
            problems.append(f"{where(path, 'date_of_death')}: before date_of_birth")
        alive = path == "" and self.tracks_death and died is None
        if alive and born is not None and today.year - born.latest().year > MAX_AGE_YEARS:
            problems.append(f"date_of_birth: alive and older than {MAX_AGE_YEARS} years")
        return problems

    def check(self, record: Mapping[str, Any], context: RuleContext) -> Outcome:
        problems, applies = self.collect(record, context)
        updated = as_datetime(record.get("last_updated"))
        if updated is not None:
            applies = True
            if updated > context.now:
                problems.append("last_updated: in the future")
        return outcome_of(problems, applies)


def is_empty(value: Any) -> bool:
    """Whether a raw value counts as absent: ``None``, or an empty text, list or mapping."""
    return value is None or (isinstance(value, str | list | tuple | dict) and not value)


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``annotation`` (``Address``, ``Address | None``, ``Annotated[...]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType, Annotated):
        for argument in get_args(annotation):
            if (found := model_of(argument)) is not None:
                return found
    return None


def required_paths(model: type[BaseModel], prefix: str = "") -> list[tuple[str, ...]]:
    """Dotted paths of the fields ``model`` requires, nested models' required fields below their (required)
    parent, as tuples (``("permanent_address", "ward_code")``)."""
    paths: list[tuple[str, ...]] = []
    for name, info in model.model_fields.items():
        if info.is_required():
            paths.append((name,))
            nested = model_of(info.annotation)
            if nested is not None:
                paths += [(name, *rest) for rest in required_paths(nested)]
    return paths


def _lookup(record: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class _FieldsPresent(RecordRule):
    """The fields at :attr:`paths` are present and not empty."""

    dimension = Dimension.COMPLETE
    paths: tuple[tuple[str, ...], ...]

    def check(self, record: Mapping[str, Any], context: RuleContext) -> Outcome:
        return outcome_of([f"missing {'.'.join(path)}" for path in self.paths if is_empty(_lookup(record, path))])


class RequiredFields(_FieldsPresent):
    """Every field the contract requires is present and not empty."""

    slug = "required_fields"
    title = "Required fields are present"
    title_vi = "Đủ các trường bắt buộc"

    def __init__(self, contract_name: str, paths: Sequence[tuple[str, ...]]) -> None:
        super().__init__(contract_name)
        self.paths = tuple(paths)


class ExpectedFields(_FieldsPresent):
    """The optional fields a complete record of this kind has are present (e.g. a citizen's marital status)."""

    slug = "expected_fields"
    title = "Expected fields are present"
    title_vi = "Đủ các trường cần có"

    def __init__(self, contract_name: str, fields: Sequence[str]) -> None:
        super().__init__(contract_name)
        self.paths = tuple(tuple(name.split(".")) for name in fields)


class Fresh(RecordRule):
    """The record was updated (``last_updated``) within the database's freshness target."""

    dimension = Dimension.LIVE
    slug = "fresh"
    title = "Updated within the freshness target"
    title_vi = "Được cập nhật trong thời hạn"

    def check(self, record: Mapping[str, Any], context: RuleContext) -> Outcome:
        if context.freshness is None:
            return SKIP
        updated = as_datetime(record.get("last_updated"))
        if updated is None:
            return SKIP
        age = context.now - updated
        if age <= context.freshness:
            return OK
        days = age.days
        return Failure(f"last updated {days} days ago (target {context.freshness.days} days)", weight=days)
