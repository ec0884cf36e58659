"""Data quality as the gateway keeps it: scans of the sector systems, submitted records, the shared metrics.

* :func:`scan_database` reads a random sample of a database's raw records through its connector
  (:meth:`connectors.base.Connector.sample`), evaluates the contract's rule set with the cross-database lookups,
  and replaces the database's ``scan`` counts, unless the databases its rules ask left too many records unverified
  (:class:`IncompleteScan`: nothing is stored, the scores stored before stand);
* :func:`record_submitted` evaluates the records an agency submitted (accepted by the exchange) without any network
  call and adds them to the database's ``submitted`` counts;
* :func:`quality_snapshot` reads every database's counts for the metrics.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

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
from gateway.quality.evaluate import Evaluation, RuleCount, evaluate
from gateway.quality.history import record_history
from gateway.quality.lookups import connector_search, registry_lookups
from gateway.quality.models import QualityScore
from gateway.quality.rules import Lookups, RuleContext
from gateway.records.context import connector_call, system_context
from gateway.records.registry import ConnectorRegistry

__all__ = [
    "UNANSWERED_TOLERANCE",
    "UNVERIFIED_TOLERANCE",
    "IncompleteScan",
    "NothingScanned",
    "quality_snapshot",
    "record_submitted",
    "scan_database",
    "scan_unscanned",
    "shortfalls",
]

log = get_logger(__name__)

UNANSWERED_TOLERANCE: Final = 0.01
"""Share of the records a rule applies to that the databases it asks may leave unanswered (unreachable, timed out,
refused, failed) in a scan that is stored."""
UNVERIFIED_TOLERANCE: Final = 0.05
"""Share of the records a rule applies to that may stay unverified for any reason (also: the other database's record
of the person breaks its contract) in a scan that is stored."""


class NothingScanned(Exception):
    """A scan read no record: the scores stored before (if any) are kept, none are stored."""

    def __init__(self, database_id: str) -> None:
        super().__init__(f"{database_id}: the sector system returned no record to check")
        self.database_id = database_id


def shortfalls(evaluation: Evaluation) -> list[RuleCount]:
    """The rules of a scan that could not verify more of their records than :data:`UNANSWERED_TOLERANCE` (other
    databases not answering) or :data:`UNVERIFIED_TOLERANCE` (for any reason) allow."""
    return [
        rule
        for rule in evaluation.rules.values()
        if rule.unanswered > UNANSWERED_TOLERANCE * rule.applies
        or rule.unverified > UNVERIFIED_TOLERANCE * rule.applies
    ]


def _databases(rules: Sequence[RuleCount]) -> list[str]:
    return sorted({database for rule in rules for database, _ in rule.causes})


def _shortfall(rule: RuleCount) -> str:
    ranked = sorted(rule.causes.items(), key=lambda item: (-item[1], item[0]))
    causes = ", ".join(f"{database}: {reason} {count:,}" for (database, reason), count in ranked)
    share = f"{rule.unverified:,} of the {rule.applies:,} records it applies to"
    return f"{rule.rule_id} could not verify {share} ({causes})"


class IncompleteScan(ConnectorError):
    """A scan whose rules could not verify too many records, because the databases they ask (the population
    database...) gave no usable answer: not stored, so that the scores stored before, the history, the monthly
    report and the metrics keep telling what was measured. ``evaluation`` is what the scan found; ``rules``, the
    rules short of answers; ``databases``, the databases that gave none; ``unanswered_by``, those of them that did
    not answer at all (an outage).

    A :class:`~connectors.base.ConnectorError`: the connectors of those databases failed, and whoever handles a
    scan's connector errors (``gateway quality scan``, the scans the gateway runs itself) says why and goes on."""

    def __init__(self, database_id: str, evaluation: Evaluation, rules: Sequence[RuleCount]) -> None:
        self.database_id = database_id
        self.evaluation = evaluation
        self.rules = list(rules)
        self.databases = _databases(self.rules)
        self.unanswered_by = sorted({database for rule in self.rules for database in rule.unanswered_by})
        unreadable = [database for database in self.databases if database not in self.unanswered_by]
        said = [f"{', '.join(self.unanswered_by)} did not answer"] if self.unanswered_by else []
        said += [f"{', '.join(unreadable)} answered with records its contract refuses"] if unreadable else []
        todo = [f"make {', '.join(self.unanswered_by)} reachable"] if self.unanswered_by else []
        todo += [f"correct those records of {', '.join(unreadable)} (its own scan counts them)"] if unreadable else []
        super().__init__(
            f"scan not stored (the scores stored before are kept): {' and '.join(said)}: "
            f"{'; '.join(_shortfall(rule) for rule in self.rules)}. A scan is stored when every rule verifies all "
            f"but {UNANSWERED_TOLERANCE:.0%} of the records it applies to ({UNVERIFIED_TOLERANCE:.0%} counting the "
            f"records another database holds in a form its contract refuses): {' and '.join(todo)}, and scan "
            f"{database_id} again"
        )


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
    :class:`NothingScanned` (storing nothing) when the sample is empty, :class:`IncompleteScan` (storing nothing)
    when a rule could not verify more of its records than the tolerances allow (:func:`shortfalls`: the population
    database did not answer...), and the connector's errors when the sector system cannot be read.
    """
    started = utcnow()
    size = sample_size or settings.quality_sample_size
    # One context of the gateway's own for the whole scan: the sample and the searches and lookups it makes.
    with connector_call(system_context(settings)):
        records = await connector.sample(size)
        if not records:
            raise NothingScanned(database_id)
        contract = connector.contract
        lookups = replace(lookups or Lookups(), search=connector_search(connector, database_id))
        evaluation = await _evaluate(records, contract, database_id, settings, now=now or started, lookups=lookups)
    short = shortfalls(evaluation)
    if short:
        raise IncompleteScan(database_id, evaluation, short)
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
    databases scanned; a database that cannot be read, or whose scan the other databases left incomplete (nothing
    stored: it is scanned again next time), is logged and skipped."""
    scanned = {score.database_id for score in (await session.exec(select(QualityScore))).all() if score.source == SCAN}
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
                lookups=registry_lookups(registry),  # answers cached for this scan only
                sample_size=sample_size,
            )
        except (OperationNotSupported, NothingScanned):
            continue
        except IncompleteScan as exc:
            log.warning(
                "data-quality scan not stored: other databases did not answer",
                database=database_id,
                unanswered_by=exc.unanswered_by,
                unreadable_in=[database for database in exc.databases if database not in exc.unanswered_by],
                rules={rule.rule_id: f"{rule.unverified} of {rule.applies} unverified" for rule in exc.rules},
                error=exc.message,
            )
            await session.rollback()
            continue
        except ConnectorError as exc:
            log.warning("data-quality scan failed", database=database_id, error=exc.message)
            await session.rollback()
            continue
        done.append(database_id)
    return done


async def quality_snapshot(
    session: AsyncSession, served: Iterable[str], submitting: Iterable[str] = (), scannable: Iterable[str] = ()
) -> metrics.QualitySnapshot:
    """Every database's counts, for the metrics (``served``: the databases whose scan series are exported even
    without counts; ``submitting``: those whose submitted series are, the databases accepting submissions;
    ``scannable``: those whose connector can sample its records)."""
    return metrics.QualitySnapshot(
        counts=await read_dimension_counts(session),
        served=tuple(sorted(served)),
        submitting=tuple(sorted(submitting)),
        scannable=tuple(sorted(scannable)),
        last_scan=await read_scan_times(session),
    )
