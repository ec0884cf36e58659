"""Data-quality scores per national database and source (``scan``: the last sampled scan of the sector system;
``submitted``: every record accepted from agencies, accumulated), per dimension and rule, and the worst records
(masked keys only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String
from sqlmodel import Field, SQLModel

from gateway.core.db import UTCDateTime, utcnow


class QualityScore(SQLModel, table=True):
    """What one source's counts cover: the contract, how many records, since and until when."""

    __tablename__ = "quality_scores"

    database_id: str = Field(primary_key=True, max_length=32)
    source: str = Field(primary_key=True, max_length=16)
    contract: str = Field(max_length=100)
    records: int = Field(default=0)
    sample_size: int | None = Field(default=None)
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class QualityDimensionCount(SQLModel, table=True):
    """Records checked in one dimension, those failing any of its rules, and those it could not judge."""

    __tablename__ = "quality_dimension_counts"

    database_id: str = Field(primary_key=True, max_length=32)
    source: str = Field(primary_key=True, max_length=16)
    dimension: str = Field(primary_key=True, max_length=16)
    checked: int = Field(default=0)
    failed: int = Field(default=0)
    unverified: int = Field(default=0, description="Records failing none of its rules that a rule could not verify.")


class QualityRuleCount(SQLModel, table=True):
    """Records one rule judged, those that failed it, and those it applies to but could not verify."""

    __tablename__ = "quality_rule_counts"

    database_id: str = Field(primary_key=True, max_length=32)
    source: str = Field(primary_key=True, max_length=16)
    rule_id: str = Field(primary_key=True, max_length=100)
    dimension: str = Field(max_length=16)
    checked: int = Field(default=0)
    failed: int = Field(default=0)
    unverified: int = Field(default=0, description="Records it applies to that it could not verify.")


class QualityWorstRecord(SQLModel, table=True):
    """One of the worst failures of a rule: the record's masked key, what is wrong (no personal value), weight."""

    __tablename__ = "quality_worst_records"
    __table_args__ = (Index("ix_quality_worst_records_rule", "database_id", "source", "rule_id"),)

    id: int | None = Field(default=None, primary_key=True)
    database_id: str = Field(sa_column=Column(String(32), nullable=False))
    source: str = Field(sa_column=Column(String(16), nullable=False))
    rule_id: str = Field(sa_column=Column(String(100), nullable=False))
    record_ref: str = Field(max_length=64)
    detail: str = Field(max_length=500)
    weight: float
    seen_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class QualityHistory(SQLModel, table=True):
    """One score of one scan, kept over time: a dimension's (``rule_id`` empty) or a rule's share of passing records,
    with the counts behind it, the scan's sample size and when the scan ended. Rows past
    ``quality_history_retention_days`` are pruned."""

    __tablename__ = "quality_history"
    __table_args__ = (Index("ix_quality_history_database_time", "database_id", "recorded_at"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    )
    database_id: str = Field(sa_column=Column(String(32), nullable=False))
    source: str = Field(sa_column=Column(String(16), nullable=False))
    dimension: str = Field(sa_column=Column(String(16), nullable=False))
    rule_id: str = Field(default="", sa_column=Column(String(100), nullable=False))
    checked: int = Field(sa_column=Column(Integer, nullable=False))
    failed: int = Field(sa_column=Column(Integer, nullable=False))
    value: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    sample_size: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
