"""Tax codes (mã số thuế): the check digit, the serial, dependent units' codes, and making codes for test data."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.tax_code import (
    BranchTaxCode,
    TaxCode,
    is_tax_code,
    make_tax_code,
    parent_tax_code,
    tax_code_check_digit,
)

TAX_CODE: TypeAdapter[str] = TypeAdapter(TaxCode)
BRANCH: TypeAdapter[str] = TypeAdapter(BranchTaxCode)


def test_a_published_code_is_valid() -> None:
    assert tax_code_check_digit("010023348") == "8"
    assert TAX_CODE.validate_python("0100233488") == "0100233488"
    assert is_tax_code("0100233488")


@pytest.mark.parametrize("wrong", ["0100233487", "010023348", "01002334880", "01002334８8", "0100000008", "abcdefghij"])
def test_wrong_codes_are_refused(wrong: str) -> None:
    assert not is_tax_code(wrong)
    with pytest.raises(ValidationError):
        TAX_CODE.validate_python(wrong)


def test_every_made_code_is_valid_and_some_serials_are_never_issued() -> None:
    made = [make_tax_code("58", serial) for serial in range(1, 400)]
    issued = [code for code in made if code is not None]
    assert all(is_tax_code(code) and code.startswith("58") for code in issued)
    assert 0 < len(made) - len(issued) < len(made) // 5
    with pytest.raises(ValueError, match="serial"):
        make_tax_code("58", 0)


def test_branch_codes() -> None:
    assert BRANCH.validate_python("0100233488-001") == "0100233488-001"
    assert parent_tax_code("0100233488-012") == "0100233488"
    for wrong in ("0100233488-000", "0100233487-001", "0100233488001", "0100233488-01"):
        with pytest.raises(ValidationError):
            BRANCH.validate_python(wrong)
