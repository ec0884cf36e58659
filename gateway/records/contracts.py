"""The contracts the gateway knows: the built-in ones and those of the loaded connectors."""

from __future__ import annotations

from contracts import Contract, all_contracts
from gateway.core.problems import UnknownContract
from gateway.records.registry import ConnectorRegistry


def known_contracts(registry: ConnectorRegistry) -> dict[str, dict[int, type[Contract]]]:
    """Contract name -> version -> model, for registered contracts and every loaded connector's."""
    found: dict[str, dict[int, type[Contract]]] = {}
    models = [*all_contracts(), *(db.connector.contract for db in registry.databases.values())]
    for model in models:
        found.setdefault(model.contract_name, {})[model.contract_version] = model
    return dict(sorted(found.items()))


def find_contract(registry: ConnectorRegistry, name: str, version: int | None) -> tuple[type[Contract], list[int]]:
    """The contract ``name`` at ``version`` (the newest when ``None``) and all its versions."""
    versions = known_contracts(registry).get(name)
    if not versions:
        raise UnknownContract(f"No contract named {name!r}.")
    chosen = max(versions) if version is None else version
    if chosen not in versions:
        raise UnknownContract(f"Contract {name!r} has no version {version}.")
    return versions[chosen], sorted(versions)
