"""A simulated judicial records database (Cơ sở dữ liệu lý lịch tư pháp) served as a SOAP 1.1 web service.

It publishes the certificate requests of :mod:`.records` (made by the citizens of the simulated population
database) the way a ministry's web service would: a WSDL at ``?wsdl``, document/literal envelopes in its own
namespace and code lists, WS-Security UsernameToken credentials, SOAP Faults for bad requests and unknown request
numbers (see :mod:`.app`). Tests and the demo serve it on 127.0.0.1 with :class:`~simulators.http.SimulatorServer`
and make it misbehave on demand; :func:`soap_connector_config` is the ``soap`` connector's configuration for it,
:func:`judicial_records_config` the dedicated connector's, and :data:`JUDICIAL_RECORDS` the simulated system the
demo starts.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import orjson

from ..http.misbehaviour import Misbehaviour
from ..http.server import SimulatorServer
from ..population import synthetic_citizens
from ..sectors import SectorContext, SectorSystem
from .app import MAX_PAGE_SIZE, JudicialRecordsService, SoapCredentials
from .connector_config import judicial_records_config, soap_connector_config
from .records import STATUS_CODES, generate_requests
from .wsdl import NAMESPACE, SERVICE_PATH

__all__ = [
    "JUDICIAL_RECORDS",
    "MAX_PAGE_SIZE",
    "NAMESPACE",
    "SERVICE_PATH",
    "STATUS_CODES",
    "JudicialRecordsService",
    "Misbehaviour",
    "SoapCredentials",
    "generate_requests",
    "judicial_records_config",
    "soap_connector_config",
]


_DATES = ("ngay_tiep_nhan", "ngay_cap")


def _requests(context: SectorContext) -> list[dict[str, Any]]:
    """The requests, generated on the first start and kept in ``data_dir``: later starts serve the same ones,
    whatever their size or day, as the population database keeps its first citizens."""
    path = context.data_dir / "judicial_records.json"
    if path.is_file():
        rows: list[dict[str, Any]] = orjson.loads(path.read_bytes())
        for row in rows:
            for column in _DATES:
                row[column] = date.fromisoformat(row[column]) if row[column] else None
        return rows
    citizens = synthetic_citizens(context.citizens, context.seed, context.today)
    rows = generate_requests(citizens, seed=context.seed, today=context.today)
    context.data_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_bytes(orjson.dumps(rows))
    partial.replace(path)
    return rows


async def _start(context: SectorContext) -> dict[str, Any]:
    rows = await asyncio.to_thread(_requests, context)
    context.plant("judicial_records", rows)
    service = JudicialRecordsService(rows)
    server = SimulatorServer(service).start()
    context.stack.callback(server.stop)
    context.servers["judicial_records"] = server
    # The canary: the first request by number (derived from clean citizens).
    return judicial_records_config(server.url, canary=min(service.rows))


#: The simulated judicial records database, served over SOAP.
JUDICIAL_RECORDS = SectorSystem(
    database="judicial_records",
    connector="judicial_records",
    title="Judicial records database",
    protocol="soap",
    start=_start,
)
