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
that ``get()`` returns valid contract records for the known keys, also under concurrency, and raises
:class:`RecordNotFound` for the missing one; that searches keep the search rules of :meth:`Connector.search
<connectors.base.Connector.search>`: every search walks all its pages, at several page sizes and with the page size
changed mid-walk, returning every record exactly once and in a stable order, and a record that breaks the contract
(declared in ``SearchCase.invalid_ids``) is left out of its page and reported in ``Page.skipped`` instead of failing
the page; that ``canary()`` fetches the declared canary record and reports a missing one; that a slow system makes
calls fail with :class:`UpstreamTimeout` within the configured deadline; that operations the connector does not
offer raise :class:`OperationNotSupported` (submissions too, when no writable configuration is given: a connector
that takes submissions then fails, as its writes went unchecked); and, for a connector whose configuration has
``context_headers`` (:class:`connectors.context.ContextForwarding`), that every call carries the request context in
the headers it names, and nothing when it names none.

A check that needs a library the kit does not install (``jsonschema``, in the connector's test dependencies)
fails, naming it, when it is missing: checks are skipped only when they do not apply (no searches given, no
search declaring broken records, no request context to forward...), never because something is missing.

That last check needs to see what the sector system received: pass ``received_headers``, a callable (or a fixture
giving one) that returns the headers of every request the system received so far. The simulators' servers record
them (``simulators.http.Misbehaving.received.headers``)::

    @pytest.fixture
    def land_api_received(land_api) -> Callable[[], list[Mapping[str, str]]]:
        return land_api.middleware.received.headers

    TestLandConnector = connector_test_class(..., received_headers=fixture("land_api_received"))
"""

from __future__ import annotations

import asyncio
import importlib
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, SecretStr

from contracts import Contract, ContractQuery

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
    implemented_capabilities,
)
from .context import CONTEXT_FIELDS, RequestContext, new_traceparent, use_context
from .discovery import ENTRY_POINT_GROUP

__all__ = ["ConformanceCase", "ConnectorConformance", "FixtureValue", "SearchCase", "connector_test_class", "fixture"]

_SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SECRET_NAME = re.compile(r"(^|_)(secret|password|passwd|token|access_key|secret_key|api_key|private_key)$")
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


def _assert_no_secret(text: str, secrets: Collection[str]) -> None:
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, "a secret of the configuration appears in a message"


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
            assert len(pages) <= bound, "the cursor does not advance: more pages than records"
            limit = limits[min(len(pages), len(limits) - 1)]
            pages.append(await connector.search(query, limit=limit, cursor=pages[-1].next_cursor))
    except ContractViolation as exc:
        pytest.fail(
            f"a record that breaks the contract failed its search page ({'; '.join(exc.errors)}): the page must "
            "be served without it, and the record reported in Page.skipped (see Connector.search)",
            pytrace=False,
        )
    return pages


def _page_problems(pages: Sequence[Page], limits: Sequence[int], contract: type[Contract]) -> list[str]:
    """What breaks the search rules in one walk (its n-th page asked with ``limits[min(n, len - 1)]``)."""
    problems = []
    for n, page in enumerate(pages):
        limit = limits[min(n, len(limits) - 1)]
        if len(page.items) + len(page.skipped) > limit:
            problems.append(f"page {n + 1} holds more than the {limit} records asked for (skipped ones included)")
        if n < len(pages) - 1 and not page.items and not page.skipped:
            problems.append(f"page {n + 1} is empty but not the last")
        if not all(isinstance(item, contract) for item in page.items):
            problems.append(f"page {n + 1} holds something other than {contract.__name__} records")
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
    def case(self, request: pytest.FixtureRequest) -> ConformanceCase:
        """The case, with fixture placeholders replaced by the fixtures' values."""
        return ConformanceCase(**_resolve(dict(self.arguments), request))

    def connector(self, config: Mapping[str, Any]) -> Connector[Any]:
        """A connector built from ``config``."""
        return self.connector_class.from_config(config)

    # -- metadata and configuration ------------------------------------------------------------------------

    def test_metadata(self) -> None:
        """The slug is lower case, the title is set, and the models are of the SDK's classes."""
        cls = self.connector_class
        assert _SLUG.match(cls.slug), f"slug {cls.slug!r} is not lower case letters, digits, '-' and '_'"
        assert cls.title.strip(), "the connector needs a title"
        assert issubclass(cls.config_model, ConnectorConfig)
        if cls.query_model is not None:  # generic connectors may set it per instance, from their configuration
            assert issubclass(cls.query_model, ContractQuery)
        if getattr(cls, "contract", None) is not None:
            assert issubclass(cls.contract, Contract)

    def test_capabilities_are_declared_as_implemented(self) -> None:
        """``capabilities`` names exactly what the class implements: ``read``, and each optional operation whose
        method it overrides (a capability declared but not implemented, or implemented but not declared, fails)."""
        cls = self.connector_class
        declared = cls.capabilities
        assert isinstance(declared, frozenset) and all(isinstance(c, Capability) for c in declared), (
            "capabilities must be a frozenset of connectors.base.Capability members"
        )
        assert Capability.READ in declared, "every connector reads: declare Capability.READ"
        implemented = implemented_capabilities(cls)
        missing = sorted(f"{c.value} ({CAPABILITY_METHODS[c]}())" for c in declared - implemented)
        assert not missing, f"capabilities declared but not implemented: {', '.join(missing)}"
        undeclared = sorted(c.value for c in implemented - declared)
        assert not undeclared, f"operations implemented but not declared in capabilities: {', '.join(undeclared)}"
        if Capability.SUBMIT not in declared:
            assert cls.submit_many is Connector.submit_many, "submit_many() is implemented but not submit()"

    def test_entry_point(self) -> None:
        """The ``gateway.connectors`` entry point named ``entry_point`` loads this class (skipped without one)."""
        if self.entry_point is None:
            pytest.skip("no entry_point given")
        found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        assert self.entry_point in found, f"no {ENTRY_POINT_GROUP!r} entry point named {self.entry_point!r}"
        assert found[self.entry_point].load() is self.connector_class

    def test_config_schema(self, case: ConformanceCase) -> None:
        """The configuration exports a valid JSON Schema, every setting described, every secret a ``SecretStr``."""
        jsonschema = _require("jsonschema")
        schema = self.connector_class.config_model.model_json_schema()
        jsonschema.Draft202012Validator.check_schema(schema)
        undocumented = [f"{m}.{p}" for m, p, prop in _schema_properties(schema) if not prop.get("description")]
        assert not undocumented, f"settings without a description: {', '.join(undocumented)}"
        plain = [
            f"{m}.{p}"
            for m, p, prop in _schema_properties(schema)
            if _SECRET_NAME.search(p)
            and "password" not in {prop.get("format"), *(o.get("format") for o in prop.get("anyOf", ()))}
        ]
        assert not plain, f"secret-looking settings that are not SecretStr: {', '.join(plain)}"
        validated = self.connector_class.config_model.model_validate(case.config)
        assert self.connector_class.config_model.model_validate(validated.model_dump()) == validated

    def test_config_builds_the_connector(self, case: ConformanceCase) -> None:
        """The configuration builds the connector, again from its own validated form."""
        connector = self.connector(case.config)
        assert isinstance(connector, self.connector_class)
        assert isinstance(connector.config, self.connector_class.config_model)
        assert isinstance(self.connector_class.from_config(connector.config), self.connector_class)

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
        for config, named in bad:
            with pytest.raises(ConnectorConfigError) as info:
                self.connector(config)
            error = info.value
            assert error.message and self.connector_class.slug in error.message
            if named is not None:
                assert named in error.message, f"the error does not name {named!r}: {error.message}"
            _assert_no_secret(" ".join([error.message, *error.errors]), secrets)

    # -- reaching the sector system ------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_check_and_health_when_up(self, case: ConformanceCase) -> None:
        """A reachable system is up: ``health()`` reports it, ``check()`` too, with its latency."""
        async with self.connector(case.config) as connector:
            result = await connector.check()
            health = await connector.health()
        assert result.ok, f"check() failed: {result.message}"
        assert result.latency_seconds is not None and result.latency_seconds >= 0
        assert isinstance(health, HealthReport), f"health() returned a {type(health).__name__}, not a HealthReport"
        assert health.state is HealthState.UP

    @pytest.mark.anyio
    async def test_check_and_health_when_unreachable(self, case: ConformanceCase) -> None:
        """An unreachable system is down (or ``health()`` raises for it) and reads fail with ``connect``, soon,
        quoting no secret or key."""
        connector = self.connector(case.unreachable_config)
        secrets = _secrets(connector.config)
        deadline = connector.config.timeout_seconds * 1.5 + case.grace_seconds
        async with connector:
            started = time.perf_counter()
            result = await connector.check()  # never raises
            try:
                health = await connector.health()
            except UpstreamError as exc:  # the probe may raise instead of reporting down; the axis keeps its reason
                health = HealthReport(HealthState.DOWN, message=exc.message)
            with pytest.raises(UpstreamUnavailable) as info:
                await connector.get(case.known_ids[0])
            elapsed = time.perf_counter() - started
        assert result.ok is False and result.message
        assert health.state is HealthState.DOWN
        assert info.value.reason == "connect"
        assert elapsed < 3 * deadline, f"an unreachable system took {elapsed:.1f} s to report"
        _assert_no_secret(" ".join([result.message, health.message, info.value.message]), secrets)
        assert case.known_ids[0] not in info.value.message

    # -- reading -------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_get_returns_valid_contract_records(self, case: ConformanceCase) -> None:
        """``get()`` returns valid records of the contract for the known keys (checked against its JSON Schema too)."""
        assert case.known_ids, "known_ids must name at least one record"
        async with self.connector(case.config) as connector:
            contract = connector.contract
            schema = contract.contract_schema()
            jsonschema = _require("jsonschema")
            for record_id in case.known_ids:
                record = await connector.get(record_id)
                assert isinstance(record, contract), f"get() returned a {type(record).__name__}"
                assert record.record_id() == record_id
                assert contract.model_validate_json(record.model_dump_json()) == record
                jsonschema.validate(record.model_dump(mode="json"), schema)

    @pytest.mark.anyio
    async def test_canary_checks_a_known_record_and_refuses_a_missing_one(self, case: ConformanceCase) -> None:
        """``canary()`` checks nothing without a canary, passes on a known record and raises for a missing one."""
        config = dict(case.config)
        async with self.connector({**config, "canary": None}) as connector:
            assert await connector.canary() is False  # no canary declared: nothing checked
        async with self.connector({**config, "canary": case.known_ids[0]}) as connector:
            assert connector.canary_id == case.known_ids[0]
            assert await connector.canary() is True
        async with self.connector({**config, "canary": case.missing_id}) as connector:
            with pytest.raises(RecordNotFound):
                await connector.canary()

    @pytest.mark.anyio
    async def test_concurrent_gets(self, case: ConformanceCase) -> None:
        """Concurrent reads return the same records as reads one by one."""
        ids = list(case.known_ids) * max(1, 24 // len(case.known_ids))
        async with self.connector(case.config) as connector:
            one_by_one = {record_id: await connector.get(record_id) for record_id in case.known_ids}
            together = await asyncio.gather(*(connector.get(record_id) for record_id in ids))
        assert [record.record_id() for record in together] == ids
        assert all(record == one_by_one[record.record_id()] for record in together)

    @pytest.mark.anyio
    async def test_missing_record_is_not_found(self, case: ConformanceCase) -> None:
        """A missing key raises :class:`RecordNotFound`, whose message does not quote it."""
        assert case.missing_id not in case.known_ids
        async with self.connector(case.config) as connector:
            with pytest.raises(RecordNotFound) as info:
                await connector.get(case.missing_id)
        assert case.missing_id not in info.value.message, "the error quotes the key (it may be personal data)"

    # -- searching -----------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_search_walks_every_page_once(self, case: ConformanceCase) -> None:
        """Every search walks its pages at several page sizes, and changing it mid-walk: each record once, in order."""
        if not case.searches:
            pytest.skip("no searches given")
        async with self.connector(case.config) as connector:
            assert connector.query_model is not None, "searches are given but the connector has no query model"
            for search in case.searches:
                walks = {}
                for limit in _LIMITS:
                    pages = await _walk(connector, search.query, [limit], bound=10_000)
                    ids = [item.record_id() for page in pages for item in page.items]
                    duplicates = [key for key, n in Counter(ids).items() if n > 1]
                    assert not duplicates, f"limit {limit}: records returned twice"
                    problems = _page_problems(pages, [limit], connector.contract)
                    assert not problems, f"limit {limit}: {'; '.join(problems)}"
                    walks[limit] = ids
                orders = {tuple(ids) for ids in walks.values()}
                assert len(orders) == 1, "the order of the records depends on the page size"
                found = next(iter(orders))
                if search.expected_ids is not None:
                    assert sorted(found) == sorted(search.expected_ids), "the search found other records"
                # A caller may change its page size in the middle of a walk: the cursor stays valid, and the walk
                # neither repeats nor skips a record.
                for limits in _MIXED_LIMITS:
                    mixed = await _walk(connector, search.query, limits, bound=10_000)
                    problems = _page_problems(mixed, limits, connector.contract)
                    assert not problems, f"page sizes {limits}: {'; '.join(problems)}"
                    got = tuple(item.record_id() for page in mixed for item in page.items)
                    assert got == found, f"page sizes {limits} changed mid-walk: records repeated, lost or reordered"

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
                invalid = sorted(map(str, search.invalid_ids or ()))
                walks: dict[tuple[int, ...], list[str]] = {}
                for limits in [*((limit,) for limit in _LIMITS), *_MIXED_LIMITS]:
                    pages = await _walk(connector, search.query, limits, bound=10_000)
                    problems = _page_problems(pages, limits, connector.contract)
                    assert not problems, f"page sizes {limits}: {'; '.join(problems)}"
                    served = [item.record_id() for page in pages for item in page.items]
                    reported = [violation.record_id for page in pages for violation in page.skipped]
                    leaked = sorted(set(served) & set(invalid))
                    assert not leaked, f"page sizes {limits}: records that break the contract were served"
                    assert None not in reported, f"page sizes {limits}: a skipped record is reported without its key"
                    assert sorted(map(str, reported)) == invalid, (
                        f"page sizes {limits}: the skipped records reported are not the broken ones, each once"
                    )
                    assert len(served) == len(set(served)), f"page sizes {limits}: records returned twice"
                    walks[limits] = served
                assert len({tuple(ids) for ids in walks.values()}) == 1, (
                    "the records served around the broken ones depend on the page size"
                )
                if search.expected_ids is not None:
                    assert sorted(next(iter(walks.values()))) == sorted(search.expected_ids), (
                        "the search found other records"
                    )

    @pytest.mark.anyio
    async def test_search_with_a_foreign_cursor(self, case: ConformanceCase) -> None:
        """A cursor that is not the connector's is refused with :class:`BadQuery`, or answers a bounded page."""
        if not case.searches:
            pytest.skip("no searches given")
        async with self.connector(case.config) as connector:
            for cursor in ("not-a-cursor", "eyJub3QiOiAiaGVyZSJ9", "\x00"):
                try:
                    page = await connector.search(case.searches[0].query, limit=5, cursor=cursor)
                except BadQuery:
                    continue
                assert len(page.items) <= 5  # accepting it is fine; failing otherwise is not

    # -- deadlines -----------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_timeout_is_honoured(self, case: ConformanceCase) -> None:
        """A slow system fails reads, checks and searches with :class:`UpstreamTimeout` within the deadline."""
        if case.slow_config is None:
            pytest.skip("no slow_config given")
        connector = self.connector(case.slow_config)
        timeout = connector.config.timeout_seconds
        bound = timeout * 1.5 + case.grace_seconds
        async with connector:
            started = time.perf_counter()
            with pytest.raises(UpstreamTimeout) as info:
                await connector.get(case.known_ids[0])
            elapsed = time.perf_counter() - started
            assert info.value.reason == "timeout"
            assert elapsed < bound, f"get() gave up after {elapsed:.2f} s; its deadline is {timeout:g} s"
            started = time.perf_counter()
            result = await connector.check()
            checked = time.perf_counter() - started
            assert result.ok is False and checked < bound
            if connector.query_model is not None and case.searches:
                started = time.perf_counter()
                with pytest.raises(UpstreamTimeout):
                    await connector.search(case.searches[0].query, limit=5)
                assert time.perf_counter() - started < bound

    # -- optional operations -------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_operations_not_offered_say_so(self, case: ConformanceCase) -> None:
        """An operation the connector does not offer (:meth:`Connector.offers`) raises
        :class:`OperationNotSupported`; it offers none that its class does not declare."""
        async with self.connector(case.config) as connector:
            offered = {capability for capability in Capability if connector.offers(capability)}
            assert offered <= connector.capabilities, "offers() offers capabilities the class does not declare"
            assert Capability.READ in offered, "every connector offers read"
            if Capability.SEARCH not in offered:
                with pytest.raises(OperationNotSupported):
                    await connector.search(ContractQuery(), limit=5)
            if Capability.SUBMIT not in offered:
                operation = SubmitOperation(OperationKind.DELETE, case.known_ids[0], idempotency_key="conformance")
                with pytest.raises(OperationNotSupported):
                    await connector.submit(operation)
            if Capability.SAMPLE not in offered:
                with pytest.raises(OperationNotSupported):
                    await connector.sample(5)


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
                assert result.ok, f"check() failed: {result.message}"
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
        assert not leaked, "context_headers {} forwards nothing, yet the context reached the sector system"


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
            with pytest.raises(OperationNotSupported):
                await connector.submit(operation)

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

        async with connector:
            assert connector.offers(Capability.SUBMIT), "a writable configuration must offer submit"
            create = operation(OperationKind.CREATE, case.new_record, "create")
            assert (await connector.submit(create)).status == SubmitStatus.APPLIED
            assert (await connector.submit(create)).status == SubmitStatus.DUPLICATE
            # Compared as models: a timestamp may come back in another zone (the same instant).
            assert await connector.get(record_id) == connector.contract.model_validate(case.new_record)
            with pytest.raises(SubmissionRejected):
                await connector.submit(operation(OperationKind.CREATE, case.new_record, "create-again"))
            updated = operation(OperationKind.UPDATE, case.update, "update")
            assert (await connector.submit(updated)).status == SubmitStatus.APPLIED
            assert (await connector.submit(updated)).status == SubmitStatus.DUPLICATE
            seen = await connector.get(record_id)
            expected = connector.contract.model_validate({**case.new_record, **case.update})
            assert {k: getattr(seen, k) for k in case.update} == {k: getattr(expected, k) for k in case.update}
            assert (await connector.submit(operation(OperationKind.DELETE, {}, "delete"))).status == "applied"
            with pytest.raises(RecordNotFound):
                await connector.get(record_id)
            with pytest.raises(SubmissionRejected):
                await connector.submit(operation(OperationKind.UPDATE, case.update, "update-missing"))

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
            assert sorted(r.status for r in results) == ["applied", "duplicate", "duplicate", "duplicate"]
            delete = SubmitOperation(OperationKind.DELETE, record_id, idempotency_key=key + "-delete")
            assert (await connector.submit(delete)).status == SubmitStatus.APPLIED


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
) -> type[ConnectorConformance]:
    """The conformance tests of ``connector_class``, as a test class to assign to a ``Test...`` name.

    * ``config``: a working configuration, pointing at a real sector system (or a faithful simulator);
    * ``known_ids``: keys of records that exist there; ``missing_id``: a well-formed key that does not;
    * ``unreachable_config``: the same configuration pointing where nothing answers (a closed port, a missing
      file);
    * ``slow_config``: pointing at a system that answers too late (a held lock, a hanging server), with a short
      ``timeout_seconds``; without it the deadline test is skipped;
    * ``searches``: queries to walk, with the keys they must find when known, and the keys of the records they
      match that break the contract (``invalid_ids``: plant some in the test system to check the search rules);
    * ``invalid_configs``: configurations the connector must refuse, beyond the kit's own;
    * ``entry_point``: the name under which the connector is registered in ``gateway.connectors``, to check it;
    * ``grace_seconds``: slack allowed beyond a deadline (slow CI machines);
    * ``writable_config``: a configuration that accepts submissions, on a system the kit may write to, with
      ``new_record`` (contract data of a record it does not hold) and ``update`` (changed top-level fields of
      it): the kit then creates, repeats, updates and deletes that record (without them, it checks that the
      connector refuses submissions);
    * ``received_headers``: a callable returning the headers of every request the sector system ``config`` points
      at has received (oldest first; the simulators' ``middleware.received.headers``): with it, the kit checks
      that a connector whose configuration has ``context_headers`` forwards the request context as configured
      (skipped without it).

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
    }
    name = f"Test{connector_class.__name__}Conformance"
    namespace = {
        "connector_class": connector_class,
        "arguments": arguments,
        "entry_point": entry_point,
        "__doc__": f"The conformance kit applied to {connector_class.__module__}.{connector_class.__qualname__}.",
    }
    return type(name, (ConnectorConformance, SubmissionConformance, ContextConformance), namespace)
