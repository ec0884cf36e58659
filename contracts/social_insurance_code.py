"""The social insurance code (mã số bảo hiểm xã hội), Vietnam Social Security's lifelong number for a person.

Vietnam Social Security (Bảo hiểm xã hội Việt Nam) gives every participant in social, health or unemployment
insurance one 10-digit code for life. The same number is the social insurance book's number, and since the
health insurance cards of 1 April 2021 (Decision 1666/QĐ-BHXH, 2020) it is the card's code as well; the
15-character codes of older health insurance cards end with it.

Only the shape is checked: ten ASCII digits. Some public descriptions say the first two digits are the code of
the province that issued the number and the last is a check digit; that is not confirmed by a text we could
rely on, so neither is enforced.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from contracts.common import JsonSchemaExtra, require_ascii_digits

__all__ = ["SocialInsuranceCode"]


def _check_social_insurance_code(value: str) -> str:
    return require_ascii_digits(value, 10, "a social insurance code (mã số BHXH)")


SocialInsuranceCode = Annotated[
    str,
    AfterValidator(_check_social_insurance_code),
    JsonSchemaExtra(
        pattern=r"^[0-9]{10}$",
        description=(
            "10-digit social insurance code (mã số BHXH) issued for life by Vietnam Social Security; also the "
            "social insurance book number and, since 2021, the health insurance card's code."
        ),
        examples=["6823001457", "7901234567"],
    ),
]
"""A 10-digit social insurance code (mã số BHXH) as a string of ASCII digits."""
