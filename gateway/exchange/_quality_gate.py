"""Data quality at the gate: a submitted operation that breaks a quality rule is accepted, flagged or refused.

Each accepted operation's record is evaluated against the database's single-record rules (the rules that ask other
databases do not apply: no network call at intake). A create is evaluated whole; an update with its key and the
fields it changes, and only the findings about those fields count (it says nothing of the fields it leaves as they
are).
What happens to an operation breaking a rule is set per database and rule (``quality_gate``,
:meth:`gateway.core.settings.Settings.quality_action`): ``accept`` (the default: nothing is said), ``flag`` (accepted,
the findings on the receipt and counted in ``gateway_exchange_quality_total``) or ``refuse`` (the submission is
answered ``422 /problems/quality-refused`` naming the rule and the field, and nothing is stored).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Final

from contracts import Contract
from gateway.core.settings import QualityAction, Settings
from gateway.exchange.operations import CheckedOperation
from gateway.quality.domain import rules_for
from gateway.quality.evaluate import RuleCount, evaluate
from gateway.quality.rules import Rule, RuleContext

__all__ = ["FLAG", "REFUSE", "Finding", "gate_findings"]

FLAG: Final = "flag"
REFUSE: Final = "refuse"


@dataclass(frozen=True, slots=True)
class Finding:
    """An accepted operation breaking a quality rule: which rule, which field (when the rule names one), what is
    wrong (field names and rules, never a personal value), and what the gate does (``flag`` or ``refuse``)."""

    index: int
    record_id: str
    rule: str
    title: str
    title_vi: str
    field: str | None
    finding: str
    action: QualityAction

    def as_json(self) -> dict[str, Any]:
        """The entry of the receipt or of the problem's ``findings``."""
        return dataclasses.asdict(self)


@cache
def _rules(contract: type[Contract]) -> tuple[Rule, ...]:
    return tuple(rules_for(contract))


async def rule_failures(
    record: Mapping[str, Any], contract: type[Contract], context: RuleContext
) -> list[tuple[RuleCount, str]]:
    """The rules of ``contract`` that ``record`` breaks, with what each found: the one place the gate calls the
    rules. Without lookups in ``context``, the rules that ask other databases do not apply, and a single record
    has no duplicate within its batch: what remains are the single-record rules."""
    evaluation = await evaluate([record], _rules(contract), context)
    return [(count, count.worst[0].detail) for count in evaluation.rules.values() if count.failed and count.worst]


def _field_of(problem: str) -> str | None:
    """The field a rule's problem names (``date_of_death: before date_of_birth``, ``missing full_name``)."""
    if problem.startswith("missing "):
        return problem.removeprefix("missing ").strip() or None
    field, colon, _ = problem.partition(":")
    return field.strip() if colon and field.strip() and " " not in field.strip() else None


async def gate_findings(
    operations: Sequence[CheckedOperation],
    *,
    contract: type[Contract],
    database_id: str,
    settings: Settings,
    now: datetime,
) -> list[Finding]:
    """The findings of ``operations`` under rules set to ``flag`` or ``refuse`` for ``database_id``."""
    gate = settings.quality_gate.get(database_id)
    if not gate or all(action == "accept" for action in gate.values()):
        return []
    context = RuleContext(contract=contract, now=now, freshness=settings.freshness_target(database_id))
    key = contract.record_key
    found: list[Finding] = []
    for operation in operations:
        if operation.kind == "delete":
            continue
        record = {**(operation.record or operation.fields), key: operation.record_id}
        for rule, detail in await rule_failures(record, contract, context):
            action = settings.quality_action(database_id, rule.rule_id)
            if action == "accept":
                continue
            for problem in detail.split("; "):
                field = _field_of(problem)
                if operation.kind == "update" and (field is None or field.split(".")[0] not in operation.fields):
                    continue  # about a field the update leaves as it is
                found.append(
                    Finding(
                        operation.position,
                        operation.record_id,
                        rule.rule_id,
                        rule.title,
                        rule.title_vi,
                        field,
                        problem,
                        action,
                    )
                )
    return found
