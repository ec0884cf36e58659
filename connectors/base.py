"""The connector SDK: everything an agency developer needs to adapt a sector system to a contract.

A connector is a class with a little metadata and a handful of async methods::

    class LandConnector(Connector[LandConfig]):
        slug = "land"                       # the database id in URLs: /v1/databases/land/...
        title = "National land database"
        contract = LandParcel               # a contracts.Contract subclass
        query_model = LandParcelQuery       # or None when the connector cannot search
        config_model = LandConfig           # a ConnectorConfig subclass

        async def get(self, record_id: str) -> LandParcel: ...
        async def search(self, query, *, limit, cursor=None) -> Page: ...

Two operations are optional and raise :class:`OperationNotSupported` unless a connector overrides them:
:meth:`Connector.submit` (the write path: hand a record to the sector system, with an idempotency key) and
:meth:`Connector.sample` (records picked at random, as mapped from the sector system but not validated, for
data-quality scans).

The gateway builds one instance per configured database, calls :meth:`Connector.start` once, then serves
requests concurrently from that instance, and calls :meth:`Connector.close` on shutdown. Errors are the
classes of :mod:`connectors.errors`; the gateway turns them into HTTP answers. Records returned by ``get`` and
``search`` must be validated instances of ``contract`` (use :meth:`Connector.to_record`).

Connectors are found through the entry-point group ``gateway.connectors``: a package adds one with::

    [project.entry-points."gateway.connectors"]
    land = "land_connector:LandConnector"
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails
from pydantic_core.core_schema import ErrorType

from contracts import Contract, ContractQuery

from .context import RequestContext, current_context
from .errors import (
    BadQuery,
    ConnectorConfigError,
    ConnectorError,
    ContractViolation,
    OperationNotSupported,
    RecordNotFound,
    SubmissionRejected,
    UpstreamError,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = [
    "BadQuery",
    "CheckResult",
    "Connector",
    "ConnectorConfig",
    "ConnectorConfigError",
    "ConnectorError",
    "ContractViolation",
    "HealthReport",
    "HealthState",
    "OperationKind",
    "OperationNotSupported",
    "Page",
    "RecordNotFound",
    "RequestContext",
    "SubmissionRejected",
    "SubmitOperation",
    "SubmitResult",
    "SubmitStatus",
    "UpstreamError",
    "UpstreamRefused",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class ConnectorConfig(BaseModel):
    """Base class of connector configuration models.

    Subclasses declare their settings with ``Field(title=..., description=...)`` so that the configuration
    exports as JSON Schema, and use ``SecretStr`` for anything secret (passwords, URLs with credentials), so
    that it never shows up in logs or error messages.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        title="Timeout",
        description="Deadline, in seconds, for one call to the sector system.",
    )
    canary: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        title="Canary record",
        description=(
            "Key of one record known to exist in the sector system. Health checks fetch it and validate it "
            "against the contract (see Connector.canary), so that a system answering broken records is not "
            "taken for healthy."
        ),
    )


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of :meth:`Connector.check`: can the sector system be reached and queried at all?"""

    ok: bool
    message: str = ""
    latency_seconds: float | None = None


class HealthState(StrEnum):
    """Coarse health of a sector system as seen by its connector."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The outcome of :meth:`Connector.health`: state, latency of the probe and a short reason."""

    state: HealthState
    latency_seconds: float | None = None
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of search results; ``next_cursor`` is ``None`` on the last page.

    The cursor is the connector's own opaque string: the gateway passes it back unchanged in the next call.
    ``skipped`` are the records of the page that matched but break the contract: they are left out of ``items``
    and reported here, each once over a walk, with its key when the connector could read it (see the search
    rules in :meth:`Connector.search`); the gateway counts them as contract violations and tells the caller how
    many records it left out.
    """

    items: Sequence[Contract]
    next_cursor: str | None = None
    skipped: Sequence[ContractViolation] = ()


class OperationKind(StrEnum):
    """What a submitted operation does to its record."""

    CREATE = "create"
    """A new record: ``fields`` holds the whole record (validated against the contract)."""
    UPDATE = "update"
    """A change: ``fields`` holds the changed top-level fields only, each validated against the contract; an
    object is given whole and replaces the stored one (its fields left out are cleared)."""
    DELETE = "delete"
    """The record is removed (or closed, as the sector system does it): ``fields`` is empty."""


@dataclass(frozen=True, slots=True)
class SubmitOperation:
    """One operation handed to the sector system through :meth:`Connector.submit` (the write path).

    ``fields`` are in JSON form (dates as ISO text, codes as strings) and already validated by the gateway
    against the contract and the sender's grant. ``metadata`` is what the sender stated about the change
    (``changed_at``, ``source_reference``, ``officer``...). ``idempotency_key`` identifies this delivery: the
    gateway sends the same key again when it retries, and a connector should store it with the change (a
    ledger table, an ``Idempotency-Key`` header) so that the sector system applies it once.
    """

    kind: OperationKind
    record_id: str
    idempotency_key: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)


class SubmitStatus(StrEnum):
    """What the sector system did with a submission."""

    APPLIED = "applied"
    """Written: readers see it now."""
    ACCEPTED = "accepted"
    """Taken for processing (a queue, a review by an officer); readers may not see it yet."""
    DUPLICATE = "duplicate"
    """The idempotency key was seen before; nothing new was done and the first outcome stands."""


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The outcome of :meth:`Connector.submit`: the status and the sector system's own reference, if any."""

    status: SubmitStatus
    reference: str | None = None


ConfigT = TypeVar("ConfigT", bound=ConnectorConfig)
RawT = TypeVar("RawT")

_NO_CONTEXT = RequestContext()

_BUILTIN_ERROR_TYPES = frozenset(get_args(ErrorType))
# Context entries of pydantic's own errors that quote (part of) the rejected input instead of the rule.
_INPUT_CONTEXT = frozenset({"error", "tag", "attribute", "tz_actual", "encoding_error"})


def describe_violation(error: ErrorDetails) -> str:
    """``"field.path: rule"`` for one validation error of upstream data, without the rejected value.

    Pydantic's own messages state the rule (``Input should be 'male' or 'female'``) and are kept; value errors
    and the contracts' custom errors are written for API callers checking their own input and quote it
    (a personal id, a name...), so only their type is kept (``personal_id: invalid value (value_error)``).
    """
    where = ".".join(str(part) for part in error["loc"]) or "(record)"
    kind = error["type"]
    if kind in _BUILTIN_ERROR_TYPES and not _INPUT_CONTEXT.intersection(error.get("ctx") or {}):
        return f"{where}: {error['msg']}"
    return f"{where}: invalid value ({kind})"


class Connector(ABC, Generic[ConfigT]):
    """Adapts one sector system to one contract.

    Class attributes (metadata):

    * ``slug``: the database id, lower case, used in URLs, scopes (``<slug>:read``) and metric labels;
    * ``title`` and ``description``: for people;
    * ``contract``: the :class:`contracts.Contract` subclass of the records served;
    * ``query_model``: the :class:`contracts.ContractQuery` subclass accepted by :meth:`search`, or ``None``;
    * ``config_model``: the :class:`ConnectorConfig` subclass of the configuration.

    Instances must be safe to use from many concurrent tasks.
    """

    slug: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    config_model: ClassVar[type[ConnectorConfig]]
    contract: type[Contract]
    query_model: type[ContractQuery] | None = None

    def __init__(self, config: ConfigT) -> None:
        self.config = config

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | ConnectorConfig) -> Self:
        """Build a connector from raw settings, raising :class:`ConnectorConfigError` with readable errors."""
        if isinstance(raw, ConnectorConfig):
            raw = raw.model_dump()
        try:
            config = cls.config_model.model_validate(raw)
        except ValidationError as exc:
            errors = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()]
            raise ConnectorConfigError(
                f"invalid configuration for connector {cls.slug!r}: " + "; ".join(errors), errors=errors
            ) from None
        return cls(config)  # type: ignore[arg-type]

    @property
    def context(self) -> RequestContext:
        """The context of the call in progress (who asks, why, the request id, the trace; see
        :mod:`connectors.context`); an empty one outside a call made by the gateway."""
        return current_context() or _NO_CONTEXT

    def config_error(self, problem: str) -> ConnectorConfigError:
        """The error for ``problem``, found in this connector's configuration once it was parsed (a mapping that
        does not fit the contract...): it names the connector, as the errors of :meth:`from_config` do."""
        return ConnectorConfigError(f"invalid configuration for connector {self.slug!r}: {problem}", errors=[problem])

    async def start(self) -> None:
        """Open pools or sessions. Called once before the first request; must not fail when upstream is down."""

    async def close(self) -> None:
        """Release pools and sessions. Called once on shutdown."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abstractmethod
    async def ping(self) -> None:
        """Make the cheapest real call to the sector system; raise an :class:`UpstreamError` on failure."""

    async def check(self) -> CheckResult:
        """Tell whether the sector system answers. Never raises: failures become ``ok=False`` with a reason."""
        started = time.perf_counter()
        try:
            await self.ping()
        except ConnectorError as exc:
            return CheckResult(False, exc.message, time.perf_counter() - started)
        except Exception as exc:  # a check must never raise, whatever the connector does
            return CheckResult(False, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
        return CheckResult(True, "ok", time.perf_counter() - started)

    async def health(self) -> HealthReport:
        """Report the health of the sector system; by default derived from :meth:`check`."""
        result = await self.check()
        return HealthReport(
            state=HealthState.UP if result.ok else HealthState.DOWN,
            latency_seconds=result.latency_seconds,
            message=result.message,
        )

    @property
    def canary_id(self) -> str | None:
        """Key of the canary record this instance declares (the ``canary`` setting), or ``None``."""
        value = getattr(self.config, "canary", None)
        return value if isinstance(value, str) and value else None

    async def canary(self) -> bool:
        """Deep health check: fetch the canary record and validate it against the contract.

        Returns ``False`` when no canary is declared (nothing was checked), ``True`` when the canary record was
        fetched and is valid. Raises what :meth:`get` raises otherwise: :class:`ContractViolation` when the record
        breaks the contract, an :class:`UpstreamError` when the system fails or answers garbage,
        :class:`RecordNotFound` when the canary record is gone. Connectors may override it with their own
        equivalent (a known query, a checksum) as long as they keep this contract.
        """
        record_id = self.canary_id
        if record_id is None:
            return False
        await self.get(record_id)  # get() validates the record against the contract
        return True

    @abstractmethod
    async def get(self, record_id: str) -> Contract:
        """Return the record whose key is ``record_id``, or raise :class:`RecordNotFound`."""

    async def search(self, query: ContractQuery, *, limit: int, cursor: str | None = None) -> Page:
        """Return one page of at most ``limit`` records matching ``query``, in a stable order.

        The search rules (checked by the conformance kit, :mod:`connectors.testing`):

        * walking the pages with the returned cursors visits every matching record exactly once, in an order
          that does not depend on the page size;
        * a caller may change ``limit`` from one page to the next of the same walk: the cursor stays valid and
          the walk neither repeats nor skips a record;
        * a page holds at most ``limit`` records, counting those skipped; only the last page may be empty (or a
          page whose records were all skipped);
        * a record that breaks the contract does not fail its page: it is left out of ``items`` and reported in
          :attr:`Page.skipped` as a :class:`ContractViolation` (with its key when it can be read), and the
          walk goes on (:meth:`valid_records` does this);
        * a cursor that is not one of the connector's is refused with :class:`BadQuery`.
        """
        raise OperationNotSupported(f"connector {self.slug!r} does not support search")

    @property
    def accepts_submissions(self) -> bool:
        """Whether :meth:`submit` works for this instance: by default, whether the class overrides it. A
        connector whose writes depend on its configuration overrides this property."""
        return type(self).submit is not Connector.submit

    async def submit(self, operation: SubmitOperation) -> SubmitResult:
        """Apply one create, update or delete to the sector system (optional; the default raises
        :class:`OperationNotSupported`).

        The gateway delivers the operations of one record in order, one at a time, and at least once: it calls
        again with the same ``idempotency_key`` after a failure, a timeout or a crash, so the sector system must
        not apply it twice (answer :attr:`SubmitStatus.DUPLICATE` when it recognises the key). Raise
        :class:`SubmissionRejected` for a refusal that would happen again, an :class:`UpstreamError` for a
        failure worth retrying.
        """
        raise OperationNotSupported(f"connector {self.slug!r} does not accept submissions")

    async def submit_many(self, operations: Sequence[SubmitOperation]) -> list[SubmitResult | ConnectorError]:
        """Apply several operations, each on a different record, and return each one's result or error, in
        order. The gateway delivers in batches through this method; the default calls :meth:`submit` for each,
        concurrently. A connector that can apply a batch in one transaction (one commit instead of many)
        overrides it: each operation must still succeed or fail on its own.
        """

        async def one(operation: SubmitOperation) -> SubmitResult | ConnectorError:
            try:
                return await self.submit(operation)
            except ConnectorError as exc:
                return exc

        return list(await asyncio.gather(*(one(operation) for operation in operations)))

    async def sample(self, limit: int) -> Sequence[dict[str, Any]]:
        """Return at most ``limit`` records picked at random, as contract data mapped from the sector system but
        *not* validated (optional; the default raises :class:`OperationNotSupported`).

        Data-quality scans read records this way because the records that fail the contract's validation are
        exactly the ones they look for. When the sector system holds fewer than ``limit`` records, all of them
        are returned.
        """
        raise OperationNotSupported(f"connector {self.slug!r} cannot sample its records")

    def to_record(self, data: Mapping[str, Any], *, record_id: str | None = None) -> Contract:
        """Validate upstream data against the contract, raising :class:`ContractViolation` on failure.

        The error lists the failed fields and rules, never the values, so that it is safe to log. Its
        ``record_id`` is ``record_id``, or else the record's key as found in ``data`` (when it is there).
        """
        try:
            return self.contract.model_validate(data)
        except ValidationError as exc:
            errors = [describe_violation(e) for e in exc.errors(include_input=False, include_url=False)]
            raise self.violation(errors, record_id=record_id or self.key_in(data)) from None

    def violation(self, errors: Sequence[str], *, record_id: str | None = None) -> ContractViolation:
        """The :class:`ContractViolation` of one record of this connector that breaks the rules ``errors``
        (``"field.path: rule"`` strings, without values)."""
        return ContractViolation(
            f"record from {self.slug!r} violates {self.contract.contract_id()}", record_id=record_id, errors=errors
        )

    def key_in(self, data: Any) -> str | None:
        """The record key in upstream contract ``data``, as text, when it is there (a string or an integer)."""
        key = data.get(self.contract.record_key) if isinstance(data, Mapping) else None
        if isinstance(key, str | int) and not isinstance(key, bool) and str(key):
            return str(key)
        return None

    def valid_records(
        self, raw: Iterable[RawT], convert: Callable[[RawT], Contract]
    ) -> tuple[list[Contract], list[ContractViolation]]:
        """The records of one search page, and the violations of those that break the contract: ``convert``
        turns one raw record into a validated one (raising :class:`ContractViolation`), and a record it refuses
        is left out and reported instead of failing the page (the search rules of :meth:`search`)::

            records, skipped = self.valid_records(rows, self._to_record)
            return Page(items=records, next_cursor=cursor, skipped=skipped)
        """
        records: list[Contract] = []
        skipped: list[ContractViolation] = []
        for item in raw:
            try:
                records.append(convert(item))
            except ContractViolation as exc:
                skipped.append(exc)
        return records, skipped
