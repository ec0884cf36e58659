"""Contract ``vehicles.registration`` version 1: a road vehicle in the national vehicle registration database.

The traffic police register road motor vehicles (Cơ sở dữ liệu đăng ký phương tiện giao thông, Circular
79/2024/TT-BCA): each registration gives a licence plate, the vehicle's type, make, model, colour, engine and frame
numbers, and its owner. A registration is active until it is withdrawn (thu hồi), e.g. when the vehicle is
scrapped, exported or re-registered elsewhere.

Plates are written without spaces: a two-digit locality code, the series, a hyphen and the five-digit number with a
dot (``49A-123.45`` for a car of Lâm Đồng, ``49B1-234.56`` for a motorcycle, printed ``49-B1 234.56``) or, on older
plates, four digits (``49A-1234``). The series is one letter (cars, trucks, buses), a letter and a digit (motorcycles),
two letters (mopeds under 50 cm³, but also cars of special series such as ``LD``, ``KT``, ``NN``, ``NG``) or two
letters and a digit (electric motorcycles, ``MĐ1``). The printed forms (``49-B1 234.56``, ``49A 12345``, lower case)
are accepted on input and rewritten to the canonical one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from contracts.base import Contract, ContractQuery
from contracts.common import FieldProblem, JsonSchemaExtra, raise_field_problems
from contracts.dates import vietnam_today
from contracts.identified_person import IdentifiedPerson
from contracts.identity import PersonalId
from contracts.registry import register_contract

__all__ = [
    "EngineNumber",
    "FrameNumber",
    "PlateNumber",
    "VehicleRegistration",
    "VehicleRegistrationQuery",
    "VehicleStatus",
    "VehicleType",
]

PLATE_PATTERN = r"^[1-9][0-9][A-Z][A-ZĐ]?[0-9]?-(?:[0-9]{3}\.[0-9]{2}|[0-9]{4})$"

# The plate as printed or typed: spaces, a hyphen after the locality code, a five-digit number without its dot. A
# separator between series and number is required: without it "49B12345" could be B1 + 2345 or B + 123.45.
_WRITTEN_PLATE = re.compile(
    r"([1-9][0-9])[ -]?([A-Z][A-ZĐ]?[0-9]?)[ .-]+(?:([0-9]{3})\.?([0-9]{2})|([0-9]{4}))", re.ASCII | re.IGNORECASE
)


def _canonical_plate(value: Any) -> Any:
    """Rewrite a plate written as printed (``49-B1 234.56``, ``49a 12345``) to ``49B1-234.56``; leave others."""
    if not isinstance(value, str):
        return value
    match = _WRITTEN_PLATE.fullmatch(" ".join(value.split()).upper())
    if match is None:
        return value
    locality, series, hundreds, units, four = match.groups()
    return f"{locality}{series}-{four or f'{hundreds}.{units}'}"


PlateNumber = Annotated[
    str,
    StringConstraints(pattern=PLATE_PATTERN),
    BeforeValidator(_canonical_plate),
    JsonSchemaExtra(
        description=(
            "Licence plate without spaces: locality code, series (a letter, a letter and a digit, two letters, or "
            "two letters and a digit), hyphen, number (NNN.NN, or NNNN on old plates). The printed forms such as "
            "49-B1 234.56 are accepted on input."
        ),
        examples=["49A-123.45", "49B1-234.56", "86C-012.34", "29LD-123.45", "29MĐ1-123.45"],
    ),
]
"""A licence plate such as ``49A-123.45`` (car) or ``49B1-234.56`` (motorcycle), without spaces."""

FrameNumber = Annotated[
    str,
    StringConstraints(pattern=r"^[A-HJ-NPR-Z0-9]{17}$"),
    JsonSchemaExtra(
        description="Frame (chassis) number: the 17-character vehicle identification number, without I, O or Q.",
        examples=["RLHJF8304MY123456"],
    ),
]
"""A 17-character vehicle identification (frame) number: digits and capital letters other than I, O and Q."""

EngineNumber = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9]{5,20}$"),
    JsonSchemaExtra(
        description="Engine (or electric motor) number: 5-20 capital letters and digits.", examples=["JF83E1234567"]
    ),
]
"""An engine or motor number: 5 to 20 capital letters and digits."""


class VehicleType(StrEnum):
    """The type of a registered vehicle."""

    CAR = "car"
    PICKUP = "pickup"
    TRUCK = "truck"
    BUS = "bus"
    MOTORCYCLE = "motorcycle"
    MOPED = "moped"


class VehicleStatus(StrEnum):
    """Whether a registration is in force (``active``) or withdrawn (``deregistered``)."""

    ACTIVE = "active"
    DEREGISTERED = "deregistered"


_TWO_WHEELERS = frozenset({VehicleType.MOTORCYCLE, VehicleType.MOPED})

_OWNER_EXAMPLE: dict[str, Any] = {
    "personal_id": "068080000456",
    "full_name": "Trần Văn Hùng",
    "date_of_birth": "1980-05-01",
    "gender": "male",
}

_EXAMPLE: dict[str, Any] = {
    "plate_number": "49A-123.45",
    "vehicle_type": "car",
    "brand": "Toyota",
    "model": "Vios",
    "colour": "Trắng",
    "engine_number": "2NR1234567",
    "frame_number": "MR0BA3CD1N0123456",
    "manufacture_year": 2022,
    "registration_date": "2022-08-15",
    "owner": _OWNER_EXAMPLE,
    "status": "active",
    "deregistration_date": None,
}


@register_contract
class VehicleRegistration(Contract):
    """A vehicle registration of the national vehicle registration database (``vehicles.registration`` v1).

    Rules besides each field's type: the plate's series suits the vehicle type (a series with a digit is a
    motorcycle's or moped's, a single letter another vehicle's; two letters may be either); the vehicle was made no
    later than the year after its registration; the registration date is not in the future nor before the owner's
    birth (a minor may own a vehicle, inherited or given, through their legal representative); a deregistered
    vehicle has a deregistration date, on or after the registration and not in the future, and an active one has
    none.
    """

    contract_name: ClassVar[str] = "vehicles.registration"
    contract_version: ClassVar[int] = 1
    record_key: ClassVar[str] = "plate_number"

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    plate_number: PlateNumber = Field(description="Licence plate; the record key.", examples=["49A-123.45"])
    vehicle_type: VehicleType = Field(description="Type of vehicle.", examples=["car"])
    brand: str = Field(min_length=1, max_length=50, description="Make (nhãn hiệu).", examples=["Toyota"])
    model: str = Field(min_length=1, max_length=50, description="Model (số loại).", examples=["Vios"])
    colour: str = Field(min_length=1, max_length=30, description="Colour as registered (màu sơn).", examples=["Trắng"])
    engine_number: EngineNumber = Field(description="Engine number (số máy).", examples=["2NR1234567"])
    frame_number: FrameNumber = Field(description="Frame number (số khung).", examples=["MR0BA3CD1N0123456"])
    manufacture_year: int = Field(ge=1950, le=2100, description="Year of manufacture.", examples=[2022])
    registration_date: date = Field(description="Date of registration; not in the future.", examples=["2022-08-15"])
    owner: IdentifiedPerson = Field(description="The registered owner (chủ xe).", examples=[_OWNER_EXAMPLE])
    status: VehicleStatus = Field(description="In force or withdrawn.", examples=["active"])
    deregistration_date: date | None = Field(
        default=None,
        description="When the registration was withdrawn; only for deregistered vehicles.",
        examples=[None],
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        raise_field_problems(type(self).__name__, self._problems(vietnam_today()))
        return self

    def _problems(self, today: date) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        series = self.plate_number[2 : self.plate_number.index("-")]
        two_wheeler = self.vehicle_type in _TWO_WHEELERS
        # A digit in the series marks a two-wheeler and a lone letter another vehicle; two letters are both:
        # mopeds (AA, AB...) and the special series of cars (LD, KT, NN, NG...).
        if (series[-1].isdigit() and not two_wheeler) or (len(series) == 1 and two_wheeler):
            problems.append(
                FieldProblem(
                    ("plate_number",),
                    "plate_series_mismatch",
                    f"the series {series} of plate_number is not one of a {self.vehicle_type} (a series with a "
                    f"digit is a motorcycle's or moped's, a single letter another vehicle's)",
                    self.plate_number,
                )
            )
        if self.manufacture_year > self.registration_date.year + 1:
            problems.append(
                FieldProblem(
                    ("manufacture_year",),
                    "made_after_registration",
                    f"manufacture_year {self.manufacture_year} is after the year of registration_date "
                    f"{self.registration_date}",
                    self.manufacture_year,
                )
            )
        if self.registration_date > today:
            problems.append(
                FieldProblem(
                    ("registration_date",),
                    "date_in_future",
                    f"registration_date {self.registration_date} is in the future (today is {today})",
                    self.registration_date.isoformat(),
                )
            )
        if self.registration_date < self.owner.date_of_birth.earliest():
            problems.append(
                FieldProblem(
                    ("owner", "date_of_birth"),
                    "owner_born_after_registration",
                    f"owner.date_of_birth is after registration_date {self.registration_date}",
                    str(self.owner.date_of_birth),
                )
            )
        problems += self._status_problems(today)
        return problems

    def _status_problems(self, today: date) -> list[FieldProblem]:
        ended = self.deregistration_date
        if (ended is not None) != (self.status is VehicleStatus.DEREGISTERED):
            return [
                FieldProblem(
                    ("deregistration_date",),
                    "status_mismatch",
                    f"status is {self.status} and deregistration_date is {ended}; a deregistered vehicle has a "
                    f"deregistration date and an active one none",
                    None if ended is None else ended.isoformat(),
                )
            ]
        if ended is not None and not self.registration_date <= ended <= today:
            return [
                FieldProblem(
                    ("deregistration_date",),
                    "deregistration_out_of_range",
                    f"deregistration_date {ended} is not between registration_date {self.registration_date} and "
                    f"today ({today})",
                    ended.isoformat(),
                )
            ]
        return []


class VehicleRegistrationQuery(ContractQuery):
    """Search criteria for :class:`VehicleRegistration` records.

    Give at least one of ``owner_personal_id`` (every vehicle registered to that person), ``engine_number`` and
    ``frame_number`` (exact, in capitals); a record matches when it satisfies every criterion given.
    """

    compared_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "owner_personal_id": ("owner.personal_id",),
    }

    owner_personal_id: PersonalId | None = Field(
        default=None, description="Personal identification number of the owner.", examples=["068080000456"]
    )
    engine_number: EngineNumber | None = Field(default=None, description="Engine number.", examples=["2NR1234567"])
    frame_number: FrameNumber | None = Field(default=None, description="Frame number.", examples=["MR0BA3CD1N0123456"])

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        if self.owner_personal_id is None and self.engine_number is None and self.frame_number is None:
            raise ValueError("a vehicle query needs owner_personal_id, engine_number or frame_number")
        return self

    def matches(self, record: VehicleRegistration) -> bool:
        """Whether ``record`` satisfies every criterion of the query."""
        return (
            (self.owner_personal_id is None or record.owner.personal_id == self.owner_personal_id)
            and (self.engine_number is None or record.engine_number == self.engine_number)
            and (self.frame_number is None or record.frame_number == self.frame_number)
        )


VehicleRegistration.query_model = VehicleRegistrationQuery
