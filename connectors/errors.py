"""The errors a connector raises; the gateway maps each kind to one HTTP status and problem type.

Connector authors raise these (never HTTP exceptions): the gateway decides how they look on the wire.

========================  ======  ==========================================================
error                     status  meaning
========================  ======  ==========================================================
``RecordNotFound``        404     the sector system has no record with that key
``BadQuery``              400     the query cannot be run by this connector
``OperationNotSupported`` 405     the connector does not offer this operation
``UpstreamUnavailable``   503     the sector system cannot be reached
``UpstreamTimeout``       504     the sector system did not answer in time
``UpstreamRefused``       502     the integration platform (NDXP, an LGSP) the sector system is reached
                                  through refused the call: its credentials or token, or the request's
                                  metadata (a missing procedure code, agency or officer)
``ContractViolation``     502     the sector system answered with data the contract rejects
``UpstreamError``         502     any other failure of the sector system
``SubmissionRejected``    --      the sector system refused a submitted operation for good (the gateway
                                  dead-letters it instead of retrying)
``ConnectorConfigError``  --      the connector's configuration is invalid (raised at load time)
========================  ======  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence


class ConnectorError(Exception):
    """Base class of every error a connector raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectorConfigError(ConnectorError):
    """The configuration given to a connector is invalid; raised when the connector is built."""

    def __init__(self, message: str, *, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


class RecordNotFound(ConnectorError):
    """The sector system holds no record with the requested key."""


class BadQuery(ConnectorError):
    """The query is well-formed for the contract but this connector cannot run it."""


class OperationNotSupported(ConnectorError):
    """The connector does not implement the requested operation (for example ``search``)."""


class SubmissionRejected(ConnectorError):
    """The sector system refused a submitted operation and would refuse it again: a record created twice, an
    update or deletion of a record it does not hold, data its own rules reject. Retrying cannot help, so the
    gateway dead-letters the operation with this message; transient failures raise :class:`UpstreamError`."""


class UpstreamError(ConnectorError):
    """The sector system failed; ``reason`` is a short, bounded label used in metrics.

    Reasons used by the built-in connectors: ``connect`` (not reached, or the connection broke), ``timeout``,
    ``rate_limited`` (HTTP 429), ``protocol`` (an answer that cannot be used), ``status_5xx``,
    ``contract_violation``, ``refused`` (the gateway's credentials or call refused).
    """

    reason: str = "protocol"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class UpstreamUnavailable(UpstreamError):
    """The sector system cannot be reached (connection refused, DNS failure, database file missing, a connection
    broken mid-call...), or is not serving calls now (``reason="rate_limited"``: HTTP 429)."""

    reason = "connect"


class UpstreamTimeout(UpstreamError):
    """The sector system did not answer within the connector's deadline."""

    reason = "timeout"


class UpstreamRefused(UpstreamError):
    """The sector system, or the integration platform between the gateway and it (the national axis NDXP, a
    province's LGSP), refused the call: it did not issue a token, refused the credentials or the token sent
    (HTTP 401, 403), or refused the request's metadata (no public-service procedure code, an unknown agency or
    integration service). Retrying the same call cannot help: the connection's credentials or the request must
    change."""

    reason = "refused"


class ContractViolation(UpstreamError):
    """A value from the sector system failed the contract's validation and was not passed on.

    ``errors`` lists the failed rules as ``"field.path: message"`` strings; they never contain the values
    themselves, so they are safe to log.
    """

    reason = "contract_violation"

    def __init__(self, message: str, *, record_id: str | None = None, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.record_id = record_id
        self.errors = list(errors)
