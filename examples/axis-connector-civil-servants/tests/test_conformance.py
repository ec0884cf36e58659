"""The gateway's conformance kit, applied to the civil_servants connector against the sandbox API."""

from __future__ import annotations

from pathlib import Path

from connectors.testing import SearchCase, connector_test_class, fixture

from civil_servants_connector import CivilServantsConnector, OfficialQuery
from civil_servants_connector.sandbox import API_KEY, officials

OFFICIALS = officials()
HOME_AFFAIRS = "000.00.05.H41"
AT_HOME_AFFAIRS = [item["ma_can_bo"] for item in OFFICIALS if item["ma_co_quan"] == HOME_AFFAIRS]
FIRST = OFFICIALS[0]

TestCivilServantsConnector = connector_test_class(
    CivilServantsConnector,
    config={"base_url": fixture("sandbox_url"), "api_key": API_KEY},
    known_ids=[FIRST["ma_can_bo"], OFFICIALS[-1]["ma_can_bo"]],
    missing_id="CB-068-9999",
    unreachable_config={"base_url": fixture("closed_url"), "api_key": API_KEY, "timeout_seconds": 2},
    slow_config={"base_url": fixture("hanging_url"), "api_key": API_KEY, "timeout_seconds": 0.5},
    searches=[
        SearchCase(OfficialQuery(agency_code=HOME_AFFAIRS), expected_ids=AT_HOME_AFFAIRS),
        SearchCase(OfficialQuery(personal_id=FIRST["so_dinh_danh"]), expected_ids=[FIRST["ma_can_bo"]]),
        SearchCase(
            OfficialQuery(agency_code=HOME_AFFAIRS, personal_id=FIRST["so_dinh_danh"]),
            expected_ids=[FIRST["ma_can_bo"]] if FIRST["ma_co_quan"] == HOME_AFFAIRS else [],
        ),
    ],
    invalid_configs=[{"base_url": "not a url", "api_key": API_KEY}, {"base_url": "http://127.0.0.1:9"}],
    entry_point="civil_servants",
    # What version 1 of the contract promises its readers and writers.
    published_contracts=Path(__file__).resolve().parents[1] / "published",
)


def test_the_sandbox_has_officials_at_home_affairs() -> None:
    """Guards the search case above: it must have several pages' worth to walk."""
    assert len(AT_HOME_AFFAIRS) >= 5
