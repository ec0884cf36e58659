"""The conformance kit fails connectors that break its rules: it is run, in a pytest of its own, against REST
connectors broken on purpose (each in one way), and each must fail exactly the test that covers its fault (the
request context's check too: a connector that drops the context, and one that sends a stale one; the search rules:
a connector failing a page for one broken record, one hiding the broken records, one losing its place when the page
size changes; the declared capabilities: one declaring an operation it does not implement, one implementing an
operation it does not declare; the failures of the sector system: one reporting them as missing records, one letting
its parser's exception escape, two calling a failing system up; one returning records never validated; one keeping
secrets in plain settings named so; one taking foreign cursors; one ignoring its configured deadline). Its failures
say what is wrong, with the values compared (the kit's asserts are rewritten by pytest, through the distribution's
pytest plugin), and an entry point two distributions register is named as such."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections import defaultdict
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from support import install_distribution

MODULE = '''
import asyncio
import json

import pytest
from pydantic import Field

from connectors.base import (
    BadQuery, Capability, HealthReport, HealthState, Page, RecordNotFound, UpstreamError, UpstreamTimeout,
)
from connectors.context import current_context, use_context
from connectors.rest import RestConnector, RestConnectorConfig
from connectors.testing import SearchCase, UpstreamFailure, connector_test_class, fixture
from contracts.population import CitizenQuery
from simulators.population import generate_citizens
from simulators.population_api import ApiServer, Misbehaviour, PopulationApi, rest_connector_config

ROWS = list(generate_citizens(300, seed=4))
NAME, BORN = "Trần Thị Mẫu", max((r["ngay_sinh"][:4] for r in ROWS), key=lambda y: sum(
    1 for r in ROWS if r["ngay_sinh"].startswith(y) and r["gioi_tinh"] == 2))
MATCHES = sorted(r["so_dinh_danh"] for r in ROWS if r["ngay_sinh"].startswith(BORN) and r["gioi_tinh"] == 2)[:8]
ROWS = [{**r, "ho_ten": NAME} if r["so_dinh_danh"] in MATCHES else r for r in ROWS]
assert len(MATCHES) >= 4
# A second name, of men born the same year: some of their records break the contract (an ethnic group code that
# does not exist), as a sector system's data may.
FLAWED, BORN_TOO = "Lê Văn Hỏng", max((r["ngay_sinh"][:4] for r in ROWS), key=lambda y: sum(
    1 for r in ROWS if r["ngay_sinh"].startswith(y) and r["gioi_tinh"] == 1))
NAMESAKES = sorted(r["so_dinh_danh"] for r in ROWS if r["ngay_sinh"].startswith(BORN_TOO) and r["gioi_tinh"] == 1)[:7]
BROKEN = NAMESAKES[1::3]
SOUND = [pid for pid in NAMESAKES if pid not in BROKEN]
ROWS = [
    {**r, "ho_ten": FLAWED, "ma_dan_toc": "99" if r["so_dinh_danh"] in BROKEN else r["ma_dan_toc"]}
    if r["so_dinh_danh"] in NAMESAKES else r
    for r in ROWS
]
assert len(NAMESAKES) >= 5 and len(BROKEN) >= 2


@pytest.fixture(scope="module")
def server():
    with ApiServer(PopulationApi(ROWS)) as server:
        yield server


@pytest.fixture(scope="module")
def url(server):
    return server.url


@pytest.fixture(scope="module")
def received(server):
    return server.api.middleware.received.headers


@pytest.fixture(scope="module")
def fail_upstream(server):
    failures = {
        UpstreamFailure.SERVER_ERROR: Misbehaviour(mode="error", status=500),
        UpstreamFailure.UNAVAILABLE: Misbehaviour(mode="error", status=503),
        UpstreamFailure.UNAUTHORIZED: Misbehaviour(mode="error", status=401),
        UpstreamFailure.FORBIDDEN: Misbehaviour(mode="error", status=403),
        UpstreamFailure.RATE_LIMITED: Misbehaviour(mode="rate_limit"),
        UpstreamFailure.MALFORMED: Misbehaviour(mode="malformed"),
        UpstreamFailure.RESET: Misbehaviour(mode="reset"),
    }
    return lambda failure: server.api.switch.set(failures[failure] if failure else Misbehaviour())


@pytest.fixture(scope="module")
def hanging_url():
    with ApiServer(PopulationApi(ROWS, misbehaviour=Misbehaviour(mode="hang"))) as server:
        yield server.url


@pytest.fixture(scope="module")
def config(url):
    return rest_connector_config(url)


@pytest.fixture(scope="module")
def slow(hanging_url):
    return rest_connector_config(hanging_url, timeout_seconds=0.5)


class Repeats(RestConnector):
    """Its pages overlap: every page after the first starts with the last record of the one before."""

    async def search(self, query, *, limit, cursor=None):
        page = await super().search(query, limit=limit, cursor=cursor)
        if cursor is not None and self._last is not None:
            items = [self._last, *page.items][: limit - len(page.skipped)] if limit > 1 else [self._last]
            return Page(items, page.next_cursor, page.skipped if limit > 1 else ())
        self._last = page.items[-1] if page.items else None
        return page

    _last = None


class Dawdles(RestConnector):
    """Ignores its deadline: gives up only after three seconds."""

    async def get(self, record_id):
        try:
            return await super().get(record_id)
        except UpstreamTimeout:
            await asyncio.sleep(3)
            raise


class Tells(RestConnector):
    """Quotes the key it did not find."""

    async def get(self, record_id):
        try:
            return await super().get(record_id)
        except RecordNotFound:
            raise RecordNotFound(f"no citizen {record_id}") from None


class Swaps(RestConnector):
    """Answers with another record than the one asked for."""

    async def get(self, record_id):
        record = await super().get(record_id)
        other = ROWS[1]["so_dinh_danh"] if record_id != ROWS[1]["so_dinh_danh"] else ROWS[2]["so_dinh_danh"]
        return await super().get(other)


class Forgets(RestConnector):
    """Reads records outside the request's context: sends none of it."""

    async def get(self, record_id):
        with use_context(None):
            return await super().get(record_id)


class Keeps(RestConnector):
    """Keeps the first context it sees and sends it with every read after."""

    _first = None

    async def get(self, record_id):
        if self._first is None:
            self._first = current_context()
        with use_context(self._first):
            return await super().get(record_id)


class Fails(RestConnector):
    """Fails a search page that holds a record breaking the contract (instead of leaving it out)."""

    async def search(self, query, *, limit, cursor=None):
        page = await super().search(query, limit=limit, cursor=cursor)
        if page.skipped:
            raise page.skipped[0]
        return page


class Hides(RestConnector):
    """Leaves out the records that break the contract without reporting them."""

    async def search(self, query, *, limit, cursor=None):
        page = await super().search(query, limit=limit, cursor=cursor)
        return Page(page.items, page.next_cursor)


class Renumbers(RestConnector):
    """Numbers its pages with the page size of each call: a caller changing its page size mid-walk gets records
    twice or never."""

    async def search(self, query, *, limit, cursor=None):
        records, inner = [], None
        while True:
            page = await super().search(query, limit=100, cursor=inner)
            records += page.items
            inner = page.next_cursor
            if inner is None:
                break
        number = int(cursor) if cursor is not None and cursor.isdigit() else 0
        more = (number + 1) * limit < len(records)
        return Page(records[number * limit : (number + 1) * limit], str(number + 1) if more else None)


class Misreports(RestConnector):
    """Reports every failure of the sector system but an unreachable or slow one as "not found" (a 503 becomes
    a 404 at the gateway)."""

    async def get(self, record_id):
        try:
            return await super().get(record_id)
        except UpstreamError as exc:
            if exc.reason in ("connect", "timeout"):
                raise
            raise RecordNotFound("no such citizen") from None


class Leaks(RestConnector):
    """Reads the sector system's failed answers itself, and lets what its parser raises escape."""

    async def get(self, record_id):
        try:
            return await super().get(record_id)
        except UpstreamError as exc:
            if exc.reason in ("connect", "timeout"):
                raise
            return json.loads('{"ma_loi": "00", "du_lieu": {"so')  # a JSONDecodeError, as a truncated body gives


class AlwaysUp(RestConnector):
    """Swallows the failures of its health probe but the system's being unreachable or slow: up, whatever the
    system answers."""

    async def health(self):
        try:
            return await super().health()
        except UpstreamError as exc:
            if exc.reason in ("connect", "timeout"):
                raise
            return HealthReport(HealthState.UP)


class AnyAnswerIsUp(RestConnector):
    """Calls the system up when its probe is answered at all, but with a 5xx (a probe of a path that 404s)."""

    async def health(self):
        try:
            await super().health()
        except UpstreamError as exc:
            if exc.reason in ("connect", "timeout", "status_5xx"):
                raise
        return HealthReport(HealthState.UP)


class Unvalidated(RestConnector):
    """Builds the records it returns with model_construct, the name left out: never validated."""

    @staticmethod
    def _unvalidated(record):
        fields = {name: value for name, value in record.__dict__.items() if name != "full_name"}
        return type(record).model_construct(**fields)

    async def get(self, record_id):
        return self._unvalidated(await super().get(record_id))

    async def search(self, query, *, limit, cursor=None):
        page = await super().search(query, limit=limit, cursor=cursor)
        return Page([self._unvalidated(item) for item in page.items], page.next_cursor, page.skipped)


class PlainSecretConfig(RestConnectorConfig):
    passphrase: str = Field(default="", description="The passphrase of the client's key, in plain text.")
    apiKey: str = Field(default="", description="An API key, in camelCase and plain text.")


class PlainSecret(RestConnector):
    """Keeps secrets in plain strings, under names the kit's old rule missed."""

    config_model = PlainSecretConfig


class Lenient(RestConnector):
    """Takes a cursor it cannot read for the start of the search."""

    async def search(self, query, *, limit, cursor=None):
        try:
            return await super().search(query, limit=limit, cursor=cursor)
        except BadQuery:
            return await super().search(query, limit=limit)


class Fixed(RestConnector):
    """Ignores timeout_seconds: gives up after 1.1 s, whatever it says. That is within the 1.75 s a call of the
    0.5 s configured may take (1.5 times it, and the grace of a second), with room for a loaded machine's delays,
    and not too early for the kit's longer deadline (1.5 s, of which it must wait two thirds): only the deadline
    that does not move with the setting gives it away."""

    def _timeout(self, endpoint_timeout):
        return 1.1


class Overclaims(RestConnector):
    """Declares submissions, which it does not implement."""

    capabilities = RestConnector.capabilities | {Capability.SUBMIT}


class Underclaims(RestConnector):
    """Searches, but does not declare it."""

    capabilities = frozenset({Capability.READ, Capability.SAMPLE})


CASE = dict(
    config=fixture("config"),
    known_ids=[ROWS[0]["so_dinh_danh"], ROWS[3]["so_dinh_danh"]],
    missing_id="068099000000",
    unreachable_config=rest_connector_config("http://127.0.0.1:9", timeout_seconds=1),
    slow_config=fixture("slow"),
    searches=[
        SearchCase(CitizenQuery(full_name=NAME, date_of_birth=BORN), MATCHES),
        SearchCase(CitizenQuery(full_name=FLAWED, date_of_birth=BORN_TOO), SOUND, invalid_ids=BROKEN),
    ],
    received_headers=fixture("received"),
    fail_upstream=fixture("fail_upstream"),
    known_records={
        r["so_dinh_danh"]: {"personal_id": r["so_dinh_danh"], "full_name": r["ho_ten"], "date_of_birth": r["ngay_sinh"]}
        for r in (ROWS[0], ROWS[3])
    },
)

TestRepeats = connector_test_class(Repeats, **CASE)
TestDawdles = connector_test_class(Dawdles, **CASE)
TestTells = connector_test_class(Tells, **CASE)
TestSwaps = connector_test_class(Swaps, **CASE)
TestForgets = connector_test_class(Forgets, **CASE)
TestKeeps = connector_test_class(Keeps, **CASE)
TestFails = connector_test_class(Fails, **CASE)
TestHides = connector_test_class(Hides, **CASE)
TestRenumbers = connector_test_class(Renumbers, **CASE)
TestMisreports = connector_test_class(Misreports, **CASE)
TestLeaks = connector_test_class(Leaks, **CASE)
TestAlwaysUp = connector_test_class(AlwaysUp, **CASE)
TestAnyAnswerIsUp = connector_test_class(AnyAnswerIsUp, **CASE)
TestUnvalidated = connector_test_class(Unvalidated, **CASE)
TestPlainSecret = connector_test_class(PlainSecret, **CASE)
TestLenient = connector_test_class(Lenient, **CASE)
TestFixed = connector_test_class(Fixed, **CASE)
TestOverclaims = connector_test_class(Overclaims, **CASE)
TestUnderclaims = connector_test_class(Underclaims, **CASE)
TestSound = connector_test_class(RestConnector, **CASE)
TestRegistered = connector_test_class(RestConnector, **CASE, entry_point="rest")
'''


SEARCH_CHECKS = {"test_search_walks_every_page_once", "test_search_leaves_out_records_that_break_the_contract"}


UPSTREAM_FAILURES = "test_upstream_failure_is_an_upstream_error"
FOREIGN_CURSORS = "test_search_with_a_foreign_cursor"


def _kit_cases(
    directory: Path,
    target: Path,
    select: str,
    *options: str,
    env: dict[str, str] | None = None,
    timeout: float = 240,
) -> list[ET.Element]:
    """Run pytest on ``target`` (modules of connectors checked by the kit) in a process of its own, in
    ``directory``, the tests ``-k select``: its test cases (JUnit XML)."""
    report = directory / "report.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, f"--junitxml={report}"]
    subprocess.run(
        [*command, "-k", select, str(target)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return list(ET.parse(report).getroot().iter("testcase"))


@pytest.mark.timeout(600)  # the whole kit, once for each of some twenty connectors (two minutes on an idle machine)
def test_the_kit_fails_broken_connectors(tmp_path: Path) -> None:
    (tmp_path / "test_broken_connectors.py").write_text(textwrap.dedent(MODULE))
    # The sound connector registered: only its entry point.
    cases = _kit_cases(tmp_path, tmp_path, "not TestRegistered or test_entry_point", timeout=560)
    failed: dict[str, set[str]] = defaultdict(set)
    ran: dict[str, set[str]] = defaultdict(set)
    skipped: dict[str, set[str]] = defaultdict(set)
    messages: dict[tuple[str, str], list[str]] = defaultdict(list)
    for case in cases:
        owner = case.get("classname", "").rsplit(".", 1)[-1]
        name = case.get("name", "").split("[")[0]  # outside this project, anyio names its backend: test_x[asyncio]
        ran[owner].add(name)
        if (problem := case.find("failure")) is not None or (problem := case.find("error")) is not None:
            failed[owner].add(name)
            messages[owner, name].append(f"{problem.get('message', '')}\n{problem.text or ''}")
        if case.find("skipped") is not None:
            skipped[owner].add(name)
    assert len(ran["TestSound"]) >= 15
    assert failed["TestSound"] == set()
    # A fault in searching fails the search checks (each walks every search case), and nothing else.
    assert "test_search_walks_every_page_once" in failed["TestRepeats"] <= SEARCH_CHECKS
    assert failed["TestDawdles"] == {"test_timeout_is_honoured"}
    assert failed["TestTells"] == {"test_missing_record_is_not_found"}
    assert "test_get_returns_valid_contract_records" in failed["TestSwaps"]
    assert "test_request_context_is_forwarded_as_configured" in ran["TestSound"] - skipped["TestSound"]
    assert failed["TestForgets"] == {"test_request_context_is_forwarded_as_configured"}
    assert failed["TestKeeps"] == {"test_request_context_is_forwarded_as_configured"}
    # The search rules: a broken record is left out and reported, never failing its page; a caller may change its
    # page size mid-walk.
    assert "test_search_leaves_out_records_that_break_the_contract" in ran["TestSound"] - skipped["TestSound"]
    assert "test_search_leaves_out_records_that_break_the_contract" in failed["TestFails"] <= SEARCH_CHECKS
    assert "test_search_leaves_out_records_that_break_the_contract" in failed["TestHides"] <= SEARCH_CHECKS
    # (Renumbers reads any cursor of digits, "²" and "٣" included, as a page number: foreign cursors too.)
    assert "test_search_walks_every_page_once" in failed["TestRenumbers"] <= SEARCH_CHECKS | {FOREIGN_CURSORS}
    # Capabilities are declared exactly as implemented; the other connectors inherit the generic one's.
    declared = "test_capabilities_are_declared_as_implemented"
    assert declared in failed["TestOverclaims"] and declared in failed["TestUnderclaims"]
    assert [owner for owner, names in failed.items() if declared in names and "claims" not in owner] == []
    # Declaring submit without a writable configuration to check it with fails the write path too; a search not
    # declared is not offered, yet it answers instead of refusing.
    assert "test_submissions_apply_once_in_order" in failed["TestOverclaims"]
    assert "test_operations_not_offered_say_so" in failed["TestUnderclaims"]
    # Nothing is skipped for want of something: the write-path checks apply to a connector taking no submissions,
    # and the kit makes the sector system fail in every way it knows.
    assert skipped["TestSound"] <= {"test_entry_point"}, skipped["TestSound"]  # no entry point: not installed
    assert UPSTREAM_FAILURES in ran["TestSound"] - skipped["TestSound"]
    assert ran["TestRegistered"] == {"test_entry_point"} and not failed["TestRegistered"] | skipped["TestRegistered"]
    # The failures of the sector system (5xx, 401, 403, 429, malformed, reset): an UpstreamError, never "not found"
    # nor a raw exception, and a health probe that does not call a failing system up.
    for owner in ("TestMisreports", "TestLeaks", "TestAlwaysUp", "TestAnyAnswerIsUp"):
        assert failed[owner] == {UPSTREAM_FAILURES}, (owner, failed[owner])
    assert "raised RecordNotFound" in messages["TestMisreports", UPSTREAM_FAILURES][0]
    assert "let a raw JSONDecodeError escape" in messages["TestLeaks", UPSTREAM_FAILURES][0]
    assert "health() reports the system up" in messages["TestAlwaysUp", UPSTREAM_FAILURES][0]
    assert "check() reports the system up" in messages["TestAnyAnswerIsUp", UPSTREAM_FAILURES][0]
    # Every record get() and search() return is valid against its contract, the rules it breaks named.
    unvalidated = {
        "test_get_returns_valid_contract_records",
        "test_get_returns_the_known_records",
        "test_concurrent_gets",
        "test_search_walks_every_page_once",
        "test_search_leaves_out_records_that_break_the_contract",
    }
    assert failed["TestUnvalidated"] == unvalidated, failed["TestUnvalidated"]
    for name in unvalidated:
        assert "breaks its contract (full_name: Field required)" in messages["TestUnvalidated", name][0]
    # Secrets are told by the shared rule (connectors.secrets.is_secret_name): passphrase, apiKey...
    assert failed["TestPlainSecret"] == {"test_config_schema"}
    plain = messages["TestPlainSecret", "test_config_schema"][0]
    assert "settings that are not SecretStr: PlainSecretConfig.passphrase, PlainSecretConfig.apiKey" in plain
    # Search rule 4: a cursor that is not the connector's is refused with BadQuery, never taken for another.
    assert failed["TestLenient"] == {FOREIGN_CURSORS}
    assert "'²' (answered a page of" in messages["TestLenient", FOREIGN_CURSORS][0]
    # A deadline that does not follow timeout_seconds (1.6 s, within 1.5 times 0.5 s and a grace second).
    assert failed["TestFixed"] == {"test_timeout_is_honoured"}
    assert "does not follow timeout_seconds" in messages["TestFixed", "test_timeout_is_honoured"][0]
    # Every failure says what is wrong (no bare AssertionError); pytest rewrote the kit's asserts (the plugin
    # connectors.pytest_plugin, registered as the distribution's pytest11 entry point), so that the values compared
    # are shown too.
    for (owner, name), texts in messages.items():
        for text in texts:
            first = text.strip().splitlines()[0] if text.strip() else ""
            assert first not in ("", "AssertionError", "assert False"), (owner, name, text[:500])
    told = messages["TestTells", "test_missing_record_is_not_found"][0]
    assert "the error of get('068099000000') quotes the key" in told
    assert "\nassert '068099000000' not in 'no citizen 068099000000'" in told, told


def test_the_kit_fails_when_jsonschema_is_missing(tmp_path: Path) -> None:
    """The checks that need jsonschema fail, naming it, when it is not installed: a connector whose checks did not
    run has not passed them (they used to be skipped, silently)."""
    (tmp_path / "test_sound_connector.py").write_text(textwrap.dedent(MODULE))
    # `import jsonschema` raises ImportError in that pytest, as if it were not installed.
    (tmp_path / "conftest.py").write_text("import sys\n\nsys.modules['jsonschema'] = None\n")
    select = "TestSound and (config_schema or valid_contract_records or missing_record)"
    outcomes: dict[str, str] = {}
    for case in _kit_cases(tmp_path, tmp_path, select):
        name = case.get("name", "").split("[")[0]
        failure = case.find("failure")
        if failure is not None:
            outcomes[name] = failure.get("message", "") + (failure.text or "")
        elif case.find("skipped") is not None:
            outcomes[name] = "skipped"
        else:
            outcomes[name] = "passed"
    assert outcomes["test_missing_record_is_not_found"] == "passed"
    for name in ("test_config_schema", "test_get_returns_valid_contract_records"):
        assert outcomes[name] not in ("passed", "skipped"), name
        assert "needs 'jsonschema'" in outcomes[name], outcomes[name]
        assert "pip install jsonschema" in outcomes[name]


def test_the_kit_fails_when_its_async_runner_is_missing(tmp_path: Path) -> None:
    """The kit's checks of a connector's calls are async and run on anyio's pytest plugin: without it they fail (as
    pytest fails async tests no plugin runs), never pass or skip unchecked."""
    (tmp_path / "test_sound_connector.py").write_text(textwrap.dedent(MODULE))
    select = "TestSound and (missing_record or walks_every_page or leaves_out or metadata)"
    outcomes = {
        case.get("name", "").split("[")[0]: "failed"
        if case.find("failure") is not None or case.find("error") is not None
        else "skipped"
        if case.find("skipped") is not None
        else "passed"
        for case in _kit_cases(tmp_path, tmp_path, select, "-p", "no:anyio")
    }
    assert outcomes["test_metadata"] == "passed"  # not async: unaffected
    for name in (
        "test_missing_record_is_not_found",
        "test_search_walks_every_page_once",
        "test_search_leaves_out_records_that_break_the_contract",
    ):
        assert outcomes[name] == "failed", (name, outcomes)


def test_an_entry_point_two_distributions_register_is_named(tmp_path: Path) -> None:
    """An entry point registered by two installed distributions, for different classes: the gateway loads neither,
    and the kit's entry-point check says so, naming both distributions (not a bare mismatch of classes)."""
    (tmp_path / "test_sound_connector.py").write_text(textwrap.dedent(MODULE))
    site = tmp_path / "site"
    site.mkdir()
    entry_points = "[gateway.connectors]\nrest = connectors.soap:SoapConnector\n"
    install_distribution(site, "axis-connector-other-rest", entry_points, version="2.0")
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    select = "TestRegistered and test_entry_point"
    (case,) = _kit_cases(tmp_path, tmp_path / "test_sound_connector.py", select, env={**os.environ, "PYTHONPATH": path})
    failure = case.find("failure")
    assert failure is not None, "the entry point registered twice passed"
    message = failure.get("message", "")
    assert "'rest' is registered more than once, by different distributions" in message, message
    assert "connectors.soap:SoapConnector (distribution axis-connector-other-rest 2.0)" in message
    assert "connectors.rest:RestConnector (distribution axis-gateway" in message


def test_pytest_rewrites_the_kit_through_the_distributions_plugin() -> None:
    """The distribution registers ``connectors.pytest_plugin`` as a pytest plugin (``pytest11``), which has pytest
    rewrite the kit's asserts: in this very process, the kit was loaded by pytest's rewriting import hook."""
    from _pytest.assertion.rewrite import AssertionRewritingHook

    import connectors.testing

    assert "connectors.pytest_plugin" in {ep.value for ep in entry_points(group="pytest11")}
    loader = connectors.testing.__spec__.loader
    assert isinstance(loader, AssertionRewritingHook), f"connectors.testing was loaded by {loader!r}"
