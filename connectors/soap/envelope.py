"""Reading SOAP answers safely: a hardened XML parser, the SOAP Body, and SOAP Faults turned into connector errors.

The parser never expands entities, never loads a DTD or anything over the network, and refuses any document
with a document type declaration (SOAP 1.1 §3 and SOAP 1.2 part 1 §5 forbid them in messages), so that an
upstream cannot make the gateway expand a "billion laughs" or read local files. Messages of the errors name the
kind of failure and at most a fault's code, never the fault's text (it may quote personal data).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from lxml import etree

from connectors.errors import ConnectorError, RecordNotFound, UpstreamError, UpstreamRefused

__all__ = ["SOAP11_ENV", "SOAP12_ENV", "Envelope", "SoapFault", "fault_error", "parse_envelope"]

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
_ENVELOPES = {SOAP11_ENV, SOAP12_ENV}
_PRINTABLE_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_CLIENT_CODES = frozenset({"Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"})
_SERVER_CODES = frozenset({"Server", "Receiver"})


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


@dataclass(frozen=True, slots=True)
class SoapFault:
    """A SOAP Fault: its code and subcodes as ``(namespace, local name)`` pairs (SOAP 1.1 has no subcodes)."""

    code: tuple[str | None, str]
    subcodes: tuple[tuple[str | None, str], ...] = ()

    def names(self) -> set[str]:
        """Every code of the fault, as local names and as ``{namespace}name``."""
        found: set[str] = set()
        for namespace, local in (self.code, *self.subcodes):
            found.add(local)
            if namespace:
                found.add(f"{{{namespace}}}{local}")
        return found


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed SOAP answer: the document's root, its Body, and its Fault if it holds one."""

    root: etree._Element
    body: etree._Element
    fault: SoapFault | None


def parse_envelope(content: bytes, label: str, *, peer: str | None = None) -> Envelope:
    """Parse ``content`` as a SOAP 1.1 or 1.2 envelope, or raise a ``protocol`` :class:`UpstreamError` (naming
    ``peer``, the party whose answer it is, when given: the integration platform's, through one)."""
    whose = f"{peer}'s answer" if peer else "the answer"
    try:
        root = etree.fromstring(content, parser=_parser())
    except (etree.XMLSyntaxError, ValueError):
        raise UpstreamError(f"{label}: {whose} is not well-formed XML", reason="protocol") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UpstreamError(f"{label}: {whose} carries a DTD, which SOAP forbids", reason="protocol")
    qname = etree.QName(root)
    if qname.localname != "Envelope" or qname.namespace not in _ENVELOPES:
        raise UpstreamError(f"{label}: {whose} is not a SOAP envelope", reason="protocol")
    namespace = qname.namespace
    body = root.find(f"{{{namespace}}}Body")
    if body is None:
        raise UpstreamError(f"{label}: the SOAP envelope has no Body", reason="protocol")
    fault_element = body.find(f"{{{namespace}}}Fault")
    fault = _read_fault(fault_element, namespace) if fault_element is not None else None
    return Envelope(root, body, fault)


def _qname(element: etree._Element | None) -> tuple[str | None, str] | None:
    if element is None or not element.text or not element.text.strip():
        return None
    prefix, _, local = element.text.strip().rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    return namespace, local


def _read_fault(fault: etree._Element, namespace: str) -> SoapFault:
    if namespace == SOAP11_ENV:
        code = _qname(fault.find("faultcode"))
        return SoapFault(code or (None, "Server"))
    code = _qname(fault.find(f"{{{namespace}}}Code/{{{namespace}}}Value"))
    subcodes: list[tuple[str | None, str]] = []
    current = fault.find(f"{{{namespace}}}Code/{{{namespace}}}Subcode")
    while current is not None and len(subcodes) < 8:
        value = _qname(current.find(f"{{{namespace}}}Value"))
        if value is not None:
            subcodes.append(value)
        current = current.find(f"{{{namespace}}}Subcode")
    return SoapFault(code or (None, "Receiver"), tuple(subcodes))


def fault_error(fault: SoapFault, label: str, *, not_found: Collection[str]) -> ConnectorError:
    """The connector error of ``fault``: not found when one of its codes is in ``not_found``; refused credentials
    (``refused``) for a security or authentication fault; a rejected call (``protocol``) for another client/sender
    fault; a failure of the service (``status_5xx``) for a server/receiver one.

    SOAP 1.1 codes are dotted (``Client.Authentication``): the part before the first dot says whose fault it is.
    """
    if fault.names() & set(not_found):
        return RecordNotFound(f"no {label} record with that key")
    namespace, local = fault.code
    shown = local if _PRINTABLE_CODE.fullmatch(local) else "unreadable"
    base = local.split(".", 1)[0]
    if "security" in (namespace or "").lower() or "Authentication" in local:
        return UpstreamRefused(f"{label}: the service refused the gateway's credentials (SOAP Fault {shown})")
    if namespace in _ENVELOPES and base in _SERVER_CODES:
        return UpstreamError(f"{label}: the service failed (SOAP Fault {shown})", reason="status_5xx")
    if namespace in _ENVELOPES and base in _CLIENT_CODES:
        return UpstreamError(f"{label}: the service rejected the call (SOAP Fault {shown})", reason="protocol")
    return UpstreamError(f"{label}: the service answered with a SOAP Fault ({shown})", reason="protocol")
