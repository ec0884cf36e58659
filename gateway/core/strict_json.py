"""Strict JSON (RFC 8259 as I-JSON, RFC 7493, reads it): no duplicate keys, no NaN or Infinity, no number
beyond a double's range, no lone surrogate.

Python's ``json`` module accepts all of these (the last key wins, ``NaN`` is a float), so two readers of the same
body could disagree on what it says. ``orjson`` refuses everything but duplicate keys, fast; the standard
library's C scanner, with a hook on each object, then looks for duplicates alone.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

# Keys named in errors only when they look like field names: a key can be anything, personal data included.
_NAMEABLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


class StrictJsonError(ValueError):
    """The body is not strict JSON; the message says why, without quoting the body."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def loads(body: bytes) -> Any:
    """The value of ``body``; :class:`StrictJsonError` if it is not strict JSON."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "infinity" in str(exc).lower() or re.search(rb"\b(?:NaN|Infinity)\b", body):
            raise StrictJsonError("NaN, Infinity and numbers beyond the range of a double are not JSON.") from None
        raise StrictJsonError("The request body is not valid JSON.") from None
    if isinstance(value, dict | list) and b"{" in body:
        try:
            json.loads(body, object_pairs_hook=_unique_keys)
        except _DuplicateKey as exc:
            if _NAMEABLE_KEY.fullmatch(exc.key):
                raise StrictJsonError(f"The key {exc.key!r} appears twice in one object.", key=exc.key) from None
            raise StrictJsonError("A key appears twice in one object.") from None
        except (ValueError, RecursionError):
            raise StrictJsonError("The request body is not valid JSON, or nests too deeply.") from None
    return value


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a JSON integer (not a boolean or a string)")
    return value


#: An integer of a JSON body, as JSON Schema's ``integer``: ``5`` and ``5.0``, never ``true`` or ``"5"``.
JSON_INT = BeforeValidator(_json_number)
JsonInt = Annotated[int, JSON_INT]
