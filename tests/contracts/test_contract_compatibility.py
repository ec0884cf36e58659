"""The comparison of a published JSON Schema with the current one (contracts/compatibility.py), rule by rule, on
small schemas: each breaking change is reported at its JSON path, for the side it breaks (readers, writers); the
changes a version may take (annotations, a new optional property, a relaxed constraint, a new enum value) are not."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.compatibility import READERS, WRITERS, BreakingChange, breaking_changes

BOTH = frozenset({READERS, WRITERS})
R = frozenset({READERS})
W = frozenset({WRITERS})


def obj(required: tuple[str, ...] = (), extra: Any = False, **properties: Any) -> dict[str, Any]:
    """An object schema as pydantic writes a contract's: its properties, its required names, no other property."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": list(required)}
    if extra is not None:
        schema["additionalProperties"] = extra
    return schema


def with_defs(root: dict[str, Any], **defs: Any) -> dict[str, Any]:
    return {**root, "$defs": defs}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def optional(schema: dict[str, Any], default: Any = None) -> dict[str, Any]:
    """pydantic's ``X | None = default``: an ``anyOf`` of the schema and null."""
    return {"anyOf": [schema, {"type": "null"}], "default": default}


STR = {"type": "string"}
ADDRESS = obj(("line",), line={"type": "string", "maxLength": 200}, ward={"type": "string"})


def found(published: dict[str, Any], current: dict[str, Any], **kwargs: Any) -> set[tuple[str, str, frozenset[str]]]:
    return {(c.path, c.kind, c.affects) for c in breaking_changes(published, current, **kwargs)}


BREAKING: list[tuple[str, dict[str, Any], dict[str, Any], set[tuple[str, str, frozenset[str]]]]] = [
    ("property removed", obj(a=STR, b=STR), obj(a=STR), {("$.b", "property-removed", BOTH)}),
    (
        "property removed from an open object",
        obj(extra=None, a=STR),
        obj(extra=None),
        {("$.a", "property-removed", BOTH)},
    ),
    ("type changed", obj(a=STR), obj(a={"type": "integer"}), {("$.a", "type-changed", BOTH)}),
    ("type narrowed", obj(a={"type": ["string", "integer"]}), obj(a=STR), {("$.a", "type-narrowed", W)}),
    (
        "number narrowed to integer",
        obj(a={"type": "number"}),
        obj(a={"type": "integer"}),
        {("$.a", "type-narrowed", W)},
    ),
    ("integer widened to number", obj(a={"type": "integer"}), obj(a={"type": "number"}), {("$.a", "type-widened", R)}),
    ("type widened", obj(a=STR), obj(a={"type": ["string", "integer"]}), {("$.a", "type-widened", R)}),
    ("any type restricted", obj(a={}), obj(a=STR), {("$.a", "type-narrowed", W)}),
    (
        "now nullable (pydantic's anyOf)",
        obj(("a",), a=STR),
        obj(("a",), a={"anyOf": [STR, {"type": "null"}]}),
        {("$.a", "now-nullable", R)},
    ),
    ("null no longer accepted", obj(a=optional(STR)), obj(a={**STR, "default": None}), {("$.a", "type-narrowed", W)}),
    ("property newly required", obj(a=STR), obj(("a",), a=STR), {("$.a", "property-required", W)}),
    ("new required property", obj(a=STR), obj(("b",), a=STR, b=STR), {("$.b", "property-required", W)}),
    ("property no longer required", obj(("a",), a=STR), obj(a=STR), {("$.a", "property-optional", R)}),
    (
        "optional field made of a required one",
        obj(("a",), a=STR),
        obj(a=optional(STR)),
        {("$.a", "property-optional", R), ("$.a", "now-nullable", R)},
    ),
    (
        "enum value removed",
        obj(a={"enum": ["x", "y"], "type": "string"}),
        obj(a={"enum": ["x"], "type": "string"}),
        {("$.a", "enum-value-removed", W)},
    ),
    ("enum added", obj(a=STR), obj(a={"enum": ["x"], "type": "string"}), {("$.a", "enum-added", W)}),
    ("const changed", obj(a={"const": "x"}), obj(a={"const": "y"}), {("$.a", "enum-value-removed", W)}),
    (
        "maxLength lowered",
        obj(a={**STR, "maxLength": 20}),
        obj(a={**STR, "maxLength": 10}),
        {("$.a", "constraint-tightened", W)},
    ),
    ("maxLength added", obj(a=STR), obj(a={**STR, "maxLength": 10}), {("$.a", "constraint-tightened", W)}),
    (
        "minLength raised",
        obj(a={**STR, "minLength": 1}),
        obj(a={**STR, "minLength": 2}),
        {("$.a", "constraint-tightened", W)},
    ),
    (
        "maximum lowered",
        obj(n={"type": "integer", "maximum": 9}),
        obj(n={"type": "integer", "maximum": 8}),
        {("$.n", "constraint-tightened", W)},
    ),
    (
        "minimum raised",
        obj(n={"type": "integer", "minimum": 0}),
        obj(n={"type": "integer", "minimum": 1}),
        {("$.n", "constraint-tightened", W)},
    ),
    (
        "minimum added",
        obj(n={"type": "integer"}),
        obj(n={"type": "integer", "minimum": 1}),
        {("$.n", "constraint-tightened", W)},
    ),
    (
        "exclusiveMaximum lowered",
        obj(n={"type": "number", "exclusiveMaximum": 1}),
        obj(n={"type": "number", "exclusiveMaximum": 0.5}),
        {("$.n", "constraint-tightened", W)},
    ),
    (
        "exclusiveMinimum raised",
        obj(n={"type": "number", "exclusiveMinimum": 0}),
        obj(n={"type": "number", "exclusiveMinimum": 1}),
        {("$.n", "constraint-tightened", W)},
    ),
    (
        "maxItems lowered",
        obj(l={"type": "array", "maxItems": 5}),
        obj(l={"type": "array", "maxItems": 4}),
        {("$.l", "constraint-tightened", W)},
    ),
    (
        "minItems raised",
        obj(l={"type": "array", "minItems": 0}),
        obj(l={"type": "array", "minItems": 1}),
        {("$.l", "constraint-tightened", W)},
    ),
    (
        "uniqueItems added",
        obj(l={"type": "array"}),
        obj(l={"type": "array", "uniqueItems": True}),
        {("$.l", "constraint-tightened", W)},
    ),
    ("pattern added", obj(a=STR), obj(a={**STR, "pattern": "^[0-9]+$"}), {("$.a", "constraint-tightened", W)}),
    (
        "pattern changed",
        obj(a={**STR, "pattern": "^[0-9]{9}$"}),
        obj(a={**STR, "pattern": "^[0-9]{12}$"}),
        {("$.a", "pattern-changed", BOTH)},
    ),
    ("format added", obj(a=STR), obj(a={**STR, "format": "date"}), {("$.a", "constraint-tightened", W)}),
    (
        "format changed",
        obj(a={**STR, "format": "date"}),
        obj(a={**STR, "format": "date-time"}),
        {("$.a", "format-changed", BOTH)},
    ),
    (
        "multipleOf changed",
        obj(n={"type": "number", "multipleOf": 0.01}),
        obj(n={"type": "number", "multipleOf": 0.5}),
        {("$.n", "multiple-of-changed", BOTH)},
    ),
    (
        "multipleOf added",
        obj(n={"type": "number"}),
        obj(n={"type": "number", "multipleOf": 5}),
        {("$.n", "constraint-tightened", W)},
    ),
    (
        "additional properties newly forbidden",
        obj(extra=None, a=STR),
        obj(a=STR),
        {("$", "additional-properties-forbidden", W)},
    ),
    (
        "additional properties allowed, then forbidden",
        obj(extra=True, a=STR),
        obj(a=STR),
        {("$", "additional-properties-forbidden", W)},
    ),
    (
        "a map's values narrowed",
        obj(m={"type": "object", "additionalProperties": STR}),
        obj(m={"type": "object", "additionalProperties": {"type": "integer"}}),
        {("$.m.*", "type-changed", BOTH)},
    ),
    (
        "nested property removed, through $ref",
        with_defs(obj(("address",), address=ref("Address")), Address=ADDRESS),
        with_defs(
            obj(("address",), address=ref("Address")), Address=obj(("line",), line=ADDRESS["properties"]["line"])
        ),
        {("$.address.ward", "property-removed", BOTH)},
    ),
    (
        "nested maxLength lowered, through an optional $ref",
        with_defs(obj(home=optional(ref("Address"))), Address=ADDRESS),
        with_defs(
            obj(home=optional(ref("Address"))),
            Address=obj(("line",), line={"type": "string", "maxLength": 100}, ward=STR),
        ),
        {("$.home.line", "constraint-tightened", W)},
    ),
    (
        "nested property newly required, inline on one side, $ref on the other",
        obj(address=ADDRESS),
        with_defs(obj(address=ref("Address")), Address={**ADDRESS, "required": ["line", "ward"]}),
        {("$.address.ward", "property-required", W)},
    ),
    (
        "array item schema narrowed",
        obj(tags={"type": "array", "items": {**STR, "maxLength": 10}}),
        obj(tags={"type": "array", "items": {**STR, "maxLength": 5}}),
        {("$.tags[*]", "constraint-tightened", W)},
    ),
    (
        "array of objects: an item's property removed",
        with_defs(obj(addresses={"type": "array", "items": ref("Address")}), Address=ADDRESS),
        with_defs(obj(addresses={"type": "array", "items": ref("Address")}), Address=obj(ward=STR)),
        {("$.addresses[*].line", "property-removed", BOTH)},
    ),
    (
        "tuple item changed",
        obj(pair={"type": "array", "prefixItems": [STR, STR]}),
        obj(pair={"type": "array", "prefixItems": [STR, {"type": "integer"}]}),
        {("$.pair[1]", "type-changed", BOTH)},
    ),
    (
        "default changed",
        obj(a={**STR, "default": "VN"}),
        obj(a={**STR, "default": "LA"}),
        {("$.a", "default-changed", BOTH)},
    ),
    (
        "record key changed",
        {**obj(("a", "b"), a=STR, b=STR), "x-record-key": "a"},
        {**obj(("a", "b"), a=STR, b=STR), "x-record-key": "b"},
        {("$", "record-key-changed", BOTH)},
    ),
    (
        "one alternative of a union of objects changed",
        obj(v={"anyOf": [obj(("x",), x=STR), obj(("y",), y={"type": "integer"})]}),
        obj(v={"anyOf": [obj(("x",), x=STR), obj(("y",), y={"type": "integer", "maximum": 3})]}),
        {("$.v.y", "constraint-tightened", W)},
    ),
    (
        "a union of objects takes a new kind of object",
        obj(v={"anyOf": [obj(("x",), x=STR), {"type": "integer"}]}),
        obj(v={"anyOf": [obj(("x",), x=STR), obj(("z",), z=STR), {"type": "integer"}]}),
        {("$.v", "alternative-added", R)},
    ),
    (
        "a keyword not analysed changed",
        obj(a={**STR, "not": {"const": "x"}}),
        obj(a={**STR, "not": {"const": "y"}}),
        {("$.a", "keyword-changed", BOTH)},
    ),
    (
        "pydantic's older allOf around a $ref",
        with_defs(obj(address={"allOf": [ref("Address")], "description": "old"}), Address=ADDRESS),
        with_defs(obj(address={"allOf": [ref("Address")]}), Address={**ADDRESS, "properties": {"line": STR}}),
        {("$.address.ward", "property-removed", BOTH)},
    ),
    ("a name JSON paths quote", obj(**{"first-name": STR}), obj(), {("$['first-name']", "property-removed", BOTH)}),
]


@pytest.mark.parametrize(
    ("published", "current", "expected"), [case[1:] for case in BREAKING], ids=[case[0] for case in BREAKING]
)
def test_a_breaking_change_is_reported_at_its_path(
    published: dict[str, Any], current: dict[str, Any], expected: set[Any]
) -> None:
    assert found(published, current) == expected


NOT_BREAKING: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("the same schema", with_defs(obj(("a",), a=ref("A")), A=ADDRESS), with_defs(obj(("a",), a=ref("A")), A=ADDRESS)),
    (
        "descriptions, titles and examples, nested too",
        with_defs(
            obj(a={**STR, "title": "A", "description": "old", "examples": ["x"]}, b=ref("Address")), Address=ADDRESS
        ),
        with_defs(
            {
                **obj(a={**STR, "title": "Aa", "description": "new", "examples": ["y", "z"]}, b=ref("Address")),
                "description": "whole",
            },
            Address={**ADDRESS, "description": "a postal address", "title": "Postal"},
        ),
    ),
    ("a new optional property", obj(("a",), a=STR), obj(("a",), a=STR, b=optional(STR))),
    ("maxLength raised", obj(a={**STR, "maxLength": 10}), obj(a={**STR, "maxLength": 20})),
    ("minLength lowered", obj(a={**STR, "minLength": 2}), obj(a={**STR, "minLength": 1})),
    ("maximum removed", obj(n={"type": "integer", "maximum": 9}), obj(n={"type": "integer"})),
    ("minimum lowered", obj(n={"type": "integer", "minimum": 1}), obj(n={"type": "integer", "minimum": 0})),
    ("maxItems raised", obj(l={"type": "array", "maxItems": 1}), obj(l={"type": "array", "maxItems": 2})),
    ("pattern removed", obj(a={**STR, "pattern": "^x$"}), obj(a=STR)),
    ("format removed", obj(a={**STR, "format": "date"}), obj(a=STR)),
    ("multipleOf removed", obj(n={"type": "number", "multipleOf": 2}), obj(n={"type": "number"})),
    ("an enum value added", obj(a={"enum": ["x"], "type": "string"}), obj(a={"enum": ["x", "y"], "type": "string"})),
    ("additional properties allowed", obj(a=STR), obj(extra=True, a=STR)),
    (
        "a definition renamed",
        with_defs(obj(a=ref("Address")), Address=ADDRESS),
        with_defs(obj(a=ref("PostalAddress")), PostalAddress=ADDRESS),
    ),
    ("a definition inlined", with_defs(obj(a=optional(ref("Address"))), Address=ADDRESS), obj(a=optional(ADDRESS))),
    (
        "the same nullable type, written as a list",
        obj(a=optional(STR)),
        obj(a={"type": ["string", "null"], "default": None}),
    ),
    ("the same record key", {**obj(a=STR), "x-record-key": "a"}, {**obj(a=STR), "x-record-key": "a"}),
    (
        "$id, $schema and the version",
        {**obj(a=STR), "$id": "urn:x@1", "x-contract-version": 1},
        {**obj(a=STR), "$id": "urn:y", "x-contract-version": 2},
    ),
]


@pytest.mark.parametrize(
    ("published", "current"), [case[1:] for case in NOT_BREAKING], ids=[case[0] for case in NOT_BREAKING]
)
def test_a_compatible_change_is_not_reported(published: dict[str, Any], current: dict[str, Any]) -> None:
    assert breaking_changes(published, current) == []


def test_each_change_explains_itself() -> None:
    (removed,) = breaking_changes(obj(a=STR, household_id=STR), obj(a=STR, household=STR))
    assert removed == BreakingChange(
        "$.household_id",
        "property-removed",
        "the property 'household_id' was removed (renamed to 'household'?): readers no longer get it, and writers "
        "that send it have it refused or dropped",
        BOTH,
    )
    assert str(removed).startswith("$.household_id: the property 'household_id' was removed")
    assert str(removed).endswith("(breaks readers and writers)")
    (lowered,) = breaking_changes(obj(a={**STR, "maxLength": 200}), obj(a={**STR, "maxLength": 100}))
    assert lowered.message == "maxLength lowered from 200 to 100: values writers could send are refused"
    (enum,) = breaking_changes(obj(a={"enum": ["x", "y", "z"]}), obj(a={"enum": ["x"]}))
    assert enum.message == 'the values "y", "z" are no longer accepted'


def test_the_audience_selects_the_changes_that_break_it() -> None:
    """A schema that only governs what is accepted (the records writers send) is compared for writers: a widening
    that would surprise a reader is no concern of it."""
    published = obj(("a", "b"), a=STR, b={**STR, "maxLength": 5})
    current = obj(("a",), a=optional(STR), b={**STR, "maxLength": 4})
    assert found(published, current, audience=[WRITERS]) == {("$.b", "constraint-tightened", W)}
    assert found(published, current, audience=[READERS]) == {
        ("$.a", "now-nullable", R),
        ("$.b", "property-optional", R),
    }
    assert len(found(published, current)) == 3


def test_a_recursive_schema_is_compared_to_its_depth() -> None:
    def tree(name_length: int) -> dict[str, Any]:
        node = obj(("name",), name={**STR, "maxLength": name_length}, children={"type": "array", "items": ref("Node")})
        return with_defs(ref("Node"), Node=node)

    assert breaking_changes(tree(10), tree(10)) == []
    assert found(tree(10), tree(5)) == {("$.name", "constraint-tightened", W)}


def test_a_reference_outside_the_document_is_compared_by_its_address() -> None:
    outside = obj(a={"$ref": "https://example.org/a.json"})
    assert breaking_changes(outside, outside) == []
    moved = obj(a={"$ref": "https://example.org/b.json"})
    assert found(outside, moved) == {("$.a", "reference-changed", BOTH)}


def test_boolean_schemas() -> None:
    assert found(obj(a=True), obj(a=False)) == {("$.a", "value-refused", W)}
    assert breaking_changes(obj(a=False), obj(a=STR)) == []
    assert found(obj(l={"type": "array", "items": True}), obj(l={"type": "array", "items": STR})) == {
        ("$.l[*]", "type-narrowed", W)
    }
