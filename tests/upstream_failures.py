"""Making a simulated sector system fail as the conformance kit asks (``fail_upstream``, :class:`UpstreamFailure`):
each failure is a misbehaviour of the simulators' switch (:mod:`simulators.http`)."""

from __future__ import annotations

from collections.abc import Callable

from connectors.testing import UpstreamFailure
from simulators.http import Misbehaviour, MisbehaviourSwitch

MISBEHAVIOURS: dict[UpstreamFailure, Misbehaviour] = {
    UpstreamFailure.SERVER_ERROR: Misbehaviour(mode="error", status=500),
    UpstreamFailure.UNAVAILABLE: Misbehaviour(mode="error", status=503),
    UpstreamFailure.UNAUTHORIZED: Misbehaviour(mode="error", status=401),
    UpstreamFailure.FORBIDDEN: Misbehaviour(mode="error", status=403),
    UpstreamFailure.RATE_LIMITED: Misbehaviour(mode="rate_limit"),
    UpstreamFailure.MALFORMED: Misbehaviour(mode="malformed"),
    UpstreamFailure.RESET: Misbehaviour(mode="reset"),
}
"""The misbehaviour of each failure the kit asks for."""


def failing(switch: MisbehaviourSwitch) -> Callable[[UpstreamFailure | None], None]:
    """The kit's ``fail_upstream`` for the simulated system whose misbehaviour ``switch`` is."""

    def fail(failure: UpstreamFailure | None) -> None:
        switch.set(MISBEHAVIOURS[failure] if failure is not None else Misbehaviour())

    return fail
