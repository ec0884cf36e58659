"""JMESPath expressions of the sector APIs' mappings (``connectors.record_mapping.compile_expression``): evaluated
as ``jmespath.search`` evaluates them, by a shared interpreter that leaves no garbage in reference cycles behind
(the cyclic collector's work on every read)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jmespath
import pytest
from jmespath.exceptions import JMESPathError
from support import garbage_in_cycles

from connectors.record_mapping import compile_expression

RECORD: dict[str, Any] = {
    "so_dinh_danh": "001099000001",
    "ho_ten": "Nguyễn Văn An",
    "dia_chi": {"ma_tinh": "01", "ma_xa": "00004", "chi_tiet": None},
    "giay_to": [
        {"loai": "CMND", "so": "012345678"},
        {"loai": "CCCD", "so": "001099000001"},
        {"loai": "HO_CHIEU", "so": "B1234567"},
    ],
    "ket_qua": {"ma": 0, "du_lieu": [{"id": 1}, {"id": 2}]},
}

EXPRESSIONS = [
    "@",
    "ho_ten",
    "dia_chi.ma_xa",
    "dia_chi.chi_tiet",
    "dia_chi.khong_co.gi",
    "ho_ten.khong_co",
    "giay_to[?loai=='CMND'].so | [0]",
    "giay_to[?loai=='KHONG'].so | [0]",
    "giay_to[*].loai",
    "length(giay_to)",
    "ket_qua.ma == `0`",
    "ket_qua.du_lieu[-1].id",
    "{id: so_dinh_danh, tinh: dia_chi.ma_tinh}",
    "sort_by(giay_to, &so)[0].loai",
    '"so_dinh_danh"',
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize("value", [RECORD, None, [RECORD, RECORD], "text"], ids=["record", "null", "list", "string"])
def test_an_expression_gives_what_jmespath_gives(expression: str, value: Any) -> None:
    """The same value, or the same error (a function given the wrong type)."""

    def outcome(search: Callable[[], Any]) -> tuple[str, Any]:
        try:
            return "value", search()
        except JMESPathError as exc:
            return "error", type(exc)

    get = compile_expression(expression)
    assert outcome(lambda: get(value)) == outcome(lambda: jmespath.search(expression, value))


def test_evaluating_expressions_leaves_nothing_in_reference_cycles() -> None:
    getters = [compile_expression(expression) for expression in EXPRESSIONS]
    with garbage_in_cycles("jmespath", "connectors") as left:
        for _ in range(50):
            for get in getters:
                get(RECORD)
    assert left == []


def test_the_check_sees_the_cycles_of_jmespath_search() -> None:
    """The check above can fail: ``jmespath.search`` builds an interpreter per call that refers back to itself."""
    with garbage_in_cycles("jmespath", "connectors") as left:
        for expression in EXPRESSIONS[:5]:
            jmespath.search(expression, RECORD)
    assert "jmespath.visitor.TreeInterpreter" in left
