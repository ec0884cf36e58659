"""The connector SDK: everything an agency developer needs to adapt a sector system to a contract.

A connector is a class with a little metadata and a handful of async methods::

    class LandConnector(Connector[LandConfig]):
        slug = "land"                       # the database id in URLs: /v1/databases/land/...
        title = "National land database"
        contract = LandParcel               # a contracts.Contract subclass
        query_model = LandParcelQuery       # or None when the connector cannot search
        config_model = LandConfig           # a ConnectorConfig subclass
        capabilities = frozenset({Capability.READ, Capability.SEARCH})

        async def health(self) -> HealthReport: ...
        async def get(self, record_id: str) -> LandParcel: ...
        async def search(self, query, *, limit, cursor=None) -> Page: ...

:meth:`Connector.health` (the health probe) and :meth:`Connector.get` are required. The other operations are
optional, raise :class:`OperationNotSupported` unless a connector overrides them, and are declared in
``capabilities`` (:class:`Capability`) when it does: :meth:`Connector.search`, :meth:`Connector.submit` (the write
path: hand a record to the sector system, with an idempotency key) and :meth:`Connector.sample` (records picked at
random, as mapped from the sector system but not validated, for data-quality scans).

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
import json
import time
import types
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import TracebackType
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar, Union, final, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
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
from .secrets import mask_urls

__all__ = [
    "CAPABILITY_METHODS",
    "BadQuery",
    "Capability",
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
    "implemented_capabilities",
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

    @model_validator(mode="before")
    @classmethod
    def _decode_structured_settings(cls, data: Any) -> Any:
        """Decode the JSON text of a structured setting (a mapping, a list, a model): an environment variable
        (``GATEWAY_CONNECTORS__LAND__CONFIG__FIELDS='{"code": "ma"}'``) gives every setting as text. Text that is
        not JSON is left for the setting's validation to refuse."""
        if not isinstance(data, Mapping):
            return data
        decoded: dict[str, Any] | None = None
        for name, value in data.items():
            field_info = cls.model_fields.get(name) if isinstance(name, str) else None
            if field_info is None or not isinstance(value, str) or not _is_structured(field_info.annotation):
                continue
            if not value.lstrip().startswith(("{", "[")):
                continue
            try:
                parsed = json.loads(value)
            except ValueError:
                continue
            decoded = dict(data) if decoded is None else decoded
            decoded[name] = parsed
        return data if decoded is None else decoded


_STRUCTURED = (dict, list, tuple, set, frozenset)


def _is_structured(annotation: Any) -> bool:
    """Whether a setting of type ``annotation`` takes a mapping, a list or a model, and never text."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_structured(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        members = [member for member in get_args(annotation) if member is not type(None)]
        return bool(members) and all(_is_structured(member) for member in members)
    if origin is not None:
        return isinstance(origin, type) and (issubclass(origin, _STRUCTURED) or issubclass(origin, Mapping))
    return isinstance(annotation, type) and (issubclass(annotation, BaseModel) or issubclass(annotation, _STRUCTURED))


class Capability(StrEnum):
    """An operation a connector class implements, declared in its ``capabilities`` (see :class:`Connector`).

    Each but ``read`` is an optional method of :class:`Connector`, which raises :class:`OperationNotSupported`
    unless the class overrides it; the conformance kit checks that a class declares exactly what it overrides.
    """

    READ = "read"
    """:meth:`Connector.get`: every connector reads its records by key (and answers health checks)."""
    SEARCH = "search"
    """:meth:`Connector.search`, with the ``query_model`` its queries take."""
    SUBMIT = "submit"
    """:meth:`Connector.submit` (and :meth:`Connector.submit_many`): the write path."""
    SAMPLE = "sample"
    """:meth:`Connector.sample`: records picked at random, unvalidated, for data-quality scans."""


#: The method of :class:`Connector` that implements each optional capability.
CAPABILITY_METHODS: Mapping[Capability, str] = {
    Capability.SEARCH: "search",
    Capability.SUBMIT: "submit",
    Capability.SAMPLE: "sample",
}


class HealthState(StrEnum):
    """Coarse health of a sector system as seen by its connector."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The outcome of :meth:`Connector.health` (and of :meth:`Connector.check`): the state, the latency of the
    probe when the connector measured it, and a short reason (empty when there is nothing to say).

    ``HealthReport(HealthState.UP)`` is what a connector whose probe succeeded returns.
    """

    state: HealthState
    latency_seconds: float | None = None
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the sector system answers: up or degraded, not down."""
        return self.state is not HealthState.DOWN


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


def implemented_capabilities(cls: type[Connector[Any]]) -> frozenset[Capability]:
    """The capabilities ``cls`` implements: ``read``, and each optional one whose method (see
    :data:`CAPABILITY_METHODS`) it overrides. A class must declare exactly these in ``capabilities``."""
    overridden = {
        capability
        for capability, method in CAPABILITY_METHODS.items()
        if getattr(cls, method) is not getattr(Connector, method)
    }
    return frozenset({Capability.READ, *overridden})


def _declares(cls: type, attribute: str) -> bool:
    """Whether ``cls`` or a base below :class:`Connector` sets ``attribute`` itself."""
    return any(attribute in klass.__dict__ for klass in cls.__mro__ if klass is not Connector and klass is not object)


def _defines_health(cls: type) -> bool:
    """Whether ``cls`` or a base below :class:`Connector` implements :meth:`Connector.health`."""
    return _declares(cls, "health")


def _offers_from_accepts_submissions(self: Any, capability: Capability) -> bool:
    """``offers()`` of a connector written for an earlier SDK, whose ``accepts_submissions`` property said
    whether its configuration turns writes on."""
    if capability is Capability.SUBMIT and not self.accepts_submissions:
        return False
    return Connector.offers(self, capability)


async def _health_from_ping(self: Any) -> HealthReport:
    """``health()`` of a connector written for an earlier SDK: its ``ping()``, which raises on failure."""
    await self.ping()
    return HealthReport(HealthState.UP)


class Connector(ABC, Generic[ConfigT]):
    """Adapts one sector system to one contract.

    Class attributes (metadata):

    * ``slug``: the database id, lower case, used in URLs, scopes (``<slug>:read``) and metric labels;
    * ``title`` and ``description``: for people;
    * ``contract``: the :class:`contracts.Contract` subclass of the records served;
    * ``query_model``: the :class:`contracts.ContractQuery` subclass accepted by :meth:`search`, or ``None``;
    * ``config_model``: the :class:`ConnectorConfig` subclass of the configuration;
    * ``capabilities``: the :class:`Capability` members the class implements, ``read`` and each optional
      operation it overrides (``frozenset({Capability.READ, Capability.SEARCH})``); the gateway offers what is
      declared (see :meth:`offers`) and the conformance kit checks it against the methods.

    Instances must be safe to use from many concurrent tasks.
    """

    slug: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    config_model: ClassVar[type[ConnectorConfig]]
    contract: type[Contract]
    query_model: type[ContractQuery] | None = None
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ})

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
    async def health(self) -> HealthReport:
        """Probe the sector system with its cheapest real call and report its state: the one health probe a
        connector implements.

        Return ``HealthReport(HealthState.UP)`` when the call succeeds; :attr:`HealthState.DEGRADED` or
        :attr:`HealthState.DOWN` with a ``message`` when the system answers but says it is unwell (a status page,
        a replica behind). Raise an :class:`UpstreamError` when the call fails (unreachable, timed out, refused,
        garbage): the gateway records its ``reason``. The gateway bounds the call with its own deadline; the
        canary record is checked separately (:meth:`canary`), after a probe that is not down.

        Connectors written for an earlier SDK implement ``ping()`` instead (``async def ping(self) -> None``,
        raising on failure); it still works, with a :class:`DeprecationWarning` when the class is defined: their
        ``health()`` calls it and reports up when it returns.
        """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check a connector class as it is defined, and adapt one written for an earlier SDK (each with a
        :class:`DeprecationWarning`): ``ping()`` becomes its ``health()``, an ``accepts_submissions`` property
        narrows its ``offers()``, and a concrete class that declares no ``capabilities`` gets those it implements
        (:func:`implemented_capabilities`). Overriding :meth:`check` is refused (``TypeError``)."""
        super().__init_subclass__(**kwargs)
        if "check" in cls.__dict__:
            raise TypeError(
                f"{cls.__qualname__} overrides Connector.check(), which the SDK provides: implement health() instead"
            )
        if "ping" in cls.__dict__ and not _defines_health(cls):
            warnings.warn(
                f"{cls.__qualname__}: Connector.ping() is deprecated, implement health() instead (returning "
                "HealthReport(HealthState.UP) where ping() returned)",
                DeprecationWarning,
                stacklevel=3,
            )
            cls.health = _health_from_ping  # type: ignore[method-assign]
        if "accepts_submissions" in cls.__dict__ and not _declares(cls, "offers"):
            warnings.warn(
                f"{cls.__qualname__}: Connector.accepts_submissions is deprecated, override offers() instead",
                DeprecationWarning,
                stacklevel=3,
            )
            cls.offers = _offers_from_accepts_submissions  # type: ignore[method-assign]
        concrete = not any(getattr(getattr(cls, name), "__isabstractmethod__", False) for name in ("get", "health"))
        if concrete and not _declares(cls, "capabilities"):
            cls.capabilities = implemented_capabilities(cls)
            warnings.warn(
                f"{cls.__qualname__} does not declare its capabilities; inferred from its methods as "
                f"capabilities = frozenset({{{', '.join(sorted(f'Capability.{c.name}' for c in cls.capabilities))}}}): "
                "declare them (inferring them is deprecated)",
                DeprecationWarning,
                stacklevel=3,
            )

    @final
    async def check(self) -> HealthReport:
        """Probe the sector system through :meth:`health` without ever raising (for readiness probes and tools):
        a failure becomes a :attr:`HealthState.DOWN` report whose message says why, with the credentials and
        query values of the URLs in it masked (:func:`connectors.secrets.mask_urls`: the message may be shown to
        anyone). The latency is the probe's
        own, or else the time the call took; the message of a healthy probe is ``"ok"`` unless it gave one."""
        started = time.perf_counter()
        try:
            report = await self.health()
        except ConnectorError as exc:
            return HealthReport(HealthState.DOWN, time.perf_counter() - started, mask_urls(exc.message))
        except Exception as exc:  # a check must never raise, whatever the connector does
            message = mask_urls(f"{type(exc).__name__}: {exc}")
            return HealthReport(HealthState.DOWN, time.perf_counter() - started, message)
        latency = report.latency_seconds if report.latency_seconds is not None else time.perf_counter() - started
        message = mask_urls(report.message) if report.message else ("ok" if report.ok else "the connector reports down")
        return replace(report, latency_seconds=latency, message=message)

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

    def offers(self, capability: Capability) -> bool:
        """Whether this instance offers ``capability``: its class declares it (``capabilities``), and a search
        also needs a ``query_model``. A connector whose operations depend on its configuration (writes turned on
        by a setting...) narrows it, never widening what the class declares. The gateway offers an operation,
        its routes and its grants only when this is true."""
        if capability not in self.capabilities:
            return False
        return capability is not Capability.SEARCH or self.query_model is not None

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
