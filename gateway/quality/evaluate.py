"""Running a rule set over a batch of records: counts per rule and per dimension, and the worst records.

A record counts in a dimension when at least one rule of that dimension applies to it, and fails it when any of
those rules fails: "97.5 % of the records are correct" reads as an official expects. A record that fails no rule of
the dimension but that one of its rules could not verify (another database left the question unanswered:
:class:`~gateway.quality.rules.Unverified`) is not known to pass: it is counted as *unverified*, not as checked, so
that a ratio is the share of the records known to pass among those judged. Each rule keeps its ten worst failures
(by weight), with the record's key masked.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from gateway.quality.rules import SKIP, Dimension, Failure, Rule, RuleContext, Unverified, mask_key

__all__ = ["WORST_PER_RULE", "DimensionCount", "Evaluation", "RuleCount", "WorstRecord", "evaluate", "worst_of"]

WORST_PER_RULE: Final = 10
"""Failed records kept per rule for the report."""


@dataclass(frozen=True, slots=True)
class WorstRecord:
    """A failed record as reports show it: its masked key, what is wrong, how badly."""

    record: str
    detail: str
    weight: float


@dataclass(slots=True)
class RuleCount:
    """One rule's counts over a batch: records it judged (``checked``), records that failed, the worst failures;
    records it applies to but could not verify (``unverified``: another database gave no usable answer), of which
    ``unanswered`` because that database did not answer at all (an outage: ``unanswered_by`` names those
    databases), and why (``causes``: (database, reason) -> records, ``("population", "UpstreamUnavailable")``)."""

    rule_id: str
    dimension: Dimension
    title: str
    title_vi: str
    checked: int = 0
    failed: int = 0
    worst: list[WorstRecord] = field(default_factory=list)
    unverified: int = 0
    unanswered: int = 0
    causes: dict[tuple[str, str], int] = field(default_factory=dict)
    unanswered_by: set[str] = field(default_factory=set)

    @property
    def applies(self) -> int:
        """Records the rule applies to: judged or unverified."""
        return self.checked + self.unverified

    @property
    def ratio(self) -> float | None:
        """The share of judged records that pass (``None`` when none was judged)."""
        return (self.checked - self.failed) / self.checked if self.checked else None


@dataclass(slots=True)
class DimensionCount:
    """One dimension's counts: records judged (failing a rule of the dimension, or passing every one that applies
    to them), records failing any of them, and records failing none that a rule could not verify (``unverified``:
    neither passing nor failing, left out of the ratio)."""

    checked: int = 0
    failed: int = 0
    unverified: int = 0

    @property
    def ratio(self) -> float | None:
        """The share of checked records that pass (``None`` when none was checked)."""
        return (self.checked - self.failed) / self.checked if self.checked else None


@dataclass(slots=True)
class Evaluation:
    """The outcome of evaluating a batch: how many records, and the counts per rule and per dimension."""

    records: int
    rules: dict[str, RuleCount]
    dimensions: dict[Dimension, DimensionCount]


def worst_of(candidates: Iterable[WorstRecord], limit: int = WORST_PER_RULE) -> list[WorstRecord]:
    """The ``limit`` heaviest failures, heaviest first (the earlier one first among equals)."""
    ranked = heapq.nsmallest(limit, enumerate(candidates), key=lambda item: (-item[1].weight, item[0]))
    return [item for _, item in ranked]


async def evaluate(
    records: Sequence[Mapping[str, Any]], rules: Sequence[Rule], context: RuleContext, *, key: str | None = None
) -> Evaluation:
    """Evaluate every rule over ``records``; ``key`` names the field whose masked value identifies a record in
    the worst records (the contract's record key by default)."""
    key = key or context.contract.record_key
    refs = [mask_key(record.get(key, "")) if record.get(key) is not None else "(no key)" for record in records]
    applied = {dimension: [False] * len(records) for dimension in Dimension}
    failed = {dimension: [False] * len(records) for dimension in Dimension}
    unknown = {dimension: [False] * len(records) for dimension in Dimension}
    counts: dict[str, RuleCount] = {}
    for rule in rules:
        count = RuleCount(rule.id, rule.dimension, rule.title, rule.title_vi)
        failures: list[WorstRecord] = []
        outcomes = await rule.evaluate(records, context)
        for index, outcome in enumerate(outcomes):
            if outcome == SKIP:
                continue
            if isinstance(outcome, Unverified):
                count.unverified += 1
                if outcome.outage:
                    count.unanswered += 1
                    count.unanswered_by.add(outcome.database)
                cause = (outcome.database, outcome.reason)
                count.causes[cause] = count.causes.get(cause, 0) + 1
                unknown[rule.dimension][index] = True
                continue
            count.checked += 1
            applied[rule.dimension][index] = True
            if isinstance(outcome, Failure):
                count.failed += 1
                failed[rule.dimension][index] = True
                failures.append(WorstRecord(refs[index], outcome.detail, float(outcome.weight)))
        count.worst = worst_of(failures)
        counts[rule.id] = count
    dimensions = {d: _dimension_count(applied[d], failed[d], unknown[d]) for d in Dimension}
    return Evaluation(records=len(records), rules=counts, dimensions=dimensions)


def _dimension_count(applied: Sequence[bool], failed: Sequence[bool], unknown: Sequence[bool]) -> DimensionCount:
    """A failure decides; then a rule that could not verify; then the rules that judged the record."""
    count = DimensionCount()
    for judged, fails, unverified in zip(applied, failed, unknown, strict=True):
        if fails:
            count.checked += 1
            count.failed += 1
        elif unverified:
            count.unverified += 1
        elif judged:
            count.checked += 1
    return count
