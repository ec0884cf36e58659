"""Every one of the twelve simulated national databases scored in the four dimensions, each read whole through its
connector (REST and SOAP ones by their sample listings), with defects planted at known rates in the sector systems
(:func:`simulators.defects.plant_sector_defects`) measured back within one percentage point by the rules the
contracts declare, the cross-database ones (identities, deaths and moves propagated) answered by the population and
civil status databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector
from connectors.discovery import discover_connectors
from gateway.quality import rules_for
from gateway.quality.evaluate import Evaluation, evaluate
from gateway.quality.lookups import connector_lookups
from gateway.quality.rules import Dimension, RuleContext
from simulators.defects import SectorDefects, SectorPlanted
from simulators.sectors import SECTOR_SYSTEMS, SectorContext, load_sector_system

CITIZENS = 2000
SAMPLE = 10**6
DEFECTS = SectorDefects(
    identity_mismatch=0.05,
    unnormalised_names=0.04,
    unpropagated_deaths=0.3,
    unpropagated_moves=0.06,
    stale_status=0.1,
)
# The rule each planted defect fails (by its slug).
RULES = {
    "identity_mismatch": "person_is_citizen",
    "unnormalised_names": "names_normalised",
    "unpropagated_deaths": "death_propagated",
    "unpropagated_moves": "move_propagated",
    "stale_status": "status_current",
}
SECTORS = sorted(set(SECTOR_SYSTEMS) - {"population"})
FAST: dict[str, Any] = {"requests_per_second": 200}


@dataclass
class Scanned:
    records: dict[str, list[dict[str, Any]]]
    evaluations: dict[str, Evaluation]
    planted: dict[str, SectorPlanted]


async def _scan(context: SectorContext) -> Scanned:
    configs = {database: await load_sector_system(database).start(context) for database in sorted(SECTOR_SYSTEMS)}
    found = discover_connectors().connectors
    async with AsyncExitStack() as stack:
        connectors: dict[str, Connector[Any]] = {}
        for database, started in configs.items():
            system = load_sector_system(database)
            cls = found[system.connector]
            config = dict(started)
            if system.protocol in ("rest", "soap"):
                preset = cls.config_model.model_validate(config).model_dump(mode="json")["sample"]
                config["sample"] = {**preset, **FAST}
            connectors[database] = await stack.enter_async_context(cls.from_config(config))
        lookups = connector_lookups(connectors["population"], connectors["civil_status"])
        now = datetime.now(UTC)
        records, evaluations = {}, {}
        for database, connector in connectors.items():
            records[database] = list(await connector.sample(SAMPLE))
            rules = RuleContext(contract=connector.contract, now=now, freshness=timedelta(days=1460), lookups=lookups)
            evaluations[database] = await evaluate(records[database], rules_for(connector.contract), rules)
    return Scanned(records, evaluations, context.planted)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    with ExitStack() as stack:
        context = SectorContext(
            data_dir=Path(tmp_path_factory.mktemp("sectors")),
            citizens=CITIZENS,
            today=date.today(),
            stack=stack,
            sector_defects=DEFECTS,
        )
        yield asyncio.run(_scan(context))


@pytest.mark.parametrize("database", sorted(SECTOR_SYSTEMS))
def test_every_database_is_scored_in_the_four_dimensions(scanned: Scanned, database: str) -> None:
    evaluation = scanned.evaluations[database]
    assert evaluation.records > 20
    for dimension in Dimension:
        assert evaluation.dimensions[dimension].checked > 0, dimension


@pytest.mark.parametrize("database", SECTORS)
def test_the_planted_defects_are_measured_back_within_one_point(scanned: Scanned, database: str) -> None:
    planted = scanned.planted[database]
    evaluation = scanned.evaluations[database]
    measured_any = False
    for item in fields(planted):
        keys: set[str] = getattr(planted, item.name)
        if not keys:
            continue
        rule_id = f"{contract_of(evaluation)}.{RULES[item.name]}"
        measured_any = True
        rule = evaluation.rules[rule_id]
        assert rule.checked > 0, rule_id
        planted_share = len(keys) / rule.checked
        measured = rule.failed / rule.checked
        assert abs(measured - planted_share) <= 0.01, (rule_id, rule.failed, len(keys), rule.checked)
    assert measured_any


def contract_of(evaluation: Evaluation) -> str:
    """The contract name the rule ids of an evaluation start with."""
    return next(iter(evaluation.rules)).rsplit(".", 1)[0]
