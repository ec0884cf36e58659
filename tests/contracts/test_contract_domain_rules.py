"""Records that Vietnamese sector databases really hold are accepted, and error messages never quote personal data.

Each case here is a value a real register holds (a minor owning inherited land or a vehicle, a child's health
insurance card running to 30 September, a facility code of a province merged in 2025, a car of a two-letter special
series, an automatic-car licence valid until its holder's 60th birthday, an individual's 10-digit tax code...), or a
check that a validation message, which ends up in logs, problem documents and dead letters, names the rule and the
field but not the personal identification number, the name or the date of birth it refused.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from contracts.business import Enterprise
from contracts.dates import PartialDate, vietnam_today
from contracts.driving_licences import DrivingLicence
from contracts.health_insurance import HealthInsuranceCard
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId, make_personal_id
from contracts.land import LandParcel
from contracts.land.parcel_v1 import CertificateSerial
from contracts.population import Citizen
from contracts.tax import Taxpayer
from contracts.tax_code import BranchTaxCode, TaxCode, make_tax_code
from contracts.vehicles import VehicleRegistration
from contracts.vehicles.registration_v1 import PLATE_PATTERN, PlateNumber

TODAY = vietnam_today()
DIGITS = "0123456789"


def _example(model: type[BaseModel]) -> dict[str, Any]:
    return copy.deepcopy(model.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]


def _errors(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(tuple(e["loc"]), e["type"]) for e in caught.value.errors()]


def _messages(exc: ValidationError) -> str:
    return " ".join(error["msg"] for error in exc.errors(include_input=False, include_url=False))


# -- messages free of personal data ------------------------------------------------------------------------------


@given(st.text(alphabet=DIGITS, min_size=9, max_size=14))
def test_a_refused_personal_id_is_not_quoted(value: str) -> None:
    try:
        TypeAdapter(PersonalId).validate_python(value)
    except ValidationError as exc:
        assert value not in _messages(exc)


@given(st.text(alphabet=DIGITS, min_size=10, max_size=10))
def test_a_refused_tax_code_is_not_quoted(value: str) -> None:
    for adapter, code in ((TypeAdapter(TaxCode), value), (TypeAdapter(BranchTaxCode), f"{value}-000")):
        try:
            adapter.validate_python(code)
        except ValidationError as exc:
            assert value not in _messages(exc)


@given(
    st.sampled_from(["001", "068", "079", "096"]),
    st.sampled_from(["male", "female"]),
    st.integers(1900, 2020),
    st.integers(0, 999_999),
    st.dates(date(1900, 1, 1), date(2020, 12, 31)),
)
def test_a_person_inconsistent_with_their_personal_id_is_refused_without_quoting_them(
    province: str, gender: str, year: int, serial: int, born: date
) -> None:
    pid = make_personal_id(province_code=province, gender=gender, birth_year=year, serial=serial)
    other = "female" if gender == "male" else "male"
    data = {"personal_id": pid, "full_name": "Nguyễn Thị Mai", "date_of_birth": born.isoformat(), "gender": other}
    with pytest.raises(ValidationError) as caught:
        IdentifiedPerson.model_validate(data)
    text = _messages(caught.value)
    assert pid not in text and born.isoformat() not in text and "Nguyễn" not in text
    assert "gender_mismatch" in {e["type"] for e in caught.value.errors()}


def test_citizen_consistency_messages_name_the_fields_not_the_values() -> None:
    data = _example(Citizen) | {"date_of_birth": "1986-03-12", "gender": "male"}
    with pytest.raises(ValidationError) as caught:
        Citizen.model_validate(data)
    text = _messages(caught.value)
    assert "personal_id" in text and "date_of_birth" in text
    assert "068185000123" not in text and "1986-03-12" not in text


@pytest.mark.parametrize("text", ["31/04/1985", "12/00/1985", "1985-02-30", "12.03.1985"])
def test_a_refused_date_is_not_quoted(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        PartialDate.parse(text)
    assert text not in str(caught.value) and "1985" not in str(caught.value)


def test_a_refused_name_is_not_quoted() -> None:
    with pytest.raises(ValidationError) as caught:
        IdentifiedPerson.model_validate(
            {"personal_id": "068185000123", "full_name": "Mai '-'", "date_of_birth": "1985", "gender": "female"}
        )
    assert "'-'" not in _messages(caught.value) and "word 2" in _messages(caught.value)


def test_taxpayer_messages_do_not_quote_ids_or_names() -> None:
    person = {"personal_id": "068185000123", "full_name": "Nguyễn Thị Mai", "date_of_birth": "1985", "gender": "female"}
    other = {**person, "personal_id": "068185000124"}
    data = _example(Taxpayer) | {
        "tax_code": "068185000123",
        "taxpayer_type": "individual",
        "name": "Trần Văn Hùng",
        "individual": other,
    }
    with pytest.raises(ValidationError) as caught:
        Taxpayer.model_validate(data)
    text = _messages(caught.value)
    assert {e["type"] for e in caught.value.errors()} == {"personal_id_not_tax_code", "name_disagrees_with_individual"}
    assert "068185000123" not in text and "068185000124" not in text and "Trần" not in text and "Nguyễn" not in text


# -- health insurance --------------------------------------------------------------------------------------------


def _child_card(born: str, valid_to: date) -> dict[str, Any]:
    year = int(born[:4])
    child = {
        "personal_id": make_personal_id(province_code="068", gender="male", birth_year=year, serial=123),
        "full_name": "Nguyễn Minh An",
        "date_of_birth": born,
        "gender": "male",
    }
    valid_from = date(year, 1, 1) if len(born) == 4 else date.fromisoformat(born)
    status = "valid" if valid_from <= TODAY <= valid_to else "expired" if valid_to < TODAY else "not_yet_valid"
    return _example(HealthInsuranceCard) | {
        "holder": child,
        "beneficiary_group": "TE",
        "benefit_level": 1,
        "valid_from": valid_from.isoformat(),
        "valid_to": valid_to.isoformat(),
        "status": status,
    }


@pytest.mark.parametrize(
    ("born", "valid_to", "ok"),
    [
        ("2019-03-10", date(2025, 3, 10), True),  # the day the child is 72 months old
        ("2019-03-10", date(2025, 9, 30), True),  # before the school year: valid to 30 September
        ("2019-03-10", date(2025, 10, 1), False),
        ("2019-11-10", date(2025, 11, 10), True),  # 72 months after 30 September: the birthday is the end
        ("2019-11-10", date(2025, 11, 11), False),
        ("2016-02-29", date(2022, 9, 30), True),
        ("2019", date(2025, 12, 31), True),  # year of birth only: the latest day it may denote
    ],
)
def test_a_childs_free_card_runs_to_72_months_or_30_september(born: str, valid_to: date, ok: bool) -> None:
    data = _child_card(born, valid_to)
    if ok:
        assert HealthInsuranceCard.model_validate(data).valid_to == valid_to
    else:
        assert (("valid_to",), "child_card_after_six") in _errors(HealthInsuranceCard, data)


@pytest.mark.parametrize("code", ["60015", "77001", "74012", "67003", "35001", "68001", "01001"])
def test_facility_codes_of_merged_provinces_are_accepted(code: str) -> None:
    # 60 Bình Thuận, 77 Bà Rịa - Vũng Tàu, 74 Bình Dương, 67 Đắk Nông, 35 Hà Nam: provinces before July 2025.
    data = _example(HealthInsuranceCard) | {"primary_care_facility": {"code": code}}
    assert HealthInsuranceCard.model_validate(data).primary_care_facility.code == code


@pytest.mark.parametrize("code", ["99001", "00001", "03001", "97123"])
def test_facility_codes_of_no_province_are_refused(code: str) -> None:
    data = _example(HealthInsuranceCard) | {"primary_care_facility": {"code": code}}
    assert (("primary_care_facility", "code"), "value_error") in _errors(HealthInsuranceCard, data)


# -- vehicles ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plate", "vehicle_type"),
    [("29LD-123.45", "car"), ("51KT-012.34", "car"), ("29MĐ1-123.45", "motorcycle"), ("29AA-123.45", "moped")],
)
def test_two_letter_and_electric_series(plate: str, vehicle_type: str) -> None:
    data = _example(VehicleRegistration) | {"plate_number": plate, "vehicle_type": vehicle_type}
    assert VehicleRegistration.model_validate(data).plate_number == plate
    assert re.fullmatch(PLATE_PATTERN, plate)


@pytest.mark.parametrize(("plate", "vehicle_type"), [("49B1-234.56", "car"), ("49A-123.45", "motorcycle")])
def test_a_series_that_cannot_be_the_vehicle_types_is_refused(plate: str, vehicle_type: str) -> None:
    data = _example(VehicleRegistration) | {"plate_number": plate, "vehicle_type": vehicle_type}
    assert _errors(VehicleRegistration, data) == [(("plate_number",), "plate_series_mismatch")]


@given(
    st.integers(11, 99),
    st.sampled_from(["A", "C", "B1", "K2", "AA", "LD", "MĐ1"]),
    st.integers(0, 99_999),
    st.booleans(),
)
def test_printed_plates_are_rewritten_to_the_canonical_form(locality: int, series: str, number: int, old: bool) -> None:
    digits = f"{number % 10_000:04d}" if old else f"{number:05d}"
    canonical = f"{locality}{series}-{digits if old else digits[:3] + '.' + digits[3:]}"
    adapter = TypeAdapter(PlateNumber)
    for written in (
        canonical,
        f"{locality}-{series} {digits if old else digits[:3] + '.' + digits[3:]}",
        f"{locality}{series} {digits}",
        f"{locality}{series}-{digits}".lower(),
        f" {locality}-{series}  {digits} ",
    ):
        assert adapter.validate_python(written) == canonical
    assert re.fullmatch(PLATE_PATTERN, canonical)


def test_a_minor_may_own_a_vehicle() -> None:
    data = _example(VehicleRegistration) | {"registration_date": "1996-08-15", "manufacture_year": 1996}
    assert VehicleRegistration.model_validate(data).registration_date == date(1996, 8, 15)


# -- land --------------------------------------------------------------------------------------------------------


def test_a_minor_may_hold_land_use_rights() -> None:
    data = _example(LandParcel) | {"certificate_issue_date": "1990-03-01"}  # owner 9, co-owner 8
    assert LandParcel.model_validate(data).certificate_issue_date == date(1990, 3, 1)


@pytest.mark.parametrize("serial", ["BX 123456", "CĐ 012345", "AA 01234567", "ĐA 00000001"])
def test_certificate_serials_old_and_new(serial: str) -> None:
    assert LandParcel.model_validate(_example(LandParcel) | {"certificate_serial": serial}).certificate_serial == serial
    pattern = LandParcel.model_json_schema()["properties"]["certificate_serial"]["pattern"]
    assert re.fullmatch(pattern, serial)
    assert TypeAdapter(CertificateSerial).validate_python(serial) == serial


# -- enterprises and taxpayers -----------------------------------------------------------------------------------


def test_the_legal_representative_may_have_been_a_child_at_the_first_registration() -> None:
    # Registered in 1992, now represented by a woman born in 1985 (appointed long after).
    data = _example(Enterprise) | {"registration_date": "1992-04-01", "branches": []}
    assert Enterprise.model_validate(data).registration_date == date(1992, 4, 1)


@pytest.mark.parametrize("with_person", [False, True])
def test_an_individual_may_keep_a_10_digit_tax_code(with_person: bool) -> None:
    code = make_tax_code("58", 412_345) or make_tax_code("58", 412_346)
    assert code is not None
    data = _example(Taxpayer) | {"tax_code": code, "taxpayer_type": "individual", "name": "Nguyễn Thị Mai"}
    if with_person:
        data["individual"] = {
            "personal_id": "068185000123",
            "full_name": "Nguyễn Thị Mai",
            "date_of_birth": "1985-03-12",
            "gender": "female",
        }
    assert Taxpayer.model_validate(data).taxpayer_type == "individual"


# -- driving licences --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issued", "expiry", "ok"),
    [
        ("2010-06-15", "2040-05-01", True),  # old B1 (automatic cars) of a man born 1980: until he is 60
        ("2010-06-15", "2035-05-01", True),  # of a woman's term (55), the gender aside
        ("2010-06-15", "2020-06-15", True),  # the ten years of an old B2
        ("2010-06-15", "2025-06-15", False),
        ("2025-02-01", "2040-05-01", False),  # issued under the 2024 law: ten years
        ("2025-02-01", "2035-02-01", True),
    ],
)
def test_a_class_b_converted_from_the_2008_law_keeps_its_term(issued: str, expiry: str, ok: bool) -> None:
    data = _example(DrivingLicence)
    data["classes"] = [{"licence_class": "B", "issue_date": issued, "expiry_date": expiry}]
    if date.fromisoformat(issued) > TODAY:
        pytest.skip("issue date in the future")
    if ok:
        assert DrivingLicence.model_validate(data).classes[0].expiry_date == date.fromisoformat(expiry)
    else:
        assert _errors(DrivingLicence, data) == [(("classes", 0, "expiry_date"), "expiry_mismatch")]


# -- JSON Schema -------------------------------------------------------------------------------------------------


def test_the_schema_patterns_accept_the_examples() -> None:
    schema = VehicleRegistration.contract_schema()
    plate = schema["properties"]["plate_number"]
    for example in plate["examples"]:
        assert re.fullmatch(plate["pattern"], example), example
    json.dumps(schema, ensure_ascii=False)
