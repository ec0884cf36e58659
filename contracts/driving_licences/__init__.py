"""Contracts of the national driving licence database (Cơ sở dữ liệu giấy phép lái xe)."""

from contracts.driving_licences.licence_v1 import (
    CLASS_TERMS,
    MINIMUM_AGES,
    DrivingLicence,
    DrivingLicenceQuery,
    LicenceClass,
    LicenceClassEntry,
    LicenceStatus,
    expiry_for,
)

__all__ = [
    "CLASS_TERMS",
    "MINIMUM_AGES",
    "DrivingLicence",
    "DrivingLicenceQuery",
    "LicenceClass",
    "LicenceClassEntry",
    "LicenceStatus",
    "expiry_for",
]
