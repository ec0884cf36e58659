"""Issuing and verifying the gateway's access tokens (JWT). The only module that imports the JWT library.

Keys are parsed once; verified tokens are cached until they expire, so a busy client's token is checked
cryptographically once, not on every request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TLRUCache
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JWSError, JWTClaimsError, JWTError

from .keys import SigningKeyFile

MAX_TOKEN_LENGTH = 8192
ALLOWED_ALGORITHMS = frozenset({"ES256", "RS256"})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request, as its verified token describes it."""

    client_id: str
    scopes: frozenset[str]
    token_id: str
    expires_at: float

    def has_scopes(self, required: Iterable[str]) -> bool:
        """Whether every scope in ``required`` was granted."""
        return self.scopes.issuperset(required)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed access token and what the token endpoint says about it."""

    access_token: str
    expires_in: int
    scope: str


class TokenRejected(Exception):
    """The token failed verification; ``reason`` is a bounded label for metrics and audit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenService:
    """Signs tokens with the gateway's key and verifies tokens signed by any of its published keys."""

    def __init__(
        self,
        *,
        signing_key: SigningKeyFile,
        verification_keys: Sequence[Mapping[str, Any]],
        issuer: str,
        audience: str,
        ttl_seconds: int,
        leeway_seconds: int,
        cache_size: int,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.leeway_seconds = leeway_seconds
        self._signing_key = signing_key
        self._signer = jwk.construct(signing_key.pem.decode(), signing_key.algorithm)
        self._keys: dict[str, tuple[str, Any]] = {}
        self.set_verification_keys(verification_keys)
        self._cache: TLRUCache[str, Principal] = TLRUCache(
            maxsize=max(cache_size, 1),
            ttu=lambda _key, principal, _now: principal.expires_at,
            timer=time.time,
        )
        self._cache_enabled = cache_size > 0

    def set_verification_keys(self, keys: Sequence[Mapping[str, Any]]) -> None:
        """Replace the public keys trusted for verification (JWKs with ``kid`` and ``alg``)."""
        parsed: dict[str, tuple[str, Any]] = {}
        for key in keys:
            algorithm = str(key["alg"])
            if algorithm in ALLOWED_ALGORITHMS:
                parsed[str(key["kid"])] = (algorithm, jwk.construct(dict(key), algorithm))
        self._keys = parsed

    def issue(self, *, subject: str, scopes: Sequence[str], now: float | None = None) -> IssuedToken:
        """Sign a token for client ``subject`` carrying ``scopes``."""
        issued_at = int(now if now is not None else time.time())
        scope = " ".join(scopes)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "client_id": subject,
            "scope": scope,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(
            claims,
            self._signer,
            algorithm=self._signing_key.algorithm,
            headers={"kid": self._signing_key.kid, "typ": "at+jwt"},
        )
        return IssuedToken(access_token=token, expires_in=self.ttl_seconds, scope=scope)

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid token; raise :class:`TokenRejected` with the reason otherwise."""
        if self._cache_enabled:
            cached = self._cache.get(token)
            if cached is not None:
                return cached
        principal = self._verify(token)
        if self._cache_enabled:
            self._cache[token] = principal
        return principal

    def _verify(self, token: str) -> Principal:
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise TokenRejected("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except (JWTError, JWSError, ValueError, TypeError):
            raise TokenRejected("malformed") from None
        kid = header.get("kid")
        algorithm = header.get("alg")
        if not isinstance(kid, str) or kid not in self._keys:
            raise TokenRejected("unknown_kid")
        expected_algorithm, key = self._keys[kid]
        if algorithm != expected_algorithm:
            raise TokenRejected("bad_algorithm")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[expected_algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_sub": True,
                    "require_aud": True,
                    "require_iss": True,
                    "leeway": self.leeway_seconds,
                },
            )
        except ExpiredSignatureError:
            raise TokenRejected("expired") from None
        except JWTClaimsError as exc:
            reason = "not_yet_valid" if "not yet valid" in str(exc).lower() else "bad_claims"
            raise TokenRejected(reason) from None
        except (JWTError, JWSError, ValueError, TypeError):
            raise TokenRejected("bad_signature") from None
        return self._principal(claims)

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        subject = claims.get("sub")
        scope = claims.get("scope", "")
        expires = claims.get("exp")
        if not isinstance(subject, str) or not subject or not isinstance(scope, str):
            raise TokenRejected("bad_claims")
        if not isinstance(expires, int | float):
            raise TokenRejected("bad_claims")
        return Principal(
            client_id=subject,
            scopes=frozenset(scope.split()),
            token_id=str(claims.get("jti", "")),
            expires_at=float(expires),
        )
