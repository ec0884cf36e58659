"""A simulated sector REST API of the national population database, served over real HTTP and able to misbehave.

It publishes the ``cong_dan`` rows of :mod:`simulators.population` the way a ministry's system would: its own
JSON shape and code lists, its own pagination styles and authentication schemes (see :mod:`.app`). Tests and
benchmarks start it on 127.0.0.1 (:class:`ApiServer`) and switch it to misbehave on demand (:class:`Misbehaviour`:
slow, 5xx, 429, malformed bodies, records that violate the contract, connection resets, hangs), so that the
gateway's timeouts and retries meet real sockets. :func:`rest_connector_config` is the ``rest`` connector's
configuration for it.
"""

from ..http.misbehaviour import Misbehaviour
from .app import MAX_PAGE_SIZE, ApiCredentials, PopulationApi
from .connector_config import rest_connector_config
from .records import load_rows
from .server import ApiServer

__all__ = [
    "MAX_PAGE_SIZE",
    "ApiCredentials",
    "ApiServer",
    "Misbehaviour",
    "PopulationApi",
    "load_rows",
    "rest_connector_config",
]
