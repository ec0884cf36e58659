"""Contracts of the national land database (Cơ sở dữ liệu đất đai)."""

from contracts.land.parcel_v1 import LandParcel, LandParcelQuery, LandUseType, parcel_id

__all__ = ["LandParcel", "LandParcelQuery", "LandUseType", "parcel_id"]
