"""Fixtures for the availability checker tests: a DNS stand-in, hosting stand-ins,
and checkers wired to them. Everything runs on loopback."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import dns.asyncresolver
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nttd.checks.probe import Checker
from nttd.demo.standins.dns_server import DnsServer, Zone
from nttd.demo.standins.hosting import HostingServer

FIXED_NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    async with DnsServer(Zone()) as server:
        yield server


@pytest.fixture
def zone(dns_server: DnsServer) -> Zone:
    return dns_server.zone


@pytest.fixture
def resolver(dns_server: DnsServer) -> dns.asyncresolver.Resolver:
    r = dns.asyncresolver.Resolver(configure=False)
    r.nameservers = [dns_server.host]
    r.port = dns_server.port
    r.lifetime = 1.0
    r.timeout = 0.5
    return r


@pytest.fixture
async def hosting() -> AsyncIterator[HostingServer]:
    async with HostingServer("127.0.0.2") as server:
        yield server


@pytest.fixture
async def hosting3() -> AsyncIterator[HostingServer]:
    async with HostingServer("127.0.0.3") as server:
        yield server


MakeChecker = Callable[..., Checker]


@pytest.fixture
async def make_checker(resolver: dns.asyncresolver.Resolver) -> AsyncIterator[MakeChecker]:
    """Build checkers (allow_private=True unless told) and close them all at the end."""
    made: list[Checker] = []

    def make(**kwargs: object) -> Checker:
        kwargs.setdefault("allow_private", True)
        kwargs.setdefault("timeout", 5.0)
        kwargs.setdefault("clock", lambda: FIXED_NOW)
        checker = Checker(resolver, **kwargs)  # type: ignore[arg-type]
        made.append(checker)
        return checker

    yield make
    for checker in made:
        await checker.close()


@pytest.fixture
async def checker(make_checker: MakeChecker) -> Checker:
    return make_checker()


@pytest.fixture(scope="session")
def self_signed_tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for 127.0.0.2 (made here)."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hosting.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("hosting.example"), x509.IPAddress(ipaddress.ip_address("127.0.0.2"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context
