"""Configuration of the judicial records connector: the SOAP connector's, with the service's shape as default."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from connectors.soap.config import GetOperation, PingOperation, SearchOperation, SoapConnectorConfig
from connectors.soap.sampling import SoapSampleOperation

from . import mapping

__all__ = ["JudicialRecordsConfig"]


class JudicialRecordsConfig(SoapConnectorConfig):
    """Only ``wsdl`` (and ``auth``) are required; the operations, XPath mapping, code lists and faults default to
    the judicial records service's and can be overridden for a differently shaped deployment."""

    mapping: Literal["xpath", "zeep"] = Field(
        default="xpath", title="Mapping style", description="``xpath`` (the default fields are XPath)."
    )
    namespaces: dict[str, str] = Field(
        default_factory=lambda: {"lltp": mapping.NAMESPACE},
        title="Namespaces",
        description="Prefix -> namespace URI for the XPath expressions.",
    )
    get: GetOperation = Field(
        default_factory=lambda: GetOperation.model_validate(dict(mapping.GET)),
        title="Read operation",
        description="How one request is read by its number.",
    )
    search: SearchOperation | None = Field(
        default_factory=lambda: SearchOperation.model_validate(dict(mapping.SEARCH)),
        title="Search operation",
        description="How an applicant's requests are searched.",
    )
    sample: SoapSampleOperation | None = Field(
        default_factory=lambda: SoapSampleOperation.model_validate(dict(mapping.SAMPLE)),
        title="Sample operation",
        description="The listing data-quality scans sample (bounded, rate-limited).",
    )
    ping: PingOperation | None = Field(
        default_factory=lambda: PingOperation.model_validate(dict(mapping.PING)),
        title="Health operation",
        description="The call health checks make.",
    )
    fields: dict[str, str] = Field(
        default_factory=lambda: dict(mapping.FIELDS),
        title="Field mapping",
        description="Contract field path -> XPath relative to a ``lltp:HoSo`` element.",
    )
    value_maps: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in mapping.VALUE_MAPS.items()},
        title="Value maps",
        description="Contract field path -> {the service's code: contract value}.",
    )
    not_found_faults: list[str] = Field(
        default_factory=lambda: list(mapping.NOT_FOUND_FAULTS),
        title="Not-found faults",
        description="Fault codes meaning 'no such request'.",
    )
