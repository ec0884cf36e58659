"""Tables of the gateway's own database. They are created only by the Alembic migrations in ``alembic/``."""

from sqlmodel import SQLModel

from gateway.audit.models import AuditEvent, AuditHead, AuditSeal, AuditSubject
from gateway.axis.models import AxisCheck, AxisCheckCount, AxisConnection, AxisEvidence, AxisTransition, OpsStatus
from gateway.core.leases import Lease
from gateway.exchange.models import (
    ExchangeChange,
    ExchangeFeed,
    ExchangeOperation,
    ExchangeReceipt,
    WebhookSubscription,
)
from gateway.identity.models import Client, ClientKey, ClientSecret, ClientStatus, Grant, SigningKey, UsedAssertion
from gateway.quality.models import (
    QualityDimensionCount,
    QualityHistory,
    QualityRuleCount,
    QualityScore,
    QualityWorstRecord,
)

__all__ = [
    "AuditEvent",
    "AuditHead",
    "AuditSeal",
    "AuditSubject",
    "AxisCheck",
    "AxisCheckCount",
    "AxisConnection",
    "AxisEvidence",
    "AxisTransition",
    "Client",
    "ClientKey",
    "ClientSecret",
    "ClientStatus",
    "ExchangeChange",
    "ExchangeFeed",
    "ExchangeOperation",
    "ExchangeReceipt",
    "Grant",
    "Lease",
    "OpsStatus",
    "QualityDimensionCount",
    "QualityHistory",
    "QualityRuleCount",
    "QualityScore",
    "QualityWorstRecord",
    "SQLModel",
    "SigningKey",
    "UsedAssertion",
    "WebhookSubscription",
]
