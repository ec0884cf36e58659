"""Tables of the gateway's own database. They are created only by the Alembic migrations in ``alembic/``."""

from sqlmodel import SQLModel

from .audit import AuditEvent, AuditHead, AuditSeal, AuditSubject
from .axis import AxisCheck, AxisConnection, Lease, OpsStatus
from .clients import Client, ClientKey, ClientSecret, ClientStatus, UsedAssertion
from .grants import Grant
from .keys import SigningKey

__all__ = [
    "AuditEvent",
    "AuditHead",
    "AuditSeal",
    "AuditSubject",
    "AxisCheck",
    "AxisConnection",
    "Client",
    "ClientKey",
    "ClientSecret",
    "ClientStatus",
    "Grant",
    "Lease",
    "OpsStatus",
    "SQLModel",
    "SigningKey",
    "UsedAssertion",
]
