"""The simulated driving licence API's records: one licence per holder, derived from the population's citizens.

Licences are a deterministic function of the citizens ``(count, seed, today)`` and their own random stream. Only
adults hold one, each class issued after the holder reached its minimum age (Law 36/2024/QH15, Article 59) and
never after the holder's death or ``today``; classes with a term are renewed on expiry or left to lapse; the licence
of a dead holder is revoked. A licence number starts with the code of the pre-2025 province that issued it; the
issuing authority given is the current province. Records are in the API's own JSON shape (Vietnamese keys, its code
lists, ISO dates).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Final

from contracts.driving_licences import MINIMUM_AGES, LicenceClass, expiry_for

from ..citizen_links import Row, adult_from, random_day
from ..vn_places import WardInfo, old_province_of_ward

__all__ = ["GENDERS", "STATUSES", "generate_licences", "licence_prefix"]

#: gioi_tinh: the population database's code -> the API's.
GENDERS: Final[dict[int, str]] = {1: "NAM", 2: "NU"}
#: trang_thai: the API's licence states (in force, lapsed, withdrawn for a time, revoked).
STATUSES: Final[tuple[str, ...]] = ("CON_HIEU_LUC", "HET_HAN", "TAM_GIU", "THU_HOI")

_EARLIEST_ISSUE: Final = date(1995, 1, 1)


def _issued(rng: random.Random, holder: Row, licence_class: LicenceClass, end: date) -> date | None:
    """When ``licence_class`` was (last) issued: first after the minimum age, then renewed on each expiry with
    probability 0.85 (else left to lapse); ``None`` if the holder never reached the age before ``end``."""
    start = max(adult_from(holder, MINIMUM_AGES[licence_class]), _EARLIEST_ISSUE)
    if start > end:
        return None
    issued = random_day(rng, start, end)
    while (expiry := expiry_for(licence_class, issued)) is not None and expiry <= end and rng.random() < 0.85:
        issued = expiry
    return issued


def _classes(rng: random.Random, holder: Row, age: int, end: date) -> dict[LicenceClass, date]:
    wanted: list[LicenceClass] = []
    if rng.random() < (0.78 if age < 60 else 0.45):
        wanted.append(LicenceClass.A1 if rng.random() < 0.9 else LicenceClass.A)
    if 20 <= age < 75 and rng.random() < 0.24:
        wanted.append(LicenceClass.B)
        if age >= 23 and rng.random() < 0.15:
            wanted.append(LicenceClass.C)
        if 29 <= age < 57 and rng.random() < 0.05:
            wanted.append(LicenceClass.D)
    found = {c: issued for c in wanted if (issued := _issued(rng, holder, c, end)) is not None}
    return found


def _licence(rng: random.Random, holder: Row, classes: dict[LicenceClass, date], today: date, number: str) -> Row:
    last_issue = max(classes.values())
    expiries = [expiry_for(c, issued) for c, issued in classes.items()]
    status, since = "CON_HIEU_LUC", None
    died: date | None = holder["ngay_mat"]
    if died is not None:
        status, since = "THU_HOI", random_day(rng, died, min(died + timedelta(days=30), today))
    elif rng.random() < 0.015:
        status, since = "TAM_GIU", random_day(rng, max(last_issue, today - timedelta(days=180)), today)
    elif all(e is not None and e < today for e in expiries):
        status = "HET_HAN"
    return {
        "so_gplx": number,
        "nguoi_lai": {
            "so_cccd": holder["so_dinh_danh"],
            "ho_ten": holder["ho_ten"],
            "ngay_sinh": holder["ngay_sinh"],
            "gioi_tinh": GENDERS[holder["gioi_tinh"]],
        },
        "noi_cap": {"ma_tinh": holder["thuong_tru_tinh"]},
        "hang_gplx": [
            {
                "hang": c.value,
                "ngay_cap": issued.isoformat(),
                "ngay_het_han": None if (e := expiry_for(c, issued)) is None else e.isoformat(),
            }
            for c, issued in sorted(classes.items(), key=lambda item: list(LicenceClass).index(item[0]))
        ],
        "trang_thai": status,
        "ngay_trang_thai": None if since is None else since.isoformat(),
    }


def licence_prefix(holder: Row) -> str:
    """The first two digits of a licence issued to ``holder``: the code of the (pre-2025) province of their
    residence, whose transport department issued it (68 Lâm Đồng, 67 Đắk Nông, 60 Bình Thuận...)."""
    return old_province_of_ward(WardInfo(holder["thuong_tru_xa"], holder["thuong_tru_tinh"], ""))[1:]


def generate_licences(citizens: Iterable[Row], *, seed: int, today: date) -> list[Row]:
    """The licences of ``citizens`` (the rows of ``generate_citizens(count, seed=seed, today=today)``), in the
    API's JSON shape, in order of the holders."""
    rng = random.Random(f"{seed}:driving_licences")  # noqa: S311 - synthetic data, not security
    numbers: set[str] = set()
    licences: list[Row] = []
    for holder in citizens:
        if adult_from(holder) > today:
            continue
        end = min(today, holder["ngay_mat"] or today)
        classes = _classes(rng, holder, today.year - int(holder["ngay_sinh"][:4]), end)
        if not classes:
            continue
        prefix = licence_prefix(holder)
        while (number := f"{prefix}{rng.randrange(10**10):010d}") in numbers:
            pass
        numbers.add(number)
        licences.append(_licence(rng, holder, classes, today, number))
    return licences
