"""The registry of contract classes, keyed by contract name and version.

Built-in contracts register themselves when :mod:`contracts` is imported; connectors or deployments may
register their own with :func:`register_contract`, usually as a class decorator::

    @register_contract
    class Vehicle(Contract):
        contract_name: ClassVar[str] = "transport.vehicle"
        contract_version: ClassVar[int] = 1
        record_key: ClassVar[str] = "plate"
        ...
"""

from __future__ import annotations

import threading
from typing import TypeVar

from contracts.base import Contract

__all__ = [
    "ContractRegistry",
    "DuplicateContract",
    "UnknownContract",
    "all_contracts",
    "contract_versions",
    "get_contract",
    "register_contract",
]

_ContractT = TypeVar("_ContractT", bound=type[Contract])


class UnknownContract(LookupError):
    """Raised when no contract is registered under the requested name (and version)."""


class DuplicateContract(ValueError):
    """Raised when a different class is registered under a (name, version) that is already taken."""


class ContractRegistry:
    """A set of contract classes keyed by ``(contract_name, contract_version)``; safe to use from threads.

    The module-level functions use one shared default registry; tests and tools can make their own.
    """

    def __init__(self) -> None:
        self._contracts: dict[tuple[str, int], type[Contract]] = {}
        self._lock = threading.Lock()

    def register(self, model: _ContractT) -> _ContractT:
        """Add ``model`` and return it unchanged, so that the method works as a class decorator.

        Registering the same class again is harmless; registering a different class under a taken
        (name, version) raises :class:`DuplicateContract`. A class without ``contract_name``,
        ``contract_version`` or ``record_key``, or whose ``record_key`` is not one of its fields, raises
        ``TypeError``.
        """
        key = _identity(model)
        with self._lock:
            existing = self._contracts.get(key)
            if existing is not None and existing is not model:
                raise DuplicateContract(
                    f"contract {key[0]} version {key[1]} is already registered as "
                    f"{existing.__module__}.{existing.__qualname__}; "
                    f"refusing {model.__module__}.{model.__qualname__}"
                )
            self._contracts[key] = model
        return model

    def get(self, name: str, version: int | None = None) -> type[Contract]:
        """Return the contract ``name`` at ``version``, or its latest version when ``version`` is None.

        Raises :class:`UnknownContract` when there is no such contract or version.
        """
        with self._lock:
            versions = sorted(v for (n, v) in self._contracts if n == name)
            if not versions:
                known = ", ".join(sorted({n for n, _ in self._contracts})) or "none"
                raise UnknownContract(f"no contract named {name!r} is registered (known: {known})")
            if version is None:
                version = versions[-1]
            try:
                return self._contracts[(name, version)]
            except KeyError:
                raise UnknownContract(
                    f"contract {name!r} has no version {version} (registered versions: {', '.join(map(str, versions))})"
                ) from None

    def versions(self, name: str) -> list[int]:
        """Return the registered versions of contract ``name`` in ascending order (empty if unknown)."""
        with self._lock:
            return sorted(v for (n, v) in self._contracts if n == name)

    def all(self) -> list[type[Contract]]:
        """Return every registered contract class, sorted by name then version."""
        with self._lock:
            return [self._contracts[key] for key in sorted(self._contracts)]


def _identity(model: type[Contract]) -> tuple[str, int]:
    if not (isinstance(model, type) and issubclass(model, Contract)):
        raise TypeError(f"only Contract subclasses can be registered, got {model!r}")
    missing = [attr for attr in ("contract_name", "contract_version", "record_key") if not hasattr(model, attr)]
    if missing:
        raise TypeError(f"{model.__qualname__} does not set {', '.join(missing)}")
    name, version = model.contract_name, model.contract_version
    if not isinstance(name, str) or not name:
        raise TypeError(f"{model.__qualname__}.contract_name must be a non-empty string")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TypeError(f"{model.__qualname__}.contract_version must be a positive integer")
    if model.record_key not in model.model_fields:
        raise TypeError(f"{model.__qualname__}.record_key {model.record_key!r} is not one of its fields")
    return name, version


_default = ContractRegistry()


def register_contract(model: _ContractT) -> _ContractT:
    """Register ``model`` in the default registry (see :meth:`ContractRegistry.register`); returns it."""
    return _default.register(model)


def get_contract(name: str, version: int | None = None) -> type[Contract]:
    """Return a registered contract, its latest version if ``version`` is None, or raise UnknownContract."""
    return _default.get(name, version)


def contract_versions(name: str) -> list[int]:
    """Return the registered versions of contract ``name``, ascending; empty if it is unknown."""
    return _default.versions(name)


def all_contracts() -> list[type[Contract]]:
    """Return every registered contract class, sorted by contract name then version."""
    return _default.all()
