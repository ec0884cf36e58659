"""Checking one submitted operation against the destination's contract and the sender's grant."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from connectors.fields import nested_model
from contracts import Contract
from contracts.dates import MIN_YEAR
from gateway.core.db import StorableDatetime, utcnow
from gateway.core.problems import AccessDenied, Problem, ValidationFailed, validation_errors
from gateway.identity.access import ACTOR_HEADER, Decision

#: The earliest ``changed_at`` taken: no record the contracts accept is older.
CHANGED_AT_EARLIEST = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
#: How far ahead of the gateway's clock ``changed_at`` may lie (the sending system's clock may run ahead).
CHANGED_AT_AHEAD = timedelta(days=1)
_IMPLAUSIBLE = f"changed_at should lie between {CHANGED_AT_EARLIEST:%Y-%m-%d} and one day after the gateway's clock"


def _plausible_change_time(value: datetime) -> datetime:
    if not CHANGED_AT_EARLIEST <= value <= utcnow() + CHANGED_AT_AHEAD:
        raise PydanticCustomError("changed_at_out_of_range", _IMPLAUSIBLE)
    return value


#: When a change was made: a date-time with its offset, storable (:data:`StorableDatetime`), from 1850 to a day
#: ahead of the gateway's clock.
ChangedAt = Annotated[StorableDatetime, AfterValidator(_plausible_change_time)]


class OperationMetadata(BaseModel):
    """What the sending system states about a change, kept with the operation and passed to the sector system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    changed_at: ChangedAt = Field(
        description="When the change was made in the sending system, with its UTC offset; from 1850-01-01 to one "
        "day after the gateway's clock."
    )
    source_reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The sending system's reference of the change (registration or document number).",
    )
    officer: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The officer who made the change: the request's X-Actor-Id when left out, and no other (the "
        "operation is rejected; without X-Actor-Id, none may be given).",
    )
    note: str | None = Field(default=None, max_length=500, description="A short explanation, for people.")


class SubmittedOperation(BaseModel):
    """One operation of a submission: what to do to which record, the changed fields, and the metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["create", "update", "delete"] = Field(description="What to do to the record.")
    record_id: Annotated[str, Field(min_length=1, max_length=128, description="The record's key.")]
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="create: the whole record; update: the changed top-level fields only, each given whole (an "
        "object replaces the stored one: its fields left out are cleared); delete: none.",
    )
    metadata: OperationMetadata


@dataclass(frozen=True, slots=True)
class CheckedOperation:
    """An operation that passed every check: the fields it gives in JSON form, as validated, stored and delivered
    (never a value the client did not give), and for a create the ``record`` the contract makes of them."""

    position: int
    kind: str
    record_id: str
    fields: dict[str, Any]
    metadata: dict[str, Any]
    #: A create's whole record without its key, as the contract validated it (its defaults and derived values
    #: included): what the data-quality rules judge. Neither stored nor delivered.
    record: dict[str, Any] | None = None


@dataclass(slots=True)
class Rejection:
    """An operation refused at intake, with its problem details."""

    position: int
    record_id: str | None
    problem: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The receipt entry."""
        return {"index": self.position, "record_id": self.record_id, "problem": self.problem}


_OPERATION = TypeAdapter(SubmittedOperation)


def _adapter(info: FieldInfo) -> TypeAdapter[Any]:
    """A validator of one contract field, with its constraints."""
    if not info.metadata:
        return TypeAdapter(info.annotation)  # type: ignore[arg-type]
    return TypeAdapter(Annotated[(info.annotation, *info.metadata)])  # type: ignore[arg-type]


class OperationChecker:
    """Checks operations for one database: built once per database, holds the validators of its fields."""

    def __init__(self, contract: type[Contract]) -> None:
        self.contract = contract
        self.key = contract.record_key
        self._key = _adapter(contract.model_fields[self.key])
        self._fields = {name: _adapter(info) for name, info in contract.model_fields.items()}

    def check(self, position: int, raw: Any, decision: Decision, actor: str | None) -> CheckedOperation | Rejection:
        """The checked operation, or its rejection: malformed, a bad key, fields outside the grant, values the
        contract refuses."""
        record_id = raw.get("record_id") if isinstance(raw, dict) and isinstance(raw.get("record_id"), str) else None
        try:
            operation = _OPERATION.validate_python(raw)
            record_id = operation.record_id
            key = str(self._key.validate_python(operation.record_id))
            if operation.metadata.officer not in (None, actor):
                # The audit trail names the request's actor: the sector system must be told the same officer, and
                # none when the request names none (an officer the gateway never saw would be unaudited).
                raise ValidationFailed(
                    f"metadata.officer is not the request's {ACTOR_HEADER}: an operation is made by the officer the "
                    "request names (leave it out, or give the same)."
                )
            fields, record = self._fields_of(operation, key, decision)
        except ValidationError as exc:
            errors = validation_errors(exc.errors(include_input=False, include_url=False))
            return Rejection(position, record_id, ValidationFailed("The operation is invalid.", errors=errors).body())
        except Problem as problem:
            return Rejection(position, record_id, problem.body())
        metadata = operation.metadata.model_dump(mode="json", exclude_none=True)
        if actor is not None:
            metadata.setdefault("officer", actor)
        return CheckedOperation(position, operation.op, key, fields, metadata, record)

    def _fields_of(
        self, operation: SubmittedOperation, key: str, decision: Decision
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The fields to store and deliver, and a create's whole record."""
        fields = operation.fields
        if operation.op == "delete":
            if fields:
                raise ValidationFailed("A delete carries no fields.")
            if not decision.may_delete:
                raise AccessDenied(
                    "Your grant does not allow deleting records: a delete needs a submit grant on every field of "
                    "the record, or one with the delete operation."
                )
            return {}, None
        if self.key in fields and fields[self.key] != key:
            raise ValidationFailed(f"fields.{self.key} differs from record_id; a record's key cannot change.")
        changed = [name for name in fields if name != self.key]
        unknown = sorted(name for name in changed if name not in self._fields)
        if unknown:
            raise ValidationFailed(f"Not fields of {self.contract.contract_id()}: {', '.join(unknown)}.")
        self._check_grant(operation.op, {name: fields[name] for name in changed}, decision)
        if operation.op == "create":
            whole = self.contract.model_validate({**fields, self.key: key}).model_dump(
                mode="json", exclude={self.key}, exclude_none=True
            )
            # Only what the client gave (the paths its grant was checked on), as validated: not a default of the
            # contract nor a value derived from another field, which the client may not be granted to write.
            given = {
                name: _given_part(self.contract, name, fields[name], whole[name]) for name in changed if name in whole
            }
            return given, whole
        if not changed:
            raise ValidationFailed("An update changes at least one field.")
        values: dict[str, Any] = {}
        for name in changed:
            adapter = self._fields[name]
            try:
                values[name] = adapter.dump_python(adapter.validate_python(fields[name]), mode="json")
            except ValidationError as exc:
                errors = [{**e, "loc": ("fields", name, *e["loc"])} for e in exc.errors(include_input=False)]
                raise ValidationFailed("The operation is invalid.", errors=validation_errors(errors)) from None
        return values, None

    def still_allowed(self, op: str, fields: dict[str, Any], decision: Decision) -> None:
        """403 unless ``decision`` (the submitting client's grants now) still allows a stored operation: a delete the
        delete right, a create or an update every field path it writes (as at intake)."""
        if op == "delete":
            if not decision.may_delete:
                raise AccessDenied("The client's grants no longer allow deleting records.")
            return
        self._check_grant(op, {name: value for name, value in fields.items() if name != self.key}, decision)

    def _check_grant(self, op: str, fields: dict[str, Any], decision: Decision) -> None:
        """403 unless the grant covers every field path the operation writes, at the depth reads are granted.

        A create writes the paths it gives (into objects: each nested field given). An update gives whole
        top-level fields, and an object given whole replaces the stored one, clearing the fields it leaves out:
        it writes every field of the object, so the grant must cover the object or each of its fields.
        """
        if decision.fields is None:
            return
        written: list[str] = []
        for name, value in fields.items():
            if op == "create":
                written.extend(_given_paths(self.contract, name, value))
            else:
                written.append(name)
        ungranted = [path for path in written if not _covered(decision, self.contract, path)]
        if not ungranted:
            return
        message = f"Your grant does not cover writing: {', '.join(ungranted)}."
        partial = [p for p in ungranted if any(f.startswith(p + ".") for f in decision.fields)]
        if op == "update" and partial:
            message += (
                f" An update replaces {', '.join(partial)} whole, clearing the fields it leaves out: it needs a "
                "grant on the object or on each of its fields, and your grant covers only part of it."
            )
        raise AccessDenied(message)


def _field_model(contract: type[BaseModel], path: str) -> type[BaseModel] | None:
    """The model of the object at ``path`` in ``contract``, or ``None`` when ``path`` is not an object."""
    current: type[BaseModel] | None = contract
    for part in path.split("."):
        info = current.model_fields.get(part) if current is not None else None
        if info is None:
            return None
        current = nested_model(info.annotation)
    return current


def _covered(decision: Decision, contract: type[BaseModel], path: str) -> bool:
    """Whether the grant covers ``path`` written whole: granted itself (or within a granted object), or an
    object each of whose fields is covered."""
    if decision.covers(path):
        return True
    model = _field_model(contract, path)
    return model is not None and all(_covered(decision, contract, f"{path}.{name}") for name in model.model_fields)


def _given_paths(contract: type[BaseModel], path: str, value: Any) -> list[str]:
    """The field paths a create writes with ``value`` at ``path``: into an object given as a mapping, each
    field it gives; otherwise ``path`` itself."""
    if isinstance(value, dict) and value and _field_model(contract, path) is not None:
        return [found for name, inner in value.items() for found in _given_paths(contract, f"{path}.{name}", inner)]
    return [path]


def _given_part(contract: type[BaseModel], path: str, given: Any, validated: Any) -> Any:
    """The part of ``validated`` (the value of ``path`` in the validated record, JSON form) that ``given`` (what
    the client sent there) gives: into an object given as a mapping, only the fields it gives (as
    :func:`_given_paths` walks them), without those that validate to null."""
    if isinstance(given, dict) and given and isinstance(validated, dict) and _field_model(contract, path) is not None:
        return {
            name: _given_part(contract, f"{path}.{name}", inner, validated[name])
            for name, inner in given.items()
            if name in validated
        }
    return validated
