"""Masking personal data in what the gateway writes about requests (log lines, trace attributes): personal id
numbers and health-insurance card numbers keep their first digits only, people's names are hidden whole."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MASKED_NAME", "NAME_KEYS", "mask_value"]

_PERSONAL_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{3})(\d{9}|\d{7}|\d{6})(?![0-9A-Za-z])")
_HEALTH_CARD = re.compile(r"(?<![0-9A-Za-z])([A-Z]{2}\d{3})(\d{10})(?![0-9A-Za-z])")
#: Keys whose values are people's names: masked whole.
NAME_KEYS = frozenset(
    {
        "full_name",
        "fullname",
        "ho_ten",
        "given_name",
        "family_name",
        "middle_name",
        "birth_name",
        "other_names",
        "father_name",
        "mother_name",
        "spouse_name",
        "guardian_name",
        "ho_ten_cha",
        "ho_ten_me",
        "ho_ten_vo_chong",
    }
)
MASKED_NAME = "***"


def _mask_number(match: re.Match[str]) -> str:
    return match.group(1) + "*" * len(match.group(2))


def mask_value(value: Any, key: str | None = None) -> Any:
    """``value`` with personal numbers masked (first 3 digits kept: ``068*********``; a health insurance card's
    first 5 characters: ``DN479**********``) in every string inside it,
    and with names (the values of :data:`NAME_KEYS`) replaced by ``***``."""
    if key is not None and key.lower() in NAME_KEYS and value is not None:
        return MASKED_NAME
    if isinstance(value, str):
        return _HEALTH_CARD.sub(_mask_number, _PERSONAL_NUMBER.sub(_mask_number, value))
    if isinstance(value, Mapping):
        return {k: mask_value(v, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(item) for item in value]
    return value
