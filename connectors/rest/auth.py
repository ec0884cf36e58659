"""Authenticating to the sector API: fixed headers for keys and tokens, OAuth 2.0 client credentials with a cache.

An :class:`Authenticator` gives the headers of the next request; only the OAuth 2.0 one ever calls the network.
Its token is the HTTP base's shared token (:class:`connectors.http.SharedToken`, as the integration platform's
is): fetched once for any number of concurrent callers (single flight, its failure shared), renewed in the
background shortly before it expires while calls go on with it, and dropped when the sector API answers 401 to
it, so that the next attempt fetches a fresh one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

import orjson

from connectors.errors import UpstreamError
from connectors.http import HttpClient, SharedToken, Token, issued_token, json_body, parse_retry_after, token_lifetime

from .config import AccessKeyAuth, ApiKeyAuth, Auth, BearerAuth, NoAuth, OAuth2ClientCredentials

__all__ = ["Authenticator", "OAuth2Authenticator", "StaticAuthenticator", "TokenRefused", "make_authenticator"]


class TokenRefused(Exception):
    """The token endpoint did not issue a token: ``status`` is its HTTP status (0 for an unreadable answer) and
    ``retry_after`` the wait its ``Retry-After`` asked for with a 429 or a 503, in seconds (else ``None``)."""

    def __init__(self, status: int, *, retry_after: float | None = None) -> None:
        super().__init__(f"the token endpoint answered {status or 'something unreadable'}")
        self.status = status
        self.retry_after = retry_after


class Authenticator:
    """Gives the authentication headers of a request. The base class sends none."""

    refreshable = False
    """Whether :meth:`invalidate` can make a later attempt succeed after a 401."""

    async def headers(self, http: HttpClient, deadline: float) -> Mapping[str, str]:
        """The headers to add to the next request (may fetch a token through ``http`` before ``deadline``, on the
        running loop's clock)."""
        return {}

    def invalidate(self, used: Mapping[str, str]) -> None:
        """Forget the credential in ``used`` (headers of a request answered 401), if it is still the current one."""

    def refusal(self, status: int) -> UpstreamError | None:
        """The error of a call answered ``status`` (401 or 403) for good, when this scheme names one (an axis
        profile's platform refusing the gateway); ``None`` for the usual upstream error."""
        return None

    async def aclose(self) -> None:
        """Let go of what the scheme holds on the network (a token request under way); called by the client's
        ``close``, before the connections are closed."""


class StaticAuthenticator(Authenticator):
    """Fixed headers: a bearer token, an API key, or an application name with its access and secret keys."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self, http: HttpClient, deadline: float) -> Mapping[str, str]:
        """The fixed headers."""
        return self._headers


class OAuth2Authenticator(Authenticator):
    """OAuth 2.0 client credentials: a cached bearer token, fetched once for all concurrent callers and renewed
    beside them (:class:`connectors.http.SharedToken`)."""

    refreshable = True

    def __init__(self, config: OAuth2ClientCredentials, *, label: str = "rest") -> None:
        self._config = config
        # The token's value is the request's headers, made once per token: a call with a valid token allocates none.
        self._shared: SharedToken[Mapping[str, str]] = SharedToken(self._fetch, label=label, what="the OAuth 2.0 token")

    async def headers(self, http: HttpClient, deadline: float) -> Mapping[str, str]:
        """``Authorization: Bearer <token>``: the cached token, else the one the token request under way brings.
        Callers waiting while a token request fails share its failure: twenty calls meeting a failing token
        endpoint send it one request, not twenty one after another. A token due for renewal still serves calls
        while its successor is fetched in the background."""
        token = self._shared.usable(http) or await self._shared.get(http, deadline)
        return token.value

    async def _fetch(self, http: HttpClient, deadline: float) -> Token[Mapping[str, str]]:
        config = self._config
        secret = config.client_secret.get_secret_value()
        form = {"grant_type": "client_credentials"}
        if config.scope:
            form["scope"] = config.scope
        headers = {"Accept": "application/json"}
        requested = time.monotonic()
        if config.client_auth == "client_secret_post":
            form |= {"client_id": config.client_id, "client_secret": secret}
            response = await http.request("POST", config.token_url, data=form, headers=headers, deadline=deadline)
        else:
            # RFC 6749 §2.3.1: both are form-urlencoded before they become the Basic credentials.
            basic = (quote_plus(config.client_id), quote_plus(secret))
            response = await http.request(
                "POST", config.token_url, data=form, basic=basic, headers=headers, deadline=deadline
            )
        if response.status != 200:
            wait = response.headers.get("Retry-After") if response.status in {429, 503} else None
            raise TokenRefused(response.status, retry_after=parse_retry_after(wait))
        try:
            body: Any = json_body(response.content)
        except orjson.JSONDecodeError:
            raise TokenRefused(0) from None
        access_token = body.get("access_token") if isinstance(body, dict) else None
        token_type = str(body.get("token_type", "Bearer")) if isinstance(body, dict) else ""
        if not isinstance(access_token, str) or not access_token or token_type.lower() != "bearer":
            raise TokenRefused(0)
        if not (access_token.isascii() and access_token.isprintable()):
            raise TokenRefused(0)  # it goes in a header: ASCII text only (no line breaks, no other characters)
        lifetime = token_lifetime(body.get("expires_in"), config.default_expires_in_seconds)
        return issued_token(
            {"Authorization": f"Bearer {access_token}"},
            requested=requested,
            lifetime=lifetime,
            refresh_margin=config.refresh_margin_seconds,
        )

    def invalidate(self, used: Mapping[str, str]) -> None:
        """Drop the cached token if it is the one the sector API just refused (not a newer one)."""
        token = self._shared.cached
        if token is not None and used.get("Authorization") == token.value["Authorization"]:
            self._shared.drop(token)

    async def aclose(self) -> None:
        """Let go of a token request under way (see :meth:`connectors.http.SharedToken.aclose`)."""
        await self._shared.aclose()


def make_authenticator(auth: Auth, *, label: str = "rest") -> Authenticator:
    """The authenticator of a configured scheme (``label`` names the connector in errors)."""
    match auth:
        case NoAuth():
            return Authenticator()
        case BearerAuth(token=token):
            return StaticAuthenticator({"Authorization": f"Bearer {token.get_secret_value()}"})
        case ApiKeyAuth(header=header, key=key):
            return StaticAuthenticator({header: key.get_secret_value()})
        case AccessKeyAuth():
            return StaticAuthenticator(
                {
                    auth.app_name_header: auth.app_name,
                    auth.access_key_header: auth.access_key.get_secret_value(),
                    auth.secret_key_header: auth.secret_key.get_secret_value(),
                }
            )
        case OAuth2ClientCredentials():
            return OAuth2Authenticator(auth, label=label)
    raise TypeError(f"unknown authentication scheme {type(auth).__name__}")  # pragma: no cover
