"""Contract education.diploma v1: number, level, issuer, major and classification, age and dates, query."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import get_contract
from contracts.education import Diploma, DiplomaQuery, EducationLevel

HOLDER = {
    "personal_id": "068185000123",
    "full_name": "Nguyễn Thị Mai",
    "date_of_birth": "1985-03-12",
    "gender": "female",
}
BACHELOR: dict[str, Any] = {
    "diploma_number": "DH-TDL-2007-000456",
    "holder": HOLDER,
    "level": "bachelor",
    "school_name": "Trường Đại học Đà Lạt",
    "major": "Công nghệ thông tin",
    "graduation_year": 2007,
    "classification": "good",
    "issued_on": "2007-07-20",
}
SECONDARY: dict[str, Any] = {
    "diploma_number": "THPT-68-2003-001234",
    "holder": HOLDER,
    "level": "upper_secondary",
    "school_name": "Trường THPT Trần Phú",
    "graduation_year": 2003,
    "issued_on": "2003-08-15",
}


def _errors(base: dict[str, Any] = BACHELOR, **changes: Any) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as info:
        Diploma.model_validate({**base, **changes})
    return {tuple(e["loc"]): e["type"] for e in info.value.errors()}


def test_valid_diplomas() -> None:
    bachelor = Diploma.model_validate(BACHELOR)
    assert bachelor.record_id() == "DH-TDL-2007-000456"
    secondary = Diploma.model_validate(SECONDARY)
    assert secondary.level is EducationLevel.UPPER_SECONDARY and secondary.major is None
    assert Diploma.model_validate_json(bachelor.model_dump_json()) == bachelor
    assert get_contract("education.diploma") is Diploma


@pytest.mark.parametrize("number", ["DH-TDL-2007-45", "XX-TDL-2007-000456", "DH-tdl-2007-000456", "DH-6-2007-000456"])
def test_number_format(number: str) -> None:
    assert ("diploma_number",) in _errors(diploma_number=number)


def test_number_agrees_with_level_issuer_and_year() -> None:
    assert _errors(diploma_number="THS-TDL-2007-000456") == {("diploma_number",): "level_mismatch"}
    assert _errors(diploma_number="DH-68-2007-000456") == {("diploma_number",): "issuer_mismatch"}
    assert _errors(SECONDARY, diploma_number="THPT-TDL-2003-001234") == {("diploma_number",): "issuer_mismatch"}
    assert _errors(diploma_number="DH-TDL-2008-000456") == {("diploma_number",): "year_mismatch"}


def test_major_and_classification_by_level() -> None:
    assert _errors(major=None) == {("major",): "major_mismatch"}
    assert _errors(SECONDARY, major="Toán") == {("major",): "major_mismatch"}
    assert _errors(SECONDARY, classification="good") == {("classification",): "not_classified"}
    master = {**BACHELOR, "diploma_number": "THS-TDL-2010-000001", "level": "master", "graduation_year": 2010}
    assert _errors(master, issued_on="2010-10-01") == {("classification",): "not_classified"}


def test_the_holder_was_old_enough() -> None:
    assert _errors(SECONDARY, diploma_number="THPT-68-2001-001234", graduation_year=2001, issued_on="2001-08-01") == {
        ("graduation_year",): "too_young"
    }
    young = Diploma.model_validate(
        {**SECONDARY, "diploma_number": "THPT-68-2002-001234", "graduation_year": 2002, "issued_on": "2002-08-01"}
    )
    assert young.graduation_year - young.holder.date_of_birth.year == 17


def test_dates() -> None:
    assert _errors(issued_on="2009-01-10") == {("issued_on",): "issued_out_of_time"}
    assert _errors(issued_on="2006-12-30") == {("issued_on",): "issued_out_of_time"}
    diploma = Diploma.model_validate(BACHELOR)
    assert [p.error_type for p in diploma.problems(date(2007, 7, 1))] == ["date_in_future"]
    assert [p.error_type for p in diploma.problems(date(2006, 7, 1))] == ["date_in_future", "date_in_future"]


def test_query() -> None:
    diploma = Diploma.model_validate(BACHELOR)
    assert DiplomaQuery(holder_personal_id="068185000123").matches(diploma)
    assert DiplomaQuery(holder_personal_id="068185000123", level=EducationLevel.BACHELOR).matches(diploma)
    assert not DiplomaQuery(holder_personal_id="068185000123", level=EducationLevel.MASTER).matches(diploma)
    assert not DiplomaQuery(holder_personal_id="068185000124").matches(diploma)
    with pytest.raises(ValidationError):
        DiplomaQuery.model_validate({"level": "bachelor"})


def test_schema_examples_validate() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = Diploma.contract_schema()
    for example in schema["examples"]:
        jsonschema.validate(example, schema)
        Diploma.model_validate(example)
