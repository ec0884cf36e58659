"""Social insurance codes (mã số BHXH): ten ASCII digits, nothing more is assumed."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.social_insurance_code import SocialInsuranceCode

CODE: TypeAdapter[str] = TypeAdapter(SocialInsuranceCode)


def test_ten_digits() -> None:
    assert CODE.validate_python("6823001457") == "6823001457"
    assert CODE.json_schema()["pattern"] == r"^[0-9]{10}$"


@pytest.mark.parametrize("wrong", ["682300145", "68230014570", "682300145a", "６８２３００１４５７", "DN4686823001457"])
def test_anything_else_is_refused(wrong: str) -> None:
    with pytest.raises(ValidationError, match="10 digits"):
        CODE.validate_python(wrong)
