"""The value conversions the REST and SOAP adapters share (``connectors.conversions``): the forms Vietnamese sector
systems write, read into contract values and written back, and the refusals (of a value, naming its field and
shape only; of a conversion, at load)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from connectors.conversions import Conversion, ConversionError, compile_conversions

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def convert(conversion: dict[str, Any]) -> Any:
    return compile_conversions({"field": conversion}, HCM)["field"]


@pytest.mark.parametrize(
    ("conversion", "given", "read"),
    [
        ({"type": "date", "format": "dd/mm/yyyy"}, "12/03/1960", "1960-03-12"),
        ({"type": "date", "format": "dd/mm/yyyy"}, " 1/3/1960 ", "1960-03-01"),
        ({"type": "date", "format": "dd/mm/yyyy"}, "00/03/1960", "1960-03"),
        ({"type": "date", "format": "dd/mm/yyyy"}, "00/00/1960", "1960"),
        ({"type": "date", "format": "dd-mm-yyyy"}, "29-02-2024", "2024-02-29"),
        ({"type": "date", "format": "yyyymmdd"}, "19600312", "1960-03-12"),
        ({"type": "date", "format": "mm/yyyy"}, "03/1960", "1960-03"),
        (
            {"type": "datetime", "format": "dd/mm/yyyy HH:MM:SS"},
            "20/09/2012 08:30:05",
            datetime(2012, 9, 20, 8, 30, 5),
        ),
        ({"type": "datetime", "format": "yyyymmddHHMMSS"}, "20120920083005", datetime(2012, 9, 20, 8, 30, 5)),
        ({"type": "datetime", "format": "dd/mm/yyyy HH:MM"}, "20/09/2012 23:59", datetime(2012, 9, 20, 23, 59)),
        (
            {"type": "datetime", "format": "yyyy-mm-ddTHH:MM:SS"},
            "2012-09-20T08:30:05",
            datetime(2012, 9, 20, 8, 30, 5),
        ),
        ({"type": "date", "format": "ddmmyyyy"}, "01031960", "1960-03-01"),
        ({"type": "date", "format": "ddmmyyyy"}, "131960", None),  # packed parts take two digits each
        ({"type": "number"}, "1.234.567", 1234567),
        ({"type": "number"}, "1.234.567,25", Decimal("1234567.25")),
        ({"type": "number"}, "-1.000", -1000),
        ({"type": "number"}, "1234,5", Decimal("1234.5")),
        ({"type": "number"}, "1\u00a0234", None),  # a space is not the separator configured
        ({"type": "number", "thousands_separator": " "}, "1\u00a0234", 1234),
        ({"type": "number", "thousands_separator": ",", "decimal_separator": "."}, "1,234,567.5", Decimal("1234567.5")),
        ({"type": "number", "thousands_separator": ""}, "1234567", 1234567),
        ({"type": "number"}, 42, 42),
        ({"type": "boolean"}, "Có", True),
        ({"type": "boolean"}, "CÓ", True),
        ({"type": "boolean"}, unicodedata.normalize("NFD", "Không"), False),
        ({"type": "boolean"}, "1", True),
        ({"type": "boolean"}, 0, False),
        ({"type": "boolean", "true": ["Y"], "false": ["N"]}, "y", True),
    ],
)
def test_the_systems_forms_are_read(conversion: dict[str, Any], given: Any, read: Any) -> None:
    converter = convert(conversion)
    if read is None:
        with pytest.raises(ConversionError):
            converter.to_contract(given)
    else:
        assert converter.to_contract(given) == read


@pytest.mark.parametrize(
    ("conversion", "given", "expected"),
    [
        ({"type": "date", "format": "dd/mm/yyyy"}, "31/02/1960", "a date that exists"),
        ({"type": "date", "format": "dd/mm/yyyy"}, "12/00/1960", "a day without a month"),
        ({"type": "date", "format": "dd/mm/yyyy"}, "1960-03-12", "in the form dd/mm/yyyy"),
        ({"type": "date", "format": "yyyymmdd"}, "1960312", "in the form yyyymmdd"),
        ({"type": "datetime", "format": "dd/mm/yyyy HH:MM:SS"}, "20/09/2012 25:00:00", "that exists"),
        ({"type": "number"}, "12.34", "a number written 1.234,5"),
        ({"type": "number"}, "một nghìn", "a number"),
        ({"type": "number"}, True, "a number"),
        ({"type": "boolean"}, "Có lẽ", "yes or no"),
        ({"type": "boolean"}, 2, "yes or no"),
    ],
)
def test_a_value_that_cannot_be_read_is_refused_naming_the_field_not_the_value(
    conversion: dict[str, Any], given: Any, expected: str
) -> None:
    with pytest.raises(ConversionError) as info:
        convert(conversion).to_contract(given)
    message = str(info.value)
    assert message.startswith("field: ") and expected in message, message
    if isinstance(given, str):
        assert given not in message


@pytest.mark.parametrize(
    ("conversion", "value", "written"),
    [
        ({"type": "date", "format": "dd/mm/yyyy"}, "1985-03-12", "12/03/1985"),
        ({"type": "date", "format": "dd/mm/yyyy"}, "1985-03", "00/03/1985"),
        ({"type": "date", "format": "dd/mm/yyyy"}, "1985", "00/00/1985"),
        ({"type": "date", "format": "yyyymmdd"}, "1985-03-12", "19850312"),
        ({"type": "date", "format": "dd-mm-yyyy"}, "not a date", "not a date"),  # the system judges it
        ({"type": "datetime", "format": "dd/mm/yyyy HH:MM:SS"}, "2024-03-12T01:30:00Z", "12/03/2024 08:30:00"),
        ({"type": "datetime", "format": "dd/mm/yyyy HH:MM"}, "2024-03-12T08:30:00", "12/03/2024 08:30"),
        ({"type": "number"}, 1234567, "1.234.567"),
        ({"type": "number"}, -1234.5, "-1.234,5"),
        ({"type": "number", "thousands_separator": ",", "decimal_separator": "."}, 1234.5, "1,234.5"),
        ({"type": "boolean"}, True, "1"),
        ({"type": "boolean", "true": ["Có"], "false": ["Không"]}, False, "Không"),
    ],
)
def test_contract_values_are_written_the_systems_way(conversion: dict[str, Any], value: Any, written: Any) -> None:
    assert convert(conversion).to_stored(value) == written


@pytest.mark.parametrize(
    ("conversion", "value"),
    [
        ({"type": "date", "format": "dd/mm/yyyy"}, "1985-03-12"),
        ({"type": "date", "format": "dd/mm/yyyy"}, "1985"),
        ({"type": "date", "format": "yyyymmdd"}, "2024-02-29"),
        ({"type": "number"}, 1234567),
        ({"type": "number"}, -1234.5),
        ({"type": "number", "thousands_separator": ""}, 0.25),
        ({"type": "boolean"}, True),
        ({"type": "boolean"}, False),
    ],
)
def test_what_is_written_reads_back(conversion: dict[str, Any], value: Any) -> None:
    converter = convert(conversion)
    assert converter.to_contract(converter.to_stored(value)) == value


@pytest.mark.parametrize(
    ("conversion", "complaint"),
    [
        ({"type": "date", "format": "dd/MM/yyyy"}, "no time"),
        ({"type": "date", "format": "dd/mm/yy"}, "'yy'"),
        ({"type": "date", "format": "d/m/yyyy"}, "'d'"),
        ({"type": "date", "format": "dd|mm|yyyy"}, "'|'"),
        ({"type": "date", "format": "dd/yyyy"}, "needs the month"),
        ({"type": "date", "format": "dd/mm/mm/yyyy"}, "twice"),
        ({"type": "datetime", "format": "dd/mm/yyyy SS"}, "HH, MM"),
        ({"type": "number", "decimal_separator": "."}, "must differ"),
        ({"type": "number", "thousands_separator": "'"}, "thousands_separator"),
        ({"type": "boolean", "true": ["Có"], "false": ["có"]}, "both yes and no"),
        ({"type": "boolean", "true": []}, "true"),
        ({"type": "currency"}, "currency"),
        ({"type": "date"}, "format"),
    ],
)
def test_a_bad_conversion_is_refused_at_load(conversion: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(Conversion).validate_python(conversion)
    assert complaint in str(info.value), str(info.value)
