"""TLS toward the sector API: verification is on by default, so an HTTPS simulator with a certificate from a
private CA is refused, and accepted once that CA is given as ``ca_bundle``; on both transports."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.base import UpstreamUnavailable
from connectors.rest import RestConnector
from simulators.population_api import ApiServer, PopulationApi, rest_connector_config

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A private CA, a server certificate it signs for 127.0.0.1, and an unrelated CA."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _ca("Sở Thông tin và Truyền thông - test CA")
    _, other = _ca("Some other CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("population-api.test"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(folder / "ca.pem", folder / "other-ca.pem", folder / "server.pem", folder / "server.key")
    pki.ca.write_bytes(_pem(ca_cert))
    pki.other_ca.write_bytes(_pem(other))
    pki.cert.write_bytes(_pem(server_cert))
    pki.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pki


@pytest.fixture(scope="module")
def https_api(population_sector: Any, pki: Pki) -> Iterator[ApiServer]:
    with ApiServer(PopulationApi(population_sector.rows), certfile=pki.cert, keyfile=pki.key) as server:
        assert server.url.startswith("https://127.0.0.1:")
        yield server


TRANSPORTS = ["aiohttp", "httpx"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_certificate_from_an_unknown_ca_is_refused(
    transport: str, population_sector: Any, https_api: ApiServer
) -> None:
    config = rest_connector_config(https_api.url, http_transport=transport)
    async with RestConnector.from_config(config) as rest:
        result = await rest.check()
        with pytest.raises(UpstreamUnavailable) as info:
            await rest.get(population_sector.rows[0]["so_dinh_danh"])
    assert result.ok is False and "not trusted" in result.message
    assert "not trusted" in info.value.message and info.value.reason == "connect"
    assert https_api.api.count("requests") == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_private_ca_given_as_bundle_is_trusted(
    transport: str, population_sector: Any, https_api: ApiServer, pki: Pki
) -> None:
    pid = population_sector.rows[0]["so_dinh_danh"]
    config = rest_connector_config(https_api.url, http_transport=transport, ca_bundle=str(pki.ca))
    async with RestConnector.from_config(config) as rest:
        assert (await rest.check()).ok
        assert (await rest.get(pid)).record_id() == pid


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_another_ca_does_not_vouch_for_the_server(
    transport: str, population_sector: Any, https_api: ApiServer, pki: Pki
) -> None:
    config = rest_connector_config(https_api.url, http_transport=transport, ca_bundle=str(pki.other_ca))
    async with RestConnector.from_config(config) as rest:
        with pytest.raises(UpstreamUnavailable):
            await rest.get(population_sector.rows[0]["so_dinh_danh"])


async def test_the_host_name_is_checked(population_sector: Any, https_api: ApiServer, pki: Pki) -> None:
    """The certificate names 127.0.0.1 only: reaching the same server as ``localhost`` is refused."""
    config = rest_connector_config(https_api.url.replace("127.0.0.1", "localhost"), ca_bundle=str(pki.ca))
    async with RestConnector.from_config(config) as rest:
        with pytest.raises(UpstreamUnavailable) as info:
            await rest.get(population_sector.rows[0]["so_dinh_danh"])
    assert "not trusted" in info.value.message


def test_a_missing_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    from connectors.base import ConnectorConfigError

    config = rest_connector_config("https://127.0.0.1:1", ca_bundle=str(tmp_path / "missing.pem"))
    with pytest.raises(ConnectorConfigError) as info:
        RestConnector.from_config(config)
    assert "ca_bundle" in info.value.message
