"""Real servers on 127.0.0.1 for the conformance kit: the sandbox, a hanging copy of it, and a closed port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from simulators.http import Misbehaviour, SimulatorServer

from civil_servants_connector.sandbox import Sandbox


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with SimulatorServer(Sandbox()) as server:
        yield server.url


@pytest.fixture(scope="session")
def hanging_url() -> Iterator[str]:
    sandbox = Sandbox()
    sandbox.switch.set(Misbehaviour(mode="hang"))
    with SimulatorServer(sandbox) as server:
        yield server.url


@pytest.fixture(scope="session")
def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
