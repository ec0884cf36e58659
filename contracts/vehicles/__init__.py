"""Contracts of the national vehicle registration database (Cơ sở dữ liệu đăng ký phương tiện giao thông)."""

from contracts.vehicles.registration_v1 import (
    VehicleRegistration,
    VehicleRegistrationQuery,
    VehicleStatus,
    VehicleType,
)

__all__ = ["VehicleRegistration", "VehicleRegistrationQuery", "VehicleStatus", "VehicleType"]
