"""Mapping SOAP answers to contract data: XPath over the Body's elements, or JMESPath over zeep's objects.

In ``xpath`` mapping a field's value is the text the service sent (an element's text, an attribute, or a string
or number the expression computes), so that the contract, not the XML schema, judges every value. In ``zeep``
mapping the operation's result is deserialised by zeep from the WSDL's types, turned into plain dicts and lists
(``zeep.helpers.serialize_object``), and read with the REST connector's JMESPath mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree

from connectors.conversions import Converter
from connectors.fields import FieldMapper

from .envelope import SOAP11_ENV, SOAP12_ENV

__all__ = ["XPathEvaluator", "XPathRecordMapping", "compile_xpath", "xpath_namespaces", "xpath_value"]

XPathEvaluator = Callable[[etree._Element], Any]
"""A compiled XPath expression applied to a context element."""

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def xpath_namespaces(configured: Mapping[str, str]) -> dict[str, str]:
    """The configured prefixes, plus ``soap`` and ``soap12`` for the envelopes when not configured otherwise."""
    return {"soap": SOAP11_ENV, "soap12": SOAP12_ENV, **configured}


def compile_xpath(expression: str, namespaces: Mapping[str, str]) -> XPathEvaluator:
    """The compiled ``expression``; ``ValueError`` if it uses a prefix not in ``namespaces`` or is not XPath."""
    try:
        compiled = etree.XPath(expression, namespaces=dict(namespaces), smart_strings=False)
        compiled(etree.Element("probe"))  # unknown prefixes are only found when evaluating
    except etree.XPathError as exc:
        raise ValueError(f"the XPath {expression!r} cannot be used ({exc})") from None
    evaluate: XPathEvaluator = compiled
    return evaluate


def _text(node: Any) -> Any:
    if isinstance(node, etree._Element):
        if node.get(_XSI_NIL) in {"true", "1"}:
            return None
        return node.text
    return str(node)


def xpath_value(result: Any) -> Any:
    """A field's value from an XPath result: the text of the one node found (``None`` when none is, or for
    ``xsi:nil``), a list of texts when several are (which no scalar field accepts), or the string, number
    (integral numbers as ``int``) or boolean the expression computes."""
    if isinstance(result, list):
        if not result:
            return None
        if len(result) == 1:
            return _text(result[0])
        return [_text(node) for node in result]
    if isinstance(result, float) and result.is_integer():
        return int(result)
    return result


class XPathRecordMapping:
    """Maps one record element of the answer to contract data (XPath per field, then value maps or
    conversions: :mod:`connectors.conversions`)."""

    def __init__(
        self,
        fields: Mapping[str, str],
        value_maps: Mapping[str, Mapping[str, Any]],
        namespaces: Mapping[str, str],
        *,
        timestamp_fields: set[str],
        naive_timezone: str,
        conversions: Mapping[str, Converter] | None = None,
    ) -> None:
        self._evaluators = {expression: compile_xpath(expression, namespaces) for expression in set(fields.values())}
        self._fields = FieldMapper(
            fields,
            value_maps,
            timestamp_fields=timestamp_fields,
            naive_timezone=naive_timezone,
            conversions=conversions,
        )

    def to_data(self, record: etree._Element) -> dict[str, Any]:
        """The contract data of ``record`` (missing and nil values left out); :class:`ConversionFailed` when a
        field's conversion cannot read its value."""
        return self._fields.to_data(
            {expression: xpath_value(evaluate(record)) for expression, evaluate in self._evaluators.items()}
        )

    def to_stored(self, path: str, value: Any) -> Any:
        """The service's form of a contract value (the inverse of the field's value map or conversion, if any)."""
        return self._fields.to_stored(path, value)
