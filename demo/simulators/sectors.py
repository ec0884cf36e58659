"""The simulated sector systems: what the demo and the tests start to stand in for the real ones.

Each simulated system is described by a :class:`SectorSystem`: the national database it plays, the entry-point
name of the connector that adapts it, and a ``start`` coroutine that prepares its data (deterministically, from
the same synthetic citizens as the population database, so the systems agree with each other), starts whatever it
serves (an HTTP server on 127.0.0.1, registered on the context's exit stack so it stops with the caller), and
returns the connector configuration that reaches it.

:data:`SECTOR_SYSTEMS` names every built-in system by database id; :func:`load_sector_system` imports one.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.dates import vietnam_today

from .defects import PopulationDefects, SectorDefects, SectorPlanted, plant_sector_defects

if TYPE_CHECKING:
    from .http.server import SimulatorServer

__all__ = ["SECTOR_SYSTEMS", "SectorContext", "SectorSystem", "load_sector_system"]


@dataclass(slots=True)
class SectorContext:
    """What a simulated system needs to start.

    ``data_dir`` is where its SQLite files go; ``citizens``, ``seed`` and ``today`` are those the population
    database was generated with (:func:`simulators.population.generate_citizens`), so that every system derives
    its records from the same people. ``sql_url``, when set, is a SQLAlchemy URL of an empty database to use
    instead of a SQLite file (tests on PostgreSQL). Servers started go on ``stack``. ``defects``, when set, plants
    data-quality defects in the population database (:mod:`simulators.defects`; the demo does, tests need not).
    ``servers`` maps each database whose system serves over HTTP to its :class:`~simulators.http.SimulatorServer`
    (filled by ``start``), so that tests can make it misbehave. ``sector_defects``, when set, plants defects in the
    other systems' records (:func:`simulators.defects.plant_sector_defects`), and ``planted`` says which.
    """

    data_dir: Path
    citizens: int = 2000
    seed: int = 68
    today: date = field(default_factory=vietnam_today)
    sql_url: str | None = None
    stack: ExitStack = field(default_factory=ExitStack)
    defects: PopulationDefects | None = None
    servers: dict[str, SimulatorServer] = field(default_factory=dict)
    sector_defects: SectorDefects | None = None
    planted: dict[str, SectorPlanted] = field(default_factory=dict)

    def plant(self, database: str, records: Sequence[dict[str, Any]]) -> None:
        """Plant ``sector_defects`` (if any) in ``database``'s records, in place, and note which in ``planted``."""
        if self.sector_defects is None:
            return
        from .population import synthetic_citizens

        citizens = synthetic_citizens(self.citizens, self.seed, self.today)
        deaths = {row["so_dinh_danh"]: row["ngay_mat"] for row in citizens if row["ngay_mat"] is not None}
        self.planted[database] = plant_sector_defects(
            database, records, self.sector_defects, seed=self.seed, today=self.today, deaths=deaths
        )

    def sqlite_url(self, name: str) -> str:
        """The SQLAlchemy URL of this system's database: ``sql_url`` if set, else ``data_dir/<name>.db``."""
        if self.sql_url is not None:
            return self.sql_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / f'{name}.db'}"


@dataclass(frozen=True, slots=True)
class SectorSystem:
    """A simulated sector system and the connector that adapts it.

    ``start(context)`` seeds the data if needed, starts any server, and returns the connector's configuration;
    a system serving over REST or SOAP declares in it a ``canary``: the key of a record it serves that satisfies
    the contract (chosen deterministically from its own data), so that the health checks are deep.
    ``protocol`` says how the gateway reaches it: ``sql``, ``rest`` or ``soap``.
    """

    database: str
    connector: str
    title: str
    protocol: str
    start: Callable[[SectorContext], Awaitable[dict[str, Any]]]


#: Database id -> ``module:attribute`` of its :class:`SectorSystem`.
SECTOR_SYSTEMS: dict[str, str] = {
    "population": "simulators.population:POPULATION",
    "judicial_records": "simulators.judicial_records_soap:JUDICIAL_RECORDS",
    "legal_documents": "simulators.legal_documents:LEGAL_DOCUMENTS",
    "education": "simulators.education:EDUCATION",
    "social_insurance": "simulators.vss_api.system:SOCIAL_INSURANCE",
    "business": "simulators.business_api.system:BUSINESS",
    "health_insurance": "simulators.vss_api.system:HEALTH_INSURANCE",
    "tax": "simulators.tax_api.system:TAX",
    "civil_status": "simulators.civil_status:CIVIL_STATUS",
    "vehicles": "simulators.vehicles:VEHICLES_SYSTEM",
    "driving_licences": "simulators.driving_licence_api:DRIVING_LICENCES",
    "land": "simulators.land:LAND",
}


def load_sector_system(database: str) -> SectorSystem:
    """The simulated system of ``database`` (``KeyError`` if there is none)."""
    module_name, _, attribute = SECTOR_SYSTEMS[database].partition(":")
    system = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(system, SectorSystem):
        raise TypeError(f"{SECTOR_SYSTEMS[database]} is not a SectorSystem")
    return system
