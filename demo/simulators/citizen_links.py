"""What sector simulators derive from the population rows: people as sector records name them, and families.

The sector databases (civil status, vehicles, land, licences...) refer to the citizens of the simulated population
database (:func:`simulators.population.generate_citizens`). :func:`person_columns` copies the four identifying
columns of a citizen under a sector table's prefix; :func:`households`, :func:`couples` and :func:`parents_of`
recover from the ``cong_dan`` rows the married couples and the parents the household structure implies.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from contracts.dates import PartialDate

__all__ = [
    "Couple",
    "Row",
    "add_years",
    "adult_from",
    "birth_earliest",
    "birth_latest",
    "couples",
    "households",
    "parents_of",
    "person_columns",
    "random_day",
]

Row = dict[str, Any]
"""A ``cong_dan`` row of the simulated population database."""

# quan_he_chu_ho, gioi_tinh and tinh_trang_hon_nhan codes of the population database.
_HEAD, _SPOUSE, _CHILD, _PARENT, _GRANDPARENT, _GRANDCHILD, _OTHER = 1, 2, 3, 4, 5, 6, 9
_MALE, _FEMALE = 1, 2
_MARRIED, _WIDOWED = 2, 4
_MIN_PARENT_GAP = 15


@dataclass(frozen=True, slots=True)
class Couple:
    """A married couple of one household: the husband's and the wife's rows."""

    husband: Row
    wife: Row


def person_columns(row: Row, prefix: str) -> dict[str, Any]:
    """The citizen's personal id, name, date of birth and gender as ``<prefix>so_dinh_danh`` etc."""
    return {
        f"{prefix}so_dinh_danh": row["so_dinh_danh"],
        f"{prefix}ho_ten": row["ho_ten"],
        f"{prefix}ngay_sinh": row["ngay_sinh"],
        f"{prefix}gioi_tinh": row["gioi_tinh"],
    }


def birth_earliest(row: Row) -> date:
    """The first day the citizen's (possibly partial) date of birth allows."""
    return PartialDate.parse(row["ngay_sinh"]).earliest()


def birth_latest(row: Row) -> date:
    """The last day the citizen's (possibly partial) date of birth allows."""
    return PartialDate.parse(row["ngay_sinh"]).latest()


def add_years(day: date, years: int) -> date:
    """``day`` moved by ``years`` years (29 February becomes 1 March when the target year is not leap)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def adult_from(row: Row, age: int = 18) -> date:
    """The first day on which the citizen is surely ``age`` years old."""
    return add_years(birth_latest(row), age)


def households(rows: Iterable[Row]) -> list[list[Row]]:
    """The citizens grouped by household (``ma_ho``), in order of first appearance."""
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row["ma_ho"], []).append(row)
    return list(grouped.values())


def _pair(members: Sequence[Row]) -> Couple | None:
    men = [m for m in members if m["gioi_tinh"] == _MALE]
    women = [m for m in members if m["gioi_tinh"] == _FEMALE]
    if len(men) == 1 and len(women) == 1:
        return Couple(men[0], women[0])
    return None


def _with_relation(household: Sequence[Row], *relations: int) -> list[Row]:
    return [m for m in household if m["quan_he_chu_ho"] in relations]


def couples(household: Sequence[Row]) -> list[Couple]:
    """The married couples the household's structure implies.

    The head and their spouse; the head's two parents; two grandparents; and a married child of the head living
    with their spouse (registered as another relative). A pair counts when it is one man and one woman and
    neither is single or divorced.
    """
    found: list[Couple] = []
    married = (_MARRIED, _WIDOWED)
    groups = [
        _with_relation(household, _HEAD, _SPOUSE) if _with_relation(household, _SPOUSE) else [],
        _with_relation(household, _PARENT),
        _with_relation(household, _GRANDPARENT),
        [m for m in household if m["quan_he_chu_ho"] in (_CHILD, _OTHER) and m["tinh_trang_hon_nhan"] == _MARRIED],
    ]
    for group in groups:
        couple = _pair(group) if len(group) == 2 else None
        if couple and all(p["tinh_trang_hon_nhan"] in married for p in (couple.husband, couple.wife)):
            found.append(couple)
    return found


def parents_of(household: Sequence[Row]) -> dict[str, tuple[Row | None, Row | None]]:
    """Personal id -> (father, mother) for the members whose parents live in the same household.

    The head's children have the head and the head's spouse as parents; the head has the members registered as
    parents; grandchildren have the married child of the head and that child's spouse. A parent is given only when
    at least 15 years older than the child.
    """
    result: dict[str, tuple[Row | None, Row | None]] = {}
    heads = _with_relation(household, _HEAD, _SPOUSE)
    married_children = [c for c in couples(household) if c.husband["quan_he_chu_ho"] in (_CHILD, _OTHER)]
    sources: list[tuple[list[Row], list[Row]]] = [
        (_with_relation(household, _CHILD), heads),
        (_with_relation(household, _HEAD), _with_relation(household, _PARENT)),
    ]
    if married_children:
        couple = married_children[0]
        sources.append((_with_relation(household, _GRANDCHILD), [couple.husband, couple.wife]))
    for children, parents in sources:
        for child in children:
            born = birth_earliest(child)
            old_enough = [p for p in parents if add_years(birth_latest(p), _MIN_PARENT_GAP) <= born]
            father = next((p for p in old_enough if p["gioi_tinh"] == _MALE), None)
            mother = next((p for p in old_enough if p["gioi_tinh"] == _FEMALE), None)
            if father or mother:
                result[child["so_dinh_danh"]] = (father, mother)
    return result


def random_day(rng: random.Random, start: date, end: date) -> date:
    """A day drawn uniformly from ``start`` to ``end`` inclusive (``start`` when ``end`` is earlier)."""
    span = (end - start).days
    return start if span <= 0 else start + timedelta(days=rng.randrange(span + 1))
