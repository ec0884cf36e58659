"""Keys: the gateway's token-signing keys (generated in memory, kept encrypted in the database by
:mod:`gateway.identity.signing_keys`, published as JWKs) and the public keys clients register (PEM, X.509 certificate or
JWK) to sign their assertions.

Key ids are RFC 7638 JWK thumbprints, so a key imported from a PEM file keeps the ``kid`` it had.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class SigningKeyFile:
    """A loaded signing key: its PEM (for the JWT library; never shown in a repr), algorithm and public JWK."""

    pem: bytes = field(repr=False)
    algorithm: str
    jwk: dict[str, Any]

    @property
    def kid(self) -> str:
        """The key id (RFC 7638 thumbprint)."""
        return str(self.jwk["kid"])


def signing_key_of_pem(pem: bytes, algorithm: str, *, source: str = "the key") -> SigningKeyFile:
    """The signing key in the PKCS#8 (or traditional) unencrypted PEM ``pem``; its type must match ``algorithm``
    (an EC P-256 key for ES256, an RSA key of 2048 bits or more for RS256)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(f"{source} is not an unencrypted PEM private key") from None
    if algorithm == "ES256":
        if not (isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)):
            raise ValueError(f"{source} is not an EC P-256 key, as ES256 needs")
    elif algorithm == "RS256":
        if not (isinstance(key, rsa.RSAPrivateKey) and key.key_size >= MIN_RSA_BITS):
            raise ValueError(f"{source} is not an RSA key of at least {MIN_RSA_BITS} bits, as RS256 needs")
    else:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    return SigningKeyFile(pem=pem, algorithm=algorithm, jwk=public_jwk(key, algorithm))


def load_signing_key(path: Path, algorithm: str) -> SigningKeyFile:
    """Load the signing key in the PEM file at ``path`` (see :func:`signing_key_of_pem`)."""
    return signing_key_of_pem(path.read_bytes(), algorithm, source=str(path))


def new_signing_key(algorithm: str) -> SigningKeyFile:
    """A new signing key for ``algorithm``, in memory only."""
    pem = generate_private_key(algorithm).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return signing_key_of_pem(pem, algorithm)
