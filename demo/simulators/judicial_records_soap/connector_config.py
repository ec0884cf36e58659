"""Connector configurations for the simulated judicial records service.

:func:`soap_connector_config` is the generic ``soap`` connector's, complete: fields are XPath expressions over a
``lltp:HoSo`` element (``mapping="xpath"``, those of :mod:`connectors.judicial_records.mapping`: the contract
judges the text the service sent), or JMESPath over zeep's objects (``mapping="zeep"``). The service's code lists
are value maps: ``GioiTinh`` 1/2, ``TrangThai`` 1-4, ``LoaiPhieu`` 1/2, ``MaCoQuan`` ``STP<province>``.
:func:`judicial_records_config` is the dedicated ``judicial_records`` connector's (its defaults do the rest).
"""

from __future__ import annotations

from typing import Any, Literal

from connectors.judicial_records import mapping as service
from contracts.provinces import BIRTH_REGISTRATION_PROVINCES

from .app import SoapCredentials
from .records import authority_code
from .wsdl import SERVICE_PATH

__all__ = ["judicial_records_config", "soap_connector_config"]

_ZEEP_FIELDS = {
    "request_number": "SoHoSo",
    "applicant.personal_id": "NguoiYeuCau.SoDinhDanh",
    "applicant.full_name": "NguoiYeuCau.HoTen",
    "applicant.date_of_birth": "NguoiYeuCau.NgaySinh",
    "applicant.gender": "NguoiYeuCau.GioiTinh",
    "certificate_type": "LoaiPhieu",
    "purpose": "MucDich",
    "requested_on": "NgayTiepNhan",
    "issued_on": "NgayCap",
    "status": "TrangThai",
    "issuing_authority": "MaCoQuan",
    "states_criminal_record": "CoAnTich",
}


def _current_provinces() -> list[str]:
    return sorted({province.current_province_code for province in BIRTH_REGISTRATION_PROVINCES.values()})


def soap_connector_config(
    base_url: str,
    *,
    auth: Literal["wsse", "wsse_digest", "basic", "bearer", "none"] = "wsse",
    mapping: Literal["xpath", "zeep"] = "xpath",
    credentials: SoapCredentials | None = None,
    ping: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """The configuration reaching the service at ``base_url`` (``http://127.0.0.1:8123``) with the given
    authentication scheme and mapping style; ``options`` override top-level settings (``timeout_seconds``...)."""
    xpath = mapping == "xpath"
    value_maps: dict[str, dict[str, object]] = {path: dict(codes) for path, codes in service.VALUE_MAPS.items()}
    if not xpath:
        value_maps["issuing_authority"] = {authority_code(code): code for code in _current_provinces()}
    config: dict[str, Any] = {
        "wsdl": f"{base_url.rstrip('/')}{SERVICE_PATH}?wsdl",
        "contract": "judicial_records.certificate_request",
        "auth": _auth(auth, credentials),
        "mapping": mapping,
        "namespaces": {"lltp": service.NAMESPACE} if xpath else {},
        "get": dict(service.GET) | ({} if xpath else {"record": "@"}),
        "search": dict(service.SEARCH) | ({} if xpath else {"items": "DanhSach.HoSo", "total": "TongSo"}),
        "fields": dict(service.FIELDS) if xpath else dict(_ZEEP_FIELDS),
        "value_maps": value_maps,
        "not_found_faults": list(service.NOT_FOUND_FAULTS),
    }
    if ping:
        config["ping"] = dict(service.PING)
    return config | options


def _auth(auth: str, credentials: SoapCredentials | None) -> dict[str, Any]:
    creds = credentials or SoapCredentials()
    user = {"username": creds.username, "password": creds.password}
    schemes: dict[str, dict[str, Any]] = {
        "wsse": {"type": "wsse_username_token", **user},
        "wsse_digest": {"type": "wsse_username_token", **user, "digest": True},
        "basic": {"type": "basic", **user},
        "bearer": {"type": "bearer", "token": creds.bearer_token},
        "none": {"type": "none"},
    }
    return schemes[auth]


def judicial_records_config(
    base_url: str, *, credentials: SoapCredentials | None = None, **options: Any
) -> dict[str, Any]:
    """The ``judicial_records`` connector's configuration for the service at ``base_url`` (WS-Security)."""
    return {"wsdl": f"{base_url.rstrip('/')}{SERVICE_PATH}?wsdl", "auth": _auth("wsse", credentials)} | options
