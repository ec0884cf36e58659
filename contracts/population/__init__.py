"""Contracts of the national population database (Cơ sở dữ liệu quốc gia về dân cư)."""

from contracts.population.citizen_v1 import Citizen, CitizenQuery, MaritalStatus, RelationToHead

__all__ = ["Citizen", "CitizenQuery", "MaritalStatus", "RelationToHead"]
