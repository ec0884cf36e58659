"""The languages of the gateway's answers: English by default, Vietnamese on request (``Accept-Language: vi``).

Only what people read is translated: a problem's ``title`` and ``detail`` and the ``/problems`` pages. ``type``
URIs, status codes, header names and the members and codes of extensions never change with the language.

Details are written in English where they are raised, as they always were; the English text is the message id (as
gettext's ``msgid`` is), and :mod:`gateway.core._problem_messages_vi` maps each English template of each problem
type to its Vietnamese one. A template's ``{name}`` placeholders match the values the gateway filled in, which the
Vietnamese template puts back in their place; a placeholder named ``{reason}`` is itself translated when it is one
of the catalogue's reasons. A detail the catalogue does not know (a connector's own message, say) is answered with
the problem type's general Vietnamese detail. The messages of an ``errors`` list (pydantic's common ones and the
gateway's own) and the problems of a submission's ``rejected`` operations are translated too; their locations, types
and codes are not. The catalogue is compiled once, at import; negotiating a language parses one header, and is
cached (translations are not: a detail may hold what a caller sent, and caching it would let callers fill the
memory; a translation takes microseconds)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

from gateway.core import _problem_messages_vi as vi

DEFAULT_LANGUAGE = "en"
#: The languages the gateway answers in, the default first.
LANGUAGES = (DEFAULT_LANGUAGE, "vi")

PROBLEM_PATH = "/problems/"  # gateway.core.problems.PROBLEM_BASE (which imports this module)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_QUALITY = re.compile(r"^q=(0(\.\d{0,3})?|1(\.0{0,3})?)$", re.IGNORECASE)


def _parse_accept_language(header: str) -> list[tuple[str, float]]:
    """The language ranges of an ``Accept-Language`` value with their weights (RFC 9110 section 12.5.4), lower
    case; a malformed weight makes its range count as not acceptable."""
    ranges = []
    for item in header.split(","):
        tag, *params = (part.strip() for part in item.split(";"))
        if not tag:
            continue
        quality = 1.0
        for param in params:
            if param[:2].lower() == "q=":
                quality = float(param[2:]) if _QUALITY.match(param) else 0.0
        ranges.append((tag.lower(), quality))
    return ranges


@functools.lru_cache(maxsize=256)
def negotiate_language(accept_language: str | None) -> str:
    """The language to answer in: the one of :data:`LANGUAGES` the caller weighs highest (a range names a
    language by its primary subtag, ``vi-VN`` is ``vi``; ``*`` is any), the first range named on a tie, and English
    when the caller accepts none of them or sends no preference."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best, best_quality = DEFAULT_LANGUAGE, 0.0
    ranges = _parse_accept_language(accept_language)
    wildcard = next((quality for tag, quality in ranges if tag == "*"), None)
    for language in LANGUAGES:
        named = [quality for tag, quality in ranges if tag.partition("-")[0] == language]
        quality = max(named) if named else wildcard
        if quality is None:
            continue
        if quality > best_quality or (quality == best_quality and quality > 0 and _first(ranges, language, best)):
            best, best_quality = language, quality
    return best


def _first(ranges: list[tuple[str, float]], language: str, other: str) -> bool:
    """Whether ``language`` is named before ``other`` in ``ranges`` (a language named is before one not named)."""
    for tag, _ in ranges:
        primary = tag.partition("-")[0]
        if primary == language:
            return True
        if primary == other:
            return False
    return False


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    values = [value.decode("latin-1") for key, value in headers if key.lower() == name]
    return ", ".join(values) if values else None


def language_of(scope: Scope | None) -> str:
    """The language negotiated from the ``Accept-Language`` headers of a request's ASGI scope."""
    if scope is None:
        return DEFAULT_LANGUAGE
    return negotiate_language(_header(scope.get("headers", ()), b"accept-language"))


def language_of_headers(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The language negotiated from raw request headers (name, value)."""
    return negotiate_language(_header(headers, b"accept-language"))


# -- the catalogue ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Template:
    english: str
    translation: str
    pattern: re.Pattern[str]


def _compile(english: str, translation: str) -> _Template:
    names = _PLACEHOLDER.findall(english)
    if sorted(names) != sorted(set(names)) or set(_PLACEHOLDER.findall(translation)) != set(names):
        raise ValueError(f"the placeholders of {english!r} and {translation!r} differ")
    parts = _PLACEHOLDER.split(english)  # literal, name, literal, name, ..., literal
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return _Template(english, translation, re.compile(regex, re.DOTALL))


@dataclass(frozen=True, slots=True)
class _Messages:
    """The templates of one problem type: literal ones by their text, the others longest first."""

    literal: Mapping[str, str]
    templates: tuple[_Template, ...]

    @classmethod
    def of(cls, messages: Mapping[str, str]) -> _Messages:
        literal = {english: text for english, text in messages.items() if not _PLACEHOLDER.search(english)}
        templates = [_compile(english, text) for english, text in messages.items() if english not in literal]
        templates.sort(key=lambda t: len(_PLACEHOLDER.sub("", t.english)), reverse=True)
        return cls(literal, tuple(templates))

    def translate(self, text: str) -> str | None:
        found = self.literal.get(text)
        if found is not None:
            return found
        for template in self.templates:
            match = template.pattern.fullmatch(text)
            if match is not None:
                values = match.groupdict()
                if "reason" in values:
                    values["reason"] = _REASONS.translate(values["reason"]) or values["reason"]
                if "choices" in values:
                    values["choices"] = values["choices"].replace(" or ", " hoặc ")
                return template.translation.format_map(values)
        return None


_DETAILS: dict[str, _Messages] = {slug: _Messages.of(messages) for slug, messages in vi.DETAILS.items()}
_REASONS = _Messages.of(vi.REASONS)
_ERRORS: dict[str, _Messages] = {kind: _Messages.of(messages) for kind, messages in vi.ERRORS.items()}


def translate_detail(slug: str, detail: str) -> str | None:
    """The Vietnamese of a detail the gateway writes for problems of type ``slug``, or ``None`` when the catalogue
    does not know it."""
    messages = _DETAILS.get(slug)
    return None if messages is None else messages.translate(detail)


def _localized_detail(slug: str, detail: str) -> str:
    return translate_detail(slug, detail) or vi.GENERIC_DETAILS.get(slug, detail)


def localize_problem(slug: str, title: str, detail: str | None, language: str) -> tuple[str, str | None]:
    """A problem's ``title`` and ``detail`` in ``language``."""
    if language != "vi":
        return title, detail
    return vi.TITLES.get(slug, title), None if detail is None else _localized_detail(slug, detail)


def problem_title(slug: str, title: str, language: str) -> str:
    """A problem type's title in ``language``."""
    return vi.TITLES.get(slug, title) if language == "vi" else title


def problem_description(slug: str, description: str, language: str) -> str:
    """A problem type's description (its ``/problems`` page) in ``language``."""
    return vi.DESCRIPTIONS.get(slug, description) if language == "vi" else description


def translate_error_message(kind: str, message: str) -> str | None:
    """The Vietnamese of the message of an ``errors`` entry of type ``kind``, or ``None`` when not known (those of
    the gateway's own checks are its details or their reasons)."""
    messages = _ERRORS.get(kind)
    return (
        (messages.translate(message) if messages is not None else None)
        or _DETAILS["validation-error"].translate(message)
        or _REASONS.translate(message)
    )


def _localized_message(kind: str, message: str) -> str:
    return translate_error_message(kind, message) or message


def _localize_errors(errors: list[Any]) -> list[Any]:
    return [
        {**error, "msg": _localized_message(error["type"], error["msg"])}
        if isinstance(error, dict) and isinstance(error.get("type"), str) and isinstance(error.get("msg"), str)
        else error
        for error in errors
    ]


def _localize_nested(problem: Any) -> Any:
    """A problem details object inside another (a rejected operation's), in Vietnamese."""
    if not isinstance(problem, dict) or not isinstance(problem.get("type"), str):
        return problem
    slug = problem["type"].removeprefix(PROBLEM_PATH)
    localized = dict(problem)
    if isinstance(problem.get("title"), str):
        localized["title"] = vi.TITLES.get(slug, problem["title"])
    if isinstance(problem.get("detail"), str) and slug in vi.GENERIC_DETAILS:
        localized["detail"] = _localized_detail(slug, problem["detail"])
    if isinstance(problem.get("errors"), list):
        localized["errors"] = _localize_errors(problem["errors"])
    return localized


def _localize_rejection(entry: Any) -> Any:
    if isinstance(entry, dict) and "problem" in entry:
        return {**entry, "problem": _localize_nested(entry["problem"])}
    return entry


def localize_extensions(extensions: Mapping[str, Any], language: str) -> Mapping[str, Any]:
    """A problem's extensions in ``language``: the messages of ``errors`` and the problems of ``rejected``
    operations are translated; their members, locations, types and codes are not."""
    if language != "vi" or not ("errors" in extensions or "rejected" in extensions):
        return extensions
    localized = dict(extensions)
    if isinstance(extensions.get("errors"), list):
        localized["errors"] = _localize_errors(extensions["errors"])
    if isinstance(extensions.get("rejected"), list):
        localized["rejected"] = [_localize_rejection(entry) for entry in extensions["rejected"]]
    return localized
