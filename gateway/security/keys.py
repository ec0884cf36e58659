"""Keys: the gateway's token-signing key (a PEM file, generated on first start, replaced on rotation, published
as a JWK) and the public keys clients register (PEM, X.509 certificate or JWK) to sign their assertions.

The private signing key never leaves its file (mode 0600). Key ids are RFC 7638 JWK thumbprints, so every
process that reads the same file computes the same ``kid``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

#: JWK curve name -> (curve class, coordinate size in bytes, the one ECDSA algorithm it signs with).
CURVES: dict[str, tuple[type[ec.EllipticCurve], int, str]] = {
    "P-256": (ec.SECP256R1, 32, "ES256"),
    "P-384": (ec.SECP384R1, 48, "ES384"),
    "P-521": (ec.SECP521R1, 66, "ES512"),
}
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = frozenset(algorithm for _curve, _size, algorithm in CURVES.values())
#: Asymmetric signature algorithms only: never ``none``, never HMAC.
SIGNATURE_ALGORITHMS = RSA_ALGORITHMS | EC_ALGORITHMS
MIN_RSA_BITS = 2048
_REQUIRED_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class UnusableKey(ValueError):
    """Key material that cannot be used (unreadable, private, too weak, or not fit for the algorithm)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64url(value.to_bytes(size, "big"))


def _uint_of(value: Any, member: str) -> int:
    if not isinstance(value, str) or not value:
        raise UnusableKey(f"JWK member {member!r} is missing or not a string")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise UnusableKey(f"JWK member {member!r} is not base64url") from None
    return int.from_bytes(raw, "big")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public EC or RSA JWK, base64url-encoded."""
    members = _REQUIRED_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        raise UnusableKey("only EC and RSA keys have a thumbprint here")
    canonical = orjson.dumps({k: jwk[k] for k in members}, option=orjson.OPT_SORT_KEYS)
    return _b64url(hashlib.sha256(canonical).digest())


def algorithms_for(key: PublicKey) -> frozenset[str]:
    """The signature algorithms a public key can verify: RS*/PS* for RSA, the curve's one ES* for EC."""
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_ALGORITHMS
    for _name, (curve, _size, algorithm) in CURVES.items():
        if isinstance(key.curve, curve):
            return frozenset({algorithm})
    return frozenset()


def jwk_of_public_key(key: PublicKey, algorithm: str, *, kid: str | None = None) -> dict[str, Any]:
    """``key`` as a public JWK (RFC 7517/7518) with ``kid`` (the RFC 7638 thumbprint unless given), ``alg``
    and ``use``."""
    jwk: dict[str, Any]
    if isinstance(key, ec.EllipticCurvePublicKey):
        for name, (curve, size, _algorithm) in CURVES.items():
            if isinstance(key.curve, curve):
                numbers = key.public_numbers()
                jwk = {"crv": name, "kty": "EC", "x": _b64url_uint(numbers.x, size), "y": _b64url_uint(numbers.y, size)}
                break
        else:
            raise UnusableKey(f"unsupported curve {key.curve.name}")
    else:
        rsa_numbers = key.public_numbers()
        jwk = {"e": _b64url_uint(rsa_numbers.e), "kty": "RSA", "n": _b64url_uint(rsa_numbers.n)}
    jwk["kid"] = kid or jwk_thumbprint(jwk)
    jwk["alg"] = algorithm
    jwk["use"] = "sig"
    return jwk


def public_jwk(key: PrivateKey, algorithm: str) -> dict[str, Any]:
    """The public half of the private ``key`` as a JWK with ``kid`` (its thumbprint), ``alg`` and ``use``."""
    return jwk_of_public_key(key.public_key(), algorithm)


def public_key_of_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """The public key a JWK describes; a JWK holding private members is refused."""
    if _PRIVATE_MEMBERS & set(jwk):
        raise UnusableKey("this JWK holds private key material; give only its public half")
    kty = jwk.get("kty")
    if kty == "RSA":
        e, n = _uint_of(jwk.get("e"), "e"), _uint_of(jwk.get("n"), "n")
        try:
            return rsa.RSAPublicNumbers(e, n).public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise UnusableKey("the JWK does not describe a valid RSA public key") from None
    if kty == "EC":
        spec = CURVES.get(str(jwk.get("crv")))
        if spec is None:
            raise UnusableKey("unsupported EC curve (P-256, P-384 and P-521 are)")
        curve, _size, _algorithm = spec
        x, y = _uint_of(jwk.get("x"), "x"), _uint_of(jwk.get("y"), "y")
        try:
            return ec.EllipticCurvePublicNumbers(x, y, curve()).public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise UnusableKey("the JWK does not describe a point of its curve") from None
    raise UnusableKey("unsupported key type (EC and RSA are)")


@dataclass(frozen=True, slots=True)
class ClientPublicKey:
    """A client's public key as registered: its JWK (with ``kid`` and ``alg``), and its certificate's expiry."""

    jwk: dict[str, Any]
    not_after: datetime | None

    @property
    def kid(self) -> str:
        """The key id."""
        return str(self.jwk["kid"])

    @property
    def algorithm(self) -> str:
        """The one algorithm the client signs with under this key."""
        return str(self.jwk["alg"])


def _parse_material(material: str | bytes | Mapping[str, Any]) -> tuple[PublicKey, datetime | None, Mapping[str, Any]]:
    """The public key in PEM (public key or certificate) or JWK (a mapping or its JSON) material."""
    if isinstance(material, Mapping):
        return public_key_of_jwk(material), None, material
    raw = material.encode() if isinstance(material, str) else material
    text = raw.strip()
    if text.startswith(b"{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise UnusableKey("the key is neither PEM nor a JSON JWK") from None
        if not isinstance(parsed, dict):
            raise UnusableKey("a JWK is a JSON object")
        return public_key_of_jwk(parsed), None, parsed
    if b"PRIVATE KEY-----" in text:
        raise UnusableKey("this is a private key; register only its public half (or its certificate)")
    public: Any
    not_after: datetime | None = None
    try:
        if text.startswith(b"-----BEGIN CERTIFICATE-----"):
            certificate = x509.load_pem_x509_certificate(text)
            public = certificate.public_key()
            not_after = certificate.not_valid_after_utc
        else:
            public = serialization.load_pem_public_key(text)
    except (ValueError, UnsupportedAlgorithm):
        raise UnusableKey("the key is neither a PEM public key, a PEM certificate, nor a JSON JWK") from None
    if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise UnusableKey("unsupported key type (EC and RSA are)")
    return public, not_after, {}


def load_client_public_key(
    material: str | bytes | Mapping[str, Any], *, kid: str | None = None, algorithm: str | None = None
) -> ClientPublicKey:
    """Read a client's public key from a PEM public key, a PEM X.509 certificate (``not_after`` is its expiry)
    or a JWK.

    ``kid`` is the one given, else the JWK's own ``kid``, else the RFC 7638 thumbprint. ``algorithm`` is the
    one given, else the JWK's ``alg``, else RS256 for RSA and the curve's ES* for EC. RSA keys need 2048 bits.
    """
    public, not_after, jwk = _parse_material(material)
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        raise UnusableKey(f"RSA keys need at least {MIN_RSA_BITS} bits")
    usable = algorithms_for(public)
    if not usable:
        raise UnusableKey("unsupported EC curve (P-256, P-384 and P-521 are)")
    chosen = algorithm or jwk.get("alg") or ("RS256" if isinstance(public, rsa.RSAPublicKey) else min(usable))
    if chosen not in usable:
        raise UnusableKey(f"algorithm {chosen!r} does not fit this key (it can verify {', '.join(sorted(usable))})")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise UnusableKey("the JWK is not meant for signatures (use is not 'sig')")
    own_kid = jwk.get("kid")
    given = kid or (own_kid if isinstance(own_kid, str) and own_kid else None)
    return ClientPublicKey(jwk=jwk_of_public_key(public, str(chosen), kid=given), not_after=not_after)


def generate_private_key(algorithm: str) -> PrivateKey:
    """A new key for ``ES256`` (P-256) or ``RS256`` (RSA 3072)."""
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ValueError(f"unsupported signing algorithm {algorithm!r}")


def _write_temporary(path: Path, algorithm: str) -> Path:
    pem = generate_private_key(algorithm).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def _write_new_key(path: Path, algorithm: str) -> None:
    tmp = _write_temporary(path, algorithm)
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


def load_signing_key(path: Path, algorithm: str) -> SigningKeyFile:
    """Load the signing key at ``path``; its type must match ``algorithm`` (an EC P-256 key for ES256, an RSA
    key of 2048 bits or more for RS256)."""
    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    if algorithm == "ES256":
        if not (isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)):
            raise ValueError(f"{path} is not an EC P-256 key, as ES256 needs")
    elif not (isinstance(key, rsa.RSAPrivateKey) and key.key_size >= MIN_RSA_BITS):
        raise ValueError(f"{path} is not an RSA key of at least {MIN_RSA_BITS} bits, as RS256 needs")
    return SigningKeyFile(pem=pem, algorithm=algorithm, jwk=public_jwk(key, algorithm))


def load_or_create_signing_key(path: Path, algorithm: str) -> SigningKeyFile:
    """Load the signing key at ``path``, generating it (0600) when absent."""
    if not path.exists():
        _write_new_key(path, algorithm)
    return load_signing_key(path, algorithm)


def replace_signing_key(path: Path, algorithm: str) -> SigningKeyFile:
    """Generate a new signing key and put it at ``path`` in one atomic step (the previous private key is gone:
    its public half, published in the database, is all that verification needs)."""
    tmp = _write_temporary(path, algorithm)
    try:
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return load_signing_key(path, algorithm)
