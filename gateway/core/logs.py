"""Structured logging: JSON lines (or a console renderer for people), with the request id bound per request."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar, Token
from typing import Any

import orjson

from gateway.core._structlog_lean import structlog
from gateway.core.masking import mask_value
from gateway.core.telemetry import current_span_ids


def _dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


# 12-digit personal identification numbers (and licence numbers), 10-digit social insurance codes and 9-digit
# identity card numbers, standing alone (not inside a longer number, nor inside a hexadecimal request id or hash,
# which often hold runs of digits); and the 15-character codes of older health insurance cards (DN4791234567890).
def mask_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor masking personal ids, card numbers and names in every value of a log line (the
    message and a formatted exception included)."""
    for key, value in event_dict.items():
        event_dict[key] = mask_value(value, key)
    return event_dict


#: The log fields of the request (or connector call) being handled: one context variable, set once per request
#: and once per connector call (cheaper than structlog's one variable per key, on the hottest path).
_REQUEST_FIELDS: ContextVar[Mapping[str, str] | None] = ContextVar("gateway_request_log_fields", default=None)


def bind_request_fields(fields: Mapping[str, str]) -> Token[Mapping[str, str] | None]:
    """Bind ``fields`` (``request_id``, ``trace_id``, ``span_id``) in every log line written until the token is
    reset (:func:`reset_request_fields`); they replace the fields bound before, for the time being."""
    return _REQUEST_FIELDS.set(fields)


def reset_request_fields(token: Token[Mapping[str, str] | None]) -> None:
    """Restore the request fields bound before :func:`bind_request_fields` returned ``token``."""
    _REQUEST_FIELDS.reset(token)


def merge_request_fields(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor adding the bound request fields (a field of the event itself wins)."""
    fields = _REQUEST_FIELDS.get()
    if fields:
        for key, value in fields.items():
            event_dict.setdefault(key, value)
    return event_dict


def add_trace_ids(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor adding ``trace_id`` and ``span_id`` while an OpenTelemetry span is current (they
    replace a ``trace_id`` bound from elsewhere: the span's are the ones a trace backend knows)."""
    ids = current_span_ids()
    if ids is not None:
        event_dict["trace_id"], event_dict["span_id"] = ids
    return event_dict


def configure_logging(*, level: str = "INFO", fmt: str = "json") -> None:
    """Route structlog and the standard library's logging through one renderer on stderr."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        merge_request_fields,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                mask_personal_data,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The gateway's own middleware writes access logs when asked to (GATEWAY_ACCESS_LOG).
    logging.getLogger("uvicorn.access").disabled = True
    # The Redis client logs each retry of each request at INFO, with the error's text (which may carry the URL):
    # hundreds of lines a minute in an outage the gateway logs once itself.
    logging.getLogger("coredis").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger; the request id is added automatically inside a request."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
