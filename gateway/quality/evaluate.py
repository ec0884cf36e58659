"""Running a rule set over a batch of records: counts per rule and per dimension, and the worst records.

A record counts in a dimension when at least one rule of that dimension applies to it, and fails it when any of
those rules fails: "97.5 % of the records are correct" reads as an official expects. Each rule keeps its ten
worst failures (by weight), with the record's key masked.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from gateway.quality.rules import OK, SKIP, Dimension, Failure, Rule, RuleContext, mask_key

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
    """One rule's counts over a batch: records it applied to, records that failed, the worst failures."""

    rule_id: str
    dimension: Dimension
    title: str
    title_vi: str
    checked: int = 0
    failed: int = 0
    worst: list[WorstRecord] = field(default_factory=list)


@dataclass(slots=True)
class DimensionCount:
    """One dimension's counts: records some rule of the dimension applied to, records failing any of them."""

    checked: int = 0
    failed: int = 0

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
    counts: dict[str, RuleCount] = {}
    for rule in rules:
        count = RuleCount(rule.id, rule.dimension, rule.title, rule.title_vi)
        failures: list[WorstRecord] = []
        outcomes = await rule.evaluate(records, context)
        for index, outcome in enumerate(outcomes):
            if outcome == SKIP:
                continue
            count.checked += 1
            applied[rule.dimension][index] = True
            if outcome != OK and isinstance(outcome, Failure):
                count.failed += 1
                failed[rule.dimension][index] = True
                failures.append(WorstRecord(refs[index], outcome.detail, float(outcome.weight)))
        count.worst = worst_of(failures)
        counts[rule.id] = count
    dimensions = {
        dimension: DimensionCount(checked=sum(applied[dimension]), failed=sum(failed[dimension]))
        for dimension in Dimension
    }
    return Evaluation(records=len(records), rules=counts, dimensions=dimensions)
