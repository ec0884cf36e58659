"""A simulated national data integration platform (NDXP) / provincial LGSP: the hub the gateway reaches sector
systems through, with LGSP authentication, request metadata and its own answer envelope (see :mod:`.app`).

:func:`axis_profile` is the ``axis`` setting of a REST or SOAP connector that speaks to the hub;
:func:`via_hub` turns a sector system's direct connector configuration into one through the hub (registering the
integration service on the hub, with the sector system's credentials held by the hub).
"""

from __future__ import annotations

import copy
from typing import Any, Literal
from urllib.parse import urlsplit

from .app import CODES, HUB_NAMESPACE, METADATA, HubCredentials, HubMisbehaviour, HubRoute, NdxpHub, Received

__all__ = [
    "CHECK_AGENCY",
    "CHECK_PURPOSE",
    "CODES",
    "HUB_NAMESPACE",
    "METADATA",
    "HubCredentials",
    "HubMisbehaviour",
    "HubRoute",
    "NdxpHub",
    "Received",
    "axis_profile",
    "via_hub",
]

#: The procedure code and agency code health checks state (they run outside any caller's request).
CHECK_PURPOSE = "1.001612.000.00.00.H41"
CHECK_AGENCY = "000.00.00.H41"
_CHECK_FALLBACK = {"purpose": CHECK_PURPOSE, "agency_code": CHECK_AGENCY}


def axis_profile(
    hub_url: str,
    service: str,
    *,
    protocol: Literal["rest", "soap"] = "rest",
    credentials: HubCredentials | None = None,
    token_method: Literal["POST", "GET"] = "POST",  # noqa: S107 - an HTTP method
    token_header: str = "Authorization",  # noqa: S107 - a header name
    location: Literal["header", "fields"] = "header",
    fallback: dict[str, str] | None = None,
    platform: str = "NDXP (simulated)",
) -> dict[str, Any]:
    """The ``axis`` setting of a connector reaching the integration service ``service`` of the hub at
    ``hub_url``: LGSP authentication with a token (OAuth 2.0 ``POST`` or plain ``GET``; sent as a bearer token
    in ``Authorization`` or bare in another header), NDXP's metadata names (``MaTichHop`` the service), the hub's
    envelope. ``fallback`` defaults to a procedure and agency code for health checks."""
    creds = credentials or HubCredentials()
    token: dict[str, Any] = {"url": f"{hub_url.rstrip('/')}/token", "method": token_method}
    if token_method == "POST":  # noqa: S105 - an HTTP method
        token |= {"client_id": creds.client_id, "client_secret": creds.client_secret}
    if token_header.lower() != "authorization":
        token |= {"header": token_header, "scheme": None}
    codes = {
        "success_codes": ["00"],
        "not_found_codes": ["01"],
        "refused_codes": ["10", "11", "12", "13"],
        "unavailable_codes": ["97"],
        "timeout_codes": ["98"],
    }
    if protocol == "rest":
        envelope: dict[str, Any] = {
            "result_code": "MaKetQua",
            "message": "ThongDiep",
            "correlation_id": "MaGiaoDich",
            "payload": "DuLieu",
        }
    else:
        # From the envelope's root, whatever the SOAP version and without a namespace prefix to configure.
        block = "*[local-name()='Header']/*[local-name()='KetQua']"
        envelope = {
            "result_code": f"{block}/*[local-name()='MaKetQua']",
            "message": f"{block}/*[local-name()='ThongDiep']",
            "correlation_id": f"{block}/*[local-name()='MaGiaoDich']",
            "payload": None,
        }
    return {
        "platform": platform,
        "auth": {
            "access_key": creds.access_key,
            "secret_key": creds.secret_key,
            "app_name": creds.app_name,
            "partner_code": creds.partner_code,
            "partner_code_cus": creds.partner_code_cus,
            "token_endpoint": token,
        },
        "metadata": {
            "location": location,
            "constants": {"MaTichHop": service},
            "fallback": dict(_CHECK_FALLBACK if fallback is None else fallback),
        },
        "envelope": envelope | codes,
    }


def _upstream_credentials(auth: dict[str, Any] | None) -> dict[str, str]:
    """The headers the hub sends the sector system for the connector's own ``auth`` setting."""
    if not auth or auth.get("type") == "none":
        return {}
    if auth["type"] == "api_key":
        return {auth.get("header", "X-API-Key"): auth["key"]}
    if auth["type"] == "bearer":
        return {"Authorization": f"Bearer {auth['token']}"}
    raise ValueError(f"the hub cannot hold {auth['type']!r} credentials for a sector system")


def via_hub(
    hub: NdxpHub,
    hub_url: str,
    service: str,
    config: dict[str, Any],
    *,
    protocol: Literal["rest", "soap"],
    **profile: Any,
) -> dict[str, Any]:
    """The configuration of a connector reaching, through the hub at ``hub_url``, the sector system its direct
    ``config`` reaches; registers the integration service ``service`` on ``hub``.

    REST: the base URL becomes the service's on the hub and the connector's credentials (an API key, a bearer
    token) are the hub's to send. SOAP: the WSDL is read, and calls sent, through the hub (the WS-Security header
    travels in the envelope, end to end). ``profile`` goes to :func:`axis_profile`.
    """
    routed = copy.deepcopy(config)
    hub_url = hub_url.rstrip("/")
    if protocol == "rest":
        upstream = routed["base_url"]
        hub.register(HubRoute(service, upstream, "rest", _upstream_credentials(routed.pop("auth", None))))
        routed["base_url"] = f"{hub_url}/ndxp/{service}"
    else:
        parts = urlsplit(routed["wsdl"])
        hub.register(HubRoute(service, f"{parts.scheme}://{parts.netloc}", "soap"))
        routed["wsdl"] = f"{hub_url}/ndxp/{service}{parts.path}?wsdl"
        routed["address"] = f"{hub_url}/ndxp/{service}{parts.path}"
    routed["axis"] = axis_profile(hub_url, service, protocol=protocol, **profile)
    return routed
