"""The data-quality rules on crafted records: each rule passes a clean record, fails the defect it is about (with a
detail that names fields, never a value), and does not apply to records lacking what it checks. Cross-database
rules get their answers from plain lookup functions; a record whose question goes unanswered is unverified, never
passed."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts.civil_status import CivilStatusRegistration
from contracts.driving_licences import DrivingLicence
from contracts.legal_documents import LegalDocument
from contracts.population import Citizen
from gateway.quality.domain import rules_for
from gateway.quality.evaluate import WORST_PER_RULE, evaluate
from gateway.quality.rules import (
    OK,
    SKIP,
    Dimension,
    Failure,
    Lookups,
    LookupUnanswered,
    NotApplicable,
    Outcome,
    RuleContext,
    Unverified,
    mask_key,
)
from gateway.quality.service import shortfalls

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
CLEAN: dict[str, Any] = copy.deepcopy(Citizen.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
CLEAN["last_updated"] = (NOW - timedelta(days=10)).isoformat()
PERSONAL_ID = CLEAN["personal_id"]
NAME = CLEAN["full_name"]


def citizen(**changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(CLEAN)
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def context(**overrides: Any) -> RuleContext:
    values: dict[str, Any] = {"contract": Citizen, "now": NOW, "freshness": timedelta(days=365)}
    values.update(overrides)
    return RuleContext(**values)


async def outcomes(rule_suffix: str, records: list[Mapping[str, Any]], ctx: RuleContext | None = None) -> list[Outcome]:
    ctx = ctx or context()
    (rule,) = [r for r in rules_for(ctx.contract) if r.id.endswith("." + rule_suffix)]
    return await rule.evaluate(records, ctx)


async def one(rule_suffix: str, record: Mapping[str, Any], ctx: RuleContext | None = None) -> Outcome:
    return (await outcomes(rule_suffix, [record], ctx))[0]


def failure(outcome: Outcome) -> Failure:
    assert isinstance(outcome, Failure), outcome
    assert PERSONAL_ID not in outcome.detail
    assert NAME not in outcome.detail
    return outcome


def test_the_citizen_rule_set_covers_four_dimensions() -> None:
    rules = rules_for(Citizen)
    ids = [rule.id for rule in rules]
    assert len(ids) == len(set(ids))
    assert all(rule_id.startswith("population.citizen.") for rule_id in ids)
    assert {rule.dimension for rule in rules} == set(Dimension)
    assert {i.rsplit(".", 1)[1] for i in ids} >= {
        "contract_valid",
        "personal_id_consistent",
        "admin_units_exist",
        "dates_possible",
        "required_fields",
        "expected_fields",
        "unique_key",
        "unique_identity",
        "names_normalised",
        "addresses_normalised",
        "fresh",
        "death_propagated",
    }
    assert all(rule.title and rule.title_vi for rule in rules)


def test_generic_rules_derive_from_any_contract() -> None:
    ids = {rule.id.rsplit(".", 1)[1] for rule in rules_for(LegalDocument)}
    assert {"contract_valid", "required_fields", "unique_key"} <= ids
    assert "fresh" not in ids  # no last_updated field
    assert {"no_issue_after_death"} <= {rule.id.rsplit(".", 1)[1] for rule in rules_for(DrivingLicence)}


@pytest.mark.anyio
async def test_a_clean_citizen_passes_every_rule() -> None:
    evaluation = await evaluate([citizen()], rules_for(Citizen), context())
    for count in evaluation.rules.values():
        assert count.failed == 0, (count.rule_id, count.worst)
    assert all(d.failed == 0 for d in evaluation.dimensions.values())


@pytest.mark.anyio
async def test_the_personal_id_must_agree_with_birth_year_gender_and_province() -> None:
    assert await one("personal_id_consistent", citizen()) == OK
    wrong_year = failure(await one("personal_id_consistent", citizen(date_of_birth="1986-03-12")))
    assert "date_of_birth" in wrong_year.detail
    wrong_gender = failure(await one("personal_id_consistent", citizen(gender="male")))
    assert "gender" in wrong_gender.detail
    elsewhere = {"province_code": "01", "ward_code": "00004"}
    moved = failure(await one("personal_id_consistent", citizen(place_of_birth_registration=elsewhere)))
    assert "place_of_birth_registration" in moved.detail
    broken = failure(await one("personal_id_consistent", citizen(personal_id="999185000123")))
    assert "personal_id" in broken.detail
    both = failure(await one("personal_id_consistent", citizen(gender="male", date_of_birth="1990")))
    assert both.weight == 2
    # The contract's validation fails the same records.
    assert isinstance(await one("contract_valid", citizen(date_of_birth="1986-03-12")), Failure)


@pytest.mark.anyio
async def test_nested_people_are_checked_too() -> None:
    licence: dict[str, Any] = copy.deepcopy(DrivingLicence.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    ctx = context(contract=DrivingLicence)
    assert await one("personal_id_consistent", licence, ctx) == OK
    licence["holder"]["gender"] = "female" if licence["holder"]["gender"] == "male" else "male"
    assert "holder.gender" in failure(await one("personal_id_consistent", licence, ctx)).detail


@pytest.mark.anyio
async def test_administrative_units_must_exist_and_wards_lie_in_their_province() -> None:
    assert await one("admin_units_exist", citizen()) == OK
    unknown = citizen(permanent_address={**CLEAN["permanent_address"], "ward_code": "99999"})
    assert "permanent_address.ward_code: no such ward" in failure(await one("admin_units_exist", unknown)).detail
    gone = citizen(hometown={"province_code": "99"})
    assert "hometown.province_code: no such province" in failure(await one("admin_units_exist", gone)).detail
    astray = citizen(current_address={**CLEAN["current_address"], "province_code": "01"})
    assert "another province" in failure(await one("admin_units_exist", astray)).detail


@pytest.mark.anyio
async def test_dates_must_be_possible() -> None:
    assert await one("dates_possible", citizen()) == OK
    future = failure(await one("dates_possible", citizen(date_of_birth="2030-01-01")))
    assert "date_of_birth: in the future" in future.detail
    assert "before date_of_birth" in failure(await one("dates_possible", citizen(date_of_death="1970-01-01"))).detail
    assert "not a date" in failure(await one("dates_possible", citizen(date_of_death="31/02/2020"))).detail
    ancient = failure(await one("dates_possible", citizen(date_of_birth="1890")))
    assert "older than 120" in ancient.detail
    assert await one("dates_possible", citizen(date_of_birth="1890", date_of_death="1960-05-01")) == OK
    stamped = citizen(last_updated=(NOW + timedelta(days=2)).isoformat())
    assert "last_updated: in the future" in failure(await one("dates_possible", stamped)).detail
    # Typed values (as submitted through the exchange) are read as well as text.
    assert await one("dates_possible", citizen(date_of_death=date(2024, 11, 2))) == OK


@pytest.mark.anyio
async def test_required_and_expected_fields() -> None:
    assert await one("required_fields", citizen()) == OK
    missing = failure(await one("required_fields", citizen(full_name=None, ethnicity="")))
    assert missing.detail == "missing full_name; missing ethnicity"
    assert missing.weight == 2
    no_ward = citizen(permanent_address={"province_code": "68", "line": "12 Trần Phú"})
    assert failure(await one("required_fields", no_ward)).detail == "missing permanent_address.ward_code"
    assert await one("expected_fields", citizen()) == OK
    assert failure(await one("expected_fields", citizen(marital_status=None))).detail == "missing marital_status"


@pytest.mark.anyio
async def test_duplicates_by_key_and_by_identity() -> None:
    twin = citizen(personal_id="068185000999", full_name="  nguyễn thị  MAI", old_id_number=None)
    other = citizen(personal_id="068185000777", full_name="Lê Thị Mai")
    found = await outcomes("unique_identity", [citizen(), other, twin])
    assert failure(found[0]).detail.endswith(f"as record {mask_key('068185000999')}")
    assert found[1] == OK
    assert failure(found[2]).detail.endswith(f"as record {mask_key(PERSONAL_ID)}")
    keys = await outcomes("unique_key", [citizen(), other, citizen(), citizen(personal_id=None)])
    assert keys[:2] == [OK, OK]
    assert failure(keys[2]).detail == "personal_id appears more than once"
    assert keys[3] == SKIP


@pytest.mark.anyio
async def test_duplicates_are_looked_for_in_the_whole_database_when_it_can_be_searched() -> None:
    stored = [citizen(personal_id="068185000999"), citizen(personal_id="068185000555", gender="male")]
    queries: list[dict[str, Any]] = []

    async def search(query: Mapping[str, Any]) -> list[dict[str, Any]]:
        queries.append(dict(query))
        if query["full_name"] == "Lê Mai":
            raise NotApplicable("population: BadQuery")
        if query["full_name"] == "Lê Lan":
            raise LookupUnanswered("population", "UpstreamTimeout")
        return [citizen(), *stored]  # the record itself, its twin, a namesake of the other gender

    ctx = context(lookups=Lookups(search=search))
    records: list[Mapping[str, Any]] = [
        citizen(),
        citizen(personal_id="068185000321", full_name="Lê Mai"),
        citizen(personal_id="068185000322", full_name="Lê Lan"),
        citizen(personal_id="068185000323", full_name="Lê Lan"),  # the same person, registered twice
    ]
    found = await outcomes("unique_identity", records, ctx)
    twin = mask_key("068185000999")
    assert failure(found[0]).detail == f"same name, birth date, gender, birth province as record {twin}"
    assert found[1] == OK  # the database cannot run that search: only the batch counts
    # The search went unanswered: not known to be unique; but a duplicate within the batch is known.
    assert failure(found[2]).detail.endswith(f"as record {mask_key('068185000323')}")
    assert failure(found[3]).detail.endswith(f"as record {mask_key('068185000322')}")
    unique = citizen(personal_id="068185000324", full_name="Lê Lan")
    assert await outcomes("unique_identity", [unique], ctx) == [Unverified("population", "UpstreamTimeout")]
    assert queries[:2] == [
        {"full_name": NAME, "date_of_birth": CLEAN["date_of_birth"]},
        {"full_name": "Lê Mai", "date_of_birth": CLEAN["date_of_birth"]},
    ]


@pytest.mark.anyio
async def test_names_and_addresses_must_be_normalised() -> None:
    assert await one("names_normalised", citizen()) == OK
    for messy, problem in (
        ("Nguyễn  Thị Mai", "extra spaces"),
        ("Nguyễn Thị Mai ", "extra spaces"),
        ("NGUYỄN THỊ MAI", "all upper case"),
        ("nguyễn thị mai", "all lower case"),
        ("Nguye\u0302\u0303n Thị Mai", "not in Unicode NFC"),
        ("H’Hen Niê", "non-standard apostrophe"),
    ):
        assert problem in failure(await one("names_normalised", citizen(full_name=messy))).detail, messy
    assert await one("names_normalised", citizen(full_name="K' Brơi")) == OK
    assert await one("addresses_normalised", citizen()) == OK
    spaced = citizen(permanent_address={**CLEAN["permanent_address"], "line": "12  Trần Phú"})
    assert "permanent_address.line: extra spaces" in failure(await one("addresses_normalised", spaced)).detail


@pytest.mark.anyio
async def test_freshness_against_the_target() -> None:
    recent = citizen(last_updated=(NOW - timedelta(days=30)).isoformat())
    assert await one("fresh", recent) == OK
    stale = failure(await one("fresh", citizen(last_updated=(NOW - timedelta(days=400, hours=1)).isoformat())))
    assert stale.detail == "last updated 400 days ago (target 365 days)"
    assert stale.weight == 400
    assert await one("fresh", recent, context(freshness=None)) == SKIP
    assert await one("fresh", citizen(last_updated=None)) == SKIP


@pytest.mark.anyio
async def test_deaths_registered_in_civil_status_must_reach_the_population() -> None:
    died = date(2026, 1, 10)
    calls: list[str] = []

    async def civil_status_death(personal_id: str) -> date | None:
        calls.append(personal_id)
        if personal_id == "068185000404":
            raise LookupUnanswered("civil_status", "UpstreamUnavailable")
        if personal_id == "068185000405":
            raise KeyError(personal_id)  # any other LookupError: a database that did not answer
        if personal_id == "068185000406":
            raise NotApplicable("civil_status: no such person")
        return died if personal_id in {PERSONAL_ID, "068185000111"} else None

    ctx = context(lookups=Lookups(civil_status_death=civil_status_death))
    records = [
        citizen(),  # died, but the population database does not know
        citizen(personal_id="068185000111", date_of_death="2026-01-10"),  # propagated
        citizen(personal_id="068185000222"),  # alive
        citizen(personal_id="068185000404"),  # the civil status database cannot be reached
        citizen(personal_id="068185000405"),
        citizen(personal_id="068185000406"),  # the question does not apply
    ]
    found = await outcomes("death_propagated", records, ctx)
    lost = failure(found[0])
    assert lost.detail == f"death registered {(ctx.today - died).days} days ago is not recorded"
    assert found[1:3] == [OK, OK]
    assert found[3] == Unverified("civil_status", "UpstreamUnavailable", outage=True)
    assert found[4] == Unverified("lookup", "KeyError", outage=True)  # the class only: never the value asked
    assert found[5] == SKIP
    assert sorted(calls) == sorted(r["personal_id"] for r in records)
    assert await outcomes("death_propagated", records) == [SKIP] * 6  # no lookups: submitted records


@pytest.mark.anyio
async def test_no_licence_is_issued_after_the_holders_death() -> None:
    licence: dict[str, Any] = copy.deepcopy(DrivingLicence.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    issued = max(date.fromisoformat(c["issue_date"]) for c in licence["classes"])

    def dying(day: date | None) -> Any:
        async def population_death(personal_id: str) -> date | None:
            return day

        return Lookups(population_death=population_death)

    def check(day: date | None) -> RuleContext:
        return context(contract=DrivingLicence, lookups=dying(day))

    assert await one("no_issue_after_death", licence, check(None)) == OK
    assert await one("no_issue_after_death", licence, check(issued + timedelta(days=1))) == OK
    late = failure(await one("no_issue_after_death", licence, check(issued - timedelta(days=30))))
    assert late.detail == "licence class issued 30 days after the holder's death"
    assert late.weight == 30


@pytest.mark.anyio
async def test_civil_registrations_follow_their_event() -> None:
    example: dict[str, Any] = copy.deepcopy(
        CivilStatusRegistration.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    )
    ctx = context(contract=CivilStatusRegistration)
    assert example["kind"] == "birth"
    assert await one("registered_after_event", example, ctx) == OK
    early = dict(example, registration_date="1900-01-01")
    assert failure(await one("registered_after_event", early, ctx)).detail.startswith("birth registered ")
    assert await one("registered_after_event", dict(example, kind="marriage"), ctx) == SKIP


@pytest.mark.anyio
async def test_the_evaluation_counts_records_per_dimension_and_keeps_the_ten_worst() -> None:
    records = [
        citizen(
            personal_id=f"068185{i:06d}",
            date_of_birth=f"1985-04-{i + 1:02d}",
            last_updated=(NOW - timedelta(days=400 + i)).isoformat(),
        )
        for i in range(15)
    ]
    records.append(citizen(personal_id="068185000900", full_name="NGUYỄN THỊ MAI"))
    evaluation = await evaluate(records, rules_for(Citizen), context())
    fresh = evaluation.rules["population.citizen.fresh"]
    assert (fresh.checked, fresh.failed) == (16, 15)
    assert len(fresh.worst) == WORST_PER_RULE
    assert [w.weight for w in fresh.worst] == sorted((400.0 + i for i in range(5, 15)), reverse=True)
    assert fresh.worst[0].record == mask_key("068185000014") == "068*******14"
    live = evaluation.dimensions[Dimension.LIVE]
    assert (live.checked, live.failed) == (16, 15)
    clean = evaluation.dimensions[Dimension.CLEAN]
    assert (clean.checked, clean.failed) == (16, 1)
    assert clean.ratio == pytest.approx(15 / 16)


@pytest.mark.anyio
@pytest.mark.parametrize(("unanswered", "stored"), [(0, True), (2, True), (3, False)])
async def test_unverified_records_are_neither_passed_nor_failed(unanswered: int, stored: bool) -> None:
    """Two hundred citizens whose deaths the civil status database is asked about: ``unanswered`` of them it does not
    answer (1 % may go unanswered in a stored scan), and one more holds a record that breaks its contract."""
    stale = "068185000001"  # unanswered, and failing the freshness rule: a known failure of the live dimension
    silent = {f"068185{i:06d}" for i in range(1, unanswered + 1)}

    async def civil_status_death(personal_id: str) -> date | None:
        if personal_id in silent:
            raise LookupUnanswered("civil_status", "UpstreamTimeout")
        if personal_id == "068185000199":
            raise LookupUnanswered("civil_status", "ContractViolation", outage=False)
        return None

    records = [
        citizen(
            personal_id=f"068185{i:06d}",
            last_updated=(NOW - timedelta(days=400 if f"068185{i:06d}" == stale else 10)).isoformat(),
        )
        for i in range(200)
    ]
    lookups = Lookups(civil_status_death=civil_status_death)
    evaluation = await evaluate(records, rules_for(Citizen), context(lookups=lookups))
    death = evaluation.rules["population.citizen.death_propagated"]
    assert (death.checked, death.failed) == (200 - unanswered - 1, 0)
    assert (death.unverified, death.unanswered, death.applies) == (unanswered + 1, unanswered, 200)
    causes = {("civil_status", "ContractViolation"): 1} | (
        {("civil_status", "UpstreamTimeout"): unanswered} if unanswered else {}
    )
    assert death.causes == causes
    live = evaluation.dimensions[Dimension.LIVE]
    # The stale record fails whatever the civil status database would say; the other unverified are not known.
    failing = 1
    unknown = unanswered + 1 - (1 if stale in silent else 0)
    assert (live.checked, live.failed, live.unverified) == (200 - unknown, failing, unknown)
    assert live.ratio == pytest.approx((200 - unknown - failing) / (200 - unknown))
    assert not shortfalls(evaluation) if stored else shortfalls(evaluation) == [death]


def test_masked_keys_reveal_only_their_ends() -> None:
    assert mask_key("068185000123") == "068*******23"
    assert mask_key("49A-123.45") == "49A*****45"
    assert mask_key("AB12") == "A**2"
    assert mask_key("7") == "*"
