"""The base of connectors configured by a field mapping rather than coded: the SQL, REST and SOAP adapters.

Such a connector's configuration (:class:`MappedConfig`) names the contract it serves (or its class fixes one),
maps every contract field path to a place in the sector system's records (a column, a JMESPath or XPath
expression) and translates code lists with value maps. :class:`MappedConnector` turns that configuration into a
connector once, when it is built: it resolves the contract, checks the mapping against it (every error is a
:class:`~connectors.errors.ConnectorConfigError` naming the connector) and holds the record mapping the adapter
builds, as :attr:`MappedConnector.mapping`::

    class MyConnector(MappedConnector[MyConfig, RecordMapping]):
        def make_mapping(self) -> RecordMapping:
            return RecordMapping(self.config.fields, self.config.value_maps, **self.mapping_options())
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Collection, Mapping
from typing import Any, ClassVar, Generic, Protocol, TypedDict, TypeVar
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from contracts import Contract, UnknownContract, get_contract

from .base import Connector, ConnectorConfig
from .conversions import Conversion, Converter, check_conversions, compile_conversions
from .discovery import discover_contracts
from .errors import ContractViolation
from .fields import has_field_path, timestamp_fields

__all__ = ["FieldMapping", "MappedConfig", "MappedConnector", "MappingOptions", "check_timezone"]

_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def check_timezone(value: str) -> str:
    """``value`` if it names an IANA time zone (``UTC``, ``Asia/Ho_Chi_Minh``), else a ``ValueError``."""
    try:
        ZoneInfo(value)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError; malformed keys raise ValueError
        raise ValueError(f"{value!r} is not an IANA time zone such as 'UTC' or 'Asia/Ho_Chi_Minh'") from None
    return value


class MappedConfig(ConnectorConfig):
    """Configuration of a connector that maps a sector system's records to a contract field by field.

    Subclasses declare ``fields`` again with the description of what a source is for them (a column, a JMESPath
    or XPath expression) and check the sources; the field paths (the keys) are checked here. They override
    :meth:`searched_fields` when they can search, and :meth:`field_conversions` when they take conversions.
    """

    contract: str | None = Field(
        default=None,
        title="Contract",
        description="Contract name (``name`` or ``name@version``) served; dedicated connectors fix it in code.",
    )
    fields: dict[str, str] = Field(
        min_length=1,
        title="Field mapping",
        description="Contract field path -> where its value is in one record of the sector system.",
    )
    value_maps: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        title="Value maps",
        description=(
            "Contract field path -> {the sector system's code (as text): contract value}, for code lists "
            "(``{'gender': {'1': 'male', '2': 'female'}}``)."
        ),
    )
    naive_datetime_timezone: str = Field(
        default="UTC",
        title="Timezone of naive timestamps",
        description=(
            "IANA zone assumed for timestamps the sector system gives without an offset (SQLite stores none, many "
            "platforms send none): ``UTC`` unless set; ``Asia/Ho_Chi_Minh`` for a system writing Vietnam's local time."
        ),
    )

    _check_timezone = field_validator("naive_datetime_timezone")(check_timezone)

    @field_validator("fields")
    @classmethod
    def _check_field_paths(cls, value: dict[str, str]) -> dict[str, str]:
        for path in value:
            if not _FIELD_PATH.fullmatch(path):
                raise ValueError(f"{path!r} is not a field path")
        return value

    def searched_fields(self) -> Collection[str] | None:
        """The query fields this configuration searches by, or ``None`` when it configures no search."""
        return None

    def field_conversions(self) -> Mapping[str, Conversion]:
        """Contract field path -> the conversion of its values (none unless the adapter takes ``conversions``)."""
        return {}


class FieldMapping(Protocol):
    """What a connector's record mapping does: a sector record to contract data, and a contract value back."""

    def to_data(self, record: Any, /) -> dict[str, Any]:
        """The contract data of one sector record (not validated)."""

    def to_stored(self, path: str, value: Any) -> Any:
        """The sector system's form of the contract value ``value`` of the field ``path``."""


class MappingOptions(TypedDict):
    """The keyword arguments of a record mapping that come from the contract and the configuration together (see
    :meth:`MappedConnector.mapping_options`)."""

    timestamp_fields: set[str]
    naive_timezone: str
    conversions: Mapping[str, Converter]


MappedConfigT = TypeVar("MappedConfigT", bound=MappedConfig)
MappingT = TypeVar("MappingT", bound=FieldMapping)


def _named_contract(name: str, version: str) -> type[Contract]:
    """The contract ``name`` (at ``version``, when not empty): a registered one, else one another installed
    distribution declares under ``gateway.contracts``, imported now."""
    number = int(version) if version else None
    try:
        return get_contract(name, number)
    except UnknownContract:
        discover_contracts()
        return get_contract(name, number)


class MappedConnector(Connector[MappedConfigT], Generic[MappedConfigT, MappingT]):
    """A connector whose contract and record mapping come from its configuration.

    The constructor resolves the contract (the configuration's ``contract``, or the class's own), takes the
    contract's query model when the configuration searches and the class fixes none, checks the mapping against
    the contract (:meth:`check_mapping`) and builds :attr:`mapping` with :meth:`make_mapping`. A ``ValueError``
    raised while the mapping is built (an XPath with an unknown prefix...) is a configuration error.
    """

    mapping: MappingT
    """The record mapping: sector records to contract data, query values back to the sector system's."""

    strict_value_maps: ClassVar[bool] = True
    """Whether a value map of a field the mapping lacks is a configuration error. The SOAP adapter has always
    ignored such maps and keeps doing so, so that the configurations written for it keep loading."""

    def __init__(self, config: MappedConfigT) -> None:
        super().__init__(config)
        searched = config.searched_fields()
        if config.contract is not None:
            name, _, version = config.contract.partition("@")
            try:
                self.contract = _named_contract(name, version)
            except (UnknownContract, ValueError):
                raise self.config_error(f"unknown contract {config.contract!r}") from None
            if searched is not None and self.query_model is None:
                self.query_model = self.contract.query_model
        if not hasattr(self, "contract"):
            raise self.config_error("it needs a contract (set 'contract')")
        self.check_mapping()
        try:
            self.mapping = self.make_mapping()
        except ValueError as exc:
            raise self.config_error(str(exc)) from None

    def check_mapping(self) -> None:
        """Raise the configuration error of a mapping that does not fit the contract: the record key unmapped, a
        field the contract lacks, a value map or conversion of an unmapped field, a search filter the query
        model lacks. Subclasses extend it with checks of their own."""
        config, contract = self.config, self.contract
        if contract.record_key not in config.fields:
            raise self.config_error(f"the field mapping lacks the record key {contract.record_key!r}")
        unknown = sorted(path for path in config.fields if not has_field_path(contract, path))
        if unknown:
            raise self.config_error(f"fields not in {contract.contract_id()}: {', '.join(unknown)}")
        unmapped = sorted(set(config.value_maps) - set(config.fields))
        if unmapped and self.strict_value_maps:
            raise self.config_error(f"value maps for fields the mapping lacks: {', '.join(unmapped)}")
        problems = check_conversions(contract, config.field_conversions(), config.fields, config.value_maps)
        if problems:
            raise self.config_error("; ".join(problems))
        query_fields = set(self.query_model.model_fields) if self.query_model else set()
        unknown = sorted(set(config.searched_fields() or ()) - query_fields)
        if unknown:
            raise self.config_error(f"search filters for fields the query lacks: {', '.join(unknown)}")

    def mapping_options(self) -> MappingOptions:
        """The contract's timestamp fields, the zone of naive timestamps and the compiled conversions, as the
        keyword arguments of :class:`~connectors.fields.FieldMapper` and the mappings built on it."""
        zone = self.config.naive_datetime_timezone
        return MappingOptions(
            timestamp_fields=timestamp_fields(self.contract),
            naive_timezone=zone,
            conversions=compile_conversions(self.config.field_conversions(), ZoneInfo(zone)),
        )

    def asked_for(self, record: Contract, record_id: str) -> Contract:
        """``record``, read for the key ``record_id``, if it is that record; else the :class:`ContractViolation` of
        a sector system answering with another record than the one asked for."""
        if record.record_id() != record_id:
            raise ContractViolation(
                f"record from {self.slug!r} is not the one asked for",
                record_id=record_id,
                errors=[f"{self.contract.record_key}: not the requested key"],
            )
        return record

    @abstractmethod
    def make_mapping(self) -> MappingT:
        """Build the record mapping of the (checked) configuration; called once, by the constructor."""
