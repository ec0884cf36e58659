"""Contracts of the electronic civil status database (Cơ sở dữ liệu hộ tịch điện tử)."""

from contracts.civil_status.registration_v1 import (
    BirthDetails,
    CivilStatusRegistration,
    CivilStatusRegistrationQuery,
    DeathDetails,
    MarriageDetails,
    RegistrationKind,
    RegistryOffice,
    registration_id,
)

__all__ = [
    "BirthDetails",
    "CivilStatusRegistration",
    "CivilStatusRegistrationQuery",
    "DeathDetails",
    "MarriageDetails",
    "RegistrationKind",
    "RegistryOffice",
    "registration_id",
]
