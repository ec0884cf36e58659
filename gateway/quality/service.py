"""Data quality as the gateway keeps it: scans of the sector systems, submitted records, the shared metrics.

* :func:`scan_database` reads a random sample of a database's raw records through its connector
  (:meth:`connectors.base.Connector.sample`), evaluates the contract's rule set with the cross-database lookups,
  and replaces the database's ``scan`` counts;
* :func:`record_submitted` evaluates the records an agency submitted (accepted by the exchange) without any network
  call and adds them to the database's ``submitted`` counts;
* :func:`quality_snapshot` reads every database's counts for the metrics.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from connectors.base import Capability, Connector, ConnectorError, OperationNotSupported
from contracts import Contract
from gateway.core import metrics
from gateway.core.db import utcnow
from gateway.core.logs import get_logger
from gateway.core.settings import Settings, get_settings
from gateway.quality._storage import SCAN, SUBMITTED, add_counts, read_dimension_counts, read_scan_times, replace_counts
from gateway.quality.domain import rules_for
from gateway.quality.evaluate import Evaluation, evaluate
from gateway.quality.history import record_history
from gateway.quality.lookups import connector_search, registry_lookups
from gateway.quality.models import QualityScore
from gateway.quality.rules import Lookups, RuleContext
from gateway.records.context import connector_call, system_context
from gateway.records.registry import ConnectorRegistry

__all__ = ["NothingScanned", "quality_snapshot", "record_submitted", "scan_database", "scan_unscanned"]

log = get_logger(__name__)


class NothingScanned(Exception):
    """A scan read no record: the scores stored before (if any) are kept, none are stored."""

    def __init__(self, database_id: str) -> None:
        super().__init__(f"{database_id}: the sector system returned no record to check")
        self.database_id = database_id


async def _evaluate(
    records: Sequence[Mapping[str, Any]],
    contract: type[Contract],
    database_id: str,
    settings: Settings,
    *,
    now: datetime,
    lookups: Lookups | None = None,
) -> Evaluation:
    """The contract's rule set over ``records`` of ``database_id``, with its freshness target."""
    context = RuleContext(contract=contract, now=now, freshness=settings.freshness_target(database_id), lookups=lookups)
    return await evaluate(records, rules_for(contract), context)


async def record_submitted(
    session: AsyncSession,
    database_id: str,
    contract: type[Contract],
    records: Sequence[Mapping[str, Any]],
    *,
    settings: Settings | None = None,
) -> None:
    """Add the evaluation of records submitted to ``database_id`` to its ``submitted`` counts.

    ``records`` are the submitted contract data (JSON form or Python values). Only the rules that need no other
    database apply (no network call); duplicates are looked for within the batch. Runs in the caller's
    transaction: the caller commits (with the operations it accepted), or rolls back.
    """
    if not records:
        return
    now = utcnow()
    evaluation = await _evaluate(records, contract, database_id, settings or get_settings(), now=now)
    await add_counts(
        session,
        database_id=database_id,
        source=SUBMITTED,
        contract=contract.contract_id(),
        evaluation=evaluation,
        now=now,
    )


async def scan_database(
    session: AsyncSession,
    *,
    database_id: str,
    connector: Connector,  # type: ignore[type-arg]
    settings: Settings,
    lookups: Lookups | None = None,
    sample_size: int | None = None,
    now: datetime | None = None,
) -> Evaluation:
    """Scan a random sample of ``database_id``'s records and store the outcome as its ``scan`` counts, and its scores
    in the history (committed).

    ``lookups`` answers the cross-database rules; the connector's own search (when it has one) finds the duplicates
    of the sampled records among all records.

    Raises :class:`connectors.base.OperationNotSupported` when the connector cannot sample its records,
    :class:`NothingScanned` (storing nothing) when the sample is empty, and the connector's errors when the sector
    system cannot be read.
    """
    started = utcnow()
    size = sample_size or settings.quality_sample_size
    # One context of the gateway's own for the whole scan: the sample and the searches and lookups it makes.
    with connector_call(system_context(settings)):
        records = await connector.sample(size)
        if not records:
            raise NothingScanned(database_id)
        contract = connector.contract
        lookups = replace(lookups or Lookups(), search=connector_search(connector))
        evaluation = await _evaluate(records, contract, database_id, settings, now=now or started, lookups=lookups)
    ended = utcnow()
    await replace_counts(
        session,
        database_id=database_id,
        source=SCAN,
        contract=contract.contract_id(),
        evaluation=evaluation,
        started_at=started,
        now=ended,
        sample_size=size,
    )
    await record_history(session, database_id=database_id, evaluation=evaluation, recorded_at=ended, sample_size=size)
    await session.commit()
    return evaluation


async def scan_unscanned(
    session: AsyncSession,
    registry: ConnectorRegistry,
    settings: Settings,
    *,
    databases: Collection[str] | None = None,
    sample_size: int | None = None,
) -> list[str]:
    """Scan the served databases (of ``databases``, if given) that have no scan yet and whose connector can sample
    its records (the demo does, so that its report and metrics show something from the start). Returns the
    databases scanned; a database that cannot be read is logged and skipped."""
    scanned = {score.database_id for score in (await session.exec(select(QualityScore))).all() if score.source == SCAN}
    lookups = registry_lookups(registry)
    done = []
    for database_id, database in sorted(registry.databases.items()):
        if database_id in scanned or (databases is not None and database_id not in databases):
            continue
        if not database.connector.offers(Capability.SAMPLE):
            continue
        try:
            await scan_database(
                session,
                database_id=database_id,
                connector=database.connector,
                settings=settings,
                lookups=lookups,
                sample_size=sample_size,
            )
        except (OperationNotSupported, NothingScanned):
            continue
        except ConnectorError as exc:
            log.warning("data-quality scan failed", database=database_id, error=exc.message)
            await session.rollback()
            continue
        done.append(database_id)
    return done


async def quality_snapshot(
    session: AsyncSession, served: Iterable[str], submitting: Iterable[str] = ()
) -> metrics.QualitySnapshot:
    """Every database's counts, for the metrics (``served``: the databases whose scan series are exported even
    without counts; ``submitting``: those whose submitted series are, the databases accepting submissions)."""
    return metrics.QualitySnapshot(
        counts=await read_dimension_counts(session),
        served=tuple(sorted(served)),
        submitting=tuple(sorted(submitting)),
        last_scan=await read_scan_times(session),
    )
