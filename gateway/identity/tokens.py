"""Issuing and verifying JWTs. The only module that imports the JWT library.

Three kinds of JWT pass through here:

* the gateway's own access tokens, signed with its key and verified against its published keys (a token with
  an unknown ``kid`` reloads them, at most once per interval: another process may have rotated the key);
* access tokens of trusted external issuers (identity providers), verified against their JWKS (see
  :mod:`gateway.identity._issuers`) and mapped to a gateway client by a configured claim;
* client assertions (``private_key_jwt``, RFC 7523), signed by a key the client registered.

Only asymmetric algorithms are accepted (never ``none``, never HMAC, so a public key can never serve as an HMAC
secret), each key for the algorithms it was published or registered with. Keys are parsed once; verified access
tokens are cached until they expire, so a busy client's token is checked cryptographically once, not on every
request.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import uuid
from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from cachetools import TLRUCache
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose import jwk, jws, jwt
from jose.backends.base import Key
from jose.backends.cryptography_backend import CryptographyECKey, CryptographyRSAKey
from jose.utils import base64url_encode

from gateway.core.settings import TrustedIssuer
from gateway.identity._issuers import ExternalIssuers, IssuerKeys, Throttled
from gateway.identity.grants import CLIENT_ID_PATTERN
from gateway.identity.key_material import (
    MIN_RSA_BITS,
    SIGNATURE_ALGORITHMS,
    PublicKey,
    SigningKeyFile,
    UnusableKey,
    algorithms_for,
)
from gateway.identity.key_material import public_key_of_jwk as _public_key_of_jwk

MAX_TOKEN_LENGTH = 16384
MAX_ASSERTION_LENGTH = 16384
MAX_JTI_LENGTH = 128
MAX_CLIENT_ID_LENGTH = 64
#: Algorithms of the gateway's own signing keys.
ALLOWED_ALGORITHMS = frozenset({"ES256", "RS256"})
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The claim of the gateway's own tokens naming the credential they were obtained with.
CREDENTIAL_CLAIM = "credential"
MAX_CREDENTIAL_LENGTH = 128


def credential_of_secret(secret_id: int) -> str:
    """The ``credential`` claim of a token obtained with the client secret stored as ``secret_id``."""
    return f"secret:{secret_id}"


def credential_of_key(kid: str) -> str:
    """The ``credential`` claim of a token obtained with an assertion signed by the client key ``kid``."""
    return f"key:{kid}"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request, as its verified token describes it.

    ``issuer`` is who issued the token (the gateway's own ``token_issuer``, or a trusted external issuer);
    ``external`` tokens carry no scopes of their own: the gateway derives them from the client's grants.
    """

    client_id: str
    scopes: frozenset[str]
    token_id: str
    expires_at: float
    issuer: str = ""
    subject: str = ""
    external: bool = False
    data_only: bool = False
    """(External tokens) the issuer may speak for any client, not only for clients it names: such a token acts
    with the client's data grants alone, never with its ``admin``, ``audit`` or ``axis`` scope."""
    credential: str = ""
    """(The gateway's own tokens) the credential the token was obtained with, as :func:`credential_of_secret` or
    :func:`credential_of_key` name it: the token is valid only while that credential is (empty: not known)."""

    def has_scopes(self, required: Iterable[str]) -> bool:
        """Whether every scope in ``required`` was granted."""
        return self.scopes.issuperset(required)

    def with_scopes(self, scopes: Iterable[str]) -> Principal:
        """The same principal holding ``scopes``."""
        return dataclasses.replace(self, scopes=frozenset(scopes))


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed access token and what the token endpoint says about it."""

    access_token: str
    expires_in: int
    scope: str


@dataclass(frozen=True, slots=True)
class ClientAssertion:
    """A verified ``private_key_jwt`` client assertion: whose, which ``jti`` (single use) and until when."""

    client_id: str
    jti: str
    expires_at: float
    kid: str


class TokenRejected(Exception):
    """The token failed verification; ``reason`` is a bounded label for metrics and audit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AssertionRejected(TokenRejected):
    """A client assertion failed verification; ``reason`` is a bounded label for the logs."""


class _RsaPssKey(Key):  # type: ignore[misc]  # jose is untyped
    """RSASSA-PSS verification (PS256/384/512, RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash),
    which the JWT library lacks."""

    _HASHES: Mapping[str, type[hashes.HashAlgorithm]] = {
        "PS256": hashes.SHA256,
        "PS384": hashes.SHA384,
        "PS512": hashes.SHA512,
    }

    def __init__(self, key: rsa.RSAPublicKey, algorithm: str) -> None:
        self._key = key
        self._hash = self._HASHES[algorithm]()

    def verify(self, msg: bytes, sig: bytes) -> bool:
        pss = padding.PSS(mgf=padding.MGF1(self._hash), salt_length=self._hash.digest_size)
        try:
            self._key.verify(sig, msg, pss, self._hash)
        except InvalidSignature:
            return False
        return True


def _verifier(public: PublicKey, algorithm: str) -> Any:
    """The JWT library's key object verifying ``algorithm`` signatures with ``public``."""
    if algorithm.startswith("PS"):
        assert isinstance(public, rsa.RSAPublicKey)
        return _RsaPssKey(public, algorithm)
    if algorithm.startswith("RS"):
        return CryptographyRSAKey(public, algorithm)
    return CryptographyECKey(public, algorithm)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key and the algorithms it may verify, each with its parsed verifier."""

    verifiers: Mapping[str, Any]


def verification_key(jwk_dict: Mapping[str, Any], allowed: Collection[str]) -> VerificationKey | None:
    """Parse a published public JWK for the algorithms in ``allowed`` that fit it (and its ``alg``, when it
    names one); ``None`` for a key that cannot verify any of them: HMAC (``oct``) keys, encryption keys, weak
    RSA keys, unknown curves."""
    if jwk_dict.get("kty") not in ("EC", "RSA") or jwk_dict.get("use", "sig") != "sig":
        return None
    operations = jwk_dict.get("key_ops")
    if operations is not None and (not isinstance(operations, list) or "verify" not in operations):
        return None
    try:
        public = _public_key_of_jwk(jwk_dict)
    except UnusableKey:
        return None
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        return None
    algorithms = algorithms_for(public) & SIGNATURE_ALGORITHMS & frozenset(allowed)
    named = jwk_dict.get("alg")
    if named is not None:
        algorithms = algorithms & {named} if isinstance(named, str) else frozenset()
    if not algorithms:
        return None
    return VerificationKey({algorithm: _verifier(public, algorithm) for algorithm in sorted(algorithms)})


@dataclass(frozen=True, slots=True)
class _Verified:
    """A verified token's principal, and the key that verified it: a cached token is accepted only while that key
    is still trusted (a key withdrawn from a key set takes the tokens it verified with it)."""

    principal: Principal
    kid: str
    source: IssuerKeys[VerificationKey] | None


@dataclass(frozen=True, slots=True)
class _Parts:
    """What a JWT says about itself before its signature is checked."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def algorithm(self) -> Any:
        return self.header.get("alg")

    @property
    def kid(self) -> Any:
        return self.header.get("kid")


def _inspect(token: str, max_length: int, rejected: type[TokenRejected] = TokenRejected) -> _Parts:
    if not token or len(token) > max_length or token.count(".") != 2:
        raise rejected("malformed")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.get_unverified_claims(token)
    except Exception:  # whatever the library raises on garbage (deep nesting included) means "malformed"
        raise rejected("malformed") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise rejected("malformed")
    return _Parts(header, claims)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float (JSON allows one): no moment
        return None
    return number if math.isfinite(number) else None


def _check_times(claims: Mapping[str, Any], *, now: float, leeway: float, require_iat: bool) -> float:
    """Check ``exp`` (required), ``nbf`` and ``iat`` with ``leeway``; return ``exp``."""
    expires = _number(claims.get("exp"))
    if expires is None:
        raise TokenRejected("bad_claims")
    if now >= expires + leeway:
        raise TokenRejected("expired")
    for name in ("nbf", "iat"):
        if name not in claims:
            if name == "iat" and require_iat:
                raise TokenRejected("bad_claims")
            continue
        moment = _number(claims[name])
        if moment is None:
            raise TokenRejected("bad_claims")
        if moment > now + leeway:
            raise TokenRejected("not_yet_valid")
    return expires


def _audience_matches(claims: Mapping[str, Any], accepted: Collection[str]) -> bool:
    audience = claims.get("aud")
    values = [audience] if isinstance(audience, str) else audience
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        return False
    return any(value in accepted for value in values)


def _subject(claims: Mapping[str, Any]) -> str:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenRejected("bad_claims")
    return subject


def _assertion_issuer(claims: Mapping[str, Any]) -> str:
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or issuer != subject or not CLIENT_ID_PATTERN.fullmatch(issuer):
        # Not a client id (a NUL, a line break...): nothing to look up, nor to write to the logs as it is.
        raise AssertionRejected("bad_claims")
    return issuer


@dataclass(frozen=True, slots=True)
class _Signer:
    """The key signing the gateway's tokens, parsed once, and the encoded JOSE header of every token it signs
    (``alg``, ``kid``, ``typ``: the same for each, so encoded once)."""

    key: SigningKeyFile
    signer: Any
    header: bytes

    @classmethod
    def of(cls, key: SigningKeyFile) -> _Signer:
        # As the JWT library encodes a header: compact, keys sorted (its default "typ" replaced by ours).
        header = json.dumps({"alg": key.algorithm, "kid": key.kid, "typ": "at+jwt"}, separators=(",", ":"))
        return cls(key, jwk.construct(key.pem.decode(), key.algorithm), base64url_encode(header.encode()))

    def sign(self, claims: Mapping[str, Any]) -> str:
        """The compact JWS of ``claims`` (encoded as the JWT library encodes them)."""
        payload: bytes = base64url_encode(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = self.header + b"." + payload
        signature: bytes = base64url_encode(self.signer.sign(signing_input))
        return (signing_input + b"." + signature).decode()


def _verify_signature(token: str, verifier: Any, algorithm: str, rejected: type[TokenRejected]) -> None:
    try:
        jws.verify(token, verifier, algorithms=[algorithm])
    except Exception:  # the library's JWSError, or anything a crafted signature makes it raise
        raise rejected("bad_signature") from None


class TokenService:
    """Signs the gateway's tokens; verifies its own tokens, trusted issuers' tokens and client assertions."""

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
        trusted_issuers: Sequence[TrustedIssuer] = (),
        http: httpx.AsyncClient | None = None,
        assertion_audiences: Collection[str] = (),
        assertion_max_seconds: int = 300,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.leeway_seconds = leeway_seconds
        self.assertion_audiences = frozenset(assertion_audiences or (issuer,))
        self.assertion_max_seconds = assertion_max_seconds
        self._signing = _Signer.of(signing_key)
        self._keys: dict[str, tuple[str, Any]] = {}
        self.set_verification_keys(verification_keys)
        self.issuers: ExternalIssuers[VerificationKey] = ExternalIssuers(
            trusted_issuers, parse_for=self._parser_for, http=http
        )
        self._reload_own_keys: Throttled | None = None
        self._cache: TLRUCache[str, _Verified] = TLRUCache(
            maxsize=max(cache_size, 1),
            ttu=lambda _key, verified, _now: verified.principal.expires_at,
            timer=time.time,
        )
        self._cache_enabled = cache_size > 0

    @staticmethod
    def _parser_for(trusted: TrustedIssuer) -> Callable[[Mapping[str, Any]], VerificationKey | None]:
        allowed = frozenset(trusted.algorithms)
        return lambda jwk_dict: verification_key(jwk_dict, allowed)

    # -- keys --------------------------------------------------------------------------------------------

    @property
    def signing_key(self) -> SigningKeyFile:
        """The key signing new tokens."""
        return self._signing.key

    @property
    def signing_kid(self) -> str:
        """The ``kid`` of the key signing new tokens."""
        return self._signing.key.kid

    @property
    def verification_kids(self) -> frozenset[str]:
        """The ``kid`` of every key trusted for the gateway's own tokens."""
        return frozenset(self._keys)

    def set_signing_key(self, key: SigningKeyFile) -> None:
        """Sign new tokens with ``key`` from now on (it is trusted for verification too)."""
        self._signing = _Signer.of(key)
        if key.kid not in self._keys:
            self._keys = {**self._keys, key.kid: (key.algorithm, jwk.construct(dict(key.jwk), key.algorithm))}

    def set_verification_keys(self, keys: Sequence[Mapping[str, Any]]) -> None:
        """Replace the public keys trusted for the gateway's own tokens (JWKs with ``kid`` and ``alg``); the
        current signing key always stays trusted."""
        parsed: dict[str, tuple[str, Any]] = {}
        for key in (*keys, self._signing.key.jwk):
            algorithm, kid = key.get("alg"), key.get("kid")
            if not isinstance(algorithm, str) or algorithm not in ALLOWED_ALGORITHMS:
                continue
            if not isinstance(kid, str) or kid in parsed:
                continue
            try:
                parsed[kid] = (str(algorithm), jwk.construct(dict(key), algorithm))
            except Exception:  # noqa: S112 - a published key the library cannot read verifies nothing
                continue
        self._keys = parsed

    def reload_keys_with(self, reload: Callable[[], Coroutine[Any, Any, object]], min_interval: float) -> None:
        """On a token of this gateway with an unknown ``kid``, run ``reload`` (which should call
        :meth:`set_verification_keys`), at most once per ``min_interval`` seconds."""
        self._reload_own_keys = Throttled(reload, min_interval)

    async def start(self) -> None:
        """Start fetching the trusted issuers' keys in the background."""
        self.issuers.start()

    async def close(self) -> None:
        """Stop the background fetches, and a reload of the keys in progress."""
        await self.issuers.close()
        if self._reload_own_keys is not None:
            await self._reload_own_keys.cancel()

    # -- the gateway's own tokens --------------------------------------------------------------------------

    def issue(
        self, *, subject: str, scopes: Sequence[str], now: float | None = None, credential: str | None = None
    ) -> IssuedToken:
        """Sign a token for client ``subject`` carrying ``scopes``; ``credential`` names what the client
        authenticated with (:func:`credential_of_secret`, :func:`credential_of_key`): the token is accepted only
        while that credential is in force."""
        issued_at = int(now if now is not None else time.time())
        scope = " ".join(scopes)
        claims: dict[str, Any] = {
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
        if credential is not None:
            claims[CREDENTIAL_CLAIM] = credential
        return IssuedToken(access_token=self._signing.sign(claims), expires_in=self.ttl_seconds, scope=scope)

    # -- access tokens -----------------------------------------------------------------------------------

    def verify(self, token: str) -> Principal:
        """The principal of a valid access token, with the keys known now (no I/O); raise
        :class:`TokenRejected` with the reason otherwise. :meth:`verify_async` also fetches unknown keys."""
        cached = self._cached(token)
        if cached is not None:
            return cached
        parts, source = self._route(token)
        verifier = self._known_verifier(parts, source)
        return self._accept(token, parts, source, verifier)

    async def verify_async(self, token: str) -> Principal:
        """Like :meth:`verify`, but a token with an unknown ``kid`` first reloads the keys of its issuer (at
        most once per interval)."""
        cached = self._cached(token)
        if cached is not None:
            return cached
        parts, source = self._route(token)
        try:
            verifier = self._known_verifier(parts, source)
        except TokenRejected as exc:
            if exc.reason != "unknown_kid":
                raise
            verifier = await self._fetched_verifier(parts, source)
        return self._accept(token, parts, source, verifier)

    def _cached(self, token: str) -> Principal | None:
        if not self._cache_enabled:
            return None
        verified = self._cache.get(token)
        if verified is None:
            return None
        trusted = verified.kid in self._keys if verified.source is None else verified.source.get(verified.kid)
        if not trusted:
            # Its key left the trusted set (rotated out, withdrawn by its issuer): verified again, and refused.
            self._cache.pop(token, None)
            return None
        return verified.principal

    def _route(self, token: str) -> tuple[_Parts, IssuerKeys[VerificationKey] | None]:
        """The token's parts and whose it claims to be (``None``: the gateway's own)."""
        parts = _inspect(token, MAX_TOKEN_LENGTH)
        issuer = parts.claims.get("iss")
        if not isinstance(issuer, str):
            raise TokenRejected("bad_claims")
        source: IssuerKeys[VerificationKey] | None = None
        if issuer != self.issuer:
            source = self.issuers.get(issuer)
            if source is None:
                raise TokenRejected("unknown_issuer")
        if not isinstance(parts.algorithm, str) or parts.algorithm not in SIGNATURE_ALGORITHMS:
            # "none", HMAC and anything unknown, before any key lookup (and so before any fetch).
            raise TokenRejected("bad_algorithm")
        if not isinstance(parts.kid, str) or not parts.kid:
            raise TokenRejected("unknown_kid")
        return parts, source

    def _known_verifier(self, parts: _Parts, source: IssuerKeys[VerificationKey] | None) -> Any:
        if source is None:
            entry = self._keys.get(parts.kid)
            if entry is None:
                raise TokenRejected("unknown_kid")
            algorithm, verifier = entry
            if parts.algorithm != algorithm:
                raise TokenRejected("bad_algorithm")
            return verifier
        key = source.get(parts.kid)
        if key is None:
            raise TokenRejected("unknown_kid")
        return self._algorithm_verifier(key, parts)

    async def _fetched_verifier(self, parts: _Parts, source: IssuerKeys[VerificationKey] | None) -> Any:
        if source is None:
            if self._reload_own_keys is not None:
                await self._reload_own_keys()
            return self._known_verifier(parts, source)
        key = await source.find(parts.kid)
        if key is None:
            raise TokenRejected("unknown_kid")
        return self._algorithm_verifier(key, parts)

    @staticmethod
    def _algorithm_verifier(key: VerificationKey, parts: _Parts) -> Any:
        verifier = key.verifiers.get(parts.algorithm)
        if verifier is None:
            raise TokenRejected("bad_algorithm")
        return verifier

    def _accept(
        self, token: str, parts: _Parts, source: IssuerKeys[VerificationKey] | None, verifier: Any
    ) -> Principal:
        _verify_signature(token, verifier, parts.algorithm, TokenRejected)
        principal = self._own_principal(parts) if source is None else self._external_principal(parts, source.trusted)
        if self._cache_enabled:
            self._cache[token] = _Verified(principal, parts.kid, source)
        return principal

    def _own_principal(self, parts: _Parts) -> Principal:
        claims = parts.claims
        expires = _check_times(claims, now=time.time(), leeway=self.leeway_seconds, require_iat=True)
        if not _audience_matches(claims, (self.audience,)):
            raise TokenRejected("wrong_audience")
        subject = _subject(claims)
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise TokenRejected("bad_claims")
        credential = claims.get(CREDENTIAL_CLAIM, "")
        if not isinstance(credential, str) or len(credential) > MAX_CREDENTIAL_LENGTH:
            raise TokenRejected("bad_claims")
        return Principal(
            client_id=subject,
            scopes=frozenset(scope.split()),
            token_id=str(claims.get("jti", "")),
            expires_at=expires,
            issuer=self.issuer,
            subject=subject,
            credential=credential,
        )

    def _external_principal(self, parts: _Parts, trusted: TrustedIssuer) -> Principal:
        claims = parts.claims
        expires = _check_times(claims, now=time.time(), leeway=self.leeway_seconds, require_iat=False)
        if not _audience_matches(claims, (trusted.audience or self.audience,)):
            raise TokenRejected("wrong_audience")
        subject = _subject(claims)
        client_id = claims.get(trusted.client_claim)
        if not isinstance(client_id, str) or not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
            raise TokenRejected("bad_claims")
        if trusted.clients is not None and client_id not in trusted.clients:
            raise TokenRejected("unknown_client")
        jti = claims.get("jti")
        return Principal(
            client_id=client_id,
            # Derived from the client's grants by the caller: the issuer's own scope claim is not trusted.
            scopes=frozenset(),
            token_id=jti if isinstance(jti, str) else "",
            expires_at=expires,
            issuer=trusted.issuer,
            subject=subject,
            external=True,
            data_only=trusted.clients is None,
        )

    # -- client assertions (private_key_jwt) -----------------------------------------------------------------

    @staticmethod
    def assertion_client_id(assertion: str) -> str:
        """The client an assertion claims to come from (``iss`` = ``sub``), before anything is verified."""
        return _assertion_issuer(_inspect(assertion, MAX_ASSERTION_LENGTH, AssertionRejected).claims)

    def verify_client_assertion(
        self, assertion: str, keys: Iterable[tuple[str, str, Mapping[str, Any]]], *, now: float | None = None
    ) -> ClientAssertion:
        """Verify a client assertion (RFC 7523 section 3) against the client's usable keys, given as
        ``(kid, algorithm, public JWK)``: signed with one of them by its registered algorithm; ``iss`` = ``sub``;
        ``aud`` naming one of :attr:`assertion_audiences`; ``exp`` required and at most
        :attr:`assertion_max_seconds` after ``iat`` (or after now); a ``jti``. Raise :class:`AssertionRejected`.
        """
        parts = _inspect(assertion, MAX_ASSERTION_LENGTH, AssertionRejected)
        client_id = _assertion_issuer(parts.claims)
        algorithm = parts.algorithm
        if not isinstance(algorithm, str) or algorithm not in SIGNATURE_ALGORITHMS:
            raise AssertionRejected("bad_algorithm")
        kid = parts.kid
        candidates = [(k, alg, key) for k, alg, key in keys if kid is None or k == kid]
        if not candidates:
            raise AssertionRejected("unknown_key")
        candidates = [(k, alg, key) for k, alg, key in candidates if alg == algorithm]
        if not candidates:
            raise AssertionRejected("bad_algorithm")
        used: str | None = None
        for candidate_kid, _alg, public in candidates:
            verifier = verification_key(public, (algorithm,))
            if verifier is None:
                continue
            try:
                _verify_signature(assertion, verifier.verifiers[algorithm], algorithm, AssertionRejected)
            except AssertionRejected:
                continue
            used = candidate_kid
            break
        if used is None:
            raise AssertionRejected("bad_signature")
        claims = parts.claims
        if not _audience_matches(claims, self.assertion_audiences):
            raise AssertionRejected("wrong_audience")
        moment = time.time() if now is None else now
        try:
            expires = _check_times(claims, now=moment, leeway=self.leeway_seconds, require_iat=False)
        except TokenRejected as exc:
            raise AssertionRejected(exc.reason) from None
        issued = _number(claims.get("iat"))
        if expires - moment > self.assertion_max_seconds + self.leeway_seconds or (
            issued is not None and expires - issued > self.assertion_max_seconds
        ):
            raise AssertionRejected("too_long")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise AssertionRejected("bad_claims")
        return ClientAssertion(client_id=client_id, jti=jti, expires_at=expires + self.leeway_seconds, kid=used)


# -- signed statements (not tokens): the audit trail's seals ---------------------------------------------------


def sign_statement(payload: bytes, key: SigningKeyFile, *, typ: str) -> str:
    """A compact JWS of ``payload`` signed with the gateway's ``key``, its ``kid`` and ``typ`` in the header:
    for signed statements that are not access tokens, such as the audit trail's seals."""
    signer = jwk.construct(key.pem.decode(), key.algorithm)
    signed: str = jws.sign(payload, signer, headers={"kid": key.kid, "typ": typ}, algorithm=key.algorithm)
    return signed


def verify_statement(statement: str, public_jwks: Mapping[str, Mapping[str, Any]], *, typ: str) -> bytes:
    """The payload of a statement made by :func:`sign_statement`, once its signature is checked with the
    published key its ``kid`` names (``public_jwks`` maps kid to public JWK).

    Raises :class:`TokenRejected`: ``malformed`` (or another ``typ``), ``unknown_kid``, ``bad_algorithm``,
    ``bad_signature``.
    """
    if not statement or len(statement) > MAX_TOKEN_LENGTH or statement.count(".") != 2:
        raise TokenRejected("malformed")
    try:
        header = jws.get_unverified_header(statement)
    except Exception:  # whatever the library raises on garbage means "malformed"
        raise TokenRejected("malformed") from None
    if not isinstance(header, dict) or header.get("typ") != typ:
        raise TokenRejected("malformed")
    kid, algorithm = header.get("kid"), header.get("alg")
    public = public_jwks.get(kid) if isinstance(kid, str) else None
    if public is None:
        raise TokenRejected("unknown_kid")
    key = verification_key(public, ALLOWED_ALGORITHMS)
    if key is None or not isinstance(algorithm, str) or algorithm not in key.verifiers:
        raise TokenRejected("bad_algorithm")
    try:
        payload: bytes = jws.verify(statement, key.verifiers[algorithm], algorithms=[algorithm])
    except Exception:  # the library's JWSError, or anything a crafted signature makes it raise
        raise TokenRejected("bad_signature") from None
    return payload
