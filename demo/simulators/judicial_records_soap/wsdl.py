"""The WSDL 1.1 description of the simulated judicial records service (document/literal, SOAP 1.1).

Four operations: ``TraCuuHoSo`` (one request by its number), ``TimKiemHoSo`` (an applicant's requests, by
numbered pages of at most ``SoBanGhi`` records), ``DanhSachHoSo`` (every request, by numbered pages, for
synchronisation) and ``KiemTraTrangThai`` (the service's status). The schema is
inline, so that reading the WSDL needs no further fetch.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

__all__ = ["NAMESPACE", "SERVICE_PATH", "wsdl_document"]

NAMESPACE = "urn:lltp:tra-cuu:v1"
SERVICE_PATH = "/lltp/DichVuLyLichTuPhap"

_WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="{ns}" targetNamespace="{ns}" name="DichVuLyLichTuPhap">
  <wsdl:documentation>Tra cứu hồ sơ yêu cầu cấp phiếu lý lịch tư pháp (mô phỏng).</wsdl:documentation>
  <wsdl:types>
    <xs:schema targetNamespace="{ns}" elementFormDefault="qualified">
      <xs:complexType name="NguoiYeuCau">
        <xs:sequence>
          <xs:element name="SoDinhDanh" type="xs:string"/>
          <xs:element name="HoTen" type="xs:string"/>
          <xs:element name="NgaySinh" type="xs:string"/>
          <xs:element name="GioiTinh" type="xs:int"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="HoSo">
        <xs:sequence>
          <xs:element name="SoHoSo" type="xs:string"/>
          <xs:element name="NguoiYeuCau" type="tns:NguoiYeuCau"/>
          <xs:element name="LoaiPhieu" type="xs:int"/>
          <xs:element name="MucDich" type="xs:string"/>
          <xs:element name="NgayTiepNhan" type="xs:date"/>
          <xs:element name="NgayCap" type="xs:date" minOccurs="0"/>
          <xs:element name="TrangThai" type="xs:int"/>
          <xs:element name="MaCoQuan" type="xs:string"/>
          <xs:element name="CoAnTich" type="xs:boolean" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="TraCuuHoSo">
        <xs:complexType><xs:sequence><xs:element name="SoHoSo" type="xs:string"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="TraCuuHoSoResponse">
        <xs:complexType><xs:sequence><xs:element name="HoSo" type="tns:HoSo"/></xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="TimKiemHoSo">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="SoDinhDanh" type="xs:string"/>
            <xs:element name="TrangThai" type="xs:int" minOccurs="0"/>
            <xs:element name="Trang" type="xs:int"/>
            <xs:element name="SoBanGhi" type="xs:int"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="TimKiemHoSoResponse">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="TongSo" type="xs:int"/>
            <xs:element name="DanhSach">
              <xs:complexType>
                <xs:sequence><xs:element name="HoSo" type="tns:HoSo" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
              </xs:complexType>
            </xs:element>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="DanhSachHoSo">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="Trang" type="xs:int"/>
            <xs:element name="SoBanGhi" type="xs:int"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="DanhSachHoSoResponse">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="TongSo" type="xs:int"/>
            <xs:element name="DanhSach">
              <xs:complexType>
                <xs:sequence><xs:element name="HoSo" type="tns:HoSo" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
              </xs:complexType>
            </xs:element>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="KiemTraTrangThai"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="KiemTraTrangThaiResponse">
        <xs:complexType><xs:sequence><xs:element name="TrangThai" type="xs:string"/></xs:sequence></xs:complexType>
      </xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="TraCuuHoSoRequest"><wsdl:part name="parameters" element="tns:TraCuuHoSo"/></wsdl:message>
  <wsdl:message name="TraCuuHoSoReply"><wsdl:part name="parameters" element="tns:TraCuuHoSoResponse"/></wsdl:message>
  <wsdl:message name="TimKiemHoSoRequest"><wsdl:part name="parameters" element="tns:TimKiemHoSo"/></wsdl:message>
  <wsdl:message name="TimKiemHoSoReply"><wsdl:part name="parameters" element="tns:TimKiemHoSoResponse"/></wsdl:message>
  <wsdl:message name="DanhSachHoSoRequest"><wsdl:part name="parameters" element="tns:DanhSachHoSo"/></wsdl:message>
  <wsdl:message name="DanhSachHoSoReply">
    <wsdl:part name="parameters" element="tns:DanhSachHoSoResponse"/>
  </wsdl:message>
  <wsdl:message name="KiemTraTrangThaiRequest">
    <wsdl:part name="parameters" element="tns:KiemTraTrangThai"/>
  </wsdl:message>
  <wsdl:message name="KiemTraTrangThaiReply">
    <wsdl:part name="parameters" element="tns:KiemTraTrangThaiResponse"/>
  </wsdl:message>
  <wsdl:portType name="DichVuLyLichTuPhapPortType">
    <wsdl:operation name="TraCuuHoSo">
      <wsdl:input message="tns:TraCuuHoSoRequest"/><wsdl:output message="tns:TraCuuHoSoReply"/>
    </wsdl:operation>
    <wsdl:operation name="TimKiemHoSo">
      <wsdl:input message="tns:TimKiemHoSoRequest"/><wsdl:output message="tns:TimKiemHoSoReply"/>
    </wsdl:operation>
    <wsdl:operation name="DanhSachHoSo">
      <wsdl:input message="tns:DanhSachHoSoRequest"/><wsdl:output message="tns:DanhSachHoSoReply"/>
    </wsdl:operation>
    <wsdl:operation name="KiemTraTrangThai">
      <wsdl:input message="tns:KiemTraTrangThaiRequest"/><wsdl:output message="tns:KiemTraTrangThaiReply"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="DichVuLyLichTuPhapSoap" type="tns:DichVuLyLichTuPhapPortType">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>
    <wsdl:operation name="TraCuuHoSo">
      <soap:operation soapAction="{ns}/TraCuuHoSo"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
    <wsdl:operation name="TimKiemHoSo">
      <soap:operation soapAction="{ns}/TimKiemHoSo"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
    <wsdl:operation name="DanhSachHoSo">
      <soap:operation soapAction="{ns}/DanhSachHoSo"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
    <wsdl:operation name="KiemTraTrangThai">
      <soap:operation soapAction="{ns}/KiemTraTrangThai"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="DichVuLyLichTuPhap">
    <wsdl:port name="DichVuLyLichTuPhapSoap" binding="tns:DichVuLyLichTuPhapSoap">
      <soap:address location={address}/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def wsdl_document(base_url: str) -> bytes:
    """The WSDL, with the service's address on ``base_url`` (``http://127.0.0.1:8123``)."""
    return _WSDL.format(ns=NAMESPACE, address=quoteattr(base_url.rstrip("/") + SERVICE_PATH)).encode()
