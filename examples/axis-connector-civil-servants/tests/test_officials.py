"""The contract's rules and the sandbox's data: officials are real citizens of the simulated population."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from simulators.population import generate_citizens

from civil_servants_connector import Official, OfficialQuery
from civil_servants_connector.mapping import to_contract
from civil_servants_connector.sandbox import officials

OFFICIALS = officials()


def test_every_sandbox_official_is_a_valid_record_of_a_living_adult_citizen() -> None:
    citizens = {row["so_dinh_danh"]: row for row in generate_citizens(600, seed=68, today=date.today())}
    for item in OFFICIALS:
        official = Official.model_validate(to_contract(item))
        citizen = citizens[official.person.personal_id]
        assert citizen["ngay_mat"] is None
        assert official.person.full_name == citizen["ho_ten"]
        assert str(official.person.date_of_birth) == citizen["ngay_sinh"]
    assert len({item["so_dinh_danh"] for item in OFFICIALS}) == len(OFFICIALS)


def test_a_recruitment_before_eighteen_is_refused() -> None:
    data = to_contract(OFFICIALS[0])
    data["recruited_on"] = date(int(data["person"]["date_of_birth"][:4]) + 10, 1, 1).isoformat()
    with pytest.raises(ValidationError, match="before the official turned 18"):
        Official.model_validate(data)


def test_an_unknown_category_code_is_refused() -> None:
    item = dict(OFFICIALS[0], loai="XX")
    with pytest.raises(ValidationError, match="category"):
        Official.model_validate(to_contract(item))


def test_a_search_needs_a_criterion() -> None:
    with pytest.raises(ValidationError, match="search by agency_code, personal_id, or both"):
        OfficialQuery()
