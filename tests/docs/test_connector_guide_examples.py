"""The examples of ``docs/connectors.md`` beyond the tutorial's commands are run as written: every ``pycon`` block,
in order and sharing its names, with doctest (what each line shows is what it prints), and the configuration shown
for value conversions is a valid one. The guide lists every value type of ``contracts`` a contract can use."""

from __future__ import annotations

import doctest
import importlib
import io
import json
import re
from pathlib import Path

from pydantic import TypeAdapter

from connectors.conversions import Conversion, check_conversions
from connectors.fields import has_field_path
from contracts.land import LandParcel

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)

#: The modules of the contracts' value types, and the names they export that are not types for a field.
VALUE_TYPE_MODULES = (
    "admin_units",
    "dates",
    "names",
    "identity",
    "tax_code",
    "social_insurance_code",
    "ethnicity",
    "identified_person",
    "common",
)
NOT_FIELD_TYPES = {
    "UnknownAdminUnit",  # an exception
    "Precision",  # a Literal describing a PartialDate
    "NameParts",  # what split_full_name returns
    "PersonalIdParts",  # what parse_personal_id returns
    "FieldProblem",  # for cross-field rules of a contract
    "JsonSchemaExtra",  # Annotated metadata for a contract's JSON Schema
}


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(GUIDE.read_text(encoding="utf-8")) if lang == language]


def section(title: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_examples_print_what_they_show() -> None:
    examples = blocks("pycon")
    assert len(examples) >= 4
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    names: dict[str, object] = {"__name__": "connectors_guide"}
    for number, example in enumerate(examples, start=1):
        test = parser.get_doctest(example, names, f"docs/connectors.md, pycon block {number}", str(GUIDE), 0)
        assert test.examples, f"pycon block {number} has no example"
        runner.run(test, out=report.write, clear_globs=False)
        names = test.globs  # the next block sees this one's names (DocTest copies the namespace it is given)
    assert runner.failures == 0, report.getvalue()
    assert runner.tries >= 30


def test_the_conversions_configuration_shown_is_valid() -> None:
    (shown,) = [body for body in blocks("text") if "__CONVERSIONS=" in body]
    value = shown.strip().split("=", 1)[1].strip("'")
    conversions = {path: TypeAdapter(Conversion).validate_python(c) for path, c in json.loads(value).items()}
    assert conversions
    assert all(has_field_path(LandParcel, path) for path in conversions), list(conversions)
    fields = dict.fromkeys(conversions, "source")
    assert check_conversions(LandParcel, conversions, fields, {}) == []  # each fits the contract's field


def test_every_value_type_of_the_contracts_is_listed() -> None:
    listed = section("9. The contract's building blocks")
    types = sorted(
        name
        for module in VALUE_TYPE_MODULES
        for name in importlib.import_module(f"contracts.{module}").__all__
        if name[0].isupper() and not name.isupper() and name not in NOT_FIELD_TYPES
    )
    assert len(types) >= 15
    missing = [name for name in types if f"`{name}`" not in listed]
    assert not missing, f"value types the guide does not list: {', '.join(missing)}"


def test_the_guide_states_the_decision_and_the_search_rules() -> None:
    assert "| Your system | Configure | Write code |" in section("7. Configure an adapter or write code?")
    rules = section("10. Search rules")
    for rule in ("Every record once", "The page size may change mid-search", "One bad record does not fail its page"):
        assert rule in rules
    assert '"skipped": 1' in rules and "invalid_ids" in rules
