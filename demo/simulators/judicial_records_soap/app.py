"""The simulated judicial records SOAP service: an ASGI application answering SOAP 1.1 envelopes built with lxml.

================================  =====================================================================
request                           what it does
================================  =====================================================================
``GET  /lltp/...?wsdl``           the WSDL (its address is the one the request came to); always behaves
``POST /lltp/DichVuLyLichTuPhap`` SOAP 1.1: ``TraCuuHoSo``, ``TimKiemHoSo``, ``KiemTraTrangThai``
``GET  /lltp/DichVuLyLichTuPhap`` 405 (a SOAP endpoint takes POST)
================================  =====================================================================

Requests are parsed without entity expansion, DTDs or network access. Bad requests are answered with SOAP Faults
(HTTP 500, SOAP 1.1 §6.2): ``soap:Client`` for a malformed envelope, an unknown operation or bad arguments,
``wsse:FailedAuthentication`` for missing or wrong WS-Security credentials, ``lltp:KhongTimThay`` for an unknown
request number. Credentials are a WS-Security UsernameToken (``PasswordText`` or ``PasswordDigest``), or,
as configured, HTTP Basic or a bearer token (answered 401 when wrong). The ``Misbehaving`` middleware of
:mod:`simulators.http` applies to the endpoint (slow, 5xx, malformed, violation, reset, hang); ``canned`` makes
the service answer raw bytes of the test's choosing (an XML bomb, a foreign document).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from lxml import etree
from lxml.builder import ElementMaker
from starlette.requests import Request
from starlette.responses import Response

from ..citizen_links import Row
from ..http.misbehaviour import ASGIApp, Misbehaving, Misbehaviour, MisbehaviourSwitch, Receive, Scope, Send
from .wsdl import NAMESPACE, SERVICE_PATH, wsdl_document

__all__ = ["MAX_PAGE_SIZE", "JudicialRecordsService", "SoapCredentials"]

MAX_PAGE_SIZE = 50
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PASSWORD_DIGEST = "#PasswordDigest"  # noqa: S105 - a token type, not a password
_MAX_REQUEST_BYTES = 256 * 1024
_TRUNCATED = f'<?xml version="1.0"?><soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><HoSo><SoHoSo>LLTP'.encode()

_E = ElementMaker(namespace=NAMESPACE, nsmap={"lltp": NAMESPACE})
_S = ElementMaker(namespace=SOAP_ENV, nsmap={"soap": SOAP_ENV})

Auth = Literal["wsse", "basic", "bearer", "none"]


@dataclass(frozen=True, slots=True)
class SoapCredentials:
    """The credentials the service accepts. The defaults are the simulator's published test credentials."""

    username: str = "axis-gateway"
    password: str = "sim-lltp-password"  # noqa: S105
    bearer_token: str = "sim-lltp-token"  # noqa: S105


class _Fault(Exception):
    def __init__(self, code: str, message: str, namespace: str = SOAP_ENV) -> None:
        super().__init__(message)
        self.code, self.namespace, self.message = code, namespace, message


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)


def _envelope(*body: etree._Element) -> bytes:
    document = _S.Envelope(_S.Body(*body))
    return bytes(etree.tostring(document, xml_declaration=True, encoding="utf-8"))


def _xml(content: bytes, status: int = 200) -> Response:
    return Response(content, status_code=status, media_type="text/xml; charset=utf-8")


def _fault_response(fault: _Fault) -> Response:
    prefix = {SOAP_ENV: "soap", WSSE: "wsse", NAMESPACE: "lltp"}[fault.namespace]
    element = etree.Element(f"{{{SOAP_ENV}}}Fault", nsmap={"soap": SOAP_ENV, prefix: fault.namespace})
    etree.SubElement(element, "faultcode").text = f"{prefix}:{fault.code}"
    etree.SubElement(element, "faultstring").text = fault.message
    return _xml(_envelope(element), 500)


def _text(parent: etree._Element, name: str, *, required: bool = True) -> str | None:
    child = parent.find(f"{{{NAMESPACE}}}{name}")
    value = child.text.strip() if child is not None and child.text else None
    if required and not value:
        raise _Fault("Client", f"Thiếu tham số {name}")
    return value


def _integer(parent: etree._Element, name: str, low: int, high: int, *, required: bool = True) -> int | None:
    text = _text(parent, name, required=required)
    if text is None:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise _Fault("Client", f"Tham số {name} không hợp lệ")
    return int(text)


class JudicialRecordsService:
    """The service over a list of certificate requests (see :mod:`.records`), with its credentials and
    misbehaviour. ``app`` is the ASGI application; thread-safe for tests controlling it from another thread."""

    def __init__(
        self,
        rows: Iterable[Row],
        *,
        auth: Auth = "wsse",
        credentials: SoapCredentials | None = None,
        misbehaviour: Misbehaviour | None = None,
        max_page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.rows = {row["so_ho_so"]: row for row in rows}
        self._by_person: defaultdict[str, list[Row]] = defaultdict(list)
        for row in sorted(self.rows.values(), key=lambda r: r["so_ho_so"]):
            self._by_person[row["so_dinh_danh"]].append(row)
        self.auth: Auth = auth
        self.credentials = credentials or SoapCredentials()
        self.max_page_size = max_page_size
        self.switch = MisbehaviourSwitch(misbehaviour)
        self.middleware = Misbehaving(self._endpoint, self.switch, prefix="/lltp/", malformed_body=_TRUNCATED)
        self.app: ASGIApp = self
        self._lock = threading.Lock()
        self._canned: bytes | None = None
        self.calls: defaultdict[str, int] = defaultdict(int)

    # -- control -------------------------------------------------------------------------------------------

    def misbehave(self, misbehaviour: Misbehaviour | None = None, **options: Any) -> None:
        """Misbehave from the next SOAP call on: ``service.misbehave(mode="slow", delay_ms=800)``."""
        self.switch.set(misbehaviour or Misbehaviour(**options))

    @property
    def canned(self) -> bytes | None:
        """Raw bytes every SOAP call is answered with (HTTP 200, ``text/xml``), instead of the real answer."""
        with self._lock:
            return self._canned

    @canned.setter
    def canned(self, content: bytes | None) -> None:
        with self._lock:
            self._canned = content

    def reset(self) -> None:
        """Normal behaviour, no canned answer, zeroed counters."""
        self.switch.set(Misbehaviour())
        self.canned = None
        with self._lock:
            self.calls.clear()
            self.switch.requests = 0

    # -- HTTP ----------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI application: the WSDL, or the SOAP endpoint behind the misbehaviour middleware."""
        query = scope.get("query_string", b"").lower()
        if scope["type"] == "http" and scope["method"] == "GET" and query in {b"wsdl", b"wsdl="}:
            request = Request(scope, receive)
            if request.url.path != SERVICE_PATH:
                await Response(status_code=404)(scope, receive, send)
                return
            base = f"{request.url.scheme}://{request.url.netloc}"
            with self._lock:
                self.calls["wsdl"] += 1
            await _xml(wsdl_document(base))(scope, receive, send)
            return
        await self.middleware(scope, receive, send)

    async def _endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._answer(request, bool(scope.get("state", {}).get("violation")))
        await response(scope, receive, send)

    async def _answer(self, request: Request, violation: bool) -> Response:
        if request.url.path != SERVICE_PATH:
            return Response(status_code=404)
        if request.method != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        if self.auth in {"basic", "bearer"} and not self._http_authorized(request.headers.get("authorization", "")):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="lltp"'})
        return self._soap(await request.body(), violation)

    def _soap(self, body: bytes, violation: bool) -> Response:
        try:
            if len(body) > _MAX_REQUEST_BYTES:
                raise _Fault("Client", "Thông điệp quá lớn")
            envelope = self._parse(body)
            if self.auth == "wsse":
                self._check_username_token(envelope)
            canned = self.canned
            if canned is not None:
                return _xml(canned)
            operation = self._operation(envelope)
            name = etree.QName(operation).localname
            with self._lock:
                self.calls[name] += 1
            if name == "TraCuuHoSo":
                answer = self._lookup(operation, violation)
            elif name == "TimKiemHoSo":
                answer = self._search(operation, violation)
            elif name == "DanhSachHoSo":
                answer = self._listing(operation, violation)
            elif name == "KiemTraTrangThai":
                answer = _E.KiemTraTrangThaiResponse(_E.TrangThai("HOAT_DONG"))
            else:
                raise _Fault("Client", "Thao tác không được hỗ trợ")
        except _Fault as fault:
            return _fault_response(fault)
        return _xml(_envelope(answer))

    def _http_authorized(self, authorization: str) -> bool:
        scheme, _, value = authorization.partition(" ")
        creds = self.credentials
        if self.auth == "bearer":
            return scheme.lower() == "bearer" and secrets.compare_digest(value.strip(), creds.bearer_token)
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, creds.username) and secrets.compare_digest(password, creds.password)

    # -- SOAP ----------------------------------------------------------------------------------------------

    def _parse(self, body: bytes) -> etree._Element:
        try:
            root = etree.fromstring(body, parser=_parser())
        except (etree.XMLSyntaxError, ValueError):
            raise _Fault("Client", "Thông điệp không phải XML hợp lệ") from None
        if root.getroottree().docinfo.doctype:
            raise _Fault("Client", "Thông điệp SOAP không được chứa DTD")
        if root.tag != f"{{{SOAP_ENV}}}Envelope":
            raise _Fault("VersionMismatch", "Chỉ hỗ trợ SOAP 1.1")
        return root

    def _check_username_token(self, envelope: etree._Element) -> None:
        token = envelope.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        refused = _Fault("FailedAuthentication", "Xác thực không thành công", WSSE)
        if token is None:
            raise refused
        username = token.findtext(f"{{{WSSE}}}Username") or ""
        password = token.find(f"{{{WSSE}}}Password")
        if password is None or not secrets.compare_digest(username, self.credentials.username):
            raise refused
        given = password.text or ""
        expected = self.credentials.password
        if (password.get("Type") or "").endswith(_PASSWORD_DIGEST):
            nonce = token.findtext(f"{{{WSSE}}}Nonce") or ""
            created = token.findtext(f"{{{WSU}}}Created") or ""
            try:
                raw_nonce = base64.b64decode(nonce, validate=True)
            except binascii.Error:
                raise refused from None
            digest = hashlib.sha1(raw_nonce + created.encode() + expected.encode()).digest()  # noqa: S324 - WSS spec
            expected = base64.b64encode(digest).decode()
        if not secrets.compare_digest(given, expected):
            raise refused

    def _operation(self, envelope: etree._Element) -> etree._Element:
        body = envelope.find(f"{{{SOAP_ENV}}}Body")
        if body is None or len(body) != 1:
            raise _Fault("Client", "Thân thông điệp phải chứa đúng một thao tác")
        operation = body[0]
        if etree.QName(operation).namespace != NAMESPACE:
            raise _Fault("Client", "Thao tác không được hỗ trợ")
        return operation

    def _lookup(self, operation: etree._Element, violation: bool) -> etree._Element:
        number = _text(operation, "SoHoSo") or ""
        row = self.rows.get(number)
        if row is None:
            raise _Fault("KhongTimThay", "Không tìm thấy hồ sơ", NAMESPACE)
        return _E.TraCuuHoSoResponse(_record(row, violation))

    def _search(self, operation: etree._Element, violation: bool) -> etree._Element:
        person = _text(operation, "SoDinhDanh") or ""
        status = _integer(operation, "TrangThai", 1, 4, required=False)
        page = _integer(operation, "Trang", 1, 10**6) or 1
        size = _integer(operation, "SoBanGhi", 1, self.max_page_size) or 1
        matching = [row for row in self._by_person.get(person, []) if status is None or row["trang_thai"] == status]
        window = matching[(page - 1) * size : page * size]
        return _E.TimKiemHoSoResponse(
            _E.TongSo(str(len(matching))), _E.DanhSach(*(_record(row, violation) for row in window))
        )

    def _listing(self, operation: etree._Element, violation: bool) -> etree._Element:
        page = _integer(operation, "Trang", 1, 10**6) or 1
        size = _integer(operation, "SoBanGhi", 1, self.max_page_size) or 1
        numbers = sorted(self.rows)
        window = numbers[(page - 1) * size : page * size]
        return _E.DanhSachHoSoResponse(
            _E.TongSo(str(len(numbers))), _E.DanhSach(*(_record(self.rows[number], violation) for number in window))
        )


def _day(value: date) -> str:
    return value.isoformat()


def _record(row: Row, violation: bool) -> etree._Element:
    record = _E.HoSo(
        _E.SoHoSo(row["so_ho_so"]),
        _E.NguoiYeuCau(
            _E.SoDinhDanh(row["so_dinh_danh"]),
            _E.HoTen(row["ho_ten"]),
            _E.NgaySinh(row["ngay_sinh"]),
            _E.GioiTinh(str(row["gioi_tinh"])),
        ),
        _E.LoaiPhieu("7" if violation else str(row["loai_phieu"])),
        _E.MucDich(row["muc_dich"]),
        _E.NgayTiepNhan(_day(row["ngay_tiep_nhan"])),
    )
    if row["ngay_cap"] is not None:
        record.append(_E.NgayCap(_day(row["ngay_cap"])))
    record.append(_E.TrangThai(str(row["trang_thai"])))
    record.append(_E.MaCoQuan(row["ma_co_quan"]))
    if row["co_an_tich"] is not None:
        record.append(_E.CoAnTich("true" if row["co_an_tich"] else "false"))
    return record
