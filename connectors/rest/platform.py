"""The axis profile in the REST connector: the platform's headers on every call, its metadata in the request's
fields when so configured, and its envelope read before the connector's own mapping.

:class:`PlatformAuthenticator` adds the platform's authentication and metadata headers to those of the
connector's own scheme (the sector system's, passed through the platform); :class:`RestPlatform` puts metadata
in query parameters or JSON bodies and unwraps the envelope: a success hands the payload to the connector, any
other result code becomes the connector error it means (see :class:`connectors.platform.EnvelopeProfile`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson

from connectors.errors import UpstreamError
from connectors.http import PLATFORM, SECTOR_SYSTEM, HttpClient, from_status, json_body
from connectors.platform import AxisProfile, PlatformSession
from connectors.record_mapping import answer_expression

from .auth import Authenticator
from .client import Answer

__all__ = ["PlatformAuthenticator", "RestPlatform"]

_NOT_JSON = object()


class PlatformAuthenticator(Authenticator):
    """The connector's own authentication, plus the platform's (``lgspaccesstoken``, its token) and the call's
    metadata headers."""

    def __init__(self, inner: Authenticator, session: PlatformSession) -> None:
        self._inner = inner
        self._session = session
        self.refreshable = inner.refreshable or session.refreshable

    async def headers(self, http: HttpClient, deadline: float) -> Mapping[str, str]:
        """The connector's headers, then the platform's: authentication and the current call's metadata."""
        own = await self._inner.headers(http, deadline)
        platform = await self._session.auth_headers(http, deadline)
        return {**own, **platform, **self._session.metadata_headers()}

    def invalidate(self, used: Mapping[str, str]) -> None:
        """Forget whichever of the tokens in ``used`` is still cached."""
        self._inner.invalidate(used)
        self._session.invalidate(used)

    def refusal(self, status: int) -> UpstreamError | None:
        """A 401 or 403 is the platform refusing the gateway."""
        return self._session.refused(status)

    async def aclose(self) -> None:
        """Let go of the token requests under way: the connector's own, and the platform's."""
        try:
            await self._inner.aclose()
        finally:
            await self._session.aclose()


class RestPlatform:
    """Reads the platform's envelope and places its metadata in a REST connector's requests.

    It is the :class:`connectors.rest.client.Enveloped` of the connector's client: an answer whose status is one
    of the envelope's ``statuses`` is handed to the caller (:meth:`unwrap`) only when it :meth:`carries` a result
    code; without one (a maintenance page of the platform or of a proxy before it) it is the platform's failure,
    which the client retries as any other.
    """

    def __init__(self, profile: AxisProfile, *, label: str) -> None:
        self.session = PlatformSession(profile, label=label)
        self.label = label
        envelope = profile.envelope
        #: The HTTP statuses besides a call's own whose answers are read for the platform's result code.
        self.statuses: frozenset[int] = frozenset(envelope.statuses) if envelope is not None else frozenset()
        self._code = answer_expression(envelope.result_code) if envelope is not None else None
        self._correlation = (
            answer_expression(envelope.correlation_id) if envelope is not None and envelope.correlation_id else None
        )
        self._payload = answer_expression(envelope.payload) if envelope is not None and envelope.payload else None

    def authenticator(self, inner: Authenticator) -> PlatformAuthenticator:
        """``inner`` with the platform's headers added."""
        return PlatformAuthenticator(inner, self.session)

    def carries(self, answer: Answer) -> bool:
        """Whether ``answer`` is the platform's envelope: a JSON object holding a result code."""
        if self._code is None:
            return False
        try:
            body: Any = json_body(answer.content)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(body, dict):
            return False
        code = self._code(body)
        return code is not None and not isinstance(code, bool | dict | list)

    def params(self, params: Mapping[str, str]) -> dict[str, str]:
        """Query parameters with the metadata added (when it goes in the request's fields)."""
        return {**params, **self.session.metadata_fields()}

    def body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON body with the metadata added (when it goes in the request's fields)."""
        return {**body, **self.session.metadata_fields()}

    def unwrap(self, answer: Answer, expected: Collection[int], *, require_json: bool = True) -> Any:
        """The payload of ``answer``, or the connector error its envelope (or, without one, its status) means.

        ``expected`` are the statuses the call takes as answers; an answer outside them is read only for its
        envelope (the client hands over no other). Without ``require_json``, a body that is not JSON is no error (a
        health endpoint's page)."""
        try:
            body: Any = json_body(answer.content)
        except orjson.JSONDecodeError:
            body = _NOT_JSON
        envelope = isinstance(body, dict) and self._code is not None
        code = self._code(body) if envelope and self._code is not None else None
        correlation = self._correlation(body) if envelope and self._correlation is not None else None
        verdict = self.session.verdict(code, correlation)
        if verdict.error is not None:
            raise verdict.error
        if answer.status not in expected:
            if answer.status == 403:  # no envelope to say otherwise: the platform refuses the gateway
                raise self.session.refused(403)
            raise from_status(answer.status, self.label, retry=frozenset(), peer=PLATFORM).error
        if body is _NOT_JSON:
            if require_json:
                # Through a platform that wraps every answer in its envelope, the page is the platform's own.
                whose = PLATFORM if self._code is not None else SECTOR_SYSTEM
                raise UpstreamError(f"{self.label}: {whose}'s answer is not JSON", reason="protocol")
            return None
        if verdict.code is not None and self._payload is not None:
            return self._payload(body)
        return body
