"""Contracts of the education database's diplomas (Cơ sở dữ liệu văn bằng, chứng chỉ)."""

from contracts.education.diploma_v1 import Classification, Diploma, DiplomaQuery, EducationLevel

__all__ = ["Classification", "Diploma", "DiplomaQuery", "EducationLevel"]
