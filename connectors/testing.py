"""The conformance kit: the standard tests every connector must pass, run with one statement.

An agency that writes a connector adds a test file with one statement (plus the fixtures that give it a real
sector system to talk to), in the manner of the Singer SDK's ``get_tap_test_class`` and Airbyte's standard tests::

    from connectors.testing import SearchCase, connector_test_class, fixture
    from land_connector import LandConnector

    TestLandConnector = connector_test_class(
        LandConnector,
        config={"base_url": fixture("land_api_url"), "api_key": "test-key"},
        known_ids=["LD-0001", "LD-0002"],
        missing_id="LD-9999",
        unreachable_config={"base_url": "http://127.0.0.1:9", "api_key": "test-key"},
        slow_config={"base_url": fixture("hanging_land_api_url"), "api_key": "test-key", "timeout_seconds": 0.5},
        searches=[SearchCase(LandQuery(owner="Nguyễn Văn An"), expected_ids=["LD-0001"])],
    )

Any argument, or any value inside a dict, list or :class:`SearchCase`, may be ``fixture("name")``: the value of
that pytest fixture (a live server's URL, a seeded database...), looked up when the tests run. Nothing is mocked:
the tests call the sector system the configuration points at.

The tests check that ``capabilities`` declares exactly the operations the class implements; that the configuration
model exports a JSON Schema with a description for every setting and keeps secrets secret; that a bad configuration
is refused with a clear :class:`ConnectorConfigError` that quotes no secret; that ``health()`` reports a reachable
system as up and an unreachable one as down or raises an :class:`UpstreamError` for it (``check()`` never raising);
that ``get()`` returns valid contract records for the known keys, also under concurrency, with the values
``known_records`` gives (a field read from the wrong field of the system fails), and raises :class:`RecordNotFound`
for the missing one; that searches keep the search rules of :meth:`Connector.search
<connectors.base.Connector.search>`: every search walks all its pages, at several page sizes and with the page size
changed mid-walk, returning every record exactly once and in a stable order, and a record that breaks the contract
(declared in ``SearchCase.invalid_ids``) is left out of its page and reported in ``Page.skipped`` instead of failing
the page, and every record a search finds is the one ``get()`` returns for its key; that ``canary()`` fetches the
declared canary record and reports a missing one; that a slow system makes calls fail with :class:`UpstreamTimeout`
within the configured deadline, a deadline that follows the ``timeout_seconds`` setting, and that waiting for it
does not block the event loop (no blocking call in ``async`` code); that a call to it, cancelled (as the gateway
cancels a call at its request deadline), ends at once, cancelled; that ``close()`` closes every connection the
connector opened; that no secret of the configuration appears in
an error, any error chained to it, or a log record of any level; that a system failing in the other ways a real one
does (:class:`UpstreamFailure`: 5xx, 401, 403, 429, a malformed answer, a reset connection) makes ``get()`` and
``search()`` raise an :class:`UpstreamError` (never :class:`RecordNotFound`, never a raw exception) and ``health()``
and ``check()`` report it not up; that every record ``get()`` and ``search()`` return is valid against its contract;
that a cursor that is not one of the connector's is refused with :class:`BadQuery`; that operations the connector
does not offer raise :class:`OperationNotSupported` (submissions too, when no writable configuration is given: a
connector that takes submissions then fails, as its writes went unchecked); and, for a connector whose configuration
has ``context_headers`` (:class:`connectors.context.ContextForwarding`), that every call carries the request context
in the headers it names, and nothing when it names none.

A check that needs a library the kit does not install (``jsonschema``, in the connector's test dependencies)
fails, naming it, when it is missing: checks are skipped only when they do not apply (no searches given, no
search declaring broken records, no request context to forward, a failure the sector system cannot produce...),
never because something is missing.

The request-context check needs to see what the sector system received: pass ``received_headers``, a callable
(or a fixture giving one) that returns the headers of every request the system received so far. The simulators'
servers record them (``simulators.http.Misbehaving.received.headers``)::

    @pytest.fixture
    def land_api_received(land_api) -> Callable[[], list[Mapping[str, str]]]:
        return land_api.middleware.received.headers

    TestLandConnector = connector_test_class(..., received_headers=fixture("land_api_received"))

The kit makes the sector system fail through ``fail_upstream``, a callable (or a fixture giving one) that makes
the system ``config`` points at fail in the way it is told from its next request on, and behave again when told
``None``. The simulators' servers do it through their misbehaviour switch (the package ``gateway connector new``
writes shows how, in its ``tests/conftest.py``)::

    FAILURES = {
        UpstreamFailure.SERVER_ERROR: Misbehaviour(mode="error", status=500),
        UpstreamFailure.UNAVAILABLE: Misbehaviour(mode="error", status=503),
        UpstreamFailure.UNAUTHORIZED: Misbehaviour(mode="error", status=401),
        ...
    }

    @pytest.fixture
    def fail_land_api(land_api) -> Callable[[UpstreamFailure | None], None]:
        return lambda failure: land_api.switch.set(FAILURES[failure] if failure else Misbehaviour())

    TestLandConnector = connector_test_class(..., fail_upstream=fixture("fail_land_api"))

A failure that comes with a place rather than a switch (a file that is not a database, a view whose reading
fails, an account that may not read the table) is given as a configuration instead, in ``failing_configs``; a
failure the sector system cannot produce at all (a database has no HTTP 429) is given there as the sentence that
says why, which the kit's check of it is skipped with.

A failed check says what is wrong, with the values involved. pytest shows the values an ``assert`` compared only
in the modules it rewrites; this one is rewritten through the distribution's pytest plugin
(:mod:`connectors.pytest_plugin`, the ``pytest11`` entry point ``axis_gateway_conformance``), which pytest loads
before the tests import the kit (``-p connectors.pytest_plugin`` where plugins are not loaded automatically).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from contracts import Contract, ContractQuery
from contracts.compatibility import PUBLISHED, check_contract

from .base import (
    CAPABILITY_METHODS,
    BadQuery,
    Capability,
    Connector,
    ConnectorConfig,
    ConnectorConfigError,
    ContractViolation,
    HealthReport,
    HealthState,
    OperationKind,
    OperationNotSupported,
    Page,
    RecordNotFound,
    SubmissionRejected,
    SubmitOperation,
    SubmitStatus,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    describe_violation,
    implemented_capabilities,
)
from .context import CONTEXT_FIELDS, RequestContext, new_traceparent, use_context
from .discovery import ENTRY_POINT_GROUP
from .errors import ConnectorError
from .secrets import is_secret_name

__all__ = [
    "ConformanceCase",
    "ConnectorConformance",
    "FixtureValue",
    "SearchCase",
    "UpstreamFailure",
    "connector_test_class",
    "fixture",
]

_SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_LIMITS = (1, 2, 3, 7, 100)
#: Page sizes changed in the middle of a walk (a caller may): the n-th page is asked with the n-th size (the last
#: one for the pages after).
_MIXED_LIMITS = ((3, 5, 2, 100), (100, 1, 7, 2, 1), (2, 1, 3))


def _require(module: str) -> Any:
    """The module ``module``, which a conformance check needs; the check fails (never skips) without it, naming
    what to install: a connector whose checks did not run has not passed them."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(
            f"the conformance kit needs {module!r} for this check, and it is not installed ({exc}): add it to the "
            f"connector's test dependencies (pip install {module})",
            pytrace=False,
        )


@dataclass(frozen=True, slots=True)
class FixtureValue:
    """A placeholder for the value of the pytest fixture ``name``; made by :func:`fixture`."""

    name: str


def fixture(name: str) -> Any:
    """Stand for the value of the pytest fixture ``name`` in an argument of :func:`connector_test_class`."""
    return FixtureValue(name)


class UpstreamFailure(StrEnum):
    """A way a sector system fails, which the kit makes it fail in (through ``fail_upstream`` or
    ``failing_configs``, see :func:`connector_test_class`) to check that the connector reports it as an
    :class:`UpstreamError`, and its health probe as not up."""

    SERVER_ERROR = "server_error"
    """An internal error: HTTP 500 (a database: a statement failing in it)."""
    UNAVAILABLE = "unavailable"
    """HTTP 503: the system is there but not serving."""
    UNAUTHORIZED = "unauthorized"
    """HTTP 401: the gateway's credentials are refused (a rotated key, an expired token; a database: an account
    it does not know)."""
    FORBIDDEN = "forbidden"
    """HTTP 403: the credentials are known but may not do this (a database: a table the account may not read)."""
    RATE_LIMITED = "rate_limited"
    """HTTP 429: too many calls."""
    MALFORMED = "malformed"
    """An answer that is not what the protocol says: a truncated JSON or XML body (a database: a file that is
    not one)."""
    RESET = "reset"
    """The connection is reset (or closed) before any answer."""

    @property
    def description(self) -> str:
        """What the sector system does, for the kit's messages: ``"answers HTTP 503 (unavailable)"``."""
        return _FAILURE_DESCRIPTIONS[self]

    @property
    def noticed_by_health(self) -> bool:
        """Whether a health probe must notice this failure: every failure but a malformed answer (a probe may
        read the status of its answer and nothing more)."""
        return self is not UpstreamFailure.MALFORMED


_FAILURE_DESCRIPTIONS = {
    UpstreamFailure.SERVER_ERROR: "fails with an internal error (HTTP 500)",
    UpstreamFailure.UNAVAILABLE: "answers HTTP 503 (unavailable)",
    UpstreamFailure.UNAUTHORIZED: "refuses the gateway's credentials (HTTP 401)",
    UpstreamFailure.FORBIDDEN: "refuses the gateway access (HTTP 403)",
    UpstreamFailure.RATE_LIMITED: "limits the rate of calls (HTTP 429)",
    UpstreamFailure.MALFORMED: "answers something malformed (a truncated body)",
    UpstreamFailure.RESET: "resets the connection without answering",
}


@dataclass(frozen=True, slots=True)
class SearchCase:
    """A search to walk: ``query``, the keys of every record it must find (when known), and ``invalid_ids``, the
    keys of the records it matches in the sector system that break the contract (when it matches some on
    purpose): those must be left out of the pages and reported in :attr:`Page.skipped`, each once."""

    query: ContractQuery
    expected_ids: Collection[str] | None = None
    invalid_ids: Collection[str] | None = None


@dataclass(frozen=True, slots=True)
class ConformanceCase:
    """The arguments of :func:`connector_test_class`, with every fixture placeholder replaced by its value."""

    config: Mapping[str, Any]
    known_ids: Sequence[str]
    missing_id: str
    unreachable_config: Mapping[str, Any]
    slow_config: Mapping[str, Any] | None = None
    searches: Sequence[SearchCase] = ()
    invalid_configs: Sequence[Mapping[str, Any]] = ()
    grace_seconds: float = 1.0
    writable_config: Mapping[str, Any] | None = None
    new_record: Mapping[str, Any] | None = None
    update: Mapping[str, Any] | None = None
    received_headers: Callable[[], Sequence[Mapping[str, str]]] | None = None
    fail_upstream: Callable[[UpstreamFailure | None], object] | None = None
    failing_configs: Mapping[str, Mapping[str, Any] | str] | None = None
    known_records: Mapping[str, Mapping[str, Any]] | None = None
    published_contracts: str | Path | None = None


def _resolve(value: Any, request: pytest.FixtureRequest) -> Any:
    if isinstance(value, FixtureValue):
        return _resolve(request.getfixturevalue(value.name), request)
    if isinstance(value, Mapping):
        return {key: _resolve(item, request) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_resolve(item, request) for item in value)
    if isinstance(value, SearchCase):
        return SearchCase(value.query, _resolve(value.expected_ids, request), _resolve(value.invalid_ids, request))
    return value


def _secrets(value: Any) -> set[str]:
    """Every secret value inside a validated configuration (long enough to be recognisable)."""
    found: set[str] = set()
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if len(secret) >= 4:
            found.add(secret)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found |= _secrets(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= _secrets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= _secrets(item)
    return found


def _case_secrets(case: ConformanceCase, config_model: type[ConnectorConfig]) -> set[str]:
    """Every secret of every configuration of ``case`` that validates (the invalid ones build no connector)."""
    configs = [case.config, case.unreachable_config, case.slow_config, case.writable_config]
    configs += [config for config in (case.failing_configs or {}).values() if isinstance(config, Mapping)]
    found: set[str] = set()
    for config in configs:
        if config is None:
            continue
        try:
            found |= _secrets(config_model.model_validate(config))
        except ValidationError:
            continue
    return found


def _error_text(error: BaseException) -> str:
    """What a log of ``error`` shows of it: the type and text of the error and of every error in its chain
    (``raise ... from``, or raised while handling another), and a connector error's ``message`` and ``errors``."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        if isinstance(current, ConnectorError):
            parts += [current.message, *map(str, getattr(current, "errors", ()) or ())]
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n".join(parts)


def _assert_no_secret(text: str, secrets: Collection[str], where: str = "a message") -> None:
    leaked = [secret for secret in secrets if secret in text]
    for secret in leaked:
        text = text.replace(secret, "<the secret>")
    if leaked:  # no assert: pytest would show the secret, comparing
        pytest.fail(f"a secret of the configuration appears in {where}: {text!r}", pytrace=False)


class _Records(logging.Handler):
    """Keeps every log record emitted while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _AtLeast(logging.Filter):
    """Lets through the records at ``level`` or above: the other handlers of the root logger see what they saw
    before the kit lowered its level to catch debug records."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


def _logged_text(record: logging.LogRecord) -> str:
    """What a log record shows: its message with its arguments, its exception's chain, its stack."""
    try:
        text = record.getMessage()
    except Exception:  # arguments that do not fit the message: shown as they are
        text = f"{record.msg} {record.args!r}"
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + _error_text(record.exc_info[1])
    extra = {k: v for k, v in record.__dict__.items() if k not in _LOG_RECORD_ATTRIBUTES}
    if extra:  # structured fields (logger.info("...", extra={...}), structlog's event dict)
        text += "\n" + repr(extra)
    return text + (f"\n{record.stack_info}" if record.stack_info else "")


_LOG_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _stringify(value: Any) -> Any:
    """``value`` in its JSON form, for comparing a known record's values with a returned record's."""
    return to_jsonable_python(value, fallback=str)


def _known_record_problems(record: Contract, expected: Mapping[str, Any], what: str) -> list[str]:
    """The fields of ``record`` (returned by ``what``) whose values are not those of ``expected`` (contract field
    -> value, for some or all of the fields), with both values: a field mapped from the wrong field of the sector
    system, or converted wrongly."""
    dumped = record.model_dump(mode="json")
    unknown = sorted(set(expected) - set(type(record).model_fields))
    problems = (
        [f"known_records names fields {unknown} that the contract {type(record).__name__} lacks"] if unknown else []
    )
    for name, value in expected.items():
        if name in unknown:
            continue
        want, got = _stringify(value), dumped.get(name)
        if got != want:
            problems.append(f"{what}.{name} is {got!r}, not {want!r}")
    return problems


def _differing(first: BaseModel, second: BaseModel) -> list[str]:
    """The names of the fields whose values differ between two models."""
    names = {*first.__dict__, *second.__dict__}
    return sorted(name for name in names if first.__dict__.get(name, ...) != second.__dict__.get(name, ...))


def _record_problems(record: Any, contract: type[Contract], what: str) -> list[str]:
    """What makes ``record``, returned by ``what``, something other than a valid record of ``contract``: not an
    instance of it, or one that its contract's validation would refuse (a record built with ``model_construct``,
    fields missing or invalid) or change (values not validated); each problem names the rules broken, the fields
    changed, never their values."""
    if not isinstance(record, contract):
        return [f"{what} returned a {type(record).__name__}, not a {contract.__name__} record"]
    try:
        dumped = record.model_dump_json(warnings="none")
    except Exception as exc:  # a record whose values do not serialise is what the check looks for
        return [f"{what} returned a {contract.__name__} that cannot be serialised ({type(exc).__name__}: {exc})"]
    try:
        validated = contract.model_validate_json(dumped)
    except ValidationError as exc:
        rules = "; ".join(describe_violation(e) for e in exc.errors(include_input=False, include_url=False))
        return [
            f"{what} returned a {contract.__name__} that breaks its contract ({rules}): return records validated "
            "by the contract (Connector.to_record), never built with model_construct"
        ]
    if validated != record:
        changed = _differing(validated, record)
        return [
            f"{what} returned a {contract.__name__} that is not its own validated form (fields changed by "
            f"validating it: {', '.join(changed) or 'none, yet it differs'}): return records validated by the "
            "contract (Connector.to_record)"
        ]
    return []


def _schema_properties(schema: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(model, property, its schema) for the top-level model and every model in ``$defs``."""
    models = [(str(schema.get("title", "(config)")), schema)]
    models += [(name, definition) for name, definition in schema.get("$defs", {}).items()]
    return [
        (model, name, prop) for model, definition in models for name, prop in definition.get("properties", {}).items()
    ]


async def _walk(connector: Connector[Any], query: ContractQuery, limits: Sequence[int], bound: int) -> list[Page]:
    """Pages of ``query``, the n-th fetched with ``limits[min(n, len - 1)]``, until the last one."""
    try:
        pages = [await connector.search(query, limit=limits[0])]
        while pages[-1].next_cursor is not None:
            assert len(pages) <= bound, (
                f"search({query!r}) with page sizes {tuple(limits)}: the cursor does not advance ({len(pages)} "
                f"pages, the last cursor {pages[-1].next_cursor!r})"
            )
            limit = limits[min(len(pages), len(limits) - 1)]
            pages.append(await connector.search(query, limit=limit, cursor=pages[-1].next_cursor))
    except ContractViolation as exc:
        pytest.fail(
            f"a record that breaks the contract failed its search page ({'; '.join(exc.errors)}): the page must "
            "be served without it, and the record reported in Page.skipped (see Connector.search)",
            pytrace=False,
        )
    return pages


_E = TypeVar("_E", bound=BaseException)


async def _raises(expected: type[_E], what: str, call: Awaitable[Any]) -> _E:
    """The ``expected`` error ``call`` (``what``, for the message) raises; the check fails, saying what happened
    instead, when it returns or raises something else."""
    try:
        result = await call
    except expected as exc:
        return exc
    except Exception as exc:
        pytest.fail(f"{what} raised {type(exc).__name__} ({exc}), not {expected.__name__}")
    pytest.fail(f"{what} returned {type(result).__name__} instead of raising {expected.__name__}", pytrace=False)


def _listed(problems: Sequence[str], most: int = 3) -> str:
    """The first ``most`` problems, and how many more there are."""
    shown = "; ".join(problems[:most])
    return shown + (f" (and {len(problems) - most} more problems)" if len(problems) > most else "")


def _page_problems(pages: Sequence[Page], limits: Sequence[int], contract: type[Contract]) -> list[str]:
    """What breaks the search rules in one walk (its n-th page asked with ``limits[min(n, len - 1)]``)."""
    problems = []
    for n, page in enumerate(pages):
        limit = limits[min(n, len(limits) - 1)]
        if len(page.items) + len(page.skipped) > limit:
            problems.append(f"page {n + 1} holds more than the {limit} records asked for (skipped ones included)")
        if n < len(pages) - 1 and not page.items and not page.skipped:
            problems.append(f"page {n + 1} is empty but not the last")
        broken = [problem for item in page.items for problem in _record_problems(item, contract, f"page {n + 1}")]
        if broken:
            more = f" (and {len(broken) - 1} more of the page's records)" if len(broken) > 1 else ""
            problems.append(broken[0] + more)
        if not all(isinstance(violation, ContractViolation) and violation.errors for violation in page.skipped):
            problems.append(f"page {n + 1} reports a skipped record without a ContractViolation listing its errors")
    return problems


#: Context fields whose values the kit makes unique per call, so that a received request is told to be of a call.
_IDENTIFYING = ("request_id", "client_id", "actor", "traceparent", "tracestate")
_DEADLINE_SECONDS = 60.0


def _conformance_context(*, partial: bool = False) -> RequestContext:
    """A context with a distinct value in every field (``partial``: the request id and trace only)."""
    tag = uuid.uuid4().hex[:12]
    context = RequestContext(
        request_id=f"conformance-{tag}", traceparent=new_traceparent(), deadline=time.monotonic() + _DEADLINE_SECONDS
    )
    if partial:
        return context
    return context.with_values(
        client_id=f"conformance-client-{tag}",
        agency_code="000.00.00.H41",
        purpose="1.000001.000.00.00.H41",
        actor=f"CB-{tag}",
        tracestate=f"conformance={tag}",
    )


def _received_for(
    context: RequestContext, mapping: Mapping[str, str], received: Callable[[], Sequence[Mapping[str, str]]]
) -> list[dict[str, str]]:
    """The received requests (headers, lower-case names) carrying one of ``context``'s identifying values in the
    header ``mapping`` gives it."""
    marks = {
        (header.lower(), value)
        for name, header in mapping.items()
        if name in _IDENTIFYING and (value := context.value(name)) is not None
    }
    found = []
    for headers in received():
        lowered = {key.lower(): value for key, value in headers.items()}
        if any(lowered.get(header) == value for header, value in marks):
            found.append(lowered)
    return found


def _assert_forwarded(
    what: str,
    context: RequestContext,
    mapping: Mapping[str, str],
    received: Callable[[], Sequence[Mapping[str, str]]],
) -> None:
    """Every request of the call ``what`` carries each field of ``context`` in its header, and no header for an
    unset field."""
    requests = _received_for(context, mapping, received)
    assert requests, (
        f"{what}: no request the sector system received carried the context's "
        f"{', '.join(sorted(n for n in mapping if n in _IDENTIFYING))} in the configured headers"
    )
    for headers in requests:
        for name, header in mapping.items():
            got = headers.get(header.lower())
            if context.value(name) is None:
                assert got is None, f"{what}: {header} was sent although the context has no {name}"
            elif name == "deadline":
                assert got is not None and got.isdigit(), f"{what}: {header} does not carry the milliseconds left"
                assert int(got) <= _DEADLINE_SECONDS * 1000, f"{what}: {header} is not the milliseconds left"
            else:
                assert got == context.value(name), f"{what}: {header} does not carry the context's {name}"


class ConnectorConformance:
    """The standard tests; :func:`connector_test_class` makes a subclass bound to one connector and its case."""

    connector_class: ClassVar[type[Connector[Any]]]
    arguments: ClassVar[Mapping[str, Any]]
    entry_point: ClassVar[str | None] = None

    @pytest.fixture
    def case(self, request: pytest.FixtureRequest) -> Iterator[ConformanceCase]:
        """The case, with fixture placeholders replaced by the fixtures' values.

        Every check that uses it also checks that no record logged meanwhile, at any level (debug included: an
        operator turns it on to look into a failure), quotes a secret of the case's configurations, in its
        message, its arguments, its structured fields or its exception's chain.
        """
        case = ConformanceCase(**_resolve(dict(self.arguments), request))
        secrets = _case_secrets(case, self.connector_class.config_model)
        root = logging.getLogger()
        handler, floor = _Records(), _AtLeast(root.getEffectiveLevel())
        others, level = list(root.handlers), root.level
        for other in others:  # what the other handlers (pytest's report) show is left as it was
            other.addFilter(floor)
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            yield case
        finally:
            root.setLevel(level)
            root.removeHandler(handler)
            for other in others:
                other.removeFilter(floor)
        for record in handler.records:
            text = _logged_text(record)
            if any(secret in text for secret in secrets):
                _assert_no_secret(text, secrets, f"a log record of {record.name!r} ({record.levelname})")

    def connector(self, config: Mapping[str, Any]) -> Connector[Any]:
        """A connector built from ``config``."""
        return self.connector_class.from_config(config)

    # -- metadata and configuration ------------------------------------------------------------------------

    def test_metadata(self) -> None:
        """The slug is lower case, the title is set, and the models are of the SDK's classes."""
        cls = self.connector_class
        assert _SLUG.fullmatch(cls.slug), f"slug {cls.slug!r} is not lower case letters, digits, '-' and '_'"
        assert cls.title.strip(), f"the connector {cls.__qualname__} needs a title (title = {cls.title!r})"
        assert isinstance(cls.config_model, type) and issubclass(cls.config_model, ConnectorConfig), (
            f"config_model {cls.config_model!r} is not a subclass of connectors.base.ConnectorConfig"
        )
        if cls.query_model is not None:  # generic connectors may set it per instance, from their configuration
            assert isinstance(cls.query_model, type) and issubclass(cls.query_model, ContractQuery), (
                f"query_model {cls.query_model!r} is not a subclass of contracts.ContractQuery"
            )
        if getattr(cls, "contract", None) is not None:
            assert isinstance(cls.contract, type) and issubclass(cls.contract, Contract), (
                f"contract {cls.contract!r} is not a subclass of contracts.Contract"
            )

    def test_contract_matches_its_published_snapshot(self, case: ConformanceCase) -> None:
        """The contract the connector serves is the version its readers and writers were promised: its JSON Schemas
        are its published snapshots (``case.published_contracts``, or the gateway's own for a contract of the
        ``contracts`` package). A breaking change makes a new version; any other change, a new snapshot."""
        contract = getattr(self.connector_class, "contract", None) or self.connector(case.config).contract
        if not (isinstance(contract, type) and issubclass(contract, Contract)):
            pytest.skip("the connector serves no contract class")
        directory = case.published_contracts
        if directory is None:
            if not contract.__module__.startswith("contracts."):
                pytest.skip(
                    f"{contract.contract_name} v{contract.contract_version} is not one of the gateway's contracts: "
                    "pass published_contracts= (the directory of its published snapshots) to check it"
                )
            directory = PUBLISHED
        check = check_contract(contract, Path(directory))
        assert check.ok, check.describe()

    def test_capabilities_are_declared_as_implemented(self) -> None:
        """``capabilities`` names exactly what the class implements: ``read``, and each optional operation whose
        method it overrides (a capability declared but not implemented, or implemented but not declared, fails)."""
        cls = self.connector_class
        declared = cls.capabilities
        assert isinstance(declared, frozenset) and all(isinstance(c, Capability) for c in declared), (
            f"capabilities must be a frozenset of connectors.base.Capability members, not {declared!r}"
        )
        assert Capability.READ in declared, (
            f"every connector reads: declare Capability.READ (capabilities = {sorted(c.value for c in declared)})"
        )
        implemented = implemented_capabilities(cls)
        missing = sorted(f"{c.value} ({CAPABILITY_METHODS[c]}())" for c in declared - implemented)
        assert not missing, f"capabilities declared but not implemented: {', '.join(missing)}"
        undeclared = sorted(c.value for c in implemented - declared)
        assert not undeclared, f"operations implemented but not declared in capabilities: {', '.join(undeclared)}"
        if Capability.SUBMIT not in declared:
            assert cls.submit_many is Connector.submit_many, (
                "submit_many() is implemented but not submit(): implement submit() and declare Capability.SUBMIT"
            )

    def test_entry_point(self) -> None:
        """The ``gateway.connectors`` entry point named ``entry_point`` loads this class, and no other installed
        distribution registers the name for another class (skipped without one)."""
        if self.entry_point is None:
            pytest.skip("no entry_point given")
        name = self.entry_point
        registered = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        assert registered, f"no {ENTRY_POINT_GROUP!r} entry point named {name!r}: add it to pyproject.toml"
        targets = {ep.value: ep for ep in registered}
        if len(targets) > 1:

            def origin(ep: Any) -> str:
                dist = getattr(ep, "dist", None)
                return f"{ep.value} (distribution {dist.name} {dist.version})" if dist else ep.value

            pytest.fail(
                f"the {ENTRY_POINT_GROUP!r} entry point {name!r} is registered more than once, by different "
                f"distributions: {'; '.join(sorted(origin(ep) for ep in targets.values()))}. The gateway loads "
                "none of them under that name: uninstall one, or rename its entry point",
                pytrace=False,
            )
        (ep,) = targets.values()
        loaded = ep.load()
        assert loaded is self.connector_class, (
            f"the entry point {name!r} = {ep.value!r} loads {loaded!r}, not {self.connector_class!r}"
        )

    def test_config_schema(self, case: ConformanceCase) -> None:
        """The configuration exports a valid JSON Schema, every setting described, every secret a ``SecretStr``
        (a setting is a secret's by its name: :func:`connectors.secrets.is_secret_name`)."""
        jsonschema = _require("jsonschema")
        schema = self.connector_class.config_model.model_json_schema()
        jsonschema.Draft202012Validator.check_schema(schema)
        undocumented = [f"{m}.{p}" for m, p, prop in _schema_properties(schema) if not prop.get("description")]
        assert not undocumented, f"settings without a description: {', '.join(undocumented)}"
        plain = [
            f"{m}.{p}"
            for m, p, prop in _schema_properties(schema)
            if is_secret_name(p)
            and "password" not in {prop.get("format"), *(o.get("format") for o in prop.get("anyOf", ()))}
        ]
        assert not plain, f"secret-looking settings that are not SecretStr: {', '.join(plain)}"
        model = self.connector_class.config_model
        validated = model.model_validate(case.config)
        again = model.model_validate(validated.model_dump())
        assert again == validated, (
            f"the configuration validated from its own dump differs from the first validation (settings "
            f"{sorted(k for k in model.model_fields if getattr(again, k) != getattr(validated, k))})"
        )

    def test_config_builds_the_connector(self, case: ConformanceCase) -> None:
        """The configuration builds the connector, again from its own validated form."""
        cls = self.connector_class
        connector = self.connector(case.config)
        assert isinstance(connector, cls), f"from_config() built a {type(connector).__name__}, not a {cls.__name__}"
        assert isinstance(connector.config, cls.config_model), (
            f"the connector's config is a {type(connector.config).__name__}, not a {cls.config_model.__name__}"
        )
        rebuilt = cls.from_config(connector.config)
        assert isinstance(rebuilt, cls), (
            f"from_config() of a validated {cls.config_model.__name__} built a {type(rebuilt).__name__}"
        )

    def test_bad_config_is_a_clear_error(self, case: ConformanceCase) -> None:
        """A bad configuration raises a :class:`ConnectorConfigError` naming the connector and the setting,
        quoting no secret."""
        secrets = _secrets(self.connector_class.config_model.model_validate(case.config))
        bad: list[tuple[Mapping[str, Any], str | None]] = [
            ({**case.config, "no_such_setting": 1}, "no_such_setting"),
            ({**case.config, "timeout_seconds": -1}, "timeout_seconds"),
            *((config, None) for config in case.invalid_configs),
        ]
        if any(f.is_required() for f in self.connector_class.config_model.model_fields.values()):
            bad.append(({}, None))
        slug = self.connector_class.slug
        for config, named in bad:
            settings = sorted(config)
            try:
                self.connector(config)
            except ConnectorConfigError as exc:
                error = exc
            except Exception as exc:
                pytest.fail(
                    f"a bad configuration (settings {settings}) raised {type(exc).__name__} ({exc}), not a "
                    "ConnectorConfigError",
                    pytrace=False,
                )
            else:
                pytest.fail(f"a bad configuration (settings {settings}) built the connector", pytrace=False)
            assert error.message and slug in error.message, (
                f"the error of a bad configuration (settings {settings}) does not name the connector {slug!r}: "
                f"{error.message!r}"
            )
            if named is not None:
                assert named in error.message, f"the error does not name {named!r}: {error.message}"
            _assert_no_secret(" ".join([error.message, *error.errors]), secrets, "a configuration error")

    # -- reaching the sector system ------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_check_and_health_when_up(self, case: ConformanceCase) -> None:
        """A reachable system is up: ``health()`` reports it, ``check()`` too, with its latency."""
        async with self.connector(case.config) as connector:
            result = await connector.check()
            health = await connector.health()
        assert result.ok, f"check() failed: {result.message}"
        assert result.latency_seconds is not None and result.latency_seconds >= 0, (
            f"check() reports no latency, or a negative one: {result.latency_seconds!r}"
        )
        assert isinstance(health, HealthReport), f"health() returned a {type(health).__name__}, not a HealthReport"
        assert health.state is HealthState.UP, (
            f"health() reports {health.state.value!r} ({health.message!r}) for a system that answers"
        )

    @pytest.mark.anyio
    async def test_check_and_health_when_unreachable(self, case: ConformanceCase) -> None:
        """An unreachable system is down (or ``health()`` raises for it) and reads fail with ``connect``, soon,
        quoting no secret or key."""
        connector = self.connector(case.unreachable_config)
        secrets = _secrets(connector.config)
        deadline = connector.config.timeout_seconds * 1.5 + case.grace_seconds
        record_id = case.known_ids[0]
        async with connector:
            started = time.perf_counter()
            result = await connector.check()  # never raises
            try:
                health = await connector.health()
            except UpstreamError as exc:  # the probe may raise instead of reporting down; the axis keeps its reason
                health = HealthReport(HealthState.DOWN, message=exc.message)
            error = await _raises(
                UpstreamUnavailable, f"get({record_id!r}) of an unreachable system", connector.get(record_id)
            )
            elapsed = time.perf_counter() - started
        assert result.ok is False and result.message, (
            f"check() of an unreachable system reports {result.state.value!r} ({result.message!r}), not down "
            "with a message"
        )
        assert health.state is HealthState.DOWN, (
            f"health() of an unreachable system reports {health.state.value!r} ({health.message!r}), not down"
        )
        assert error.reason == "connect", (
            f"get() of an unreachable system raised {type(error).__name__} with the reason {error.reason!r}, not "
            "'connect'"
        )
        assert elapsed < 3 * deadline, f"an unreachable system took {elapsed:.1f} s to report"
        _assert_no_secret(" ".join([result.message, health.message, _error_text(error)]), secrets)
        assert record_id not in error.message, (
            f"the error of get({record_id!r}) quotes the key (it may be personal data): {error.message!r}"
        )

    # -- reading -------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_get_returns_valid_contract_records(self, case: ConformanceCase) -> None:
        """``get()`` returns valid records of the contract for the known keys (checked against its JSON Schema
        too), each the record asked for."""
        assert case.known_ids, "known_ids must name at least one record"
        async with self.connector(case.config) as connector:
            contract = connector.contract
            schema = contract.contract_schema()
            jsonschema = _require("jsonschema")
            for record_id in case.known_ids:
                record = await connector.get(record_id)
                problems = _record_problems(record, contract, f"get({record_id!r})")
                assert not problems, "; ".join(problems)
                assert record.record_id() == record_id, (
                    f"get({record_id!r}) returned the record of {record.record_id()!r}"
                )
                error = jsonschema.exceptions.best_match(
                    jsonschema.Draft202012Validator(schema).iter_errors(record.model_dump(mode="json"))
                )
                assert error is None, (
                    f"get({record_id!r}) returned a record that breaks the contract's JSON Schema at "
                    f"{'/'.join(map(str, error.absolute_path)) or '(record)'}: {error.validator} "
                    f"{error.validator_value!r}"
                )

    @pytest.mark.anyio
    async def test_get_returns_the_known_records(self, case: ConformanceCase) -> None:
        """``get()`` of each record of ``known_records`` returns the values given for it: every field mapped from
        the sector system's right field, and converted rightly (skipped without ``known_records``)."""
        if not case.known_records:
            pytest.skip(
                "no known_records given: the kit cannot tell a field mapped from the wrong field of the sector "
                "system (a valid value, but not the record's)"
            )
        problems: list[str] = []
        async with self.connector(case.config) as connector:
            for record_id, expected in case.known_records.items():
                record = await connector.get(record_id)
                problems += _record_problems(record, connector.contract, f"get({record_id!r})")
                if not problems:
                    problems += _known_record_problems(record, expected, f"get({record_id!r})")
        assert not problems, _listed(problems, most=6)

    @pytest.mark.anyio
    async def test_canary_checks_a_known_record_and_refuses_a_missing_one(self, case: ConformanceCase) -> None:
        """``canary()`` checks nothing without a canary, passes on a known record and raises for a missing one."""
        config = dict(case.config)
        async with self.connector({**config, "canary": None}) as connector:
            checked = await connector.canary()
            assert checked is False, f"canary() without a canary declared returned {checked!r}, not False"
        async with self.connector({**config, "canary": case.known_ids[0]}) as connector:
            assert connector.canary_id == case.known_ids[0], (
                f"canary_id is {connector.canary_id!r} with the canary {case.known_ids[0]!r} configured"
            )
            checked = await connector.canary()
            assert checked is True, f"canary() of the known record {case.known_ids[0]!r} returned {checked!r}"
        async with self.connector({**config, "canary": case.missing_id}) as connector:
            await _raises(RecordNotFound, f"canary() of the missing record {case.missing_id!r}", connector.canary())

    @pytest.mark.anyio
    async def test_concurrent_gets(self, case: ConformanceCase) -> None:
        """Concurrent reads return the same records as reads one by one, each valid against its contract."""
        ids = list(case.known_ids) * max(1, 24 // len(case.known_ids))
        async with self.connector(case.config) as connector:
            one_by_one = {record_id: await connector.get(record_id) for record_id in case.known_ids}
            together = await asyncio.gather(*(connector.get(record_id) for record_id in ids))
            contract = connector.contract
        for record_id, record in zip(ids, together, strict=True):
            problems = _record_problems(record, contract, f"a concurrent get({record_id!r})")
            assert not problems, "; ".join(problems)
            assert record.record_id() == record_id, (
                f"a concurrent get({record_id!r}) returned the record of {record.record_id()!r}"
            )
            assert record == one_by_one[record_id], (
                f"a concurrent get({record_id!r}) returned another record than the same get() alone"
            )

    @pytest.mark.anyio
    async def test_missing_record_is_not_found(self, case: ConformanceCase) -> None:
        """A missing key raises :class:`RecordNotFound`, whose message does not quote it."""
        assert case.missing_id not in case.known_ids, f"missing_id {case.missing_id!r} is one of the known_ids"
        async with self.connector(case.config) as connector:
            secrets = _secrets(connector.config)
            error = await _raises(
                RecordNotFound, f"get({case.missing_id!r}) of a missing record", connector.get(case.missing_id)
            )
        assert case.missing_id not in error.message, (
            f"the error of get({case.missing_id!r}) quotes the key (it may be personal data): {error.message!r}"
        )
        _assert_no_secret(_error_text(error), secrets, f"the error of get({case.missing_id!r}) or its chain")

    # -- searching -----------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_search_walks_every_page_once(self, case: ConformanceCase) -> None:
        """Every search walks its pages at several page sizes, and changing it mid-walk: each record once, in order,
        each valid against its contract."""
        if not case.searches:
            pytest.skip("no searches given")
        async with self.connector(case.config) as connector:
            assert connector.query_model is not None, "searches are given but the connector has no query model"
            for search in case.searches:
                query = search.query
                walks = {}
                for limit in _LIMITS:
                    pages = await _walk(connector, query, [limit], bound=10_000)
                    ids = [item.record_id() for page in pages for item in page.items]
                    duplicates = sorted(key for key, n in Counter(ids).items() if n > 1)
                    assert not duplicates, f"search({query!r}), limit {limit}: records returned twice: {duplicates}"
                    problems = _page_problems(pages, [limit], connector.contract)
                    assert not problems, f"search({query!r}), limit {limit}: {_listed(problems)}"
                    walks[limit] = ids
                orders = {tuple(ids) for ids in walks.values()}
                assert len(orders) == 1, (
                    f"search({query!r}): the order of the records depends on the page size: "
                    + "; ".join(f"limit {limit}: {ids}" for limit, ids in walks.items())
                )
                found = next(iter(orders))
                found_records = [item for page in pages for item in page.items]  # the walk at the largest size
                problems = await self._search_record_problems(connector, query, found_records, case)
                assert not problems, f"search({query!r}): {_listed(problems)}"
                if search.expected_ids is not None:
                    expected = sorted(map(str, search.expected_ids))
                    assert sorted(found) == expected, (
                        f"search({query!r}) found other records: missing {sorted(set(expected) - set(found))}, "
                        f"unexpected {sorted(set(found) - set(expected))}"
                    )
                # A caller may change its page size in the middle of a walk: the cursor stays valid, and the walk
                # neither repeats nor skips a record.
                for limits in _MIXED_LIMITS:
                    mixed = await _walk(connector, query, limits, bound=10_000)
                    problems = _page_problems(mixed, limits, connector.contract)
                    assert not problems, f"search({query!r}), page sizes {limits}: {_listed(problems)}"
                    got = tuple(item.record_id() for page in mixed for item in page.items)
                    assert got == found, (
                        f"search({query!r}), page sizes {limits} changed mid-walk: records repeated, lost or "
                        f"reordered ({list(got)} instead of {list(found)})"
                    )

    @staticmethod
    async def _search_record_problems(
        connector: Connector[Any], query: ContractQuery, records: Sequence[Contract], case: ConformanceCase
    ) -> list[str]:
        """How the records a search found differ from what ``get()`` returns for their keys, and from
        ``known_records``: a search reading the system's fields another way than a read by key."""
        problems: list[str] = []
        for record in records[:_COMPARED_WITH_GET]:
            record_id = record.record_id()
            try:
                read = await connector.get(record_id)
            except RecordNotFound:
                problems.append(f"it found {record_id!r}, which get() does not find")
                continue
            if read != record:
                differing = ", ".join(
                    f"{name}: {getattr(record, name)!r} found, {getattr(read, name)!r} read"
                    for name in _differing(record, read)
                )
                problems.append(f"the record {record_id!r} it found is not the one get() returns ({differing})")
        for record in records:
            if case.known_records and (expected := case.known_records.get(record.record_id())) is not None:
                problems += _known_record_problems(record, expected, f"the record {record.record_id()!r} it found")
        return problems

    @pytest.mark.anyio
    async def test_search_leaves_out_records_that_break_the_contract(self, case: ConformanceCase) -> None:
        """A record that breaks the contract does not fail its page: the page is served without it, the record
        is reported in ``Page.skipped`` (a ContractViolation with its key), once over a walk, at any page size and
        across changes of page size."""
        broken = [search for search in case.searches if search.invalid_ids]
        if not broken:
            pytest.skip(
                "no search declares records that break the contract (SearchCase.invalid_ids): plant one in the "
                "sandbox to check the rule"
            )
        async with self.connector(case.config) as connector:
            for search in broken:
                query = search.query
                invalid = sorted(map(str, search.invalid_ids or ()))
                walks: dict[tuple[int, ...], list[str]] = {}
                for limits in [*((limit,) for limit in _LIMITS), *_MIXED_LIMITS]:
                    where = f"search({query!r}), page sizes {limits}"
                    pages = await _walk(connector, query, limits, bound=10_000)
                    problems = _page_problems(pages, limits, connector.contract)
                    assert not problems, f"{where}: {_listed(problems)}"
                    served = [item.record_id() for page in pages for item in page.items]
                    reported = [violation.record_id for page in pages for violation in page.skipped]
                    leaked = sorted(set(served) & set(invalid))
                    assert not leaked, f"{where}: records that break the contract were served: {leaked}"
                    assert None not in reported, f"{where}: a skipped record is reported without its key"
                    assert sorted(map(str, reported)) == invalid, (
                        f"{where}: the skipped records reported ({sorted(map(str, reported))}) are not the broken "
                        f"ones ({invalid}), each once"
                    )
                    assert len(served) == len(set(served)), f"{where}: records returned twice"
                    walks[limits] = served
                assert len({tuple(ids) for ids in walks.values()}) == 1, (
                    f"search({query!r}): the records served around the broken ones depend on the page size: "
                    + "; ".join(f"{limits}: {ids}" for limits, ids in walks.items())
                )
                if search.expected_ids is not None:
                    served = sorted(next(iter(walks.values())))
                    expected = sorted(map(str, search.expected_ids))
                    assert served == expected, (
                        f"search({query!r}) found other records: missing {sorted(set(expected) - set(served))}, "
                        f"unexpected {sorted(set(served) - set(expected))}"
                    )

    @pytest.mark.anyio
    async def test_search_with_a_foreign_cursor(self, case: ConformanceCase) -> None:
        """A cursor that is not the connector's (random text, Unicode digits, negative or huge numbers, other
        connectors' cursors) is refused with :class:`BadQuery` (search rule 4), whatever search it is given to."""
        if not case.searches:
            pytest.skip("no searches given")
        async with self.connector(case.config) as connector:
            own: set[str] = set()
            for search in case.searches:
                page = await connector.search(search.query, limit=1)
                if page.next_cursor is not None:
                    own.add(page.next_cursor)
            accepted = []
            for cursor in _FOREIGN_CURSORS:
                if cursor in own:  # the connector's own shape after all (its first cursor, by chance)
                    continue
                try:
                    page = await connector.search(case.searches[0].query, limit=5, cursor=cursor)
                except BadQuery:
                    continue
                except Exception as exc:
                    accepted.append(f"{cursor!r} (raised {type(exc).__name__}: {exc})")
                else:
                    accepted.append(f"{cursor!r} (answered a page of {len(page.items)} records)")
        assert not accepted, (
            f"cursors that are not the connector's were not refused with BadQuery (search rule 4): "
            f"{'; '.join(accepted)}"
        )

    # -- deadlines -----------------------------------------------------------------------------------------

    async def _time_out(self, config: Mapping[str, Any], case: ConformanceCase) -> float:
        """Seconds ``get()`` of a connector of ``config`` took to fail with :class:`UpstreamTimeout`."""
        record_id = case.known_ids[0]
        async with self.connector(config) as connector:
            timeout = connector.config.timeout_seconds
            started = time.perf_counter()
            try:
                await connector.get(record_id)
            except UpstreamTimeout as exc:
                assert exc.reason == "timeout", (
                    f"get() of a slow system raised UpstreamTimeout with the reason {exc.reason!r}, not 'timeout'"
                )
            except Exception as exc:
                pytest.fail(
                    f"get() of a slow system (timeout_seconds {timeout:g}) raised {type(exc).__name__} ({exc}), "
                    "not UpstreamTimeout",
                    pytrace=False,
                )
            else:
                pytest.fail(
                    f"get() of a slow system (timeout_seconds {timeout:g}) returned a record: slow_config must "
                    "point at a system that answers too late",
                    pytrace=False,
                )
            return time.perf_counter() - started

    @pytest.mark.anyio
    async def test_timeout_is_honoured(self, case: ConformanceCase) -> None:
        """A slow system fails reads, checks and searches with :class:`UpstreamTimeout` within the deadline, and
        the deadline is the configured one: a longer ``timeout_seconds`` makes a read give up later by as much."""
        if case.slow_config is None:
            pytest.skip("no slow_config given")
        connector = self.connector(case.slow_config)
        timeout = connector.config.timeout_seconds
        bound = timeout * 1.5 + case.grace_seconds
        async with connector:
            started = time.perf_counter()
            result = await connector.check()
            checked = time.perf_counter() - started
            assert result.ok is False, f"check() of a slow system reports {result.state.value!r}: {result.message}"
            assert checked < bound, f"check() gave up after {checked:.2f} s; its deadline is {timeout:g} s"
            if connector.query_model is not None and case.searches:
                started = time.perf_counter()
                await _raises(
                    UpstreamTimeout, "search() of a slow system", connector.search(case.searches[0].query, limit=5)
                )
                searched = time.perf_counter() - started
                assert searched < bound, f"search() gave up after {searched:.2f} s; its deadline is {timeout:g} s"
        # Reads with the configured deadline and with a longer one: each gives up within its own deadline, and the
        # longer one later by about the difference (a connector ignoring the setting gives up at the same time
        # whatever it says). A loaded machine only delays an answer: the shortest of a few tries is kept.
        longer = timeout + _TIMEOUT_STEP_SECONDS
        shortest: dict[float, float] = {}
        for _ in range(_TIMEOUT_TRIES):
            for seconds in (timeout, longer):
                elapsed = await self._time_out({**case.slow_config, "timeout_seconds": seconds}, case)
                shortest[seconds] = min(elapsed, shortest.get(seconds, elapsed))
                assert elapsed < seconds * 1.5 + case.grace_seconds, (
                    f"get() gave up after {elapsed:.2f} s; its deadline is {seconds:g} s (timeout_seconds)"
                )
            problems = _deadline_problems(shortest, timeout, longer)
            if not problems:
                return
        pytest.fail("; ".join(problems), pytrace=False)

    @pytest.mark.anyio
    async def test_calls_do_not_block_the_event_loop(self, case: ConformanceCase) -> None:
        """While ``get()`` waits for a slow system, the event loop goes on running the gateway's other requests: a
        connector calling its system with blocking code (a synchronous HTTP client or database driver,
        ``time.sleep``) in its ``async`` methods holds every request of the gateway for as long as it waits.
        The calls of a blocking library belong in a thread (``asyncio.to_thread``, or the library's asynchronous
        API). Skipped without ``slow_config``."""
        if case.slow_config is None:
            pytest.skip("no slow_config given: the kit has no slow system to wait for")
        record_id = case.known_ids[0]
        longest = math.inf
        timeout = self.connector(case.slow_config).config.timeout_seconds
        allowed = max(timeout / 2, _LONGEST_ALLOWED_STALL_SECONDS)
        for _ in range(_TIMEOUT_TRIES):  # a loaded machine may stall the loop once; a blocking call, every time
            async with self.connector(case.slow_config) as connector:
                longest = min(longest, await _longest_stall(connector.get(record_id)))
            if longest < allowed:
                return
        pytest.fail(
            f"get() of a slow system (timeout_seconds {timeout:g}) held the event loop for {longest:.2f} s at once "
            f"(more than {allowed:g} s): it waits for the system with a blocking call, which stops every other "
            "request of the gateway meanwhile; run blocking calls in a thread (asyncio.to_thread) or use an "
            "asynchronous client",
            pytrace=False,
        )

    @pytest.mark.anyio
    async def test_a_cancelled_call_stops_at_once(self, case: ConformanceCase) -> None:
        """The gateway stops waiting for a call by cancelling it (its request deadline, a client gone): ``get()``
        of a slow system, cancelled while it waits, ends at once and lets the cancellation through (the task ends
        cancelled), neither waiting on for its own deadline nor turning it into an error or a result: a call that
        swallows it holds the request past the gateway's deadline, and answers 502 where the gateway answers 504.
        Skipped without ``slow_config``."""
        if case.slow_config is None:
            pytest.skip("no slow_config given: the kit has no slow system to cancel a call to")
        record_id = case.known_ids[0]
        timeout = self.connector(case.slow_config).config.timeout_seconds
        longer = timeout + _TIMEOUT_STEP_SECONDS  # the slow system does not answer before that (see slow_config)
        async with self.connector({**case.slow_config, "timeout_seconds": longer}) as connector:
            call = asyncio.ensure_future(connector.get(record_id))
            await asyncio.sleep(min(timeout / 2, _CANCEL_AFTER_SECONDS))  # the call is under way
            if call.done():
                pytest.skip(
                    f"get() of the slow system of slow_config ended within {min(timeout / 2, _CANCEL_AFTER_SECONDS):g} "
                    "s, before the kit could cancel it (the deadline checks say why)"
                )
            call.cancel()
            started = time.perf_counter()
            await asyncio.wait({call}, timeout=case.grace_seconds)
            elapsed = time.perf_counter() - started
            if not call.done():
                with contextlib.suppress(BaseException):  # let it end, by its own deadline, before closing
                    await asyncio.wait_for(call, longer * _DEADLINE_FACTOR + case.grace_seconds)
                pytest.fail(
                    f"get() of a slow system went on for more than {case.grace_seconds:g} s after it was cancelled "
                    f"(it ended after {time.perf_counter() - started:.2f} s, near its own deadline of {longer:g} s, "
                    "if at all): it catches asyncio.CancelledError (an except BaseException, or a retry loop) and "
                    "keeps waiting; let the cancellation through, cleaning up in finally",
                    pytrace=False,
                )
        if call.cancelled():
            return
        error = call.exception()
        if error is None:
            outcome = f"returned a {type(call.result()).__name__}"
        else:
            outcome = f"raised {type(error).__name__} ({error})"
        pytest.fail(
            f"get() of a slow system, cancelled, {outcome} after {elapsed:.2f} s instead of ending cancelled: it "
            "catches asyncio.CancelledError (an except BaseException, or an except CancelledError that raises "
            "another error); let it through (re-raise it), so that the gateway's deadline holds",
            pytrace=False,
        )

    @pytest.mark.anyio
    async def test_close_releases_the_connections(self, case: ConformanceCase) -> None:
        """``close()`` closes every connection the connector opened to its sector system (its HTTP client's pool,
        its database engine): the gateway closes a connector on shutdown and when it reloads its configuration,
        and connections left open hold the sector system's resources (and the gateway's file descriptors) until
        the process ends. The kit sees the connections opened in the event loop (``loop.create_connection``, which
        asyncio's, aiohttp's, httpx's and the asynchronous database drivers' connections go through); skipped
        when the connector opened none there."""
        loop = asyncio.get_running_loop()
        opened: list[tuple[str, Any]] = []
        create_connection = loop.create_connection

        async def recorded(*args: Any, **kwargs: Any) -> Any:
            transport, protocol = await create_connection(*args, **kwargs)
            sock, peer = transport.get_extra_info("socket"), transport.get_extra_info("peername")
            if sock is not None:
                where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
                opened.append((where, sock))
            return transport, protocol

        try:
            loop.create_connection = recorded  # type: ignore[method-assign]
        except (AttributeError, TypeError):  # an event loop whose methods cannot be replaced
            pytest.skip(f"the kit cannot watch the connections of this event loop ({type(loop).__name__})")
        try:
            async with self.connector(case.config) as connector:
                await connector.get(case.known_ids[0])
                await connector.check()
                if connector.query_model is not None and connector.offers(Capability.SEARCH) and case.searches:
                    await connector.search(case.searches[0].query, limit=2)
        finally:
            del loop.create_connection
        if not opened:
            pytest.skip("the connector opened no connection in the event loop (a file, a driver in a thread...)")
        left: list[str] = []
        give_up = time.perf_counter() + case.grace_seconds
        while time.perf_counter() < give_up:  # a transport closes its socket on the loop's next turns
            left = [where for where, sock in opened if sock.fileno() != -1]
            if not left:
                return
            await asyncio.sleep(_TICK_SECONDS)
        pytest.fail(
            f"close() left {len(left)} of the {len(opened)} connections the connector opened open (to "
            f"{', '.join(sorted(set(left)))}): close the clients and pools the connector opened in close() "
            "(httpx.AsyncClient.aclose(), aiohttp.ClientSession.close(), AsyncEngine.dispose()), never one per call "
            "left for the garbage collector",
            pytrace=False,
        )

    # -- failures of the sector system ---------------------------------------------------------------------

    @pytest.mark.anyio
    @pytest.mark.parametrize("failure", list(UpstreamFailure), ids=str)
    async def test_upstream_failure_is_an_upstream_error(self, case: ConformanceCase, failure: UpstreamFailure) -> None:
        """A sector system failing (``failure``: 5xx, 401, 403, 429, a malformed answer, a reset connection) makes
        ``get()`` and ``search()`` raise an :class:`UpstreamError` (never :class:`RecordNotFound`, which the
        gateway answers 404, never a raw exception), quoting no secret or key, and ``health()`` and ``check()``
        report it not up (down or degraded, with a message; a malformed answer excepted, which a probe reading
        only a status cannot see). Skipped when the kit has no way of making the system fail so, with the reason."""
        configs = {str(name): value for name, value in (case.failing_configs or {}).items()}
        unknown = sorted(set(configs) - {str(f) for f in UpstreamFailure})
        assert not unknown, (
            f"failing_configs names failures the kit does not know: {unknown} (UpstreamFailure: "
            f"{', '.join(f.value for f in UpstreamFailure)})"
        )
        given = configs.get(failure.value)
        if isinstance(given, str):
            pytest.skip(f"the sector system cannot fail so ({failure.value}): {given}")
        if given is not None:
            assert isinstance(given, Mapping), (
                f"failing_configs[{failure.value!r}] is a {type(given).__name__}, not a configuration or a reason"
            )
            problems = await self._failure_problems(case, given, failure)
        elif case.fail_upstream is not None:
            fail = case.fail_upstream
            if fail(failure) is False:
                fail(None)
                pytest.skip(f"fail_upstream cannot make the sector system fail so ({failure.value})")
            try:
                problems = await self._failure_problems(case, case.config, failure)
            finally:
                fail(None)
        else:
            pytest.skip(
                f"neither fail_upstream nor failing_configs[{failure.value!r}] given: the kit cannot make the sector "
                f"system fail so ({failure.description})"
            )
        assert not problems, f"the sector system {failure.description}: " + "; ".join(problems)

    async def _failure_problems(
        self, case: ConformanceCase, config: Mapping[str, Any], failure: UpstreamFailure
    ) -> list[str]:
        """What the connector of ``config``, whose sector system fails in the way ``failure`` says, does wrong."""
        connector = self.connector(config)
        secrets = _secrets(connector.config)
        record_id = case.known_ids[0]
        problems: list[str] = []
        async with connector:
            problems += await _upstream_error_problems(
                f"get({record_id!r})", lambda: connector.get(record_id), secrets, record_id
            )
            if connector.query_model is not None and connector.offers(Capability.SEARCH) and case.searches:
                query = case.searches[0].query
                problems += await _upstream_error_problems(
                    f"search({query!r})", lambda: connector.search(query, limit=5), secrets, record_id
                )
            if failure.noticed_by_health:
                problems += await _health_problems(connector, secrets)
        return problems

    # -- optional operations -------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_operations_not_offered_say_so(self, case: ConformanceCase) -> None:
        """An operation the connector does not offer (:meth:`Connector.offers`) raises
        :class:`OperationNotSupported`; it offers none that its class does not declare."""
        async with self.connector(case.config) as connector:
            offered = {capability for capability in Capability if connector.offers(capability)}
            declared = connector.capabilities
            extra = sorted(c.value for c in offered - declared)
            assert not extra, f"offers() offers capabilities the class does not declare: {extra}"
            assert Capability.READ in offered, "every connector offers read: offers(Capability.READ) is False"
            if Capability.SEARCH not in offered:
                await _raises(OperationNotSupported, "search() not offered", connector.search(ContractQuery(), limit=5))
            if Capability.SUBMIT not in offered:
                operation = SubmitOperation(OperationKind.DELETE, case.known_ids[0], idempotency_key="conformance")
                await _raises(OperationNotSupported, "submit() not offered", connector.submit(operation))
            if Capability.SAMPLE not in offered:
                await _raises(OperationNotSupported, "sample() not offered", connector.sample(5))


#: How many of the records a search finds are read again by key, to compare (search rule: the same record).
_COMPARED_WITH_GET = 20

#: How much longer the second deadline of the deadline check is than the configured one, and how many times at
#: most the kit reads with each before concluding (a loaded machine makes one read late, seldom three).
_TIMEOUT_STEP_SECONDS = 1.0
_TIMEOUT_TRIES = 3
#: How far a connector may stray from its configured deadline: it gives up between ``timeout / 1.5`` and
#: ``timeout * 1.5`` (plus the slack of a loaded machine), and a longer deadline makes it give up later by the
#: difference, within the same factor.
_DEADLINE_FACTOR = 1.5


#: The shortest stall of the event loop the kit takes for a blocking call (a slow system's deadline halved, but
#: never less), and how often its watcher wakes up.
_LONGEST_ALLOWED_STALL_SECONDS = 0.2
_TICK_SECONDS = 0.01
#: How long a call to the slow system runs before the kit cancels it (half its deadline, when shorter).
_CANCEL_AFTER_SECONDS = 0.2


async def _longest_stall(call: Awaitable[Any]) -> float:
    """The longest time the event loop did not run its other tasks while ``call`` ran (whatever it returned or
    raised): a watcher task wakes every few milliseconds and measures the gaps between its wake-ups."""
    longest = 0.0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(_TICK_SECONDS)
            now = time.perf_counter()
            longest = max(longest, now - last - _TICK_SECONDS)
            last = now

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)  # the watcher starts before the call does
    try:
        with contextlib.suppress(Exception):  # what the call raises is the other checks' business
            await call
    finally:
        done.set()
        await watcher
    return longest


def _deadline_problems(shortest: Mapping[float, float], timeout: float, longer: float) -> list[str]:
    """How the reads that timed out (the shortest time of each deadline) show the deadline not followed."""
    problems = []
    for seconds, elapsed in shortest.items():
        if elapsed < seconds / _DEADLINE_FACTOR:
            problems.append(f"get() gave up after {elapsed:.2f} s with timeout_seconds {seconds:g}: too early")
    difference = shortest[longer] - shortest[timeout]
    step = longer - timeout
    if not step / _DEADLINE_FACTOR <= difference <= step * _DEADLINE_FACTOR:
        problems.append(
            f"get() gave up after {shortest[timeout]:.2f} s with timeout_seconds {timeout:g}, and after "
            f"{shortest[longer]:.2f} s with {longer:g}: {difference:+.2f} s for {step:g} s more, so the deadline does "
            "not follow timeout_seconds (a fixed or a multiplied deadline?)"
        )
    return problems


#: Cursors that are no connector's own: random text, a NUL, Unicode digits (``str.isdigit()`` and ``int()`` take
#: them), negative and huge numbers, and the shapes of other connectors' cursors (JSON in base64, a JWT, query
#: strings). A connector refuses each with BadQuery (search rule 4).
_FOREIGN_CURSORS = (
    "not-a-cursor",
    "\x00",
    "²",
    "٣",
    "３",
    "1²",
    "-1",
    "-20",
    "9" * 30,
    "18446744073709551616",
    "eyJub3QiOiAiaGVyZSJ9",
    "eyJvZmZzZXQiOiAxMCwgInNlYXJjaCI6ICJvdGhlciJ9",
    "WzEsICJvdGhlciIsIDIsIDEsIDBd",
    "eyJhbGciOiJub25lIn0.eyJvZmZzZXQiOjEwfQ.",
    "page=2&size=10",
    "offset:10",
)


async def _upstream_error_problems(
    what: str, call: Callable[[], Awaitable[Any]], secrets: Collection[str], record_id: str
) -> list[str]:
    """What is wrong with how ``call`` (``what``), made while the sector system fails, fails: it must raise an
    :class:`UpstreamError` (not a timeout nor a contract violation: the system answered, and gave no record),
    quoting no secret nor the key."""
    try:
        result = await call()
    except RecordNotFound as exc:
        problem = (
            f"{what} raised RecordNotFound ({exc.message!r}): the gateway would answer 404, telling the caller "
            "that the record does not exist; a failure of the sector system is an UpstreamError"
        )
    except UpstreamTimeout as exc:
        problem = f"{what} raised UpstreamTimeout ({exc.message!r}) although the sector system answered at once"
    except ContractViolation as exc:
        problem = (
            f"{what} raised ContractViolation ({exc.message!r}), which reports a record that breaks the contract: "
            "the sector system gave no record; raise another UpstreamError"
        )
    except UpstreamError as exc:
        problems = []
        if any(secret in _error_text(exc) for secret in secrets):
            problems.append(
                f"the UpstreamError of {what}, or an error in its chain, quotes a secret of the configuration"
            )
        if record_id in exc.message:
            problems.append(f"the UpstreamError of {what} quotes the key (it may be personal data): {exc.message!r}")
        return problems
    except ConnectorError as exc:
        problem = f"{what} raised {type(exc).__name__} ({exc.message!r}), not an UpstreamError"
    except Exception as exc:
        problem = (
            f"{what} let a raw {type(exc).__name__} escape ({exc}): catch the sector system's failures and raise "
            "an UpstreamError (connectors/errors.py)"
        )
    else:
        problem = f"{what} returned {type(result).__name__} instead of raising an UpstreamError"
    return [problem]


async def _health_problems(connector: Connector[Any], secrets: Collection[str]) -> list[str]:
    """What is wrong with ``health()`` and ``check()`` while the sector system fails: neither may report it up;
    ``health()`` reports it down or degraded, with a message, or raises an :class:`UpstreamError`."""
    problems = []
    try:
        health = cast(object, await connector.health())  # whatever a broken connector returns
    except UpstreamError as exc:
        if any(secret in _error_text(exc) for secret in secrets):
            problems.append(
                "the UpstreamError of health(), or an error in its chain, quotes a secret of the configuration"
            )
    except ConnectorError as exc:
        problems.append(f"health() raised {type(exc).__name__} ({exc.message!r}), not an UpstreamError")
    except Exception as exc:
        problems.append(
            f"health() let a raw {type(exc).__name__} escape ({exc}): report the system down (or raise an "
            "UpstreamError)"
        )
    else:
        if not isinstance(health, HealthReport):
            problems.append(f"health() returned a {type(health).__name__}, not a HealthReport")
        elif health.state is HealthState.UP:
            problems.append(
                f"health() reports the system up ({health.message!r}): a probe that fails (or answers "
                "something other than its success) reports it down or degraded, or raises an UpstreamError"
            )
        elif not health.message:
            problems.append(f"health() reports the system {health.state.value} without a message saying why")
    report = await connector.check()
    if report.state is HealthState.UP:
        problems.append(f"check() reports the system up ({report.message!r})")
    elif not report.message:
        problems.append(f"check() reports the system {report.state.value} without a message saying why")
    elif any(secret in report.message for secret in secrets):
        problems.append("the message of check() quotes a secret of the configuration")
    return problems


class ContextConformance:
    """The request-context check of the kit, mixed into :class:`ConnectorConformance`."""

    connector_class: ClassVar[type[Connector[Any]]]

    @pytest.mark.anyio
    async def test_request_context_is_forwarded_as_configured(self, case: ConformanceCase) -> None:
        """Each call (a read, a health check, a search) carries the context in the headers ``context_headers``
        names, as configured and with every field mapped; concurrent calls each carry their own; a field without
        a value is left out; ``{}`` sends none."""
        if "context_headers" not in self.connector_class.config_model.model_fields:
            pytest.skip("the configuration has no context_headers: this connector forwards no request context")
        received = case.received_headers
        if received is None:
            pytest.skip("no received_headers given: the kit cannot see what the sector system received")
        configured: Mapping[str, str] = self.connector_class.from_config(case.config).config.context_headers
        every = {name: f"X-Conformance-{name.replace('_', '-')}" for name in CONTEXT_FIELDS}
        mappings = [("as configured", configured)] if set(configured) & set(_IDENTIFYING) else []
        for label, mapping in [*mappings, ("every field mapped", every)]:
            async with self.connector_class.from_config({**case.config, "context_headers": mapping}) as connector:
                context = _conformance_context()
                with use_context(context):
                    await connector.get(case.known_ids[0])
                _assert_forwarded(f"get() ({label})", context, mapping, received)
                context = _conformance_context()
                with use_context(context):
                    result = await connector.check()
                assert result.ok, f"check() ({label}) failed: {result.message}"
                _assert_forwarded(f"check() ({label})", context, mapping, received)
                if connector.query_model is not None and case.searches:
                    context = _conformance_context()
                    with use_context(context):
                        await connector.search(case.searches[0].query, limit=2)
                    _assert_forwarded(f"search() ({label})", context, mapping, received)
                contexts = [_conformance_context() for _ in range(4)]

                async def get_in(context: RequestContext) -> None:
                    with use_context(context):
                        await connector.get(case.known_ids[0])

                await asyncio.gather(*(get_in(context) for context in contexts))
                for context in contexts:
                    _assert_forwarded(f"concurrent get() ({label})", context, mapping, received)
                partial = _conformance_context(partial=True)
                with use_context(partial):
                    await connector.get(case.known_ids[0])
                _assert_forwarded(f"get() with some fields unset ({label})", partial, mapping, received)
        async with self.connector_class.from_config({**case.config, "context_headers": {}}) as connector:
            context = _conformance_context()
            with use_context(context):
                await connector.get(case.known_ids[0])
        leaked = _received_for(context, every, received) + _received_for(context, configured, received)
        assert not leaked, (
            f"context_headers {{}} forwards nothing, yet the context reached the sector system in "
            f"{len(leaked)} request(s), with the headers {sorted({name for headers in leaked for name in headers})}"
        )


class SubmissionConformance:
    """The write-path checks of the kit, mixed into :class:`ConnectorConformance`."""

    connector_class: ClassVar[type[Connector[Any]]]

    async def _refuses_submissions(self, case: ConformanceCase, needed: str) -> None:
        """Without a writable configuration, the write-path checks apply in the negative: a connector that takes
        no submissions must refuse them (:class:`OperationNotSupported`); one that takes them fails, since the
        kit cannot check its writes without ``needed``."""
        connector = self.connector_class.from_config(case.config)
        if connector.offers(Capability.SUBMIT):
            pytest.fail(
                f"the connector accepts submissions, but the kit was given no {needed} to check them with",
                pytrace=False,
            )
        operation = SubmitOperation(
            OperationKind.CREATE, case.known_ids[0], idempotency_key=f"conformance-{uuid.uuid4().hex[:8]}"
        )
        async with connector:
            await _raises(
                OperationNotSupported, "submit() without a writable configuration", connector.submit(operation)
            )

    @pytest.mark.anyio
    async def test_submissions_apply_once_in_order(self, case: ConformanceCase) -> None:
        """Create, create again under the same key (a duplicate), update, delete: each visible to a reader; a
        second create of the same record, or a change of a missing one, is refused for good."""
        if case.writable_config is None or case.new_record is None or case.update is None:
            await self._refuses_submissions(case, "writable_config, new_record and update")
            return
        connector = self.connector_class.from_config(case.writable_config)
        key_name = connector.contract.record_key
        record_id = str(case.new_record[key_name])
        run = uuid.uuid4().hex[:8]

        def operation(kind: OperationKind, fields: Mapping[str, Any], step: str) -> SubmitOperation:
            return SubmitOperation(kind, record_id, idempotency_key=f"conformance-{run}-{step}", fields=fields)

        async def status(what: str, submitted: SubmitOperation, expected: SubmitStatus) -> None:
            got = (await connector.submit(submitted)).status
            assert got == expected, f"{what} of {record_id!r}: submit() answered {got!r}, not {expected.value!r}"

        async with connector:
            assert connector.offers(Capability.SUBMIT), "a writable configuration must offer submit"
            create = operation(OperationKind.CREATE, case.new_record, "create")
            await status("a create", create, SubmitStatus.APPLIED)
            await status("the same create again (same idempotency key)", create, SubmitStatus.DUPLICATE)
            # Compared as models: a timestamp may come back in another zone (the same instant).
            created = await connector.get(record_id)
            problems = _record_problems(created, connector.contract, f"get({record_id!r}) after its create")
            assert not problems, "; ".join(problems)
            assert created == connector.contract.model_validate(case.new_record), (
                f"get({record_id!r}) after its create returned another record than the one created (fields "
                f"{_differing(created, connector.contract.model_validate(case.new_record))})"
            )
            await _raises(
                SubmissionRejected,
                f"a second create of {record_id!r} (another idempotency key)",
                connector.submit(operation(OperationKind.CREATE, case.new_record, "create-again")),
            )
            updated = operation(OperationKind.UPDATE, case.update, "update")
            await status("an update", updated, SubmitStatus.APPLIED)
            await status("the same update again (same idempotency key)", updated, SubmitStatus.DUPLICATE)
            seen = await connector.get(record_id)
            expected = connector.contract.model_validate({**case.new_record, **case.update})
            changed = {k: getattr(seen, k) for k in case.update}
            assert changed == {k: getattr(expected, k) for k in case.update}, (
                f"get({record_id!r}) after its update does not show the updated fields "
                f"{sorted(k for k in case.update if getattr(seen, k) != getattr(expected, k))}"
            )
            await status("a delete", operation(OperationKind.DELETE, {}, "delete"), SubmitStatus.APPLIED)
            await _raises(RecordNotFound, f"get({record_id!r}) after its delete", connector.get(record_id))
            await _raises(
                SubmissionRejected,
                f"an update of {record_id!r} after its delete",
                connector.submit(operation(OperationKind.UPDATE, case.update, "update-missing")),
            )

    @pytest.mark.anyio
    async def test_concurrent_deliveries_of_one_key_apply_once(self, case: ConformanceCase) -> None:
        """The same operation delivered by two dispatchers at once (a claim taken over): applied once."""
        if case.writable_config is None or case.new_record is None:
            await self._refuses_submissions(case, "writable_config and new_record")
            return
        connector = self.connector_class.from_config(case.writable_config)
        record_id = str(case.new_record[connector.contract.record_key])
        key = f"conformance-{uuid.uuid4().hex[:8]}"
        async with connector:
            create = SubmitOperation(OperationKind.CREATE, record_id, idempotency_key=key, fields=case.new_record)
            results = await asyncio.gather(*(connector.submit(create) for _ in range(4)))
            statuses = sorted(r.status.value for r in results)
            assert statuses == ["applied", "duplicate", "duplicate", "duplicate"], (
                f"the same create of {record_id!r} delivered four times at once was answered {statuses}, not "
                "applied once and duplicate thrice"
            )
            delete = SubmitOperation(OperationKind.DELETE, record_id, idempotency_key=key + "-delete")
            deleted = (await connector.submit(delete)).status
            assert deleted == SubmitStatus.APPLIED, f"a delete of {record_id!r}: submit() answered {deleted!r}"


def connector_test_class(
    connector_class: type[Connector[Any]],
    *,
    config: Mapping[str, Any],
    known_ids: Sequence[str],
    missing_id: str,
    unreachable_config: Mapping[str, Any],
    slow_config: Mapping[str, Any] | None = None,
    searches: Sequence[SearchCase] = (),
    invalid_configs: Sequence[Mapping[str, Any]] = (),
    entry_point: str | None = None,
    grace_seconds: float = 1.0,
    writable_config: Mapping[str, Any] | None = None,
    new_record: Mapping[str, Any] | None = None,
    update: Mapping[str, Any] | None = None,
    received_headers: Callable[[], Sequence[Mapping[str, str]]] | None = None,
    fail_upstream: Callable[[UpstreamFailure | None], object] | None = None,
    failing_configs: Mapping[str, Mapping[str, Any] | str] | None = None,
    known_records: Mapping[str, Mapping[str, Any]] | None = None,
    published_contracts: str | Path | None = None,
) -> type[ConnectorConformance]:
    """The conformance tests of ``connector_class``, as a test class to assign to a ``Test...`` name.

    * ``config``: a working configuration, pointing at a real sector system (or a faithful simulator);
    * ``known_ids``: keys of records that exist there; ``missing_id``: a well-formed key that does not;
    * ``known_records``: by key, what records of the system must be in the contract's terms (contract field ->
      value, for some or all of the fields: ``{"HS-0001": {"name": "Nguyễn Thị Mai", "updated": "2025-02-02"}}``),
      written from the system's data, not computed by the connector's mapping: ``get()`` of each, and a search
      that finds one, must return these values (a field mapped from the wrong field of the system, or converted
      wrongly, fails); without it that check is skipped, as the kit cannot tell a wrong value from a right one;
    * ``unreachable_config``: the same configuration pointing where nothing answers (a closed port, a missing
      file);
    * ``slow_config``: pointing at a system that answers too late (a held lock, a hanging server), with a short
      ``timeout_seconds``; the kit also reads with a deadline a second longer, so the system must not answer
      before that either; without it the deadline test is skipped;
    * ``searches``: queries to walk, with the keys they must find when known, and the keys of the records they
      match that break the contract (``invalid_ids``: plant some in the test system to check the search rules);
    * ``invalid_configs``: configurations the connector must refuse, beyond the kit's own;
    * ``entry_point``: the name under which the connector is registered in ``gateway.connectors``, to check it;
    * ``grace_seconds``: slack allowed beyond a deadline (slow CI machines);
    * ``writable_config``: a configuration that accepts submissions, on a system the kit may write to, with
      ``new_record`` (contract data of a record it does not hold) and ``update`` (changed top-level fields of
      it): the kit then creates, repeats, updates and deletes that record (without them, it checks that the
      connector refuses submissions);
    * ``published_contracts``: the directory of the published snapshots of the contract the connector serves
      (``python -m contracts.compatibility --write NAME VERSION --snapshots DIR --import MODULE``; see
      docs/contract-versions.md): the kit checks that the contract is still the version its readers and writers
      were promised. The gateway's own contracts are checked against their snapshots without it; another
      package's contract is not checked without it (the check is skipped, saying so);
    * ``received_headers``: a callable returning the headers of every request the sector system ``config`` points
      at has received (oldest first; the simulators' ``middleware.received.headers``): with it, the kit checks
      that a connector whose configuration has ``context_headers`` forwards the request context as configured
      (skipped without it);
    * ``fail_upstream``: a callable that makes the sector system ``config`` points at fail in the way an
      :class:`UpstreamFailure` says, from its next request on, until it is called with ``None`` (behave again);
      returning ``False`` (not ``None``) says it cannot fail that way. The simulators do it with their
      ``switch`` (``simulators.http.MisbehaviourSwitch``). With it the kit checks what a connector does with the
      failures of a sector system (skipped for a failure nothing produces);
    * ``failing_configs``: by :class:`UpstreamFailure` (or its value), a configuration pointing at a system that
      fails that way (a file that is not a database, a view whose reading fails), used instead of
      ``fail_upstream``; or, for a failure the system cannot produce, the sentence that says why (the kit's check
      of it is skipped with that reason).

    Any of these may be, or contain, :func:`fixture` placeholders.
    """
    arguments = {
        "config": config,
        "known_ids": known_ids,
        "missing_id": missing_id,
        "unreachable_config": unreachable_config,
        "slow_config": slow_config,
        "searches": searches,
        "invalid_configs": invalid_configs,
        "grace_seconds": grace_seconds,
        "writable_config": writable_config,
        "new_record": new_record,
        "update": update,
        "received_headers": received_headers,
        "fail_upstream": fail_upstream,
        "failing_configs": failing_configs,
        "known_records": known_records,
        "published_contracts": published_contracts,
    }
    name = f"Test{connector_class.__name__}Conformance"
    namespace = {
        "connector_class": connector_class,
        "arguments": arguments,
        "entry_point": entry_point,
        "__doc__": f"The conformance kit applied to {connector_class.__module__}.{connector_class.__qualname__}.",
    }
    return type(name, (ConnectorConformance, SubmissionConformance, ContextConformance), namespace)
