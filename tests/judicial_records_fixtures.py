"""Data of the judicial records tests: the population's citizens and their certificate requests, and a planted
applicant with many requests (so that searches span several pages)."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from simulators.judicial_records_soap import generate_requests
from simulators.population import generate_citizens

CITIZENS = 1500
SEED = 68
TODAY = date(2026, 6, 30)
PLANTED = 37

Row = dict[str, Any]


@functools.cache
def citizens() -> tuple[Row, ...]:
    """The population's citizens, as ``cong_dan`` rows."""
    return tuple(generate_citizens(CITIZENS, seed=SEED, today=TODAY))


@functools.cache
def requests() -> tuple[Row, ...]:
    """The certificate requests the simulated service derives from :func:`citizens`."""
    return tuple(generate_requests(citizens(), seed=SEED, today=TODAY))


@functools.cache
def planted_requests() -> tuple[tuple[Row, ...], str]:
    """:func:`requests` with the first ``PLANTED`` requests of other people handed to one applicant (of the same
    province, so that the request numbers stay right): the rows, and the applicant's personal id."""
    rows = [dict(row) for row in requests()]
    applicant = rows[-1]
    chosen = [row for row in rows if row["ma_co_quan"] == applicant["ma_co_quan"]][:PLANTED]
    for row in chosen:
        for column in ("so_dinh_danh", "ho_ten", "ngay_sinh", "gioi_tinh"):
            row[column] = applicant[column]
    return tuple(rows), str(applicant["so_dinh_danh"])
