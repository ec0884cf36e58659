"""The contract ``driving_licences.licence`` v1: class terms and minimum ages of the 2024 law, and the status."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import get_contract
from contracts.driving_licences import DrivingLicence, DrivingLicenceQuery, LicenceClass, expiry_for


def example() -> dict[str, Any]:
    return copy.deepcopy(DrivingLicence.model_json_schema()["examples"][0])


def errors(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        DrivingLicence.model_validate(data)
    return [(e["loc"], e["type"]) for e in caught.value.errors()]


def test_registered_under_its_name() -> None:
    assert get_contract("driving_licences.licence") is DrivingLicence
    assert DrivingLicence.model_validate(example()).record_id() == "680123456789"


@pytest.mark.parametrize(
    ("licence_class", "expiry"),
    [
        ("A1", None),
        ("A", None),
        ("B1", None),
        ("B", date(2030, 6, 15)),
        ("C1", date(2030, 6, 15)),
        ("C", date(2025, 6, 15)),
        ("D", date(2025, 6, 15)),
        ("CE", date(2025, 6, 15)),
    ],
)
def test_terms_of_the_classes(licence_class: str, expiry: date | None) -> None:
    assert expiry_for(LicenceClass(licence_class), date(2020, 6, 15)) == expiry


def test_a_leap_day_issue_expires_on_the_first_of_march() -> None:
    assert expiry_for(LicenceClass.B, date(2024, 2, 29)) == date(2034, 3, 1)


def test_the_expiry_date_must_follow_the_term() -> None:
    data = example()
    data["classes"][1]["expiry_date"] = "2025-06-15"
    assert errors(data) == [(("classes", 1, "expiry_date"), "expiry_mismatch")]
    data = example()
    data["classes"][0]["expiry_date"] = "2009-03-20"
    assert errors(data) == [(("classes", 0, "expiry_date"), "expiry_mismatch")]


def test_each_class_once_and_not_in_the_future() -> None:
    data = example()
    data["classes"].append(dict(data["classes"][0]))
    assert errors(data) == [(("classes", 2, "licence_class"), "duplicate_class")]
    data = example()
    data["classes"][0]["issue_date"] = "2999-01-01"
    assert errors(data) == [(("classes", 0, "issue_date"), "date_in_future")]


@pytest.mark.parametrize(
    ("licence_class", "issued", "ok"),
    [
        ("A1", "1998-05-01", True),
        ("A1", "1998-04-30", False),
        ("C", "2001-05-01", True),
        ("C", "2001-04-30", False),
        ("D", "2007-05-01", True),
        ("D", "2007-04-30", False),
        ("CE", "2004-04-30", False),
    ],
)
def test_minimum_ages(licence_class: str, issued: str, ok: bool) -> None:
    data = example()
    expiry = expiry_for(LicenceClass(licence_class), date.fromisoformat(issued))
    entry = {"licence_class": licence_class, "issue_date": issued, "expiry_date": expiry and expiry.isoformat()}
    data["classes"] = [entry]
    data["status"] = "valid"
    if ok:
        assert DrivingLicence.model_validate(data)
    else:
        assert errors(data) == [(("classes", 0, "issue_date"), "holder_under_age")]


def test_suspension_and_revocation_are_dated() -> None:
    assert errors(example() | {"status": "revoked"}) == [(("status_date",), "status_date_mismatch")]
    assert errors(example() | {"status_date": "2024-01-01"}) == [(("status_date",), "status_date_mismatch")]
    assert errors(example() | {"status": "suspended", "status_date": "2019-01-01"}) == [
        (("status_date",), "status_date_out_of_range")
    ]
    assert DrivingLicence.model_validate(example() | {"status": "revoked", "status_date": "2024-01-01"})


@pytest.mark.parametrize("number", ["68012345678", "6801234567890", "68012345678a"])
def test_licence_numbers_have_twelve_digits(number: str) -> None:
    assert errors(example() | {"licence_number": number})[0][0] == ("licence_number",)


def test_unknown_class_and_empty_classes() -> None:
    data = example()
    data["classes"][0]["licence_class"] = "A2"
    assert errors(data)[0][0] == ("classes", 0, "licence_class")
    assert errors(example() | {"classes": []})[0][0] == ("classes",)


def test_query() -> None:
    record = DrivingLicence.model_validate(example())
    assert DrivingLicenceQuery(holder_personal_id="068080000456").matches(record)
    assert not DrivingLicenceQuery(holder_personal_id="068080000457").matches(record)
    with pytest.raises(ValidationError):
        DrivingLicenceQuery.model_validate({})
