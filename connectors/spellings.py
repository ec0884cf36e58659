"""The ways a sector database may hold the same Vietnamese text, so that a search typed one way finds it.

Vietnamese letters can be stored precomposed (``ế``, Unicode NFC, "Unicode dựng sẵn"), fully decomposed
(``e`` + circumflex + acute, NFD, as macOS and some libraries write it), or as "Unicode tổ hợp", the form of the
Windows-1258 code page and of the converters from TCVN3: the letter with its circumflex, breve or horn precomposed
(``ê``) and the tone mark apart (``ê`` + acute). The three look alike and compare unequal.
"""

from __future__ import annotations

import unicodedata

__all__ = ["TONE_MARKS", "spellings"]

TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
"""The five Vietnamese tone marks as combining characters: grave (huyền), acute (sắc), tilde (ngã), hook above
(hỏi) and dot below (nặng)."""


def _tones_apart(decomposed: str) -> str:
    """NFD text with every letter recomposed but for its tone mark, which follows it."""
    out: list[str] = []
    base, kept, tones = "", "", ""
    for char in decomposed + "\0":  # the sentinel flushes the last letter
        if unicodedata.combining(char) and base:
            if char in TONE_MARKS:
                tones += char
            else:
                kept += char
            continue
        if base:
            out.append(unicodedata.normalize("NFC", base + kept) + tones)
        base, kept, tones = char, "", ""
    return "".join(out)


def spellings(text: str) -> tuple[str, str, str]:
    """``text`` as NFC, as NFD and with tone marks apart ("Unicode tổ hợp"), in that order; equal to each other
    where the text has no marks (ASCII)."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", text), decomposed, _tones_apart(decomposed)
