"""The contract registry: registration, lookups, versions and duplicates."""

from typing import ClassVar

import pytest

import contracts
from contracts import (
    Contract,
    DuplicateContract,
    UnknownContract,
    all_contracts,
    contract_versions,
    get_contract,
    register_contract,
)
from contracts.population import Citizen
from contracts.registry import ContractRegistry


def make_contract(name: str, version: int, key: str = "number") -> type[Contract]:
    """A throwaway contract class with one field, ``number``."""
    return type(
        f"Test{version}",
        (Contract,),
        {
            "__annotations__": {"number": str},
            "contract_name": name,
            "contract_version": version,
            "record_key": key,
        },
    )


def test_builtin_citizen_is_registered_on_import() -> None:
    assert get_contract("population.citizen") is Citizen
    assert get_contract("population.citizen", 1) is Citizen
    assert 1 in contract_versions("population.citizen")
    assert Citizen in all_contracts()


def test_package_exports() -> None:
    names = ["Contract", "ContractQuery", "UnknownContract", "register_contract", "get_contract"]
    for name in [*names, "contract_versions", "all_contracts"]:
        assert name in contracts.__all__
        assert hasattr(contracts, name)


def test_unknown_name_and_version() -> None:
    with pytest.raises(UnknownContract, match=r"no contract named 'population\.nobody'"):
        get_contract("population.nobody")
    with pytest.raises(UnknownContract, match="registered versions: 1"):
        get_contract("population.citizen", 99)
    with pytest.raises(LookupError):
        get_contract("nothing.here", 1)
    assert contract_versions("nothing.here") == []


def test_reregistering_the_same_class_is_harmless() -> None:
    assert register_contract(Citizen) is Citizen
    assert get_contract("population.citizen", 1) is Citizen


def test_global_duplicate_is_refused() -> None:
    impostor = make_contract("population.citizen", 1, key="number")
    with pytest.raises(DuplicateContract, match="already registered"):
        register_contract(impostor)
    assert get_contract("population.citizen", 1) is Citizen


def test_latest_version_and_sorting() -> None:
    registry = ContractRegistry()
    v2 = registry.register(make_contract("sector.thing", 2))
    v1 = registry.register(make_contract("sector.thing", 1))
    v10 = registry.register(make_contract("sector.thing", 10))
    other = registry.register(make_contract("another.thing", 3))
    assert registry.get("sector.thing") is v10
    assert registry.get("sector.thing", 1) is v1
    assert registry.get("sector.thing", 2) is v2
    assert registry.versions("sector.thing") == [1, 2, 10]
    assert registry.all() == [other, v1, v2, v10]


def test_duplicate_is_refused_in_a_private_registry() -> None:
    registry = ContractRegistry()
    first = registry.register(make_contract("sector.thing", 1))
    with pytest.raises(DuplicateContract):
        registry.register(make_contract("sector.thing", 1))
    assert registry.get("sector.thing") is first
    assert registry.register(first) is first


def test_works_as_class_decorator() -> None:
    registry = ContractRegistry()

    @registry.register
    class Vehicle(Contract):
        contract_name: ClassVar[str] = "transport.vehicle"
        contract_version: ClassVar[int] = 1
        record_key: ClassVar[str] = "plate"

        plate: str

    assert registry.get("transport.vehicle") is Vehicle
    assert Vehicle(plate="49A-123.45").record_id() == "49A-123.45"


def test_empty_registry_lookup() -> None:
    with pytest.raises(UnknownContract, match="known: none"):
        ContractRegistry().get("anything")


@pytest.mark.parametrize(
    "bad",
    [
        make_contract("sector.thing", 1, key="missing_field"),
        make_contract("", 1),
        make_contract("sector.thing", 0),
        type("NoIdentity", (Contract,), {"__annotations__": {"number": str}}),
    ],
)
def test_incomplete_contracts_are_refused(bad: type[Contract]) -> None:
    with pytest.raises(TypeError):
        ContractRegistry().register(bad)


def test_non_contracts_are_refused() -> None:
    with pytest.raises(TypeError, match="Contract subclasses"):
        ContractRegistry().register(dict)  # type: ignore[type-var]
