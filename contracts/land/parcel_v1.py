"""Contract ``land.parcel`` version 1: a land parcel of the national land database and its certificate.

The land database (Cơ sở dữ liệu đất đai) identifies a parcel (thửa đất) by the cadastral map sheet (tờ bản đồ) of
its ward or commune and its number on that sheet; it records the area, the land use types (mục đích sử dụng, with
the codes of the cadastral records: ``ONT`` rural residential land, ``ODT`` urban residential land, ``LUC`` rice
land, ``CLN`` perennial crops...), and the certificate of land use rights (giấy chứng nhận) issued for it, with its
serial and date, naming the holders: one person, or both spouses when the land belongs to a married couple.

The parcel id is ``<ward code>-<map sheet>-<parcel number>``, e.g. ``24781-12-345``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from contracts.admin_units import Address
from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems
from contracts.dates import vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from contracts.registry import register_contract

__all__ = [
    "CertificateSerial",
    "LandParcel",
    "LandParcelQuery",
    "LandUseType",
    "ParcelId",
    "parcel_id",
]


class LandUseType(StrEnum):
    """Land use type codes of the cadastral records (the common ones)."""

    LUC = "LUC"
    """Đất chuyên trồng lúa: land for rice only."""
    LUK = "LUK"
    """Đất trồng lúa còn lại: other rice land."""
    HNK = "HNK"
    """Đất trồng cây hằng năm khác: other annual crops."""
    CLN = "CLN"
    """Đất trồng cây lâu năm: perennial crops (coffee, tea, fruit trees)."""
    RSX = "RSX"
    """Đất rừng sản xuất: production forest."""
    NTS = "NTS"
    """Đất nuôi trồng thủy sản: aquaculture."""
    ONT = "ONT"
    """Đất ở tại nông thôn: rural residential land."""
    ODT = "ODT"
    """Đất ở tại đô thị: urban residential land."""
    TMD = "TMD"
    """Đất thương mại, dịch vụ: commerce and services."""
    SKC = "SKC"
    """Đất cơ sở sản xuất phi nông nghiệp: non-agricultural production."""


_PARCEL_ID = r"^[0-9]{5}-[1-9][0-9]{0,3}-[1-9][0-9]{0,4}$"

ParcelId = Annotated[
    str,
    StringConstraints(pattern=_PARCEL_ID),
    JsonSchemaExtra(
        description="Parcel id: five-digit ward code, map sheet number and parcel number, joined by hyphens.",
        examples=["24781-12-345"],
    ),
]
"""``<ward code>-<map sheet>-<parcel number>``, e.g. ``24781-12-345``."""

CertificateSerial = Annotated[
    str,
    StringConstraints(pattern=r"^[A-ZĐ]{2} [0-9]{6}([0-9]{2})?$"),
    JsonSchemaExtra(
        description=(
            "Serial (số phát hành) of the land use rights certificate: two capital Vietnamese letters, a space, and "
            "eight digits, or six on the certificates issued before 1 August 2024 (BX 123456, CĐ 012345)."
        ),
        examples=["AA 01234567", "CĐ 012345"],
    ),
]
"""A certificate serial such as ``AA 01234567``, or ``BX 123456`` on certificates issued before August 2024."""


def parcel_id(ward_code: str, map_sheet: int, parcel_number: int) -> str:
    """The parcel id of parcel ``parcel_number`` on map sheet ``map_sheet`` of ward ``ward_code``."""
    return f"{ward_code}-{map_sheet}-{parcel_number}"


def _split_land_use(value: Any) -> Any:
    """Accept the cadastral notation of mixed use, ``ONT+CLN``, as well as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split("+")]
    return value


_HOLDER_EXAMPLE: dict[str, Any] = {
    "personal_id": "068080000456",
    "full_name": "Trần Văn Hùng",
    "date_of_birth": "1980-05-01",
    "gender": "male",
}
_CO_HOLDER_EXAMPLE: dict[str, Any] = {
    "personal_id": "068182000789",
    "full_name": "Lê Thị Lan",
    "date_of_birth": "1982",
    "gender": "female",
}

_EXAMPLE: dict[str, Any] = {
    "parcel_id": "24781-12-345",
    "location": {
        "province_code": "68",
        "ward_code": "24781",
        "province_name": "Lâm Đồng",
        "ward_name": "Phường Xuân Hương - Đà Lạt",
        "line": "12 Trần Phú, tổ dân phố 3",
    },
    "map_sheet_number": 12,
    "parcel_number": 345,
    "area_m2": 152.5,
    "land_use": ["ODT"],
    "certificate_serial": "AA 01234567",
    "certificate_issue_date": "2012-09-20",
    "owner": _HOLDER_EXAMPLE,
    "co_owner": _CO_HOLDER_EXAMPLE,
}


@register_contract
class LandParcel(Contract):
    """A land parcel and its certificate of land use rights (``land.parcel`` v1).

    Rules besides each field's type: ``parcel_id`` is ``location.ward_code``, ``map_sheet_number`` and
    ``parcel_number`` joined by hyphens; each land use type appears once; the certificate's issue date is not in
    the future nor before a holder's birth (a minor may hold land use rights, e.g. inherited, through their legal
    representative); ``co_owner``, when present, is another person than ``owner``.
    """

    contract_name: ClassVar[str] = "land.parcel"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "parcel_id"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    parcel_id: ParcelId = Field(description="The parcel's id; the record key.", examples=["24781-12-345"])
    location: Address = Field(
        description="Where the parcel lies: ward, province and the address line or hamlet.",
        examples=[{"province_code": "68", "ward_code": "24781", "line": "12 Trần Phú, tổ dân phố 3"}],
    )
    map_sheet_number: int = Field(ge=1, le=9999, description="Cadastral map sheet (tờ bản đồ số).", examples=[12])
    parcel_number: int = Field(ge=1, le=99999, description="Parcel number on the sheet (thửa số).", examples=[345])
    area_m2: float = Field(gt=0, le=100_000_000, description="Area in square metres.", examples=[152.5])
    land_use: Annotated[list[LandUseType], BeforeValidator(_split_land_use)] = Field(
        min_length=1,
        max_length=5,
        description="Land use types; the cadastral notation ONT+CLN is accepted on input.",
        examples=[["ODT"], ["ONT", "CLN"]],
    )
    certificate_serial: CertificateSerial = Field(description="Serial of the certificate.", examples=["AA 01234567"])
    certificate_issue_date: date = Field(description="When the certificate was issued.", examples=["2012-09-20"])
    owner: IdentifiedPerson = Field(description="The holder of the land use rights.", examples=[_HOLDER_EXAMPLE])
    co_owner: IdentifiedPerson | None = Field(
        default=None,
        description="The second holder, when the rights belong to a married couple.",
        examples=[_CO_HOLDER_EXAMPLE],
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self._problems(vietnam_today()))
        return self

    def _problems(self, today: date) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        expected = parcel_id(self.location.ward_code, self.map_sheet_number, self.parcel_number)
        if self.parcel_id != expected:
            problems.append(
                FieldProblem(
                    ("parcel_id",),
                    "parcel_id_mismatch",
                    f"parcel_id {self.parcel_id} does not agree with location.ward_code {self.location.ward_code}, "
                    f"map_sheet_number {self.map_sheet_number} and parcel_number {self.parcel_number} "
                    f"(expected {expected})",
                    self.parcel_id,
                )
            )
        if len(set(self.land_use)) != len(self.land_use):
            problems.append(
                FieldProblem(
                    ("land_use",),
                    "duplicate_land_use",
                    f"land_use {'+'.join(self.land_use)} names a type more than once",
                    [str(t) for t in self.land_use],
                )
            )
        issued = self.certificate_issue_date
        if issued > today:
            problems.append(
                FieldProblem(
                    ("certificate_issue_date",),
                    "date_in_future",
                    f"certificate_issue_date {issued} is in the future (today is {today})",
                    issued.isoformat(),
                )
            )
        for role in ("owner", "co_owner"):
            person: IdentifiedPerson | None = getattr(self, role)
            if person is not None and issued < person.date_of_birth.earliest():
                problems.append(
                    FieldProblem(
                        (role, "date_of_birth"),
                        "holder_born_after_issue",
                        f"{role}.date_of_birth is after certificate_issue_date {issued}",
                        str(person.date_of_birth),
                    )
                )
        if self.co_owner is not None and self.co_owner.personal_id == self.owner.personal_id:
            problems.append(
                FieldProblem(
                    ("co_owner", "personal_id"),
                    "co_owner_is_owner",
                    "co_owner.personal_id is owner.personal_id: the co-owner is another person",
                    self.co_owner.personal_id,
                )
            )
        return problems


class LandParcelQuery(ContractQuery):
    """Search criteria for :class:`LandParcel` records.

    Give ``owner_personal_id`` (every parcel the person holds, alone or as a couple: it matches ``owner`` or
    ``co_owner``), ``certificate_serial``, or both.
    """

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "owner_personal_id": (
            "owner.personal_id",
            "co_owner.personal_id",
        ),
    }

    owner_personal_id: PersonalId | None = Field(
        default=None, description="A holder's personal identification number.", examples=["068080000456"]
    )
    certificate_serial: CertificateSerial | None = Field(
        default=None, description="Serial of the certificate.", examples=["AA 01234567"]
    )

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        if self.owner_personal_id is None and self.certificate_serial is None:
            raise ValueError("a land parcel query needs owner_personal_id or certificate_serial")
        return self

    def matches(self, record: LandParcel) -> bool:
        """Whether ``record`` satisfies every criterion of the query."""
        if self.certificate_serial is not None and record.certificate_serial != self.certificate_serial:
            return False
        holders = {record.owner.personal_id} | ({record.co_owner.personal_id} if record.co_owner else set())
        return self.owner_personal_id is None or self.owner_personal_id in holders


LandParcel.query_model = LandParcelQuery
