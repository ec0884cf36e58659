"""Quality rules declared by contract packages (``gateway.quality_rules`` entry points): every built-in contract's
declaration loads, a third party's contract gets the rules its declaration names, a broken declaration is left out;
the cross-database links (a person is a citizen with the same identity, moves propagated) judge records by the
population database's answers."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from support import install_distribution

import connectors.discovery as discovery
import gateway.quality._declared as declared_module
from connectors.business import BusinessConnector
from contracts import Contract, all_contracts
from contracts.population import Citizen
from contracts.quality import (
    ENTRY_POINT_GROUP,
    Dimension,
    PersonIsCitizen,
    Problem,
    QualityRules,
    RecordCheck,
)
from contracts.tax import Taxpayer
from contracts.vehicles import VehicleRegistration
from gateway.quality import rules_for, rules_for_database
from gateway.quality._declared import declared_rules
from gateway.quality.domain import rule_needs_lookups, rules_from
from gateway.quality.evaluate import evaluate
from gateway.quality.rules import OK, SKIP, Failure, Lookups, LookupUnanswered, RuleContext, Unverified
from gateway.records.registry import ConnectorRegistry

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
CITIZEN: dict[str, Any] = copy.deepcopy(Citizen.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]


def test_every_builtin_declaration_loads_under_its_contract_name() -> None:
    declared = declared_rules()
    names = {contract.contract_name for contract in all_contracts()}
    registered = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert registered <= names
    assert set(declared) == registered
    assert len(declared) >= 11
    ids = {rule.id for rule in rules_for(Citizen)}
    assert {"population.citizen.expected_fields", "population.citizen.unique_identity"} <= ids
    assert "population.citizen.death_propagated" in ids
    vehicle = {rule.id for rule in rules_for(VehicleRegistration)}
    assert {"vehicles.registration.person_is_citizen", "vehicles.registration.no_issue_after_death"} <= vehicle


class Boat(Contract):
    contract_name: ClassVar[str] = "test_quality.boat"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "hull"
    hull: str
    skipper: dict[str, Any] | None = None


def _painted(record: Mapping[str, Any], today: date) -> bool | Problem | None:
    colour = record.get("colour")
    if colour is None:
        return None
    return True if colour in ("red", "blue") else Problem("colour: not a registered colour")


BOAT_RULES = QualityRules(
    contract_name="test_quality.boat",
    expected_fields=("skipper",),
    checks=(RecordCheck("painted", Dimension.CORRECT, "Painted", "Đã sơn", _painted),),
    links=(PersonIsCitizen(person="skipper"),),
)


@pytest.mark.anyio
async def test_a_third_party_contract_gets_the_rules_it_declares() -> None:
    assert [r.id for r in rules_from(Boat, None) if r.id.endswith(("painted", "expected_fields"))] == []
    rules = rules_from(Boat, BOAT_RULES)
    by_id = {rule.id: rule for rule in rules}
    assert {"test_quality.boat.painted", "test_quality.boat.expected_fields"} <= set(by_id)
    assert rule_needs_lookups(by_id["test_quality.boat.person_is_citizen"])
    assert not rule_needs_lookups(by_id["test_quality.boat.painted"])
    context = RuleContext(contract=Boat, now=NOW)
    records = [{"hull": "A1", "colour": "red"}, {"hull": "A2", "colour": "green"}, {"hull": "A3"}]
    outcomes = await by_id["test_quality.boat.painted"].evaluate(records, context)
    assert outcomes[0] == OK and outcomes[2] == SKIP
    assert outcomes[1] == Failure("colour: not a registered colour")
    evaluation = await evaluate(records, rules, context)
    assert evaluation.rules["test_quality.boat.expected_fields"].failed == 3
    assert evaluation.rules["test_quality.boat.person_is_citizen"].checked == 0  # no lookups: submitted records


def test_broken_declarations_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    real = list(entry_points(group=ENTRY_POINT_GROUP))
    broken = [
        EntryPoint("test_quality.missing", "contracts.no_such_module:QUALITY", ENTRY_POINT_GROUP),
        EntryPoint("test_quality.not_rules", "contracts.quality:Dimension", ENTRY_POINT_GROUP),
        EntryPoint("test_quality.other", "contracts.population.quality:QUALITY", ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(discovery, "entry_points", lambda group: [*real, *broken])
    declared_rules.cache_clear()
    try:
        found = declared_rules()
        assert not {"test_quality.missing", "test_quality.not_rules", "test_quality.other"} & set(found)
        assert "population.citizen" in found
    finally:
        declared_rules.cache_clear()


def test_rules_two_distributions_declare_for_one_contract_are_neither_loaded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An installed package declaring the population's rules beside the built-in declaration does not replace
    them by the order of names: neither is loaded (the contract keeps its generic rules) and the error names both.
    The same distribution found twice on the path is one declaration."""
    install_distribution(
        tmp_path,
        "lenient-rules",
        "[gateway.quality_rules]\npopulation.citizen = aaa_lenient_rules:QUALITY\n"
        "test_quality.boat = aaa_lenient_rules:BOAT\n",
        modules={
            "aaa_lenient_rules": "from contracts.quality import QualityRules\n"
            "QUALITY = QualityRules(contract_name='population.citizen')\n"
            "BOAT = QualityRules(contract_name='test_quality.boat')\n"
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    errors: list[dict[str, Any]] = []
    monkeypatch.setattr(declared_module.log, "error", lambda event, **fields: errors.append({"event": event, **fields}))
    declared_rules.cache_clear()
    try:
        found = declared_rules()
        assert "population.citizen" not in found
        assert found["test_quality.boat"].contract_name == "test_quality.boat"
        assert "vehicles.registration" in found
    finally:
        declared_rules.cache_clear()
    (error,) = errors
    assert "more than one installed distribution" in error["event"] and error["contract"] == "population.citizen"
    assert "lenient-rules 1.0 (aaa_lenient_rules:QUALITY)" in error["declared_by"]
    assert "contracts.population.quality:QUALITY" in error["declared_by"]


def _lookups(citizens: dict[str, dict[str, Any] | None]) -> Lookups:
    async def citizen(personal_id: str) -> Mapping[str, Any] | None:
        if personal_id not in citizens:
            raise LookupUnanswered("population", "ContractViolation", outage=False)
        return citizens[personal_id]

    return Lookups(citizen=citizen)


@pytest.mark.anyio
async def test_the_person_a_record_names_is_a_citizen_with_the_same_identity() -> None:
    (rule,) = [r for r in rules_for(VehicleRegistration) if r.id.endswith(".person_is_citizen")]
    pid = CITIZEN["personal_id"]
    owner = {k: CITIZEN[k] for k in ("personal_id", "full_name", "date_of_birth", "gender")}
    records = [
        {"owner": owner},
        {"owner": dict(owner, full_name="  " + CITIZEN["full_name"].upper())},  # the same name, not normalised
        {"owner": dict(owner, full_name="Trần Văn Khác", date_of_birth="1985-01-01")},
        {"owner": dict(owner, personal_id="068185000999")},
        {"owner": dict(owner, personal_id="068185000404")},
        {"plate_number": "49A-123.45"},
    ]
    lookups = _lookups({pid: CITIZEN, "068185000999": None})
    context = RuleContext(contract=VehicleRegistration, now=NOW, lookups=lookups)
    found = await rule.evaluate(records, context)
    assert found[:2] == [OK, OK]
    wrong = found[2]
    assert isinstance(wrong, Failure) and wrong.weight == 2
    assert wrong.detail == "differs from the population database: owner.full_name, owner.date_of_birth"
    missing = found[3]
    assert isinstance(missing, Failure) and "no such citizen" in missing.detail
    # The population database's record of that person breaks the contract: not verified, not an outage.
    assert found[4] == Unverified("population", "ContractViolation", outage=False)
    assert found[5] == SKIP  # no owner named


@pytest.mark.anyio
async def test_a_move_of_residence_reaches_the_tax_authority() -> None:
    (rule,) = [r for r in rules_for(Taxpayer) if r.id.endswith(".move_propagated")]
    assert rule.dimension == Dimension.LIVE
    pid = CITIZEN["personal_id"]
    province = CITIZEN["permanent_address"]["province_code"]
    other = "01" if province != "01" else "79"

    def taxpayer(office: str) -> dict[str, Any]:
        return {"tax_code": pid, "individual": {"personal_id": pid}, "managing_tax_office": {"code": office}}

    context = RuleContext(contract=Taxpayer, now=NOW - timedelta(days=1), lookups=_lookups({pid: CITIZEN}))
    records = [taxpayer(f"{province}101"), taxpayer(f"{other}100"), {"tax_code": "5800123458", "individual": None}]
    found = await rule.evaluate(records, context)
    assert found[0] == OK
    assert found[1] == Failure("managing tax office: not in the province of the permanent address")
    assert found[2] == SKIP


DOCS = Path(__file__).resolve().parents[3] / "docs" / "quality.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(DOCS.read_text(encoding="utf-8")) if lang == language]


def test_the_documented_declaration_and_sample_listing_are_valid() -> None:
    (code,) = _blocks("python")
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    declared: QualityRules = namespace["QUALITY"]
    assert declared.contract_name == "transport.boat"
    ids = {rule.id.rsplit(".", 1)[1] for rule in rules_from(Boat, declared)}
    assert {"painted", "expected_fields", "unique_identity", "person_is_citizen"} <= ids
    (settings,) = _blocks("yaml")
    config = yaml.safe_load(settings)["connectors"]["business"]["config"]
    connector = BusinessConnector.from_config(config)
    assert connector.config.sample is not None and connector.config.sample.requests_per_second == 2
    assert any(f'[project.entry-points."{ENTRY_POINT_GROUP}"]' in block for block in _blocks("toml"))


def test_a_served_databases_rules_are_those_of_its_connectors_contract(make_settings: Any) -> None:
    settings = make_settings(
        connectors={
            "population": {"config": {"url": "sqlite:///unused.db"}},
            "judicial_records": {"config": {"wsdl": "http://127.0.0.1:9/lltp?wsdl"}},
        }
    )
    registry = ConnectorRegistry.from_settings(settings)
    assert rules_for_database(registry, "population") == rules_for(Citizen)
    judicial = {rule.id for rule in rules_for_database(registry, "judicial_records")}
    assert "judicial_records.certificate_request.person_is_citizen" in judicial
    with pytest.raises(KeyError):
        rules_for_database(registry, "land")
