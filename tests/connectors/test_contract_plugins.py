"""Contracts of other distributions, found through the ``gateway.contracts`` entry points: the generic adapters
serve them by name (an agency's own contract over its own table, with no connector class of its own), and a broken
or conflicting declaration is a clear configuration error, never a contract silently replaced.

The distributions are real (if tiny) installed ones: a ``.dist-info`` folder and a module in a temporary directory
put on ``sys.path``, found by ``importlib.metadata`` exactly like an installed wheel."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from support import install_distribution

from connectors.base import ConnectorConfigError
from connectors.discovery import discover_contracts
from connectors.sql import SqlConnector
from contracts import get_contract

pytestmark = pytest.mark.anyio

CONTRACT_SOURCE = '''
from typing import ClassVar

from pydantic import Field

from contracts import Contract


class Crop(Contract):
    """A crop registration of the provincial Department of Agriculture."""

    contract_name: ClassVar[str] = "{name}"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "code"

    code: str = Field(pattern=r"^NN-[0-9]{{4}}$")
    crop: str = Field(min_length=1, max_length=100)


NOT_A_CONTRACT = object()
'''


def _agency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_points: str, module: str, name: str) -> None:
    install_distribution(
        tmp_path, f"agency-{module}", entry_points, modules={module: CONTRACT_SOURCE.format(name=name)}
    )
    monkeypatch.syspath_prepend(str(tmp_path))


async def test_the_sql_adapter_serves_a_contract_another_distribution_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = uuid.uuid4().hex[:8]
    name, module = f"agriculture_{suffix}.crop", f"agency_crops_{suffix}"
    _agency(tmp_path, monkeypatch, f"[gateway.contracts]\n{name} = {module}:Crop\n", module, name)
    database = tmp_path / "crops.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE cay_trong (ma TEXT PRIMARY KEY, ten TEXT)")
        conn.execute("INSERT INTO cay_trong VALUES ('NN-0001', 'Cà phê'), ('NN-0002', '')")
    config = {
        "url": f"sqlite:///{database}",
        "contract": f"{name}@1",
        "table": "cay_trong",
        "fields": {"code": "ma", "crop": "ten"},
    }
    async with SqlConnector.from_config(config) as connector:  # the contract is imported when first named
        record = await connector.get("NN-0001")
        assert record.model_dump() == {"code": "NN-0001", "crop": "Cà phê"}
        assert type(record).contract_id() == f"{name}@1"
        with pytest.raises(Exception, match="crop"):
            await connector.get("NN-0002")  # its validation is the agency's contract's
    assert get_contract(name).__module__ == module


def test_a_broken_or_conflicting_contract_declaration_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = uuid.uuid4().hex[:8]
    module = f"agency_broken_{suffix}"
    wrong, other = f"agriculture_{suffix}.wrong_name", f"agriculture_{suffix}.declared"
    not_one = f"agriculture_{suffix}.not_one"
    entries = (
        f"[gateway.contracts]\n{wrong} = {module}:Crop\n{not_one} = {module}:NOT_A_CONTRACT\n"
        f"population.citizen = {module}:Crop\n"
    )
    _agency(tmp_path, monkeypatch, entries, module, other)
    failures = {failure.name: failure.error for failure in discover_contracts()}
    assert f"is the contract {other!r}, not {wrong!r}" in failures[wrong]
    assert "is not a contracts.Contract subclass" in failures[not_one]
    # The population's own contract is declared by this project's code, not an entry point: another class under
    # its name is refused, and the built-in one stays.
    assert "population.citizen" in failures
    assert get_contract("population.citizen").__module__.startswith("contracts.population")
    with pytest.raises(ConnectorConfigError, match=f"unknown contract '{wrong}'"):
        SqlConnector.from_config({"url": "sqlite://", "contract": wrong, "table": "t", "fields": {"code": "c"}})
