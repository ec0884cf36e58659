"""Helpers of the REST sector systems' tests (social and health insurance, business registry, tax): the synthetic
citizens and enterprises they derive their records from, and a common name planted on several records so that
searches span several pages."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

from contracts.dates import vietnam_today
from simulators.enterprises import synthetic_world

CITIZENS = 1500
SEED = 68
TODAY = vietnam_today()
PLANTED_NAME = "Trần Thị Mẫu"


def world() -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """The citizens and enterprises of the tests' synthetic population."""
    return synthetic_world(CITIZENS, SEED, TODAY)


def plant_name(records: MutableMapping[str, dict[str, Any]], keys: Sequence[str], person: str, name_key: str) -> None:
    """Rename the person ``person`` of the records ``keys`` to :data:`PLANTED_NAME` (copies: shared data is kept)."""
    for key in keys:
        record = dict(records[key])
        record[person] = {**record[person], name_key: PLANTED_NAME}
        records[key] = record
