"""The gateway's token-signing key: a PEM file, generated on first start, published as a JWK.

The private key never leaves the file (mode 0600). Key ids are RFC 7638 JWK thumbprints, so every process
that reads the same file computes the same ``kid``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _b64url_uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode()


def public_jwk(key: PrivateKey, algorithm: str) -> dict[str, Any]:
    """The public half of ``key`` as a JWK (RFC 7517/7518) with ``kid``, ``alg`` and ``use``."""
    numbers: Any = key.public_key().public_numbers()
    jwk: dict[str, Any]
    required: tuple[str, ...]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64url_uint(numbers.x, 32),
            "y": _b64url_uint(numbers.y, 32),
        }
        required = ("crv", "kty", "x", "y")
    else:
        jwk = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
        required = ("e", "kty", "n")
    thumbprint = hashlib.sha256(orjson.dumps({k: jwk[k] for k in required}, option=orjson.OPT_SORT_KEYS)).digest()
    jwk["kid"] = base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()
    jwk["alg"] = algorithm
    jwk["use"] = "sig"
    return jwk


def generate_private_key(algorithm: str) -> PrivateKey:
    """A new key for ``ES256`` (P-256) or ``RS256`` (RSA 3072)."""
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ValueError(f"unsupported signing algorithm {algorithm!r}")


def _write_new_key(path: Path, algorithm: str) -> None:
    pem = generate_private_key(algorithm).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # A hard link fails when another process created the key first; then its key wins.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


@dataclass(frozen=True, slots=True)
class SigningKeyFile:
    """The loaded signing key: its PEM (for the JWT library), algorithm and public JWK."""

    pem: bytes
    algorithm: str
    jwk: dict[str, Any]

    @property
    def kid(self) -> str:
        """The key id (RFC 7638 thumbprint)."""
        return str(self.jwk["kid"])


def load_or_create_signing_key(path: Path, algorithm: str) -> SigningKeyFile:
    """Load the signing key at ``path``, generating it (0600) when absent.

    The key's type must match ``algorithm``: an EC P-256 key for ES256, an RSA key of 2048 bits or more for
    RS256.
    """
    if not path.exists():
        _write_new_key(path, algorithm)
    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    if algorithm == "ES256":
        if not (isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)):
            raise ValueError(f"{path} is not an EC P-256 key, as ES256 needs")
    elif not (isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048):
        raise ValueError(f"{path} is not an RSA key of at least 2048 bits, as RS256 needs")
    return SigningKeyFile(pem=pem, algorithm=algorithm, jwk=public_jwk(key, algorithm))
