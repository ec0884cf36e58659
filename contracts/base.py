"""The base classes every contract derives from.

A *contract* is the common shape in which the gateway hands out the records of one kind of national database,
whatever the sector system behind it stores. Contracts are versioned: a change that could break a consumer (a
field removed, renamed or narrowed) makes a new version beside the old one; additions of optional fields do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """A versioned record model shared by the gateway, its connectors and its consumers.

    Subclasses set three class attributes:

    * ``contract_name``: a dotted, stable name such as ``"population.citizen"``;
    * ``contract_version``: an integer, bumped for every breaking change;
    * ``record_key``: the name of the field that identifies one record (``"personal_id"``);

    and may set ``query_model``, the :class:`ContractQuery` its databases can be searched with.

    Records are immutable once validated and refuse unknown fields.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    contract_name: ClassVar[str]
    contract_version: ClassVar[int]
    record_key: ClassVar[str]
    #: The search criteria this contract accepts (``None`` when records can only be read by key).
    query_model: ClassVar[type[ContractQuery] | None] = None

    @classmethod
    def contract_id(cls) -> str:
        """Return ``name@version``, the identifier used in JSON Schema ``$id`` and in logs."""
        return f"{cls.contract_name}@{cls.contract_version}"

    @classmethod
    def contract_schema(cls) -> dict[str, Any]:
        """Return the contract's JSON Schema (draft 2020-12) in serialization mode, with its identity."""
        schema = cls.model_json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:axis-gateway:contract:{cls.contract_id()}"
        schema["x-contract-name"] = cls.contract_name
        schema["x-contract-version"] = cls.contract_version
        schema["x-record-key"] = cls.record_key
        return schema

    def record_id(self) -> str:
        """Return the value of the record's key field as a string."""
        return str(getattr(self, self.record_key))


class ContractQuery(BaseModel):
    """The search criteria a contract accepts; subclasses declare the fields and their combination rules.

    A search tells its caller which records match, hence something of every field a criterion compares: the
    gateway lets a caller use a criterion only when its grant covers each of those fields. A criterion compares the
    contract field of its own name, unless ``compared_fields`` names the contract field paths it compares (those
    its ``matches`` reads: an enterprise's ``name`` criterion matches ``name`` or ``name_en``). A criterion that is
    neither is allowed only with a grant on every field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Criterion -> the contract field paths it compares, for the criteria that are not a contract field of
    their own name."""
