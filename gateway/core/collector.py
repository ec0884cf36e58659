"""The cyclic garbage collector while the gateway serves.

CPython runs a collection of its youngest generation every 700 allocations of container objects (net of those
freed). A read allocates thousands, nearly all freed at once by reference counting: at the default threshold the
collector ran about once a request, each time walking every object of the requests in flight, for about 3 % of a
worker's CPU time. While the gateway serves, :func:`collector_for_serving` raises that threshold to
:data:`YOUNG_THRESHOLD`: a collection every few requests, walking about as much. Objects in reference cycles (an
exception and its traceback, a finished task's callbacks) are still freed, a few requests later; the older
generations keep their thresholds.

What the start made (settings, connectors, the catalogue, compiled validators) lives as long as the process: it is
frozen out of the collector's sight (:func:`gc.freeze`), so that a full collection no longer walks it while requests
wait.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Net allocations of container objects between two collections of the youngest generation while serving.
YOUNG_THRESHOLD = 10_000


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
