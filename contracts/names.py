"""Personal names: validation, normalisation for comparison and a family/middle/given split.

Vietnamese names are written family name first (``Nguyễn Thị Mai``: family ``Nguyễn``, middle ``Thị``,
given ``Mai``), but the names of several ethnic minorities do not follow that order or contain
apostrophes and hyphens (``K' Brơi``, ``H'Hen Niê``, ``Ka Huê``). :data:`FullName` therefore only checks
the characters and normalises the spelling; it never reorders or recapitalises a name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from contracts.common import JsonSchemaExtra

__all__ = ["FullName", "NameParts", "clean_name", "normalize_name", "split_full_name"]

MAX_NAME_LENGTH = 100
"""The longest accepted full name, in characters (after normalisation)."""

# Typographic apostrophes and look-alikes people type in names, all written as "'" in a FullName.
_APOSTROPHES = str.maketrans(dict.fromkeys("’‘ʼʻ`´′", "'"))
# Hyphen look-alikes (Unicode hyphen, non-breaking hyphen), written as "-".
_HYPHENS = str.maketrans(dict.fromkeys("‐‑", "-"))


def clean_name(value: str) -> str:
    """Return ``value`` in the canonical spelling of a :data:`FullName`, without checking its characters.

    Unicode NFC (precomposed Vietnamese letters), typographic apostrophes turned into ``'``, Unicode
    hyphens into ``-``, surrounding whitespace removed and inner runs of whitespace collapsed to one space.
    """
    value = unicodedata.normalize("NFC", value).translate(_APOSTROPHES).translate(_HYPHENS)
    return " ".join(value.split())


def normalize_name(value: str) -> str:
    """Return a key for comparing names: :func:`clean_name` followed by case folding.

    Two spellings of the same name that differ only in Unicode composition, apostrophe style, spacing
    or letter case get the same key (``"nguyễn  THỊ mai"`` and ``"Nguyễn Thị Mai"``). Diacritics are kept:
    ``Hòa`` and ``Hoa`` are different names in Vietnamese.
    """
    return clean_name(value).casefold()


def _is_name_char(ch: str) -> bool:
    return ch in " '-" or unicodedata.category(ch)[0] in {"L", "M"}


def _before(value: Any) -> Any:
    return clean_name(value) if isinstance(value, str) else value


def _letters(*ranges: tuple[int, int]) -> frozenset[str]:
    return frozenset(
        ch for low, high in ranges for ch in map(chr, range(low, high + 1)) if unicodedata.category(ch)[0] == "L"
    )


# The letters of names as most are written (Latin with Vietnamese diacritics), and every character allowed among
# them: checked as sets, at C speed; a name with any other character gets the character-by-character check.
_COMMON_LETTERS = _letters((0x41, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF))
_COMMON_NAME_CHARS = _COMMON_LETTERS | frozenset(" '-") | frozenset(map(chr, range(0x300, 0x370)))


def _check_name(value: str) -> str:
    if not _COMMON_NAME_CHARS.issuperset(value):
        bad = sorted({ch for ch in value if not _is_name_char(ch)})
        if bad:
            shown = ", ".join(repr(ch) for ch in bad)
            raise ValueError(f"a full name may contain only letters, spaces, apostrophes and hyphens; found {shown}")
    for position, word in enumerate(value.split(" "), start=1):
        if _COMMON_LETTERS.isdisjoint(word) and not any(unicodedata.category(ch)[0] == "L" for ch in word):
            raise ValueError(f"every word of a full name must contain a letter; word {position} does not")
    return value


FullName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH),
    BeforeValidator(_before),
    AfterValidator(_check_name),
    JsonSchemaExtra(
        # Portable approximation (JSON Schema regexes lack \p{L}): words without digits, single spaces.
        pattern=r"^[^\s0-9]+( [^\s0-9]+)*$",
        description=(
            "A person's full name as registered, family name first for Kinh names. Unicode NFC, single "
            "spaces, only letters (with their diacritics), spaces, apostrophes (') and hyphens."
        ),
        examples=["Nguyễn Thị Mai", "K' Brơi", "H'Hen Niê"],
    ),
]
"""A person's full name: NFC, whitespace collapsed, 1-100 characters of letters, spaces, ``'`` and ``-``."""


@dataclass(frozen=True, slots=True)
class NameParts:
    """A full name split into ``family`` name, ``middle`` name(s) (``""`` if none) and ``given`` name."""

    family: str
    middle: str
    given: str


def split_full_name(name: str) -> NameParts:
    """Split a full name into family, middle and given names by the usual Vietnamese word order.

    The first word is taken as the family name, the last as the given name and the words in between as
    the middle name; a one-word name is a given name only. The name is cleaned first (:func:`clean_name`).

    This is a heuristic, good for most Kinh names, and it has limits: compound family names
    (``Tôn Nữ``, ``Âu Dương``) are split after their first word, two-word given names (``Nguyễn Văn Minh
    Tuấn``) lose their first word to the middle name, and names of some ethnic minorities put the family
    or clan name last (``H'Hen Niê``: family ``Niê``) or are written without one. Never use it to
    decide who a person is; use it only for display, sorting or loose matching.

    >>> split_full_name("Nguyễn Thị Mai")
    NameParts(family='Nguyễn', middle='Thị', given='Mai')
    """
    words = clean_name(name).split(" ")
    if words == [""]:
        raise ValueError("cannot split an empty name")
    if len(words) == 1:
        return NameParts(family="", middle="", given=words[0])
    return NameParts(family=words[0], middle=" ".join(words[1:-1]), given=words[-1])
