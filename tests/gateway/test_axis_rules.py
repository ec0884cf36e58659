"""The rules of the integration axis, without servers: the catalogue file, state transitions, the circuit breaker."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.axis._states import CheckOutcome, ConnectionState, Tracker, after_check, overdue_since, p95
from gateway.axis.catalogue import DEFAULT_CATALOGUE, CatalogueError, load_catalogue
from gateway.axis.health import _combine
from gateway.axis.models import AxisEvidence
from gateway.core.settings import CircuitPolicy, HealthPolicy
from gateway.records.circuit import CircuitBreaker, CircuitOpenError, CircuitState
from gateway.records.evidence import Evidence, OperationWindow, WindowSummary

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
ENTRY = """
[[databases]]
id = "{id}"
name_vi = "Cơ sở dữ liệu thử"
name_en = "Test database"
agency = "Sở Khoa học và Công nghệ"
contracts = [{contracts}]
"""


def test_the_shipped_catalogue_holds_the_sixteen_databases_of_the_plan() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.databases) == 16
    assert len(set(catalogue.ids)) == 16
    for wanted in ("population", "civil_status", "land", "judicial_records", "online_payment", "civil_servants"):
        assert catalogue.get(wanted) is not None
    assert catalogue.get("population").contracts == ("population.citizen",)  # type: ignore[union-attr]
    assert all(entry.enabled and entry.name_vi and entry.agency for entry in catalogue.databases)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ENTRY.format(id="land", contracts="") * 2, "'land' appears twice"),
        (ENTRY.format(id="Land Records", contracts=""), "databases.0.id"),
        (ENTRY.format(id="land", contracts='"land parcel"'), "not a contract name"),
        (ENTRY.format(id="land", contracts="") + 'colour = "red"\n', "databases.0.colour"),
        ("[[databases]\nid = 1", "not valid TOML"),
        ("", "databases: Field required"),
    ],
)
def test_a_bad_catalogue_is_refused_with_the_reason(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(CatalogueError, match="is not valid") as caught:
        load_catalogue(_write(tmp_path, text))
    assert expected in str(caught.value)


def test_an_operator_catalogue_adds_disables_and_removes_entries(tmp_path: Path) -> None:
    shipped = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    # Remove the last entry, disable population, add a provincial system.
    kept = shipped[: shipped.rindex("[[databases]]")]
    kept = kept.replace('contracts = ["population.citizen"]', 'contracts = ["population.citizen"]\nenabled = false')
    catalogue = load_catalogue(_write(tmp_path, kept + ENTRY.format(id="provincial_hr", contracts="")))
    assert len(catalogue.databases) == 16
    assert catalogue.get("education") is None
    assert catalogue.get("provincial_hr") is not None
    assert catalogue.get("population").enabled is False  # type: ignore[union-attr]


def test_a_missing_catalogue_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"cannot read the axis catalogue .*nowhere\.toml"):
        load_catalogue(tmp_path / "nowhere.toml")


POLICY = HealthPolicy(failures_to_down=3, successes_to_connect=2, degraded_latency_seconds=0.5)
GOOD = CheckOutcome(True, 0.01)
BAD = CheckOutcome(False, 0.01, reason="connect", error="connection refused")


def _window(latencies: list[float], calls: int = 0, failures: int = 0, violations: int = 0) -> WindowSummary:
    return WindowSummary(calls=calls, failures=failures, violations=violations, p95_seconds=p95(latencies))


def _run(outcomes: list[CheckOutcome], start: Tracker | None = None) -> list[Tracker]:
    tracker = start or Tracker(state=ConnectionState.PENDING, since=T0)
    seen = []
    for i, outcome in enumerate(outcomes):
        recent = [outcome.latency_seconds] if outcome.ok and outcome.latency_seconds is not None else []
        tracker = after_check(tracker, outcome, POLICY, _window(recent), T0 + timedelta(seconds=15 * (i + 1)))
        seen.append(tracker)
    return seen


def test_a_first_good_check_connects_and_a_first_bad_one_is_down() -> None:
    assert _run([GOOD])[0].state is ConnectionState.CONNECTED
    first_bad = _run([BAD])[0]
    assert first_bad.state is ConnectionState.DOWN
    assert first_bad.error == "connection refused"


def test_three_failures_take_a_connection_down_and_two_successes_bring_it_back() -> None:
    states = [t.state for t in _run([GOOD, BAD, BAD, BAD, GOOD, GOOD, GOOD])]
    assert states == [
        ConnectionState.CONNECTED,
        ConnectionState.DEGRADED,  # partly failing: 1 of 3
        ConnectionState.DEGRADED,
        ConnectionState.DOWN,
        ConnectionState.RECOVERING,  # 1 of 2 good checks
        ConnectionState.CONNECTED,
        ConnectionState.CONNECTED,
    ]


def test_a_connection_failing_two_checks_of_three_goes_down() -> None:
    """Never three failures in a row, but two of every three checks fail: the failures count towards down until
    two good checks in a row, so the connection is not reported connected (it was, all the time)."""
    states = [t.state for t in _run([GOOD, *[BAD, BAD, GOOD] * 4])]
    assert states[:5] == [
        ConnectionState.CONNECTED,
        ConnectionState.DEGRADED,  # 1 of 3
        ConnectionState.DEGRADED,  # 2 of 3
        ConnectionState.DEGRADED,  # 1 of 2 good checks since: not recovered, still 2 failures
        ConnectionState.DOWN,  # the third failure
    ]
    up = [state for state in states[5:] if state in (ConnectionState.CONNECTED, ConnectionState.DEGRADED)]
    assert up == [], states


def test_one_failed_check_is_degraded_until_the_connection_has_recovered() -> None:
    trackers = _run([GOOD, BAD, GOOD, GOOD, BAD, BAD, GOOD, GOOD, BAD])
    assert [t.state for t in trackers] == [
        ConnectionState.CONNECTED,
        ConnectionState.DEGRADED,
        ConnectionState.DEGRADED,  # 1 of 2 good checks since the failure
        ConnectionState.CONNECTED,  # recovered: the failure is forgotten
        ConnectionState.DEGRADED,
        ConnectionState.DEGRADED,
        ConnectionState.DEGRADED,
        ConnectionState.CONNECTED,
        ConnectionState.DEGRADED,  # 1 of 3 again: the earlier failures were recovered from
    ]
    assert trackers[2].cause == "check-connect"
    assert trackers[2].error == "1 of 2 checks answered since a failed one (1 of 3 failures before down)"
    assert trackers[3].failures == 0 and trackers[8].failures == 1


def test_an_error_never_repeats_its_cause() -> None:
    """The history records ``cause: error``: the errors of recovering and slow named their cause again."""
    recovering = _run([BAD, GOOD])[1]
    assert (recovering.cause, recovering.error) == ("recovering", "1 of 2 checks answered")
    tracker = Tracker(state=ConnectionState.CONNECTED, since=T0, last_check=T0)
    slow = after_check(tracker, CheckOutcome(True, 0.9), POLICY, _window([0.9] * 5), T0)
    assert slow.cause == "slow" and slow.error is not None and not slow.error.startswith("slow")


def test_since_moves_only_when_the_state_changes_and_failures_are_explained() -> None:
    trackers = _run([GOOD, GOOD, BAD, BAD, BAD])
    assert trackers[0].since == trackers[1].since == T0 + timedelta(seconds=15)
    assert trackers[2].since == T0 + timedelta(seconds=45)
    assert trackers[2].error == "connection refused (1 of 3 failures before down)"
    assert trackers[4].since == T0 + timedelta(seconds=75)
    assert trackers[4].last_success == T0 + timedelta(seconds=30)
    assert trackers[4].failures == 3


def test_a_slow_sector_system_is_degraded_by_its_p95_latency() -> None:
    tracker = Tracker(state=ConnectionState.CONNECTED, since=T0, last_check=T0)
    slow = after_check(tracker, CheckOutcome(True, 0.9), POLICY, _window([0.01] * 5 + [0.9] * 2), T0)
    assert slow.state is ConnectionState.DEGRADED
    assert slow.error is not None and "p95 latency 900 ms over 500 ms" in slow.error
    fast = after_check(slow, CheckOutcome(True, 0.01), POLICY, _window([0.01] * 40 + [0.9]), T0)
    assert fast.state is ConnectionState.CONNECTED


def test_a_connector_reporting_itself_degraded_is_degraded() -> None:
    tracker = Tracker(state=ConnectionState.CONNECTED, since=T0, last_check=T0)
    outcome = CheckOutcome(True, 0.01, degraded=True, error="2 of 5 replicas answer")
    assert after_check(tracker, outcome, POLICY, _window([0.01]), T0).error == "2 of 5 replicas answer"


def test_an_open_circuit_is_down_and_a_half_open_one_is_recovering() -> None:
    tracker = Tracker(state=ConnectionState.CONNECTED, since=T0, last_check=T0)
    down = after_check(tracker, GOOD, POLICY, _window([0.01]), T0, circuit=CircuitState.OPEN)
    assert (down.state, down.cause) == (ConnectionState.DOWN, "circuit-open")
    failed = after_check(tracker, BAD, POLICY, _window([]), T0, circuit=CircuitState.OPEN)
    assert (failed.state, failed.cause) == (ConnectionState.DOWN, "circuit-open")
    trial = after_check(down, GOOD, POLICY, _window([0.01]), T0, circuit=CircuitState.HALF_OPEN)
    assert (trial.state, trial.cause) == (ConnectionState.RECOVERING, "circuit-half-open")
    closed = after_check(trial, GOOD, POLICY, _window([0.01]), T0, circuit=CircuitState.CLOSED)
    assert closed.state is ConnectionState.CONNECTED and closed.cause is None


def test_a_canary_breaking_the_contract_is_down_at_once() -> None:
    tracker = Tracker(state=ConnectionState.CONNECTED, since=T0, last_check=T0)
    broken = CheckOutcome(False, 0.01, reason="contract_violation", error="ethnic group 99 is not a code")
    after = after_check(tracker, broken, POLICY, _window([]), T0)
    assert (after.state, after.cause) == (ConnectionState.DOWN, "contract-violation")
    timeout = after_check(tracker, CheckOutcome(False, 1.0, reason="timeout"), POLICY, _window([]), T0)
    assert (timeout.state, timeout.cause) == (ConnectionState.DEGRADED, "check-timeout")


def test_calls_through_the_gateway_are_evidence() -> None:
    tracker = Tracker(state=ConnectionState.CONNECTED, since=T0, last_check=T0)
    violating = after_check(tracker, GOOD, POLICY, _window([0.01], calls=10, violations=6), T0)
    assert (violating.state, violating.cause) == (ConnectionState.DOWN, "contract-violation")
    assert violating.error == "6 of 10 calls in 300 s answered records that break the contract"
    failing = after_check(tracker, GOOD, POLICY, _window([0.01], calls=10, failures=3), T0)
    assert (failing.state, failing.cause) == (ConnectionState.DEGRADED, "error-ratio")
    too_few = after_check(tracker, GOOD, POLICY, _window([0.01], calls=4, failures=4), T0)
    assert too_few.state is ConnectionState.CONNECTED


def test_one_operation_failing_among_good_ones_degrades_the_connection() -> None:
    """Searches failing every time while many reads answer: the window's share of failures stays low, but the
    connection is not connected for the callers of the search."""
    now = [0.0]
    evidence = Evidence(clock=lambda: now[0])
    for _ in range(95):
        evidence.record_call(0.01, failed=False, violation=False, operation="read")
    for _ in range(5):
        evidence.record_call(None, failed=True, violation=False, operation="search")
    window = evidence.summary(300)
    assert (window.calls, window.failures) == (100, 5)
    assert [(op.operation, op.calls, op.failures) for op in window.operations] == [("read", 95, 0), ("search", 5, 5)]
    policy = HealthPolicy(min_calls=5, degraded_error_ratio=0.2)
    tracker = Tracker(state=ConnectionState.CONNECTED, since=T0, last_check=T0)
    failing = after_check(tracker, GOOD, policy, window, T0)
    assert (failing.state, failing.cause) == (ConnectionState.DEGRADED, "error-ratio")
    assert failing.error == "5 of 5 search calls in 300 s failed"
    # Too few searches to judge, or searches answering: connected.
    few = HealthPolicy(min_calls=6, degraded_error_ratio=0.2)
    assert after_check(tracker, GOOD, few, window, T0).state is ConnectionState.CONNECTED
    for _ in range(30):
        evidence.record_call(0.01, failed=False, violation=False, operation="search")
    assert after_check(tracker, GOOD, policy, evidence.summary(300), T0).state is ConnectionState.CONNECTED


def test_each_operation_adds_up_across_processes() -> None:
    """The lease holder judges the calls of every process: one process's failing searches count with another's."""
    own = WindowSummary(40, 0, 0, 0.01, (OperationWindow("read", 40, 0),))
    others = [
        AxisEvidence(
            database_id="population", holder="b", calls=8, failures=6, operations={"search": [6, 6], "read": [2, 0]}
        ),
        AxisEvidence(database_id="population", holder="c", calls=3, failures=0, operations={"search": "garbled"}),
        AxisEvidence(database_id="population", holder="d", calls=1, failures=0),  # from before operations were shared
    ]
    window, _circuit = _combine(own, CircuitState.CLOSED, others)
    assert (window.calls, window.failures) == (52, 6)
    assert [(op.operation, op.calls, op.failures) for op in window.operations] == [("read", 42, 0), ("search", 6, 6)]
    assert window.failing_operation(5, 0.2) == OperationWindow("search", 6, 6)


def test_the_evidence_window_is_a_time_window() -> None:
    now = [0.0]
    evidence = Evidence(clock=lambda: now[0])
    for _ in range(20):
        evidence.record_check(2.0)
        evidence.record_call(2.0, failed=False, violation=False)
        now[0] += 1
    evidence.record_call(None, failed=True, violation=False)
    assert evidence.summary(60).p95_seconds == 2.0
    assert evidence.summary(60).calls == 21 and evidence.summary(60).failures == 1
    now[0] += 61
    evidence.record_check(0.01)
    window = evidence.summary(60)
    assert (window.calls, window.p95_seconds) == (0, 0.01)


def test_the_evidence_of_a_busy_connection_stays_small() -> None:
    """A connection answering thousands of calls a second keeps no sample per call: its evidence is counts per
    slice of the window and the newest latencies, whatever the traffic."""
    import tracemalloc

    from gateway.records import evidence as module

    now = [0.0]
    evidence = Evidence(clock=lambda: now[0], slice_seconds=1.0, max_latencies=1000)
    # What this test and the evidence allocate, not what other threads of the test process do meanwhile.
    own = [tracemalloc.Filter(True, module.__file__), tracemalloc.Filter(True, __file__)]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(own)
        for n in range(300_000):  # 5,000 calls a second for a minute, one in a hundred failing
            evidence.record_call(0.002 + (n % 7) / 1000, failed=n % 100 == 0, violation=n % 1000 == 1)
            now[0] += 0.0002
        window = evidence.summary(30)
        after = tracemalloc.take_snapshot().filter_traces(own)
    finally:
        tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert held < 60_000, held  # the 1,000 latencies at 16 bytes each, the 60 slices at about 100
    # The last 30 s: 150,000 calls (a slice straddling the edge counts whole), their failures and violations.
    assert 150_000 <= window.calls <= 155_000
    assert window.failures == pytest.approx(window.calls / 100, rel=0.02)
    assert window.violations == pytest.approx(window.calls / 1000, rel=0.05)
    assert window.p95_seconds == 0.008


def test_evidence_sized_for_a_short_window_ends_with_it() -> None:
    now = [0.0]
    evidence = Evidence.for_window(2.0, 1000, clock=lambda: now[0])
    for _ in range(10):
        evidence.record_call(None, failed=True, violation=False)
        now[0] += 0.1
    assert evidence.summary(2.0).failures == 10
    now[0] += 2.15  # past the window by more than one slice (0.1 s)
    assert evidence.summary(2.0).calls == 0


def test_checks_are_overdue_from_their_bound_after_the_last_one_once_that_has_passed() -> None:
    """The moment the live view, the health runner's history and the monthly report call ``unknown`` from."""
    checked = datetime(2026, 12, 7, 8, tzinfo=UTC)
    assert overdue_since(None, 30, checked + timedelta(hours=1)) is None  # never checked: pending, not stale
    assert overdue_since(checked, 30, checked + timedelta(seconds=30)) is None  # just in time
    assert overdue_since(checked, 30, checked + timedelta(seconds=30.5)) == checked + timedelta(seconds=30)
    assert overdue_since(checked, 0.25, checked + timedelta(hours=1)) == checked + timedelta(milliseconds=250)


def test_p95_uses_the_nearest_rank() -> None:
    assert p95([]) is None
    assert p95([3.0]) == 3.0
    assert p95([float(i) for i in range(1, 101)]) == 95.0
    assert p95([float(i) for i in range(1, 21)]) == 19.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _breaker(**policy: float) -> tuple[CircuitBreaker, Clock, list[CircuitState]]:
    clock = Clock()
    changes: list[CircuitState] = []
    breaker = CircuitBreaker("land", CircuitPolicy(**policy), on_change=changes.append, clock=clock)
    return breaker, clock, changes


def _call(breaker: CircuitBreaker, *, failed: bool) -> None:
    trial = breaker.before_call()
    breaker.record(failed=failed, trial=trial)


def test_consecutive_failures_open_the_circuit_and_it_fails_fast() -> None:
    breaker, clock, changes = _breaker(consecutive_failures=3, cooldown_seconds=10)
    for _ in range(2):
        _call(breaker, failed=True)
    _call(breaker, failed=False)  # a success resets the run
    for _ in range(2):
        _call(breaker, failed=True)
    assert breaker.state is CircuitState.CLOSED
    _call(breaker, failed=True)
    assert breaker.state is CircuitState.OPEN
    clock.now += 4
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_call()
    assert caught.value.retry_after == pytest.approx(6)
    assert changes == [CircuitState.CLOSED, CircuitState.OPEN]


def test_after_the_cooldown_one_trial_call_closes_or_reopens_it() -> None:
    breaker, clock, changes = _breaker(consecutive_failures=1, cooldown_seconds=10)
    _call(breaker, failed=True)
    clock.now += 10
    assert breaker.before_call() is True
    assert breaker.state is CircuitState.HALF_OPEN
    with pytest.raises(CircuitOpenError):  # only one trial at a time
        breaker.before_call()
    breaker.record(failed=True, trial=True)
    assert breaker.state is CircuitState.OPEN
    clock.now += 10
    trial = breaker.before_call()
    breaker.record(failed=False, trial=trial)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.before_call() is False
    assert changes == [
        CircuitState.CLOSED,
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.CLOSED,
    ]


def test_a_trial_that_ends_without_an_answer_lets_another_through() -> None:
    breaker, clock, _ = _breaker(consecutive_failures=1, cooldown_seconds=5)
    _call(breaker, failed=True)
    clock.now += 5
    assert breaker.before_call() is True
    breaker.release_trial()
    assert breaker.before_call() is True


def test_an_error_ratio_over_the_window_opens_the_circuit() -> None:
    breaker, clock, _ = _breaker(consecutive_failures=100, error_ratio=0.5, window_seconds=10, min_calls=10)
    for i in range(9):  # alternate: never 100 in a row, 4 of 9 failed
        _call(breaker, failed=i % 2 == 1)
        clock.now += 0.5
    assert breaker.state is CircuitState.CLOSED
    _call(breaker, failed=True)  # 5 of 10
    assert breaker.state is CircuitState.OPEN


def test_old_calls_leave_the_window() -> None:
    breaker, clock, _ = _breaker(consecutive_failures=100, error_ratio=0.5, window_seconds=10, min_calls=10)
    for _ in range(9):  # fewer calls than min_calls: the ratio does not count yet
        _call(breaker, failed=True)
    clock.now += 30  # the failures are forgotten: 1 call of 1, not 9 failures of 10
    _call(breaker, failed=False)
    assert breaker.state is CircuitState.CLOSED
    for _ in range(8):
        _call(breaker, failed=True)
    _call(breaker, failed=False)
    assert breaker.state is CircuitState.OPEN  # 8 of 10 in the window


@pytest.mark.parametrize("seed", range(20))
def test_the_window_counts_what_a_recount_of_its_calls_gives(seed: int) -> None:
    """The breaker keeps the window's sums as calls come and seconds pass; they are always what counting every
    call of the window again gives (calls in the last ``window_seconds`` whole seconds, the current one too)."""
    rng = random.Random(seed)
    window = rng.choice([1, 2.5, 10, 30])
    breaker, clock, _ = _breaker(consecutive_failures=1000, error_ratio=1, window_seconds=window, min_calls=1)
    calls: list[tuple[int, bool]] = []
    for _ in range(500):
        clock.now += rng.choice([0, 0, 0.01, 0.3, 1, 4, 40])
        failed = rng.random() < 0.3
        counted = breaker._count(failed)
        second = math.floor(clock.now)
        calls.append((second, failed))
        recent = [bad for at, bad in calls if at > second - math.ceil(window)]
        assert counted == (len(recent), sum(recent))


def test_one_record_failing_again_and_again_does_not_open_the_circuit_but_an_outage_does() -> None:
    """One client asking again and again for the one record that makes its sector system fail: counted once in the
    window, neither in a row nor in the ratio, so the circuit stays closed for every other client; the calls about
    other records that fail in an outage open it as before."""
    breaker, clock, _ = _breaker(consecutive_failures=3, error_ratio=0.5, window_seconds=10, min_calls=4)
    for _ in range(50):
        breaker.record(failed=True, trial=breaker.before_call(), about=("068200000001",))
        clock.now += 0.1
    assert breaker.state is CircuitState.CLOSED
    breaker.record(failed=False, trial=breaker.before_call(), about=("068200000002",))
    clock.now += 10  # out of the window: the record counts again, once
    breaker.record(failed=True, trial=breaker.before_call(), about=("068200000001",))
    breaker.record(failed=True, trial=breaker.before_call(), about=("068200000001",))
    assert breaker.state is CircuitState.CLOSED
    for key in ("068200000003", "068200000004"):  # the outage: other records fail too
        breaker.record(failed=True, trial=breaker.before_call(), about=(key,))
    assert breaker.state is CircuitState.OPEN


def test_calls_whose_subject_is_unknown_all_count() -> None:
    breaker, _, _ = _breaker(consecutive_failures=3)
    for _ in range(3):
        breaker.record(failed=True, trial=breaker.before_call())
    assert breaker.state is CircuitState.OPEN


def test_a_disabled_circuit_never_opens() -> None:
    breaker, _, _ = _breaker(enabled=False, consecutive_failures=1)
    for _ in range(10):
        _call(breaker, failed=True)
    assert breaker.state is CircuitState.CLOSED


def test_a_health_check_is_the_trial_call_once_the_cooldown_is_over() -> None:
    breaker, clock, changes = _breaker(consecutive_failures=2, cooldown_seconds=10)
    _call(breaker, failed=True)
    _call(breaker, failed=True)
    assert breaker.current() is CircuitState.OPEN
    breaker.trial_by_check(failed=False)  # too early: still open
    assert breaker.state is CircuitState.OPEN
    clock.now += 10
    assert breaker.current() is CircuitState.HALF_OPEN  # the next call would be the trial
    breaker.trial_by_check(failed=True)
    assert breaker.state is CircuitState.OPEN
    clock.now += 10
    breaker.trial_by_check(failed=False)
    assert breaker.state is CircuitState.CLOSED
    assert changes[-5:] == [
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.OPEN,
        CircuitState.HALF_OPEN,
        CircuitState.CLOSED,
    ]


def test_good_checks_while_the_circuit_is_open_do_not_count_towards_recovery() -> None:
    tracker = Tracker(state=ConnectionState.CONNECTED, since=T0, last_check=T0)
    for _ in range(3):
        tracker = after_check(tracker, GOOD, POLICY, _window([0.01]), T0, circuit=CircuitState.OPEN)
    assert tracker.successes == 0
    closed = after_check(tracker, GOOD, POLICY, _window([0.01]), T0, circuit=CircuitState.CLOSED)
    assert (closed.state, closed.cause) == (ConnectionState.RECOVERING, "recovering")


def test_the_latencies_kept_are_the_newest_of_the_window_in_time_order() -> None:
    """The evidence's store of latencies against the plain structure it replaces (a deque of the newest
    ``capacity`` pairs, pairs older than the horizon dropped from the left), over random sequences of samples,
    horizons and clears."""
    from collections import deque

    from gateway.records.evidence import _Samples

    rng = random.Random(68)
    for _ in range(2_000):
        capacity = rng.randint(1, 7)
        samples, expected = _Samples(capacity), deque[tuple[float, float]](maxlen=capacity)
        when = 0.0
        for _ in range(rng.randint(0, 60)):
            action = rng.random()
            if action < 0.6:
                when += rng.random()
                value = rng.random()
                samples.append(when, value)
                expected.append((when, value))
            elif action < 0.9:
                horizon = when - rng.random() * 3
                samples.drop_before(horizon)
                while expected and expected[0][0] < horizon:
                    expected.popleft()
            else:
                samples.clear()
                expected.clear()
            assert list(samples) == list(expected)
            assert len(samples) == len(expected)
