"""TLS toward a SOAP service: verification is on by default, so an HTTPS service whose certificate a private CA
signs is refused (when reading the WSDL and when calling), and accepted once that CA is given as ``ca_bundle``."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from judicial_records_fixtures import requests

from connectors.base import UpstreamUnavailable
from connectors.soap import SoapConnector
from simulators.http import SimulatorServer
from simulators.judicial_records_soap import JudicialRecordsService, soap_connector_config
from simulators.judicial_records_soap.wsdl import wsdl_document

pytestmark = pytest.mark.anyio


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey, *, ca: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def ca_and_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SimulatorServer]]:
    folder = tmp_path_factory.mktemp("soap-pki")
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Sở Tư pháp - test CA", ca_key, _name("Sở Tư pháp - test CA"), ca_key, ca=True)
    server = _certificate("lltp.test", server_key, ca.subject, ca_key, ca=False)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    service = JudicialRecordsService(requests())
    with SimulatorServer(service, certfile=folder / "server.pem", keyfile=folder / "server.key") as live:
        yield folder / "ca.pem", live


async def test_a_private_ca_is_refused_unless_given(ca_and_server: tuple[Path, SimulatorServer]) -> None:
    ca, server = ca_and_server
    assert server.url.startswith("https://")
    key = requests()[0]["so_ho_so"]
    async with SoapConnector.from_config(soap_connector_config(server.url)) as connector:
        with pytest.raises(UpstreamUnavailable, match="not trusted"):
            await connector.get(key)
    async with SoapConnector.from_config(soap_connector_config(server.url, ca_bundle=str(ca))) as connector:
        assert (await connector.get(key)).record_id() == key
        assert (await connector.check()).ok


async def test_calls_are_verified_too(ca_and_server: tuple[Path, SimulatorServer], tmp_path: Path) -> None:
    _, server = ca_and_server
    local = tmp_path / "lltp.wsdl"
    local.write_bytes(wsdl_document(server.url))  # a trusted local WSDL naming the HTTPS address
    config = soap_connector_config(server.url) | {"wsdl": str(local)}
    async with SoapConnector.from_config(config) as connector:
        with pytest.raises(UpstreamUnavailable, match="not trusted"):
            await connector.get(requests()[0]["so_ho_so"])
