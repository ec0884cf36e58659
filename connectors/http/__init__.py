"""The base of the adapters that read their sector system over HTTP (the REST and SOAP adapters).

* :mod:`connectors.http.config`: the settings they share (:class:`HttpConnectorConfig`, :class:`RetryPolicy`,
  the ``none`` and ``bearer`` authentication schemes);
* :mod:`connectors.http.client`: the pooled client (:class:`HttpClient`: aiohttp's, or httpx's), TLS, the response
  size limit, deadlines, and the filter that keeps request lines (URLs with record keys) out of the logs;
* :mod:`connectors.http.failures`: what a failed attempt means (the connector error, whether to retry), as a table;
* :mod:`connectors.http.retry`: backoff with full jitter, ``Retry-After``, never past the deadline;
* :mod:`connectors.http.tokens`: a token the calls share (:class:`SharedToken`: one request for all, renewed in the
  background before it expires, dropped when refused), the REST adapter's OAuth 2.0 token's and the integration
  platform's.

An adapter imports this package, never another adapter (``lint-imports`` checks it).
"""

from .client import (
    ACCEPTED_ENCODINGS,
    Answer,
    AnswerTooLarge,
    AsyncClient,
    Engine,
    HttpClient,
    WithoutRequestLines,
    attempt_timeout,
    call_deadline,
    close_streamed,
    deadline_passed,
    http_client,
    json_body,
    one_each,
    parse_links,
    read_limited,
    ssl_context,
    without_request_lines,
)
from .config import BearerAuth, ConfigModel, HttpConnectorConfig, NoAuth, RetryPolicy, check_http_url
from .failures import PLATFORM, SECTOR_SYSTEM, Failure, from_exception, from_response, from_status, parse_retry_after
from .retry import Retrier, backoff_delay
from .tokens import RENEWAL_PAUSE_SECONDS, SharedToken, Token, issued_token, token_lifetime

__all__ = [
    "ACCEPTED_ENCODINGS",
    "PLATFORM",
    "RENEWAL_PAUSE_SECONDS",
    "SECTOR_SYSTEM",
    "Answer",
    "AnswerTooLarge",
    "AsyncClient",
    "BearerAuth",
    "ConfigModel",
    "Engine",
    "Failure",
    "HttpClient",
    "HttpConnectorConfig",
    "NoAuth",
    "Retrier",
    "RetryPolicy",
    "SharedToken",
    "Token",
    "WithoutRequestLines",
    "attempt_timeout",
    "backoff_delay",
    "call_deadline",
    "check_http_url",
    "close_streamed",
    "deadline_passed",
    "from_exception",
    "from_response",
    "from_status",
    "http_client",
    "issued_token",
    "json_body",
    "one_each",
    "parse_links",
    "parse_retry_after",
    "read_limited",
    "ssl_context",
    "token_lifetime",
    "without_request_lines",
]
