"""Versioned record contracts shared by the gateway, its connectors and the agencies that consume them.

Importing this package registers the built-in contracts (``population.citizen``); look them up with
:func:`get_contract`. The value types (identification numbers, names, partial dates, administrative
units) live in the submodules and are imported from there.
"""

from contracts.base import Contract, ContractQuery
from contracts.registry import (
    DuplicateContract,
    UnknownContract,
    all_contracts,
    contract_versions,
    get_contract,
    register_contract,
)

# Registers the built-in contracts; imported last because it uses the registry above.
import contracts.population  # noqa: F401  # isort: skip
import contracts.social_insurance  # noqa: F401  # isort: skip
import contracts.business  # noqa: F401  # isort: skip
import contracts.health_insurance  # noqa: F401  # isort: skip
import contracts.tax  # noqa: F401  # isort: skip
import contracts.judicial_records  # noqa: F401  # isort: skip
import contracts.legal_documents  # noqa: F401  # isort: skip
import contracts.education  # noqa: F401  # isort: skip
import contracts.civil_status  # noqa: F401  # isort: skip
import contracts.vehicles  # noqa: F401  # isort: skip
import contracts.driving_licences  # noqa: F401  # isort: skip
import contracts.land  # noqa: F401  # isort: skip

__all__ = [
    "Contract",
    "ContractQuery",
    "DuplicateContract",
    "UnknownContract",
    "all_contracts",
    "contract_versions",
    "get_contract",
    "register_contract",
]
