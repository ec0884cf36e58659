"""Fixtures for the population simulator's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run the ``anyio``-marked tests on asyncio only (the gateway's event loop)."""
    return "asyncio"
