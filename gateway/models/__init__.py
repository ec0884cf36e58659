"""Tables of the gateway's own database. They are created only by the Alembic migrations in ``alembic/``."""

from sqlmodel import SQLModel

from .audit import AuditEvent, AuditHead, AuditSeal, AuditSubject
from .axis import AxisCheck, AxisCheckCount, AxisConnection, AxisEvidence, AxisTransition, Lease, OpsStatus
from .clients import Client, ClientKey, ClientSecret, ClientStatus, UsedAssertion
from .exchange import ExchangeChange, ExchangeFeed, ExchangeOperation, ExchangeReceipt, WebhookSubscription
from .grants import Grant
from .keys import SigningKey
from .quality import QualityDimensionCount, QualityHistory, QualityRuleCount, QualityScore, QualityWorstRecord

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
