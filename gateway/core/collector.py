"""The cyclic garbage collector while the gateway serves.

CPython collects its youngest generation whenever the container objects allocated and not yet freed exceed a
threshold, 700 by default. The requests in flight hold more than that between them: at the default, a worker
under load collected about once every ten requests, each time walking those requests' objects (about 0.2 ms) and
promoting them to the older generations, whose collections then walked them again; about 3 % of its CPU time
(measured with ``bench/run.py``: 1,129 collections and 0.25 s in an 8-second run). While the gateway serves,
:func:`collector_for_serving` raises that threshold to :data:`YOUNG_THRESHOLD`, above what the requests in flight
hold at ordinary concurrency: 8 collections and 4 ms in the same run. What reference counting cannot free (objects
in reference cycles, such as the envelope builder zeep makes for each SOAP call) is freed a little later, at most
about that many objects later; the older generations keep their thresholds.

What the start made (settings, connectors, the catalogue, compiled validators) lives as long as the process: it is
frozen out of the collector's sight (:func:`gc.freeze`), so that a full collection no longer walks it while requests
wait.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Net allocations of container objects between two collections of the youngest generation while serving.
YOUNG_THRESHOLD = 3_000


@contextmanager
def collector_for_serving() -> Iterator[None]:
    """Freeze what exists now and raise the youngest generation's threshold, until the block ends; then restore
    both."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
