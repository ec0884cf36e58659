"""The contract ``vehicles.registration`` v1: plates, frame numbers, status and the owner's age."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import get_contract
from contracts.vehicles import VehicleRegistration, VehicleRegistrationQuery


def example() -> dict[str, Any]:
    return copy.deepcopy(VehicleRegistration.model_json_schema()["examples"][0])


def errors(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        VehicleRegistration.model_validate(data)
    return [(e["loc"], e["type"]) for e in caught.value.errors()]


def test_registered_under_its_name() -> None:
    assert get_contract("vehicles.registration") is VehicleRegistration
    record = VehicleRegistration.model_validate(example())
    assert record.record_id() == "49A-123.45"


@pytest.mark.parametrize(
    ("plate", "vehicle_type"),
    [("49A-123.45", "car"), ("49B1-234.56", "motorcycle"), ("86AA-012.34", "moped"), ("48C-1234", "truck")],
)
def test_plate_forms(plate: str, vehicle_type: str) -> None:
    assert VehicleRegistration.model_validate(example() | {"plate_number": plate, "vehicle_type": vehicle_type})


@pytest.mark.parametrize("plate", ["49A12345", "09A-123.45", "49A-123.4", "49ABC-123.45", "49A1B-123.45", "49-B1"])
def test_malformed_plates(plate: str) -> None:
    assert errors(example() | {"plate_number": plate})[0][0] == ("plate_number",)


def test_the_series_suits_the_vehicle_type() -> None:
    assert errors(example() | {"vehicle_type": "motorcycle"}) == [(("plate_number",), "plate_series_mismatch")]
    assert errors(example() | {"plate_number": "49B1-234.56"}) == [(("plate_number",), "plate_series_mismatch")]


@pytest.mark.parametrize("frame", ["MR0BA3CD1N012345", "MR0BA3CD1N01234567", "MR0BA3CD1O0123456", "mr0ba3cd1n0123456"])
def test_frame_numbers_are_vins(frame: str) -> None:
    assert errors(example() | {"frame_number": frame})[0][0] == ("frame_number",)


def test_status_and_deregistration_date_agree() -> None:
    assert errors(example() | {"status": "deregistered"}) == [(("deregistration_date",), "status_mismatch")]
    assert errors(example() | {"deregistration_date": "2023-01-01"}) == [(("deregistration_date",), "status_mismatch")]
    assert errors(example() | {"status": "deregistered", "deregistration_date": "2021-01-01"}) == [
        (("deregistration_date",), "deregistration_out_of_range")
    ]
    ok = VehicleRegistration.model_validate(example() | {"status": "deregistered", "deregistration_date": "2023-01-01"})
    assert ok.status == "deregistered"


def test_dates() -> None:
    assert errors(example() | {"registration_date": "2999-01-01"}) == [(("registration_date",), "date_in_future")]
    assert errors(example() | {"manufacture_year": 2024}) == [(("manufacture_year",), "made_after_registration")]
    # A minor may own a vehicle (inherited, given, registered through a legal representative): only a
    # registration before the owner was born is refused.
    young = example()
    young["registration_date"] = "1998-04-30"
    young["manufacture_year"] = 1998
    assert VehicleRegistration.model_validate(young)
    unborn = example()
    unborn["registration_date"] = "1980-04-30"
    unborn["manufacture_year"] = 1980
    assert errors(unborn) == [(("owner", "date_of_birth"), "owner_born_after_registration")]
    unborn["registration_date"] = "1980-05-01"
    assert VehicleRegistration.model_validate(unborn)


def test_the_owner_is_checked_against_their_personal_id() -> None:
    data = example()
    data["owner"]["gender"] = "female"
    assert errors(data) == [(("owner", "gender"), "gender_mismatch")]


def test_queries() -> None:
    with pytest.raises(ValidationError, match="needs owner_personal_id"):
        VehicleRegistrationQuery()
    record = VehicleRegistration.model_validate(example())
    assert VehicleRegistrationQuery(owner_personal_id="068080000456").matches(record)
    assert VehicleRegistrationQuery(engine_number="2NR1234567", frame_number="MR0BA3CD1N0123456").matches(record)
    assert not VehicleRegistrationQuery(owner_personal_id="068080000456", engine_number="2NR0000000").matches(record)
