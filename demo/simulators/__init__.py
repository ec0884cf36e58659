"""The simulated sector systems of ``gateway demo`` and of the tests (the ``axis-gateway-demo`` distribution).

Not part of the gateway's own distribution: installed beside it (``pip install '.[demo]' ./demo`` from the
repository's root), they are imported only by :mod:`gateway.demo`, the tests and the benchmarks.
"""

# The gateway's version: the two distributions are released together (``demo/pyproject.toml`` pins it).
__version__ = "0.1.0"
