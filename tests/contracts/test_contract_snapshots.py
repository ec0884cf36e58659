"""The published snapshots of the built-in contracts (contracts/published/): every registered version has one, and
its current schemas keep the promise the snapshot made; a real contract changed in a copy breaks it, and the
command ``python -m contracts.compatibility`` refuses to write over a published version it would break."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from pydantic import Field, create_model

import contracts.registry
from contracts import Contract, all_contracts
from contracts.admin_units import Address, AdminArea
from contracts.compatibility import (
    PUBLISHED,
    READERS,
    WRITERS,
    SnapshotRefused,
    breaking_changes,
    check_contract,
    input_schema,
    main,
    published_schema,
    snapshot_paths,
    write_snapshot,
)
from contracts.population import Citizen

BUILT_IN = [model for model in all_contracts() if model.__module__.startswith("contracts.")]


def assert_published(model: type[Contract], directory: Path = PUBLISHED) -> None:
    """The check every built-in contract version passes: published, and unchanged since (or changed without a
    breaking change and published again)."""
    check = check_contract(model, directory)
    assert check.ok, check.describe()


@pytest.mark.parametrize("model", BUILT_IN, ids=lambda model: model.contract_id())
def test_every_built_in_contract_version_matches_its_published_snapshot(model: type[Contract]) -> None:
    assert_published(model)


def test_the_built_in_contracts_and_their_snapshots_are_the_same_set() -> None:
    """Twelve national databases, one version each for now; no snapshot is left of a version that is gone."""
    assert len(BUILT_IN) == 12
    expected = {path for model in BUILT_IN for path in snapshot_paths(model.contract_name, model.contract_version)}
    assert set(PUBLISHED.glob("*/*")) == expected


def test_the_current_citizen_schema_breaks_nothing_of_its_snapshot() -> None:
    published, accepted = snapshot_paths("population.citizen", 1)
    assert breaking_changes(json.loads(published.read_text(encoding="utf-8")), Citizen.contract_schema()) == []
    assert breaking_changes(json.loads(accepted.read_text(encoding="utf-8")), input_schema(Citizen)) == []


def test_a_snapshot_is_the_schema_the_gateway_publishes() -> None:
    published, accepted = snapshot_paths("population.citizen", 1)
    assert json.loads(published.read_text(encoding="utf-8")) == Citizen.contract_schema()
    assert json.loads(accepted.read_text(encoding="utf-8")) == {
        **Citizen.model_json_schema(mode="validation"),
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:axis-gateway:contract:population.citizen@1",
        "x-contract-name": "population.citizen",
        "x-contract-version": 1,
        "x-record-key": "personal_id",
    }


def test_a_version_without_a_snapshot_fails_with_how_to_publish_it() -> None:
    class CitizenV2(Citizen):
        contract_version: ClassVar[int] = 2

    CitizenV2.__module__ = "contracts.population.citizen_v2"  # as a built-in version 2 would be
    with pytest.raises(AssertionError) as failure:
        assert_published(CitizenV2)
    message = str(failure.value)
    assert "population.citizen v2 has no published snapshot" in message
    assert "contracts/published/population.citizen/v2.json" in message
    assert "publish it with `python -m contracts.compatibility --write population.citizen 2`" in message


def test_a_snapshot_elsewhere_says_where(tmp_path: Path) -> None:
    check = check_contract(Citizen, tmp_path)
    assert not check.ok and len(check.missing) == 2
    assert f"--snapshots {tmp_path} --write population.citizen 1" in check.describe()


# -- the real contract changed in a copy -------------------------------------------------------------------------


def _without(name: str) -> type[Contract]:
    """A copy of Citizen v1 without the field ``name``."""
    fields: dict[str, Any] = {key: (info.annotation, info) for key, info in Citizen.model_fields.items() if key != name}
    model: type[Contract] = create_model("Citizen", __base__=Contract, **fields)
    model.contract_name, model.contract_version, model.record_key = "population.citizen", 1, "personal_id"
    return model


class _ShortLine(Address):
    line: str = Field(min_length=1, max_length=50)


class ShortLine(Citizen):
    permanent_address: _ShortLine


class ShortName(Citizen):
    full_name: str = Field(min_length=1, max_length=50)


class NewRequired(Citizen):
    registered_by: str


class FewerStatuses(Citizen):
    marital_status: Literal["single", "married"] | None = None


class NumericHousehold(Citizen):
    household_id: int | None = None


class RequiredHometown(Citizen):
    hometown: AdminArea


class OtherKey(Citizen):
    record_key: ClassVar[str] = "old_id_number"


class ThreeLetterNationality(Citizen):
    nationality: str = Field("VN", pattern="^[A-Z]{3}$")


class OptionalName(Citizen):
    full_name: str | None = None


class UnknownNationality(Citizen):
    nationality: str = Field("XX", pattern="^[A-Z]{2}$")


BOTH, R, W = frozenset({READERS, WRITERS}), frozenset({READERS}), frozenset({WRITERS})
MODIFIED: list[tuple[str, type[Contract], str, str, frozenset[str]]] = [
    ("a field removed", _without("household_id"), "$.household_id", "property-removed", BOTH),
    ("a nested maxLength lowered", ShortLine, "$.permanent_address.line", "constraint-tightened", W),
    ("a maxLength lowered", ShortName, "$.full_name", "constraint-tightened", W),
    ("a new required field", NewRequired, "$.registered_by", "property-required", W),
    ("an enum value removed", FewerStatuses, "$.marital_status", "enum-value-removed", W),
    ("a type changed", NumericHousehold, "$.household_id", "type-changed", BOTH),
    ("an optional field required", RequiredHometown, "$.hometown", "property-required", W),
    ("the record key changed", OtherKey, "$", "record-key-changed", BOTH),
    ("a pattern changed", ThreeLetterNationality, "$.nationality", "pattern-changed", BOTH),
    ("a required field made optional", OptionalName, "$.full_name", "property-optional", R),
    ("a default changed", UnknownNationality, "$.nationality", "default-changed", BOTH),
]


@pytest.mark.parametrize(
    ("model", "path", "kind", "affects"), [case[1:] for case in MODIFIED], ids=[case[0] for case in MODIFIED]
)
def test_a_copy_of_the_citizen_contract_changed_in_place_breaks_its_snapshot(
    model: type[Contract], path: str, kind: str, affects: frozenset[str]
) -> None:
    check = check_contract(model)
    assert not check.ok
    assert (path, kind, affects) in {(c.path, c.kind, c.affects) for c in check.published}, check.describe()
    assert "changed in a way that breaks the systems built against it" in check.describe()
    assert f"  {path}: " in check.describe()
    if WRITERS in affects:  # what writers may send is compared too, for writers
        assert (path, kind) in {(c.path, c.kind) for c in check.input}, check.describe()
    else:
        assert check.input == ()


def test_a_copy_changed_compatibly_only_asks_to_publish_again() -> None:
    class Described(Citizen):
        """A citizen, described otherwise."""

        note: str | None = Field(None, max_length=200, description="A new optional field.")

    check = check_contract(Described)
    assert check.breaking == () and check.differs and not check.ok
    assert "without a breaking change" in check.describe()
    assert f"`python -m contracts.compatibility --import {Described.__module__} --write" in check.describe()


# -- writing a snapshot ------------------------------------------------------------------------------------------


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """A copy of the published snapshots of population.citizen v1."""
    shutil.copytree(PUBLISHED / "population.citizen", tmp_path / "population.citizen")
    return tmp_path


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (directory / "population.citizen").iterdir()}


def test_writing_over_a_published_version_it_breaks_is_refused(published: Path) -> None:
    before = _files(published)
    with pytest.raises(SnapshotRefused) as refused:
        write_snapshot(ShortName, published)
    assert "$.full_name: maxLength lowered from 100 to 50" in str(refused.value)
    assert _files(published) == before


def test_writing_a_compatible_change_updates_the_snapshot(published: Path) -> None:
    class WithNote(Citizen):
        """A citizen with a note."""

        note: str | None = None

    assert write_snapshot(Citizen, published) == "unchanged"
    assert write_snapshot(WithNote, published) == "updated"
    snapshot, accepted = snapshot_paths("population.citizen", 1, published)
    assert json.loads(snapshot.read_text(encoding="utf-8")) == published_schema(WithNote)
    assert json.loads(accepted.read_text(encoding="utf-8")) == input_schema(WithNote)
    assert check_contract(WithNote, published).ok
    # The note is part of the promise now: taking it away breaks it.
    with pytest.raises(SnapshotRefused, match=r"\$\.note: the property 'note' was removed"):
        write_snapshot(Citizen, published)


def test_writing_a_new_version(tmp_path: Path) -> None:
    assert write_snapshot(Citizen, tmp_path) == "written"
    snapshot, accepted = snapshot_paths("population.citizen", 1, tmp_path)
    assert (
        snapshot.read_text(encoding="utf-8")
        == json.dumps(Citizen.contract_schema(), indent=2, ensure_ascii=False) + "\n"
    )
    assert accepted.is_file()
    assert sorted(path.name for path in snapshot.parent.iterdir()) == ["v1.input.json", "v1.json"]
    assert write_snapshot(Citizen, tmp_path) == "unchanged"


def test_what_writers_may_send_is_checked_too(published: Path) -> None:
    """The input snapshot (the records the contract accepts, more lenient than those it hands out: a date of
    birth as ``00/00/1985``) is compared for writers: narrowing it breaks them though the published schema holds."""
    _, accepted = snapshot_paths("population.citizen", 1, published)
    schema = json.loads(accepted.read_text(encoding="utf-8"))
    pattern = schema["properties"]["date_of_birth"]["pattern"]
    assert "/" in pattern  # the lenient form is accepted
    schema["properties"]["date_of_birth"]["pattern"] = pattern + "|^[0-9]{8}$"  # and, once, another
    accepted.write_text(json.dumps(schema), encoding="utf-8")
    check = check_contract(Citizen, published)
    assert check.published == ()
    assert [(c.path, c.kind) for c in check.input] == [("$.date_of_birth", "pattern-changed")]
    assert "$.date_of_birth: pattern changed from " in check.describe()
    assert check.describe().endswith("(breaks readers and writers) [in the records it accepts]")


# -- the command -------------------------------------------------------------------------------------------------


def test_the_command_checks_the_built_in_contracts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{model.contract_name} v{model.contract_version} matches its published snapshot" for model in BUILT_IN
    ]
    assert main(["--check", "population.citizen@1", "tax.taxpayer"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "population.citizen v1 matches its published snapshot",
        "tax.taxpayer v1 matches its published snapshot",
    ]


def test_the_command_fails_a_missing_or_broken_snapshot(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "tax.taxpayer", "--snapshots", str(published)]) == 1
    assert f"publish it with `python -m contracts.compatibility --snapshots {published} --write tax.taxpayer 1`" in (
        capsys.readouterr().err
    )
    snapshot, _ = snapshot_paths("population.citizen", 1, published)
    schema = json.loads(snapshot.read_text(encoding="utf-8"))
    schema["properties"]["full_name"]["maxLength"] = 200  # published longer than the contract allows now
    snapshot.write_text(json.dumps(schema), encoding="utf-8")
    assert main(["--check", "population.citizen", "--snapshots", str(published)]) == 1
    assert "$.full_name: maxLength lowered from 200 to 100" in capsys.readouterr().err


def test_the_command_refuses_to_write_over_a_snapshot_it_breaks(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot, _ = snapshot_paths("population.citizen", 1, published)
    schema = json.loads(snapshot.read_text(encoding="utf-8"))
    schema["properties"]["blood_type"] = {"type": "string"}  # published with a field the contract has lost
    snapshot.write_text(json.dumps(schema), encoding="utf-8")
    before = _files(published)
    assert main(["--write", "population.citizen", "1", "--snapshots", str(published)]) == 1
    assert "$.blood_type: the property 'blood_type' was removed" in capsys.readouterr().err
    assert _files(published) == before


def test_the_command_writes_a_compatible_change(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot, _ = snapshot_paths("population.citizen", 1, published)
    schema = json.loads(snapshot.read_text(encoding="utf-8"))
    schema["description"] = "An older description."
    snapshot.write_text(json.dumps(schema), encoding="utf-8")
    assert main(["--write", "population.citizen", "1", "--snapshots", str(published)]) == 0
    assert capsys.readouterr().out.startswith("population.citizen v1: updated (")
    assert json.loads(snapshot.read_text(encoding="utf-8")) == Citizen.contract_schema()


def test_the_command_compares_two_schemas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two files: a JSON Schema, or the body of ``GET /v1/contracts/{name}`` (as an agency saved it)."""
    old, new = tmp_path / "citizen-v1.json", tmp_path / "citizen-now.json"
    shutil.copy(snapshot_paths("population.citizen", 1)[0], old)
    schema = Citizen.contract_schema()
    schema["properties"]["full_name"]["maxLength"] = 50
    schema["required"].remove("full_name")
    body = {"name": "population.citizen", "version": 1, "versions": [1], "schema": schema}
    new.write_text(json.dumps(body), encoding="utf-8")
    assert main(["--compare", str(old), str(old)]) == 0
    assert capsys.readouterr().out == "0 breaking changes\n"
    assert main(["--compare", str(old), str(new)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "breaking: $.full_name: maxLength lowered from 100 to 50: values writers could send are refused (breaks "
        "writers)",
        "breaking: $.full_name: the property 'full_name' is no longer required: readers may get records without it "
        "(breaks readers)",
        "2 breaking changes",
    ]
    assert main(["--compare", str(old), str(new), "--audience", "readers"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "1 breaking change"


def test_the_command_names_what_it_cannot_find(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "population.nobody"]) == 2
    assert capsys.readouterr().err.startswith("error: no contract named 'population.nobody'")
    assert main(["--write", "population.citizen", "9"]) == 2
    assert "has no version 9" in capsys.readouterr().err
    assert main(["--compare", str(tmp_path / "none.json"), str(tmp_path / "none.json")]) == 2
    assert "none.json" in capsys.readouterr().err
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    assert main(["--compare", str(tmp_path / "list.json"), str(tmp_path / "list.json")]) == 2
    assert "does not hold a JSON Schema object" in capsys.readouterr().err


AGENCY_PACKAGE = '''
from typing import ClassVar

from pydantic import Field

from contracts import Contract, register_contract


@register_contract
class Permit(Contract):
    """A building permit."""

    contract_name: ClassVar[str] = "construction.permit"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "permit_number"

    permit_number: str = Field(pattern="^GP-[0-9]{6}$")
    storeys: int = Field(ge=1, le={storeys})
'''


def test_another_agencys_contracts_are_checked_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An agency's own package: ``--import`` registers its contracts, ``--snapshots`` keeps them in its tree, and
    ``--check`` checks that package's contracts alone."""
    monkeypatch.setattr(contracts.registry, "_default", contracts.registry.ContractRegistry())
    monkeypatch.syspath_prepend(str(tmp_path))
    package = tmp_path / "agency_permits"
    package.mkdir()
    snapshots = tmp_path / "published"
    arguments = ["--import", "agency_permits", "--snapshots", str(snapshots)]
    try:
        (package / "__init__.py").write_text(AGENCY_PACKAGE.replace("{storeys}", "90"), encoding="utf-8")
        assert main([*arguments, "--check"]) == 1
        assert "publish it with `python -m contracts.compatibility --import agency_permits" in capsys.readouterr().err
        assert main([*arguments, "--write", "construction.permit", "1"]) == 0
        assert "construction.permit v1: written" in capsys.readouterr().out
        assert (snapshots / "construction.permit" / "v1.json").is_file()
        assert main([*arguments, "--check"]) == 0
        assert capsys.readouterr().out == "construction.permit v1 matches its published snapshot\n"

        # The agency lowers the limit of its published version 1.
        monkeypatch.setattr(contracts.registry, "_default", contracts.registry.ContractRegistry())
        del sys.modules["agency_permits"]
        (package / "__init__.py").write_text(AGENCY_PACKAGE.replace("{storeys}", "60"), encoding="utf-8")
        assert main([*arguments, "--check"]) == 1
        assert "$.storeys: maximum lowered from 90 to 60" in capsys.readouterr().err
    finally:
        sys.modules.pop("agency_permits", None)


@pytest.mark.subprocess
def test_python_m_contracts_compatibility_runs() -> None:
    """The command as the documentation gives it, in a process of its own, from the repository."""
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-m", "contracts.compatibility", "--check"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == len(BUILT_IN)
    assert "population.citizen v1 matches its published snapshot" in run.stdout
