"""Serving simulated sector systems over real HTTP, able to misbehave on demand (shared by every simulator)."""

from .misbehaviour import MODES, Misbehaving, Misbehaviour, MisbehaviourSwitch, Mode, ReceivedRequest, RequestLog
from .server import SimulatedSystem, SimulatorServer, abort_connection

__all__ = [
    "MODES",
    "Misbehaving",
    "Misbehaviour",
    "MisbehaviourSwitch",
    "Mode",
    "ReceivedRequest",
    "RequestLog",
    "SimulatedSystem",
    "SimulatorServer",
    "abort_connection",
]
