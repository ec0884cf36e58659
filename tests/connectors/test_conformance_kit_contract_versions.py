"""The conformance kit checks that the contract a connector serves is the version its readers and writers were
promised: the gateway's own contracts against their published snapshots, another package's against the directory
its tests name (``published_contracts``), and a contract changed in place fails, saying where."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field

from connectors.testing import ConformanceCase, ConnectorConformance
from contracts import Contract
from contracts.compatibility import write_snapshot
from contracts.population import Citizen


class Parcel(Contract):
    """A land parcel, as an agency's package would define it (not registered: the tests define several classes)."""

    contract_name: ClassVar[str] = "test_land.parcel"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "code"

    code: str = Field(pattern=r"^[A-Z]{2}-[0-9]{4}$")
    owner: str = Field(min_length=1, max_length=200)


class ParcelChangedInPlace(Contract):
    """The same version with its owner's name shortened: a record valid before is refused now."""

    contract_name: ClassVar[str] = "test_land.parcel"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "code"

    code: str = Field(pattern=r"^[A-Z]{2}-[0-9]{4}$")
    owner: str = Field(min_length=1, max_length=100)


def kit(contract: type[Contract]) -> ConnectorConformance:
    """The kit's checks for a connector serving ``contract``."""
    serving = type("Serving", (), {"contract": contract})
    checks = type("Checks", (ConnectorConformance,), {"connector_class": serving, "arguments": {}})
    return checks()


def case(published: Path | None) -> ConformanceCase:
    unused: dict[str, Any] = {}
    return ConformanceCase(
        config=unused, known_ids=[], missing_id="", unreachable_config=unused, published_contracts=published
    )


def test_a_contract_as_published_passes(tmp_path: Path) -> None:
    write_snapshot(Parcel, tmp_path)
    kit(Parcel).test_contract_matches_its_published_snapshot(case(tmp_path))


def test_a_contract_changed_in_place_fails_naming_the_change(tmp_path: Path) -> None:
    write_snapshot(Parcel, tmp_path)
    with pytest.raises(AssertionError) as failed:
        kit(ParcelChangedInPlace).test_contract_matches_its_published_snapshot(case(tmp_path))
    message = str(failed.value)
    assert "test_land.parcel v1" in message and "$.owner" in message


def test_an_unpublished_contract_fails_saying_how_to_publish_it(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"no published snapshot.*--write test_land\.parcel 1"):
        kit(Parcel).test_contract_matches_its_published_snapshot(case(tmp_path))


def test_another_packages_contract_without_its_snapshots_is_skipped_saying_why() -> None:
    with pytest.raises(pytest.skip.Exception, match="pass published_contracts="):
        kit(Parcel).test_contract_matches_its_published_snapshot(case(None))


def test_the_gateways_own_contracts_are_checked_against_their_published_snapshots() -> None:
    kit(Citizen).test_contract_matches_its_published_snapshot(case(None))
