"""The axis profile in the SOAP connector: the platform's authentication and metadata as HTTP headers of every call,
its result code read from the answer (XPath from the SOAP envelope's root, usually a block of the SOAP Header)
before the SOAP Body is, in answers with status 200 and in XML answers with one of the envelope's ``statuses``.

The headers go to the configured ``address`` only (the configuration requires it with ``axis``), never to the
address a WSDL names. The WSDL is read without the platform's headers: point ``wsdl`` at a local copy, or at the
description the platform publishes.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.http import HttpClient
from connectors.platform import AxisProfile, PlatformSession

from .envelope import Envelope
from .mapping import XPathEvaluator, compile_xpath, xpath_namespaces, xpath_value

__all__ = ["SoapPlatform"]


class SoapPlatform:
    """Speaks the platform's protocol for a SOAP connector."""

    def __init__(self, profile: AxisProfile, namespaces: Mapping[str, str], *, label: str) -> None:
        self.session = PlatformSession(profile, label=label)
        envelope = profile.envelope
        #: The HTTP statuses besides 200 whose XML answers are read for the platform's result code.
        self.statuses: frozenset[int] = frozenset(envelope.statuses) if envelope is not None else frozenset()
        known = xpath_namespaces(namespaces)
        self._code: XPathEvaluator | None = None
        self._correlation: XPathEvaluator | None = None
        if envelope is not None:
            self._code = compile_xpath(envelope.result_code, known)
            if envelope.correlation_id:
                self._correlation = compile_xpath(envelope.correlation_id, known)

    @property
    def refreshable(self) -> bool:
        """Whether a 401 is worth a new token."""
        return self.session.refreshable

    async def headers(self, http: HttpClient, deadline: float) -> dict[str, str]:
        """The platform's authentication and the current call's metadata, as headers."""
        return {**await self.session.auth_headers(http, deadline), **self.session.metadata_headers()}

    @property
    def wraps(self) -> bool:
        """Whether the platform's answers carry its result code (the profile describes its envelope)."""
        return self._code is not None

    def judge(self, envelope: Envelope) -> str | None:
        """Raise the connector error the answer's result code means, if it is not a success; else return the
        success code, or ``None`` for an answer without one (judged by its Body, as without the platform)."""
        if self._code is None:
            return None
        code = xpath_value(self._code(envelope.root))
        correlation = xpath_value(self._correlation(envelope.root)) if self._correlation is not None else None
        verdict = self.session.verdict(code if isinstance(code, str) and code else None, correlation)
        if verdict.error is not None:
            raise verdict.error
        return verdict.code
