"""The conformance kit fails connectors with faults that look like success: one reading a field from the wrong
field of the sector system (its records valid, but not the system's), one whose search reads records another way
than its read by key, one logging a secret (at debug level, or in an exception it logs), one hiding a secret in the
chain of the errors it raises, and one waiting for its system with a blocking call in its ``async`` code. Each is
run through the kit in a pytest of its own (as an agency would run it), and must fail the check that covers its
fault, saying what is wrong; the sound connector passes them all."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

MODULE = '''
import logging
import urllib.request

import pytest

from connectors.base import Page, RecordNotFound, UpstreamTimeout, UpstreamUnavailable
from connectors.rest import RestConnector
from connectors.testing import SearchCase, connector_test_class, fixture
from contracts.population import CitizenQuery
from simulators.population import generate_citizens
from simulators.population_api import ApiServer, Misbehaviour, PopulationApi, rest_connector_config

ROWS = list(generate_citizens(60, seed=4))
NAME = "Trần Thị Mẫu"
BORN = max((r["ngay_sinh"][:4] for r in ROWS), key=lambda y: sum(
    1 for r in ROWS if r["ngay_sinh"].startswith(y) and r["gioi_tinh"] == 2))
MATCHES = sorted(r["so_dinh_danh"] for r in ROWS if r["ngay_sinh"].startswith(BORN) and r["gioi_tinh"] == 2)[:4]
ROWS = [{**r, "ho_ten": NAME} if r["so_dinh_danh"] in MATCHES else r for r in ROWS]
FIRST = ROWS[0]


@pytest.fixture(scope="module")
def url():
    with ApiServer(PopulationApi(ROWS)) as server:
        yield server.url


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


class Misnames(RestConnector):
    """Reads the name of a record by key from another field of the system: a valid name, not the record's."""

    async def get(self, record_id):
        record = await super().get(record_id)
        return record.model_copy(update={"full_name": "Đỗ Văn Khác"})


class MisreadsSearches(RestConnector):
    """Its search reads the name from another field than its read by key does."""

    async def search(self, query, *, limit, cursor=None):
        page = await super().search(query, limit=limit, cursor=cursor)
        items = [item.model_copy(update={"full_name": "Đỗ Văn Khác"}) for item in page.items]
        return Page(items, page.next_cursor, page.skipped)


def secret(connector):
    return connector.config.auth.secret_key.get_secret_value()


class Chatty(RestConnector):
    """Logs its credentials at debug level before each read."""

    async def get(self, record_id):
        logging.getLogger("chatty").debug("reading with the secret key %s", secret(self))
        return await super().get(record_id)


class LogsItsFailures(RestConnector):
    """Logs the exception of a failed read, whose message holds the credentials."""

    async def get(self, record_id):
        try:
            return await super().get(record_id)
        except RecordNotFound:
            try:
                raise RuntimeError(f"lookup failed (secret key {secret(self)})")
            except RuntimeError:
                logging.getLogger("logs-its-failures").exception("a read failed")
            raise


class Chains(RestConnector):
    """Raises clean errors, chained to an error that quotes the credentials."""

    async def get(self, record_id):
        try:
            return await super().get(record_id)
        except (RecordNotFound, UpstreamUnavailable) as exc:
            raise type(exc)(exc.message) from RuntimeError(f"auth {secret(self)}")


class Blocks(RestConnector):
    """Asks its system first with a synchronous HTTP client, in its async get(): the event loop waits with it."""

    async def get(self, record_id):
        try:
            url = f"{self.config.base_url}{self.config.get.path.format(record_id=record_id)}"
            urllib.request.urlopen(url, timeout=self.config.timeout_seconds).close()
        except TimeoutError:
            raise UpstreamTimeout("the system did not answer in time") from None
        except Exception:
            pass
        return await super().get(record_id)


CASE = dict(
    config=fixture("config"),
    known_ids=[FIRST["so_dinh_danh"], MATCHES[0]],
    missing_id="068099000000",
    unreachable_config=rest_connector_config("http://127.0.0.1:9", timeout_seconds=1),
    slow_config=fixture("slow"),
    searches=[SearchCase(CitizenQuery(full_name=NAME, date_of_birth=BORN), MATCHES)],
    known_records={
        r["so_dinh_danh"]: {"personal_id": r["so_dinh_danh"], "full_name": r["ho_ten"], "date_of_birth": r["ngay_sinh"]}
        for r in ROWS
        if r["so_dinh_danh"] in (FIRST["so_dinh_danh"], MATCHES[0])
    },
)

TestSound = connector_test_class(RestConnector, **CASE)
TestMisnames = connector_test_class(Misnames, **CASE)
TestMisreadsSearches = connector_test_class(MisreadsSearches, **CASE)
TestChatty = connector_test_class(Chatty, **CASE)
TestLogsItsFailures = connector_test_class(LogsItsFailures, **CASE)
TestChains = connector_test_class(Chains, **CASE)
TestBlocks = connector_test_class(Blocks, **CASE)
'''

#: The kit's checks these faults concern (the others are the first kit test's business).
CHECKS = (
    "test_get_returns_the_known_records",
    "test_search_walks_every_page_once",
    "test_missing_record_is_not_found",
    "test_check_and_health_when_unreachable",
    "test_calls_do_not_block_the_event_loop",
)


@pytest.mark.timeout(300)
def test_the_kit_fails_connectors_whose_faults_look_like_success(tmp_path: Path) -> None:
    module = tmp_path / "test_faulty_connectors.py"
    module.write_text(textwrap.dedent(MODULE))
    report = tmp_path / "report.xml"
    select = " or ".join(CHECKS)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", "-k", select, module],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    ran: dict[str, set[str]] = defaultdict(set)
    failed: dict[str, set[str]] = defaultdict(set)
    skipped: dict[str, set[str]] = defaultdict(set)
    messages: dict[tuple[str, str], str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        owner = case.get("classname", "").rsplit(".", 1)[-1]
        name = case.get("name", "").split("[")[0]
        ran[owner].add(name)
        if (problem := case.find("failure")) is not None or (problem := case.find("error")) is not None:
            failed[owner].add(name)
            messages[owner, name] = f"{problem.get('message', '')}\n{problem.text or ''}"
        if case.find("skipped") is not None:
            skipped[owner].add(name)
    assert ran["TestSound"] == set(CHECKS), ran["TestSound"]
    assert not failed["TestSound"] | skipped["TestSound"], (failed["TestSound"], skipped["TestSound"], messages)
    # A field read from the wrong field of the system: its records are valid, but not the system's.
    assert "test_get_returns_the_known_records" in failed["TestMisnames"]
    named = messages["TestMisnames", "test_get_returns_the_known_records"]
    assert ".full_name is 'Đỗ Văn Khác', not 'Nguyễn Xuân Bình'" in named, named
    # A search reading records otherwise than the read by key.
    assert failed["TestMisreadsSearches"] == {"test_search_walks_every_page_once"}, failed["TestMisreadsSearches"]
    misread = messages["TestMisreadsSearches", "test_search_walks_every_page_once"]
    assert "is not the one get() returns (full_name: 'Đỗ Văn Khác' found" in misread, misread
    # A secret in the logs, at debug level or in a logged exception: every check that logged it fails.
    assert failed["TestChatty"] >= {"test_get_returns_the_known_records", "test_missing_record_is_not_found"}
    chatty = messages["TestChatty", "test_get_returns_the_known_records"]
    assert "a secret of the configuration appears in a log record of 'chatty' (DEBUG)" in chatty, chatty
    assert "sim-secret-key" not in chatty
    assert failed["TestLogsItsFailures"] == {"test_missing_record_is_not_found"}, failed["TestLogsItsFailures"]
    assert (
        "log record of 'logs-its-failures' (ERROR)"
        in messages["TestLogsItsFailures", "test_missing_record_is_not_found"]
    )
    # A secret in the chain of an error (what a logged traceback shows).
    assert failed["TestChains"] == {"test_missing_record_is_not_found", "test_check_and_health_when_unreachable"}
    assert "RuntimeError: auth <the secret>" in messages["TestChains", "test_missing_record_is_not_found"]
    # A blocking call in async code: the event loop held while the system is slow.
    assert failed["TestBlocks"] == {"test_calls_do_not_block_the_event_loop"}, failed["TestBlocks"]
    blocked = messages["TestBlocks", "test_calls_do_not_block_the_event_loop"]
    assert "held the event loop for" in blocked and "asyncio.to_thread" in blocked, blocked
