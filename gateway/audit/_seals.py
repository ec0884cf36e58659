"""Seals: the gateway's signature over the chain head at some ``seq``.

A seal is a compact JWS (``typ`` :data:`SEAL_TYPE`) by the gateway's signing key over ``{"seq", "hash",
"sealed_at"}``, stored in ``audit_seals`` with the key's ``kid``. Whoever rewrites the chain up to a sealed
``seq`` (or cuts it below one) must forge the signature, which needs the private key. The public key that checks
a seal must therefore come from somewhere such a person cannot write: a public key found in ``signing_keys`` alone
proves nothing (anyone able to write the database can add one); :mod:`gateway.audit.verify` trusts a key whose
private part there the data keys decrypt, or a key the verifier was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit.events import timestamp
from gateway.audit.storage import SEALS
from gateway.identity.key_material import SigningKeyFile
from gateway.identity.tokens import TokenRejected, sign_statement, verify_statement

SEAL_TYPE = "audit-seal+jws"


def seal_payload(seq: int, hash_: str, sealed_at: datetime) -> bytes:
    """The bytes a seal signs."""
    return orjson.dumps({"hash": hash_, "sealed_at": timestamp(sealed_at), "seq": seq}, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class Seal:
    """A seal as stored."""

    seq: int
    hash: str
    kid: str
    signature: str
    sealed_at: datetime


def make_seal(key: SigningKeyFile, seq: int, hash_: str, sealed_at: datetime) -> Seal:
    """Sign the chain head ``(seq, hash_)`` with ``key``."""
    signature = sign_statement(seal_payload(seq, hash_, sealed_at), key, typ=SEAL_TYPE)
    return Seal(seq=seq, hash=hash_, kid=key.kid, signature=signature, sealed_at=sealed_at)


async def store_seal(connection: AsyncConnection, seal: Seal) -> None:
    """Insert ``seal`` (in the caller's transaction, which holds the head lock)."""
    await connection.execute(
        sa.insert(SEALS).values(
            seq=seal.seq, hash=seal.hash, kid=seal.kid, signature=seal.signature, sealed_at=seal.sealed_at
        )
    )


def seal_problem(seal: Seal, public_jwks: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why ``seal`` is not a valid seal by the key its ``kid`` names among ``public_jwks`` (kid to public JWK;
    ``None`` when it is). The signature must name that key too."""
    key = public_jwks.get(seal.kid)
    try:
        payload = verify_statement(seal.signature, {} if key is None else {seal.kid: key}, typ=SEAL_TYPE)
    except TokenRejected as exc:
        return {
            "unknown_kid": f"signed by a key that is not published (kid {seal.kid!r})",
            "bad_algorithm": "signed with an algorithm its key does not allow",
            "bad_signature": "its signature is not valid",
        }.get(exc.reason, "its signature is malformed")
    if payload != seal_payload(seal.seq, seal.hash, seal.sealed_at):
        return "the signed statement does not match the seal's seq, hash or time"
    return None
