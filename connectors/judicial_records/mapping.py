"""How the judicial records service's SOAP messages map to ``judicial_records.certificate_request``.

The service (namespace ``urn:lltp:tra-cuu:v1``) answers ``TraCuuHoSo`` with one ``HoSo`` and ``TimKiemHoSo`` with
a page of them (``TongSo``, ``DanhSach/HoSo``); an unknown request number is the fault ``lltp:KhongTimThay``.
Its code lists: ``GioiTinh`` 1 male / 2 female; ``LoaiPhieu`` 1 / 2; ``TrangThai`` 1 received, 2 processing,
3 issued, 4 refused; ``MaCoQuan`` ``STP`` + the province code of the Department of Justice.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "FIELDS",
    "GET",
    "NAMESPACE",
    "NOT_FOUND_FAULTS",
    "PING",
    "SAMPLE",
    "SEARCH",
    "VALUE_MAPS",
]

NAMESPACE: Final = "urn:lltp:tra-cuu:v1"

#: Contract field path -> XPath relative to a ``lltp:HoSo`` element.
FIELDS: Final = MappingProxyType(
    {
        "request_number": "lltp:SoHoSo",
        "applicant.personal_id": "lltp:NguoiYeuCau/lltp:SoDinhDanh",
        "applicant.full_name": "lltp:NguoiYeuCau/lltp:HoTen",
        "applicant.date_of_birth": "lltp:NguoiYeuCau/lltp:NgaySinh",
        "applicant.gender": "lltp:NguoiYeuCau/lltp:GioiTinh",
        "certificate_type": "lltp:LoaiPhieu",
        "purpose": "lltp:MucDich",
        "requested_on": "lltp:NgayTiepNhan",
        "issued_on": "lltp:NgayCap",
        "status": "lltp:TrangThai",
        "issuing_authority": "substring-after(lltp:MaCoQuan[starts-with(., 'STP')], 'STP')",
        "states_criminal_record": "lltp:CoAnTich",
    }
)

#: Contract field path -> {the service's code: contract value}.
VALUE_MAPS: Final[MappingProxyType[str, MappingProxyType[str, Any]]] = MappingProxyType(
    {
        "applicant.gender": MappingProxyType({"1": "male", "2": "female"}),
        "certificate_type": MappingProxyType({"1": 1, "2": 2}),
        "status": MappingProxyType({"1": "received", "2": "processing", "3": "issued", "4": "refused"}),
    }
)

#: The read operation.
GET: Final = MappingProxyType(
    {"operation": "TraCuuHoSo", "arguments": {"SoHoSo": "{record_id}"}, "record": "lltp:TraCuuHoSoResponse/lltp:HoSo"}
)

#: The search operation: by the applicant's personal id, optionally the status; pages of at most 50.
SEARCH: Final = MappingProxyType(
    {
        "operation": "TimKiemHoSo",
        "filters": {"applicant_personal_id": "SoDinhDanh", "status": "TrangThai"},
        "items": "lltp:TimKiemHoSoResponse/lltp:DanhSach/lltp:HoSo",
        "total": "lltp:TimKiemHoSoResponse/lltp:TongSo",
        "page_argument": "Trang",
        "size_argument": "SoBanGhi",
        "max_page_size": 50,
    }
)

#: The listing data-quality scans sample: every request in pages of 50, at most 5 calls a second.
SAMPLE: Final = MappingProxyType(
    {
        "operation": "DanhSachHoSo",
        "items": "lltp:DanhSachHoSoResponse/lltp:DanhSach/lltp:HoSo",
        "total": "lltp:DanhSachHoSoResponse/lltp:TongSo",
        "page_argument": "Trang",
        "size_argument": "SoBanGhi",
        "page_size": 50,
    }
)

#: The health operation.
PING: Final = MappingProxyType({"operation": "KiemTraTrangThai"})

#: Faults meaning "no such request".
NOT_FOUND_FAULTS: Final = (f"{{{NAMESPACE}}}KhongTimThay",)
