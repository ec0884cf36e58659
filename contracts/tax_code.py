"""Vietnamese tax codes (mã số thuế) of enterprises and organisations, and of their dependent units.

Since the Law on Enterprises 2014 an enterprise's code (mã số doanh nghiệp) *is* its tax code (Law on
Enterprises 2020, Article 29). Circular 105/2020/TT-BTC (Article 5) describes the structure:

* a 10-digit code ``N1N2 N3..N9 N10`` for an enterprise or organisation: the first two digits were the code of
  the province whose tax department issued it (01 Hà Nội, 03 Hồ Chí Minh City, 58 Lâm Đồng, 34 Bình Thuận,
  64 Đắk Nông, ...), the next seven a serial number, the tenth a check digit over the first nine. An
  enterprise keeps its code when it moves its head office, so the province digits are not checked here;
* a 13-digit code ``N1..N10-N11N12N13`` for a dependent unit (a branch, a representative office): the parent's
  10-digit code, a hyphen, and a three-digit serial from 001.

The check digit is ``10 - (sum of the first nine digits weighted 31, 29, 23, 19, 17, 13, 7, 5, 3) mod 11``; a
serial for which it would be 10 is never issued. The circular does not publish this rule: it is the one
python-stdnum (``stdnum.vn.mst``) implements and that published codes satisfy (``0100233488``).

Individuals' tax codes are their 12-digit personal identification numbers since 1 July 2025 (Circular
86/2024/TT-BTC); use :data:`contracts.identity.PersonalId` for those.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from contracts.common import JsonSchemaExtra, require_ascii_digits

__all__ = ["BranchTaxCode", "TaxCode", "is_tax_code", "make_tax_code", "parent_tax_code", "tax_code_check_digit"]

WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
"""Weights of the first nine digits in the check digit."""

_BRANCH = re.compile(r"^([0-9]{10})-([0-9]{3})$")


def tax_code_check_digit(first_nine: str) -> str | None:
    """The check digit completing the nine digits ``first_nine``, or ``None`` when no digit can (never issued).

    >>> tax_code_check_digit("010023348")
    '8'
    """
    require_ascii_digits(first_nine, 9, "the first nine digits of a tax code")
    value = 10 - sum(weight * int(digit) for weight, digit in zip(WEIGHTS, first_nine, strict=True)) % 11
    return None if value == 10 else str(value)


def _check_tax_code(value: str) -> str:
    require_ascii_digits(value, 10, "a tax code (enterprise code)")
    if value[2:9] == "0000000":
        raise ValueError("the serial digits 3-9 of the tax code are all zero; no code has that serial")
    expected = tax_code_check_digit(value[:9])
    if expected is None:
        raise ValueError("the tax code cannot exist: no check digit completes its first nine digits")
    if value[9] != expected:
        raise ValueError("the check digit (the tenth digit) of the tax code is wrong")
    return value


def is_tax_code(value: str) -> bool:
    """Whether ``value`` is a valid 10-digit tax code (format, serial and check digit)."""
    try:
        _check_tax_code(value)
    except ValueError:
        return False
    return True


def make_tax_code(province: str, serial: int) -> str | None:
    """The 10-digit tax code of two province digits and a seven-digit ``serial`` (1-9999999), or ``None`` when
    that serial is never issued (no check digit fits). For test and demonstration data.

    >>> make_tax_code("01", 23348)
    '0100233488'
    """
    require_ascii_digits(province, 2, "the province digits of a tax code")
    if not 1 <= serial <= 9_999_999:
        raise ValueError(f"the serial of a tax code is between 1 and 9999999, got {serial}")
    first_nine = f"{province}{serial:07d}"
    check = tax_code_check_digit(first_nine)
    return None if check is None else first_nine + check


def _check_branch_tax_code(value: str) -> str:
    match = _BRANCH.match(value)
    if match is None:
        raise ValueError(
            "a dependent unit's tax code is the parent's 10 digits, a hyphen and three digits (0100233488-001)"
        )
    _check_tax_code(match.group(1))
    if match.group(2) == "000":
        raise ValueError("the dependent unit number of the tax code is 000; it starts at 001")
    return value


def parent_tax_code(branch_code: str) -> str:
    """The parent's 10-digit code of a dependent unit's 13-digit code (``"0100233488-001"`` -> ``"0100233488"``)."""
    return _check_branch_tax_code(branch_code)[:10]


TaxCode = Annotated[
    str,
    AfterValidator(_check_tax_code),
    JsonSchemaExtra(
        pattern=r"^[0-9]{10}$",
        description=(
            "10-digit tax code of an enterprise or organisation, which is also its enterprise code: two digits "
            "of the issuing province, a seven-digit serial and a check digit (Circular 105/2020/TT-BTC)."
        ),
        examples=["5800123458", "0100233488"],
    ),
]
"""A 10-digit enterprise or organisation tax code with a valid check digit (``"0100233488"``)."""

BranchTaxCode = Annotated[
    str,
    AfterValidator(_check_branch_tax_code),
    JsonSchemaExtra(
        pattern=r"^[0-9]{10}-[0-9]{3}$",
        description=(
            "13-digit tax code of a dependent unit (branch, representative office): the parent's 10-digit code, "
            "a hyphen and a three-digit unit number from 001."
        ),
        examples=["0100233488-001"],
    ),
]
"""A dependent unit's tax code ``NNNNNNNNNN-NNN``: a valid parent code and a unit number from 001."""
