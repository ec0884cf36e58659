"""PartialDate: parsing, validation, ordering and pydantic integration."""

import copy
import os
import pickle
import re
import subprocess
import sys
from datetime import date, datetime

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from contracts.dates import ISO_PATTERN, PartialDate


class Holder(BaseModel):
    when: PartialDate
    maybe: PartialDate | None = None


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("1985", PartialDate(1985), "year"),
        ("1985-03", PartialDate(1985, 3), "month"),
        ("1985-03-12", PartialDate(1985, 3, 12), "day"),
        ("12/03/1985", PartialDate(1985, 3, 12), "day"),
        ("1/3/1985", PartialDate(1985, 3, 1), "day"),
        ("00/03/1960", PartialDate(1960, 3), "month"),
        ("00/00/1960", PartialDate(1960), "year"),
        ("03/1960", PartialDate(1960, 3), "month"),
        ("00/1960", PartialDate(1960), "year"),
        (" 2000-02-29 ", PartialDate(2000, 2, 29), "day"),
        ("29/02/2024", PartialDate(2024, 2, 29), "day"),
        ("1850", PartialDate(1850), "year"),
    ],
)
def test_accepted_forms(text: str, expected: PartialDate, precision: str) -> None:
    parsed = PartialDate.parse(text)
    assert parsed == expected
    assert parsed.precision == precision
    assert parsed.is_complete is (precision == "day")
    assert re.fullmatch(ISO_PATTERN, str(parsed))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30/02/1960", "day 30 does not exist"),
        ("29/02/2023", "day 29 does not exist"),
        ("1985-02-30", "day 30 does not exist"),
        ("31/04/1990", "day 31 does not exist"),
        ("12/00/1960", "day but no month"),
        ("1849", "out of range"),
        ("00/00/1800", "out of range"),
        ("1985-13", "month 13"),
        ("13/1985", "month 13"),
        ("1985-00", "month 0"),
        ("1985-3", "not a date"),
        ("85", "not a date"),
        ("1985/03/12", "not a date"),
        ("", "not a date"),
        ("March 1985", "not a date"),
    ],
)
def test_rejected_strings(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PartialDate.parse(text)


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="day without a month"):
        PartialDate(1990, None, 5)
    with pytest.raises(TypeError):
        PartialDate("1990")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PartialDate(1990, True)


@pytest.mark.parametrize(
    ("value", "earliest", "latest"),
    [
        (PartialDate(1960), date(1960, 1, 1), date(1960, 12, 31)),
        (PartialDate(2024, 2), date(2024, 2, 1), date(2024, 2, 29)),
        (PartialDate(2023, 2), date(2023, 2, 1), date(2023, 2, 28)),
        (PartialDate(1985, 3, 12), date(1985, 3, 12), date(1985, 3, 12)),
    ],
)
def test_earliest_and_latest(value: PartialDate, earliest: date, latest: date) -> None:
    assert value.earliest() == earliest
    assert value.latest() == latest


def test_to_date() -> None:
    assert PartialDate(1985, 3, 12).to_date() == date(1985, 3, 12)
    with pytest.raises(ValueError, match="not a complete date"):
        PartialDate(1985, 3).to_date()


@pytest.mark.parametrize(("value", "text"), [(PartialDate(1985), "1985"), (PartialDate(1985, 3), "1985-03")])
def test_str_is_iso_partial(value: PartialDate, text: str) -> None:
    assert str(value) == text
    assert PartialDate.parse(text) == value


def test_repr_evaluates_back() -> None:
    for value in (PartialDate(1960), PartialDate(1960, 3), PartialDate(1960, 3, 1)):
        assert eval(repr(value)) == value


def test_ordering_equality_and_hash() -> None:
    values = [
        PartialDate(1960, 2),
        PartialDate(1960, 1, 1),
        PartialDate(1961),
        PartialDate(1960),
        PartialDate(1960, 1),
    ]
    assert sorted(values) == [
        PartialDate(1960),
        PartialDate(1960, 1),
        PartialDate(1960, 1, 1),
        PartialDate(1960, 2),
        PartialDate(1961),
    ]
    assert PartialDate(1960) != PartialDate(1960, 1, 1)
    assert PartialDate(1960, 3) == PartialDate.parse("00/03/1960")
    assert len({PartialDate(1960), PartialDate.parse("1960"), PartialDate(1960, 1)}) == 2
    assert PartialDate(1960) <= PartialDate(1960) < PartialDate(1960, 1) <= PartialDate(1960, 1)
    assert PartialDate(1961) > PartialDate(1960, 12, 31) >= PartialDate(1960, 12)
    assert PartialDate(1960) != "1960"


def test_comparison_with_other_types_fails() -> None:
    with pytest.raises(TypeError):
        _ = PartialDate(1960) < date(1960, 1, 1)  # type: ignore[operator]


def test_immutable_and_copyable() -> None:
    value = PartialDate(1960, 3)
    with pytest.raises(AttributeError):
        value.year = 1961
    with pytest.raises(AttributeError):
        del value.month
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.deepcopy(value) == value
    assert copy.copy(value) == value


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        (PartialDate(1960), PartialDate(1960, 3), True),
        (PartialDate(1960), PartialDate(1960, 12, 31), True),
        (PartialDate(1960, 3), PartialDate(1960, 3, 31), True),
        (PartialDate(1960, 3), PartialDate(1960, 4, 1), False),
        (PartialDate(1960, 3, 12), PartialDate(1960, 3, 12), True),
        (PartialDate(1960, 3, 12), PartialDate(1960, 3), False),
        (PartialDate(1960, 3, 12), PartialDate(1960), False),
        (PartialDate(1960), date(1960, 6, 1), True),
        (PartialDate(1960), PartialDate(1961), False),
    ],
)
def test_includes(outer: PartialDate, inner: PartialDate | date, expected: bool) -> None:
    assert outer.includes(inner) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1985-03", PartialDate(1985, 3)),
        ("00/00/1960", PartialDate(1960)),
        (date(1985, 3, 12), PartialDate(1985, 3, 12)),
        (PartialDate(1990), PartialDate(1990)),
    ],
)
def test_pydantic_validation(raw: object, expected: PartialDate) -> None:
    assert Holder.model_validate({"when": raw}).when == expected


@pytest.mark.parametrize("raw", [1985, 1985.0, datetime(1985, 3, 12, 10, 0), "30/02/1960", None, ["1985"]])
def test_pydantic_rejects(raw: object) -> None:
    with pytest.raises(ValidationError) as info:
        Holder.model_validate({"when": raw})
    assert info.value.errors()[0]["type"] in {"partial_date", "partial_date_type"}


def test_serialisation_in_python_and_json_modes() -> None:
    holder = Holder(when=PartialDate(1985, 3), maybe=PartialDate(1985, 3, 12))
    assert holder.model_dump() == {"when": "1985-03", "maybe": "1985-03-12"}
    assert holder.model_dump(mode="json") == {"when": "1985-03", "maybe": "1985-03-12"}
    assert holder.model_dump_json() == '{"when":"1985-03","maybe":"1985-03-12"}'


@pytest.mark.parametrize("value", [PartialDate(1960), PartialDate(1960, 3), PartialDate(1960, 3, 12)])
def test_json_round_trip(value: PartialDate) -> None:
    holder = Holder(when=value)
    assert Holder.model_validate_json(holder.model_dump_json()) == holder
    assert Holder.model_validate(holder.model_dump()) == holder
    adapter: TypeAdapter[PartialDate] = TypeAdapter(PartialDate)
    assert adapter.validate_json(adapter.dump_json(value)) == value


def test_json_schema() -> None:
    adapter: TypeAdapter[PartialDate] = TypeAdapter(PartialDate)
    output = adapter.json_schema(mode="serialization")
    assert output["type"] == "string"
    assert output["pattern"] == ISO_PATTERN
    assert output["examples"]
    for example in output["examples"]:
        assert re.fullmatch(output["pattern"], example)
    accepted = adapter.json_schema(mode="validation")
    for text in ("1985", "1985-03-12", "00/00/1960", "00/03/1960", "12/03/1960", "03/1960"):
        assert re.search(accepted["pattern"], text), text
    assert not re.search(output["pattern"], "00/00/1960")


@pytest.mark.parametrize("zone", ["UTC", "Asia/Ho_Chi_Minh", "Pacific/Pago_Pago", "Pacific/Kiritimati"])
def test_today_is_the_day_in_viet_nam_whatever_the_machines_zone(zone: str) -> None:
    """The contracts judge dates (in the future? an age?) by the day in Viet Nam: from 17:00 UTC it is already the
    next day there, and a machine kept on UTC (or on any zone) must not call a record of that day a future one."""
    code = (
        "from datetime import UTC, datetime, timedelta\n"
        "from contracts.dates import vietnam_today\n"
        "print(vietnam_today(), (datetime.now(UTC) + timedelta(hours=7)).date())"
    )
    environment = {**os.environ, "TZ": zone}
    answer = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    ours, in_viet_nam = answer.stdout.split()
    assert ours == in_viet_nam
