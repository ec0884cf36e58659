"""The planted defects of the simulated population: off unless asked for, deterministic, at their rates, and
never on the demo's sample citizen."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

import pytest

from simulators.defects import DEMO_DEFECTS, PopulationDefects, plant_population_defects, showcase_id
from simulators.population import generate_citizens, synthetic_citizens

TODAY = date(2026, 6, 1)


def test_no_defects_by_default() -> None:
    clean = synthetic_citizens(500, 3, TODAY)
    assert list(generate_citizens(500, seed=3, today=TODAY)) == list(clean)
    assert list(generate_citizens(500, seed=3, today=TODAY, defects=PopulationDefects())) == list(clean)
    rows, planted = plant_population_defects(clean, PopulationDefects(), seed=3, today=TODAY)
    assert rows == list(clean)
    assert all(not getattr(planted, item.name) for item in fields(planted))


def test_defects_are_deterministic_and_leave_the_shared_rows_alone() -> None:
    clean = synthetic_citizens(800, 3, TODAY)
    before = [dict(row) for row in clean]
    first = list(generate_citizens(800, seed=3, today=TODAY, defects=DEMO_DEFECTS))
    second, planted = plant_population_defects(clean, DEMO_DEFECTS, seed=3, today=TODAY)
    assert first == second
    assert [dict(row) for row in clean] == before
    assert len(second) == 800
    assert len({row["so_dinh_danh"] for row in second}) == 800
    changed = {new["so_dinh_danh"] for old, new in zip(clean, second, strict=True) if old != new}
    assert changed == set().union(*(getattr(planted, item.name) for item in fields(planted)))


@pytest.mark.parametrize("seed", [1, 68, 2026])
def test_the_demo_sample_citizen_stays_clean(seed: int) -> None:
    clean = synthetic_citizens(2000, seed, TODAY)
    rows, _ = plant_population_defects(clean, PopulationDefects(**dict.fromkeys(
        (item.name for item in fields(PopulationDefects)), 0.3
    )), seed=seed, today=TODAY)  # fmt: skip
    showcase = showcase_id(clean)
    assert showcase is not None
    assert showcase_id(rows) == showcase
    original = next(row for row in clean if row["so_dinh_danh"] == showcase)
    assert next(row for row in rows if row["so_dinh_danh"] == showcase) == original


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="stale_updates"):
        PopulationDefects(stale_updates=1.5)
