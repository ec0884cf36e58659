"""Breaking changes between the published JSON Schema of a contract version and its current one.

A contract version is a promise to the systems built against it: ``population.citizen`` v1 does not change under
its readers (the agencies that receive its records) or its writers (the sector systems and agencies whose records
are validated against it: submissions, and the records a connector builds). :func:`breaking_changes` compares two
JSON Schemas of one version, the published one and the current one, and lists every change that could break either
side, each with the JSON path of the value concerned (``$.permanent_address.line``) and a plain explanation.

The rule, in short: a version may only *widen what writers may send* without *taking away what readers rely on*.

* Breaking for writers (a record valid under the published schema is refused now): a property removed or renamed;
  a type narrowed or changed; a property newly required; an enum value removed, or an enum added; a constraint
  tightened (``maxLength``/``maximum`` lowered, ``minLength``/``minimum`` raised, a ``pattern``, ``format`` or
  ``multipleOf`` added or changed, ``uniqueItems`` added); additional properties newly forbidden; a default changed.
* Breaking for readers (a record valid now was not under the published schema, in a way a reader cannot ignore): a
  property removed or renamed; a type changed or widened (``null`` included: a value that was always there may be
  ``null`` now); a property no longer required; a pattern, format, multipleOf or default changed; the record key
  changed.
* Not breaking: titles, descriptions, examples and other annotations; a new optional property; a constraint relaxed
  or removed; an enum value added. Readers must tolerate those: ignore properties they do not know, accept enum
  values they do not know, and not rely on a limit being tighter than the current schema says.

Nested objects, array items and additional properties are compared by the same rules; ``$ref`` into the document
(``#/$defs/...``) is resolved, and pydantic's ``anyOf`` of a schema and ``null`` (an optional field) is read as
that schema, nullable. Validation keywords the comparison does not analyse (``not``, ``if``, ``contains``...)
count as breaking when they differ: the guard errs on the side of the promise.

Snapshots of the built-in contracts are kept in ``contracts/published/<name>/v<version>.json`` (the schema the
gateway publishes, :meth:`~contracts.Contract.contract_schema`) and ``v<version>.input.json`` (the schema records
are validated against when written, pydantic's validation mode, compared for writers only). As a command::

    python -m contracts.compatibility --check [NAME[@VERSION] ...]
    python -m contracts.compatibility --write NAME VERSION
    python -m contracts.compatibility --compare PUBLISHED.json CURRENT.json

``--snapshots DIR`` and ``--import MODULE`` do the same for contracts of other packages (docs/contract-versions.md).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from contracts.base import Contract
from contracts.registry import UnknownContract, all_contracts, get_contract

__all__ = [
    "PUBLISHED",
    "READERS",
    "WRITERS",
    "BreakingChange",
    "SnapshotCheck",
    "SnapshotRefused",
    "breaking_changes",
    "check_contract",
    "input_schema",
    "main",
    "published_schema",
    "snapshot_paths",
    "write_snapshot",
]

Audience = Literal["readers", "writers"]

#: Who a change breaks: the systems that read records of the contract...
READERS: Final = "readers"
#: ... and those that write them (submissions, and the records a connector builds from its sector system).
WRITERS: Final = "writers"
_BOTH: Final[frozenset[Audience]] = frozenset({READERS, WRITERS})
_FOR_READERS: Final[frozenset[Audience]] = frozenset({READERS})
_FOR_WRITERS: Final[frozenset[Audience]] = frozenset({WRITERS})

#: The directory of the built-in contracts' published snapshots.
PUBLISHED: Final = Path(__file__).resolve().parent / "published"

# Keywords of an upper (lower) bound: lowering (raising) one, or adding it, tightens the schema.
_UPPER_BOUNDS: Final = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties", "maxContains")
_LOWER_BOUNDS: Final = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties", "minContains")
# Keywords whose addition tightens the schema, and whose change can break either side.
_EXACT: Final = ("pattern", "format", "multipleOf")
# Validation keywords not analysed here: any difference in them is reported.
_UNANALYSED: Final = (
    "not",
    "if",
    "then",
    "else",
    "contains",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
)
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class BreakingChange:
    """One change of a published schema that breaks the systems built against it.

    ``path`` is the JSON path of the value concerned in a record (``$`` the record, ``$.a.b`` a nested property,
    ``$.a[*]`` the items of an array, ``$.a.*`` the values of a map), ``kind`` a short stable name of the rule
    broken (``property-removed``, ``constraint-tightened``...), ``message`` a plain explanation and ``affects``
    who is broken: ``"readers"``, ``"writers"`` or both.
    """

    path: str
    kind: str
    message: str
    affects: frozenset[Audience]

    def __str__(self) -> str:
        return f"{self.path}: {self.message} (breaks {' and '.join(sorted(self.affects))})"


def breaking_changes(
    published: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    audience: Iterable[Audience] = (READERS, WRITERS),
) -> list[BreakingChange]:
    """Every change from the JSON Schema ``published`` to ``current`` that breaks ``audience`` (readers and writers
    by default: pass ``[WRITERS]`` for a schema that only governs what is accepted), in the order of the published
    schema's properties. An empty list: ``current`` keeps the promise ``published`` made."""
    comparison = _Comparison(published, current, frozenset(audience))
    comparison.compare(published, current, "$")
    published_key, current_key = published.get("x-record-key"), current.get("x-record-key")
    if published_key is not None and published_key != current_key:
        comparison.add(
            "$",
            "record-key-changed",
            f"the record key changed from {published_key!r} to {current_key!r}: records are read, addressed and "
            "written by another field",
            _BOTH,
        )
    unique: dict[tuple[str, str, str], BreakingChange] = {}
    for change in comparison.changes:
        unique.setdefault((change.path, change.kind, change.message), change)
    return list(unique.values())


# -- reading a schema ----------------------------------------------------------------------------------------------


@dataclass
class _View:
    """A schema with its references resolved and its nullable ``anyOf`` read as one schema."""

    node: dict[str, Any]
    #: The JSON types it admits (``None``: any), ``"null"`` included when it is nullable.
    types: frozenset[str] | None
    #: Its alternatives other than ``null`` when it is a union of two or more.
    branches: list[_View] = field(default_factory=list)
    #: The references followed to reach it (to stop on a recursive schema).
    refs: frozenset[str] = frozenset()
    #: Whether the schema is ``false`` (accepts nothing).
    nothing: bool = False


def _json_type(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return "integer"
    names: tuple[tuple[type, str], ...] = (
        (type(None), "null"),
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (list, "array"),
    )
    return next((name for kind, name in names if isinstance(value, kind)), "object")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _shown(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def _types_of(node: Mapping[str, Any]) -> frozenset[str] | None:
    declared = node.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(str(item) for item in declared)
    if "const" in node:
        return frozenset({_json_type(node["const"])})
    if isinstance(node.get("enum"), list):
        return frozenset(_json_type(value) for value in node["enum"])
    return None


def _is_null(view: _View) -> bool:
    return view.types == frozenset({"null"}) and not view.branches


class _Document:
    """One schema document: resolves its local references (``#/$defs/Name``, any JSON pointer into it)."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def target(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return None
        node: Any = self.root
        for part in ref[1:].split("/")[1:] if ref != "#" else []:
            key = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return None
        return node

    def view(self, schema: Any) -> _View:
        if schema is True or schema is None:
            return _View({}, None)
        if schema is False:
            return _View({}, None, nothing=True)
        if not isinstance(schema, Mapping):
            return _View({}, None)
        node = dict(schema)
        refs: set[str] = set()
        while isinstance(node.get("$ref"), str):
            ref = node.pop("$ref")
            target = self.target(ref)
            if ref in refs or not isinstance(target, Mapping):
                node["x-unresolved-ref"] = ref
                break
            refs.add(ref)
            node = {**target, **node}  # the referring schema's own keywords (a description) win
        if isinstance(node.get("allOf"), list):
            for part in node.pop("allOf"):
                inner = self.view(part)
                refs |= inner.refs
                node = _merged(inner.node, node)
        for keyword in ("anyOf", "oneOf"):
            if isinstance(node.get(keyword), list):
                return self._union(node, keyword, frozenset(refs))
        return _View(node, _types_of(node), refs=frozenset(refs))

    def _union(self, node: dict[str, Any], keyword: str, refs: frozenset[str]) -> _View:
        outer = {key: value for key, value in node.items() if key != keyword}
        branches = [self.view(branch) for branch in node[keyword]]
        nullable = any(_is_null(branch) for branch in branches)
        others = [branch for branch in branches if not _is_null(branch)]
        if len(others) == 1:  # pydantic's optional field: the schema, or null
            (only,) = others
            merged = {**only.node, **outer}
            admitted = _types_of(outer) if "type" in outer else only.types
            if admitted is not None and nullable:
                admitted |= {"null"}
            return _View(merged, admitted, only.branches, refs | only.refs, only.nothing)
        if not others:
            return _View(outer, frozenset({"null"}) if nullable else None, refs=refs)
        types: frozenset[str] | None = frozenset()
        for branch in others:
            types = None if types is None or branch.types is None else types | branch.types
        if types is not None and nullable:
            types |= {"null"}
        return _View(outer, types, others, refs)


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Two schemas that both apply (``allOf``), as one: properties joined, required names joined."""
    result = {**base, **extra}
    if "properties" in base and "properties" in extra:
        result["properties"] = {**base["properties"], **extra["properties"]}
    if "required" in base and "required" in extra:
        result["required"] = list(dict.fromkeys([*base["required"], *extra["required"]]))
    return result


def _child(path: str, name: str) -> str:
    if _IDENTIFIER.fullmatch(name):
        return f"{path}.{name}"
    return f"{path}['{name.replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}']"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# -- comparing -----------------------------------------------------------------------------------------------------


class _Comparison:
    def __init__(
        self,
        published: Mapping[str, Any],
        current: Mapping[str, Any],
        audience: frozenset[Audience],
        stack: frozenset[tuple[frozenset[str], frozenset[str]]] = frozenset(),
    ) -> None:
        self.published, self.current = _Document(published), _Document(current)
        self.audience = audience
        self.changes: list[BreakingChange] = []
        self._stack = set(stack)

    def fork(self, audience: frozenset[Audience] | None = None) -> _Comparison:
        """A comparison of the same documents that collects its changes apart (to try a match)."""
        return _Comparison(self.published.root, self.current.root, audience or self.audience, frozenset(self._stack))

    def add(self, path: str, kind: str, message: str, affects: frozenset[Audience]) -> None:
        if affects & self.audience:
            self.changes.append(BreakingChange(path, kind, message, affects))

    def compare(self, published: Any, current: Any, path: str) -> None:
        self.compare_views(self.published.view(published), self.current.view(current), path)

    def compare_views(self, old: _View, new: _View, path: str) -> None:
        if old.nothing:
            return  # nothing was valid: nothing can be broken
        if new.nothing:
            self.add(path, "value-refused", "no value is accepted here any more", _FOR_WRITERS)
            return
        key = (old.refs, new.refs)
        if (old.refs or new.refs) and key in self._stack:
            return  # a recursive schema, already being compared further up
        self._stack.add(key)
        try:
            self._types(old, new, path)
            if old.branches or new.branches:
                self._branches(old, new, path)
            else:
                self._keywords(old.node, new.node, path)
            self._default(old.node, new.node, path)
        finally:
            self._stack.discard(key)

    # -- types

    def _types(self, old: _View, new: _View, path: str) -> None:
        if old.types is None and new.types is not None:
            self.add(
                path,
                "type-narrowed",
                f"the value is now restricted to {_shown(new.types)}; any type was accepted",
                _FOR_WRITERS,
            )
            return
        if old.types is not None and new.types is None:
            self.add(
                path,
                "type-widened",
                f"the value is no longer restricted to {_shown(old.types)}: readers may get any type",
                _FOR_READERS,
            )
            return
        if old.types is None or new.types is None:
            return
        if "null" in old.types and "null" not in new.types:
            self.add(path, "type-narrowed", "null is no longer accepted", _FOR_WRITERS)
        if "null" in new.types and "null" not in old.types:
            self.add(
                path,
                "now-nullable",
                "the value may now be null: readers of the published version always had a value",
                _FOR_READERS,
            )
        old_types, new_types = old.types - {"null"}, new.types - {"null"}
        removed = {t for t in old_types - new_types if not (t == "integer" and "number" in new_types)}
        added = {t for t in new_types - old_types if not (t == "integer" and "number" in old_types)}
        if removed and added:
            self.add(
                path,
                "type-changed",
                f"the type changed from {_shown(old_types)} to {_shown(new_types)}",
                _BOTH,
            )
        elif removed:
            self.add(
                path,
                "type-narrowed",
                f"the type narrowed from {_shown(old_types)} to {_shown(new_types)}: a {_shown(removed)} value is "
                "refused",
                _FOR_WRITERS,
            )
        elif added:
            self.add(
                path,
                "type-widened",
                f"the type widened from {_shown(old_types)} to {_shown(new_types)}: readers may get a "
                f"{_shown(added)} value",
                _FOR_READERS,
            )

    def _branches(self, old: _View, new: _View, path: str) -> None:
        """Unions of several alternatives: each published alternative must still be accepted by a current one (for
        writers), and each current one must be one a reader of the published version knows. An alternative of a
        type the other side lacks is a change of the types, reported as such; this compares alternatives of
        shared types (two kinds of object, say)."""
        olds = old.branches or [_View(old.node, old.types, refs=old.refs)]
        news = new.branches or [_View(new.node, new.types, refs=new.refs)]
        matched: set[int] = set()
        for number, branch in enumerate(olds, 1):
            found = self._match(branch, news, path, f"alternative {number} of the published schema")
            if found is not None:
                matched.add(found)
        if READERS not in self.audience:
            return
        for number, branch in enumerate(news, 1):
            if number - 1 in matched or not any(_overlap(branch, candidate) for candidate in olds):
                continue
            clean = False
            for candidate in olds:
                if _overlap(candidate, branch):
                    trial = self.fork(_FOR_READERS)
                    trial.compare_views(candidate, branch, path)
                    clean = clean or not trial.changes
            if not clean:
                self.add(
                    path,
                    "alternative-added",
                    f"alternative {number} of the current schema is new: readers of the published version do not "
                    "know its shape",
                    _FOR_READERS,
                )

    def _match(self, branch: _View, candidates: Sequence[_View], path: str, name: str) -> int | None:
        """Report the changes from ``branch`` to the candidate it matches best (none when one matches exactly);
        return that candidate's index, or ``None`` when no candidate shares a type with it."""
        best: tuple[int, list[BreakingChange]] | None = None
        for index, candidate in enumerate(candidates):
            if not _overlap(branch, candidate):
                continue
            trial = self.fork()
            trial.compare_views(branch, candidate, path)
            if not trial.changes:
                return index
            if best is None or len(trial.changes) < len(best[1]):
                best = (index, trial.changes)
        if best is None:
            return None
        for change in best[1]:
            self.add(change.path, change.kind, f"{name}: {change.message}", change.affects)
        return best[0]

    # -- values, constraints, objects, arrays

    def _keywords(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        self._values(old, new, path)
        self._bounds(old, new, path)
        for keyword in _EXACT:
            before, after = old.get(keyword), new.get(keyword)
            if after is None or after == before:
                continue
            if before is None:
                self.add(
                    path,
                    "constraint-tightened",
                    f"{keyword} {after!r} was added: values writers could send are refused",
                    _FOR_WRITERS,
                )
            else:
                self.add(path, f"{_kebab(keyword)}-changed", f"{keyword} changed from {before!r} to {after!r}", _BOTH)
        if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
            self.add(path, "constraint-tightened", "uniqueItems was added: repeated items are refused", _FOR_WRITERS)
        for keyword in _UNANALYSED:
            if _canonical(old.get(keyword)) != _canonical(new.get(keyword)):
                self.add(
                    path,
                    "keyword-changed",
                    f"{keyword} changed, and the change cannot be shown to be compatible",
                    _BOTH,
                )
        if old.get("x-unresolved-ref") != new.get("x-unresolved-ref"):
            self.add(
                path,
                "reference-changed",
                f"the reference {old.get('x-unresolved-ref')!r}, which cannot be followed, is now "
                f"{new.get('x-unresolved-ref')!r}",
                _BOTH,
            )
        if _is_object(old) or _is_object(new):
            self._object(old, new, path)
        if _is_array(old) or _is_array(new):
            self._array(old, new, path)

    def _values(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        before, after = _allowed_values(old), _allowed_values(new)
        if after is None:
            return
        if before is None:
            self.add(
                path,
                "enum-added",
                f"the value is now restricted to {_shown(after)}: other values writers could send are refused",
                _FOR_WRITERS,
            )
            return
        removed = set(before) - set(after)
        if removed:
            self.add(
                path,
                "enum-value-removed",
                f"the value{'s' if len(removed) > 1 else ''} {_shown(removed)} "
                f"{'are' if len(removed) > 1 else 'is'} no longer accepted",
                _FOR_WRITERS,
            )

    def _bounds(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        for keyword, upper in [*((k, True) for k in _UPPER_BOUNDS), *((k, False) for k in _LOWER_BOUNDS)]:
            before, after = _number(old.get(keyword)), _number(new.get(keyword))
            if after is None:
                continue
            if before is None:
                self.add(
                    path,
                    "constraint-tightened",
                    f"{keyword} {new[keyword]!r} was added: values writers could send are refused",
                    _FOR_WRITERS,
                )
            elif (after < before) if upper else (after > before):
                self.add(
                    path,
                    "constraint-tightened",
                    f"{keyword} {'lowered' if upper else 'raised'} from {old[keyword]!r} to {new[keyword]!r}: "
                    "values writers could send are refused",
                    _FOR_WRITERS,
                )

    def _object(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_properties: Mapping[str, Any] = old.get("properties") or {}
        new_properties: Mapping[str, Any] = new.get("properties") or {}
        old_required, new_required = set(old.get("required") or ()), set(new.get("required") or ())
        added = [name for name in new_properties if name not in old_properties]
        for name, schema in old_properties.items():
            where = _child(path, name)
            if name not in new_properties:
                renamed = [other for other in added if self._equivalent(schema, new_properties[other], where)]
                hint = f" (renamed to {renamed[0]!r}?)" if renamed else ""
                self.add(
                    where,
                    "property-removed",
                    f"the property {name!r} was removed{hint}: readers no longer get it, and writers that send it "
                    "have it refused or dropped",
                    _BOTH,
                )
                continue
            self.compare(schema, new_properties[name], where)
            if name in new_required and name not in old_required:
                self.add(
                    where,
                    "property-required",
                    f"the property {name!r} is now required: records of writers that leave it out are refused",
                    _FOR_WRITERS,
                )
            if name in old_required and name not in new_required:
                self.add(
                    where,
                    "property-optional",
                    f"the property {name!r} is no longer required: readers may get records without it",
                    _FOR_READERS,
                )
        for name in sorted(new_required - old_required - set(old_properties)):
            self.add(
                _child(path, name),
                "property-required",
                f"the new property {name!r} is required: records of writers built against the published version "
                "lack it and are refused",
                _FOR_WRITERS,
            )
        for name in sorted(old_required - new_required - set(new_properties) - set(old_properties)):
            self.add(
                _child(path, name),
                "property-optional",
                f"the property {name!r} is no longer required: readers may get records without it",
                _FOR_READERS,
            )
        self._additional(old, new, path)
        old_patterns: Mapping[str, Any] = old.get("patternProperties") or {}
        new_patterns: Mapping[str, Any] = new.get("patternProperties") or {}
        for pattern, schema in old_patterns.items():
            where = f"{path}[?(@ =~ /{pattern}/)]"
            if pattern in new_patterns:
                self.compare(schema, new_patterns[pattern], where)
            else:
                self.add(
                    where,
                    "property-removed",
                    f"the properties named like {pattern!r} are no longer described",
                    _BOTH,
                )

    def _additional(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if before is False:
            return  # none were allowed: whatever is allowed now is a new optional property
        if after is False:
            self.add(
                path,
                "additional-properties-forbidden",
                "properties the schema does not name are now refused: writers that send them are refused",
                _FOR_WRITERS,
            )
            return
        if isinstance(before, Mapping) or isinstance(after, Mapping):
            self.compare(before, after, f"{path}.*")

    def _array(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        old_prefix: Sequence[Any] = old.get("prefixItems") or ()
        new_prefix: Sequence[Any] = new.get("prefixItems") or ()
        old_items, new_items = old.get("items"), new.get("items")
        for index in range(max(len(old_prefix), len(new_prefix))):
            self.compare(
                old_prefix[index] if index < len(old_prefix) else old_items,
                new_prefix[index] if index < len(new_prefix) else new_items,
                f"{path}[{index}]",
            )
        if old_items is not None or new_items is not None:
            self.compare(old_items, new_items, f"{path}[*]")

    def _default(self, old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> None:
        if "default" in old and "default" in new and _canonical(old["default"]) != _canonical(new["default"]):
            self.add(
                path,
                "default-changed",
                f"the default changed from {_canonical(old['default'])} to {_canonical(new['default'])}: a record "
                "written without the value now means something else",
                _BOTH,
            )

    def _equivalent(self, old: Any, new: Any, path: str) -> bool:
        trial = self.fork(_BOTH)
        trial.compare(old, new, path)
        return not trial.changes


def _kebab(keyword: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"-\1", keyword).lower()


def _allowed_values(node: Mapping[str, Any]) -> list[str] | None:
    """The values ``const`` or ``enum`` allows, as canonical JSON, null left out (nullability is a type)."""
    if "const" in node:
        values = [node["const"]]
    elif isinstance(node.get("enum"), list):
        values = node["enum"]
    else:
        return None
    return [_canonical(value) for value in values if value is not None]


def _is_object(node: Mapping[str, Any]) -> bool:
    types = _types_of(node)
    keywords = ("properties", "required", "additionalProperties", "patternProperties")
    return (types is not None and "object" in types) or any(keyword in node for keyword in keywords)


def _is_array(node: Mapping[str, Any]) -> bool:
    types = _types_of(node)
    return (types is not None and "array" in types) or "items" in node or "prefixItems" in node


def _overlap(one: _View, other: _View) -> bool:
    if one.types is None or other.types is None:
        return True
    a, b = one.types - {"null"}, other.types - {"null"}
    return bool(a & b) or ("integer" in a and "number" in b) or ("number" in a and "integer" in b) or not (a or b)


# -- snapshots -----------------------------------------------------------------------------------------------------


def published_schema(model: type[Contract]) -> dict[str, Any]:
    """The schema the gateway publishes for ``model`` (``GET /v1/contracts/{name}?version=N``)."""
    return model.contract_schema()


def input_schema(model: type[Contract]) -> dict[str, Any]:
    """The schema of the records ``model`` accepts (pydantic's validation mode: what writers may send, which can
    be more lenient than what the gateway hands out), with the identity of :meth:`Contract.contract_schema`."""
    schema = model.model_json_schema(mode="validation")
    published = published_schema(model)
    for key in ("$schema", "$id", "x-contract-name", "x-contract-version", "x-record-key"):
        schema[key] = published[key]
    return schema


def snapshot_paths(name: str, version: int, directory: Path = PUBLISHED) -> tuple[Path, Path]:
    """The published snapshot of contract ``name`` at ``version`` and its input snapshot, under ``directory``."""
    folder = directory / name
    return folder / f"v{version}.json", folder / f"v{version}.input.json"


@dataclass(frozen=True)
class SnapshotCheck:
    """How the current schemas of one contract version compare with its published snapshots."""

    name: str
    version: int
    #: The snapshot files that do not exist (the version was never published).
    missing: tuple[Path, ...]
    #: Breaking changes of the published schema, for readers and writers.
    published: tuple[BreakingChange, ...]
    #: Breaking changes of the input schema (what records are accepted), for writers.
    input: tuple[BreakingChange, ...]
    #: Whether a snapshot differs from the current schema (with or without a breaking change).
    differs: bool
    #: The command that publishes the version (``python -m contracts.compatibility --write ...``).
    command: str

    @property
    def breaking(self) -> tuple[BreakingChange, ...]:
        """Every breaking change, of both schemas."""
        return self.published + self.input

    @property
    def ok(self) -> bool:
        """Published, and the snapshots are the current schemas exactly."""
        return not self.missing and not self.differs

    def describe(self) -> str:
        """What is wrong, and what to do about it; or that all is well."""
        label = f"{self.name} v{self.version}"
        if self.missing:
            files = ", ".join(_display(path) for path in self.missing)
            return (
                f"{label} has no published snapshot ({files} missing): publish it with `{self.command}` and commit "
                "the files; from then on, the version may not change in a way that breaks its readers or writers"
            )
        if self.breaking:
            lines = [
                f"{label} changed in a way that breaks the systems built against it; leave v{self.version} as it was "
                "published and make the change in a new version (a new class with the next contract_version, "
                "registered beside this one):"
            ]
            lines += [f"  {change}" for change in self.published]
            shown = {(change.path, change.kind, change.message) for change in self.published}
            lines += [
                f"  {change} [in the records it accepts]"
                for change in self.input
                if (change.path, change.kind, change.message) not in shown
            ]
            return "\n".join(lines)
        if self.differs:
            return (
                f"{label} differs from its published snapshot without a breaking change (descriptions, a new "
                f"optional property, a relaxed constraint...): publish the change with `{self.command}`"
            )
        return f"{label} matches its published snapshot"


class SnapshotRefused(ValueError):
    """Raised by :func:`write_snapshot` instead of writing a snapshot over one it would break."""

    def __init__(self, check: SnapshotCheck) -> None:
        super().__init__(check.describe())
        self.check = check


def _command(model: type[Contract], directory: Path) -> str:
    parts = ["python -m contracts.compatibility"]
    if not _builtin(model):
        parts.append(f"--import {model.__module__}")
    if directory.resolve() != PUBLISHED:
        parts.append(f"--snapshots {_display(directory)}")
    parts.append(f"--write {model.contract_name} {model.contract_version}")
    return " ".join(parts)


def _display(path: Path) -> str:
    """``path`` relative to the current directory when it lies below it (as a command would name it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _builtin(model: type[Contract]) -> bool:
    return model.__module__.startswith("contracts.")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} does not hold a JSON Schema object")
    return loaded


def check_contract(model: type[Contract], directory: Path = PUBLISHED) -> SnapshotCheck:
    """Compare the current schemas of ``model`` with its snapshots under ``directory``."""
    published_path, input_path = snapshot_paths(model.contract_name, model.contract_version, directory)
    old_published, old_input = _read(published_path), _read(input_path)
    new_published, new_input = published_schema(model), input_schema(model)
    missing = tuple(path for path, old in ((published_path, old_published), (input_path, old_input)) if old is None)
    published = () if old_published is None else tuple(breaking_changes(old_published, new_published))
    accepted = () if old_input is None else tuple(breaking_changes(old_input, new_input, audience=[WRITERS]))
    differs = (old_published is not None and old_published != new_published) or (
        old_input is not None and old_input != new_input
    )
    return SnapshotCheck(
        model.contract_name,
        model.contract_version,
        missing,
        published,
        accepted,
        differs,
        _command(model, directory),
    )


def _dump(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_snapshot(model: type[Contract], directory: Path = PUBLISHED) -> Literal["written", "updated", "unchanged"]:
    """Write the snapshots of ``model`` under ``directory``: ``"written"`` for a version not yet published,
    ``"updated"`` when the published snapshots change without a breaking change (descriptions, a new optional
    property...), ``"unchanged"``. Raises :class:`SnapshotRefused`, writing nothing, when the current schemas break
    the published ones: a published version does not change, a new one is made."""
    check = check_contract(model, directory)
    if check.breaking:
        raise SnapshotRefused(check)
    if check.ok:
        return "unchanged"
    published_path, input_path = snapshot_paths(model.contract_name, model.contract_version, directory)
    _write(published_path, _dump(published_schema(model)))
    _write(input_path, _dump(input_schema(model)))
    return "written" if len(check.missing) == 2 else "updated"


# -- the command ---------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.compatibility",
        description="Keep contract versions as they were published: check them against their snapshots, publish "
        "a new version's snapshot, or compare two JSON Schemas of one version.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--check",
        nargs="*",
        metavar="NAME[@VERSION]",
        help="check these contracts (every version, or one), or all of ours, against their snapshots",
    )
    action.add_argument(
        "--write",
        nargs=2,
        metavar=("NAME", "VERSION"),
        help="write the snapshot of a contract version; refused over a published one it would break",
    )
    action.add_argument(
        "--compare",
        nargs=2,
        metavar=("PUBLISHED", "CURRENT"),
        help="list the breaking changes between two JSON Schema files (or bodies of GET /v1/contracts/{name})",
    )
    parser.add_argument(
        "--snapshots",
        type=Path,
        default=PUBLISHED,
        metavar="DIR",
        help="the directory of the snapshots (default: the built-in contracts')",
    )
    parser.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, to register its contracts (repeatable); --check then checks those of its package",
    )
    parser.add_argument(
        "--audience",
        choices=[READERS, WRITERS],
        action="append",
        help="with --compare: only the changes that break readers, or writers (default: both)",
    )
    return parser


def _selected(specs: Sequence[str], packages: Sequence[str]) -> Iterator[type[Contract]]:
    if not specs:
        for model in all_contracts():
            module = model.__module__
            if any(module == package or module.startswith(f"{package}.") for package in packages):
                yield model
        return
    for spec in specs:
        name, _, version = spec.partition("@")
        if version:
            if not version.isdigit():
                raise UnknownContract(f"{spec!r}: a version is a positive integer")
            yield get_contract(name, int(version))
        else:
            get_contract(name)  # raises for an unknown name
            yield from (model for model in all_contracts() if model.contract_name == name)


def _schema_file(path: str) -> dict[str, Any]:
    loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(loaded, dict) and isinstance(loaded.get("schema"), dict) and "versions" in loaded:
        loaded = loaded["schema"]  # the body of GET /v1/contracts/{name}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} does not hold a JSON Schema object")
    return loaded


def _compare_files(paths: Sequence[str], audience: Sequence[Audience] | None) -> int:
    published, current = (_schema_file(path) for path in paths)
    changes = breaking_changes(published, current, audience=audience or [READERS, WRITERS])
    for change in changes:
        print(f"breaking: {change}")
    print(f"{len(changes)} breaking change{'s' if len(changes) != 1 else ''}")
    return 1 if changes else 0


def _write_command(name: str, version: str, directory: Path) -> int:
    if not version.isdigit():
        raise UnknownContract(f"{version!r}: a version is a positive integer")
    model = get_contract(name, int(version))
    try:
        outcome = write_snapshot(model, directory)
    except SnapshotRefused as refused:
        print(refused, file=sys.stderr)
        return 1
    files = " and ".join(_display(path) for path in snapshot_paths(name, int(version), directory))
    print(f"{name} v{version}: {outcome} ({files})")
    return 0


def _check_command(specs: Sequence[str], modules: Sequence[str], directory: Path) -> int:
    packages = [module.split(".")[0] for module in modules] or ["contracts"]
    models = list(_selected(specs, packages))
    if not models:
        raise UnknownContract("no contract to check")
    checks = [check_contract(model, directory) for model in models]
    for check in checks:
        print(check.describe(), file=sys.stdout if check.ok else sys.stderr)
    return 0 if all(check.ok for check in checks) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """The command: 0 when every check passes, 1 when one fails (or a write is refused), 2 on a usage error (an
    unknown contract, an unreadable file)."""
    arguments = _parser().parse_args(argv)
    try:
        for module in arguments.modules:
            importlib.import_module(module)
        if arguments.compare is not None:
            return _compare_files(arguments.compare, arguments.audience)
        if arguments.write is not None:
            name, version = arguments.write
            return _write_command(name, version, arguments.snapshots)
        return _check_command(arguments.check, arguments.modules, arguments.snapshots)
    except (ImportError, LookupError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
