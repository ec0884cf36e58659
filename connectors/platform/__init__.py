"""Speaking the national axis: the axis profile of the REST and SOAP adapters.

A sector system reached through the national data integration platform (NDXP) or a province's LGSP, rather than
directly, is configured with the adapter's ``axis`` setting (:class:`AxisProfile`): the platform's authentication
(``lgspaccesstoken`` and the token it issues), the request metadata every call carries (request id, procedure
code, agency, officer, integration service), and the envelope its answers come in. :class:`PlatformSession` does
the work for one connector. See ``docs/axis-platform.md``.
"""

from .config import AxisProfile, EnvelopeProfile, LgspAuth, PlatformToken, RequestMetadata
from .session import (
    PlatformSession,
    TokenRateLimited,
    TokenUnavailable,
    TokenUnreachable,
    Verdict,
    access_token_header,
    token_lifetime,
)

__all__ = [
    "AxisProfile",
    "EnvelopeProfile",
    "LgspAuth",
    "PlatformSession",
    "PlatformToken",
    "RequestMetadata",
    "TokenRateLimited",
    "TokenUnavailable",
    "TokenUnreachable",
    "Verdict",
    "access_token_header",
    "token_lifetime",
]
