"""What the SQL connector needs to know about a contract model: its nested field paths and timestamps."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel


def timestamp_fields(model: type[BaseModel]) -> set[str]:
    """Dotted paths of the fields of ``model``, nested models included, whose JSON Schema is a date-time."""
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})
    found: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, prop in node.get("properties", {}).items():
            for option in (prop, *prop.get("anyOf", ()), *prop.get("allOf", ())):
                if "$ref" in option:
                    walk(definitions[option["$ref"].rsplit("/", 1)[-1]], f"{prefix}{name}.")
                elif option.get("format") == "date-time":
                    found.add(prefix + name)

    walk(schema, "")
    return found


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``annotation`` (``Address``, ``Address | None``, ``Annotated[...]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType, Annotated):
        for argument in get_args(annotation):
            if (found := _nested_model(argument)) is not None:
                return found
    return None


def has_field_path(model: type[BaseModel], path: str) -> bool:
    """Whether the dotted ``path`` names a field of ``model``, through nested models."""
    *parents, leaf = path.split(".")
    current = model
    for part in parents:
        info = current.model_fields.get(part)
        nested = _nested_model(info.annotation) if info is not None else None
        if nested is None:
            return False
        current = nested
    return leaf in current.model_fields
