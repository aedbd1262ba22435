"""The bundled IANA bootstrap snapshot loads and sends lookups to the right registries."""

from __future__ import annotations

import importlib.resources
import json

import pytest

from resolvers.rdap import Bootstrap


@pytest.fixture(scope="module")
def bundled() -> Bootstrap:
    return Bootstrap.load()


@pytest.mark.parametrize("name", ["dns.json", "ipv4.json", "ipv6.json", "asn.json"])
def test_real_iana_shape(name: str) -> None:
    path = importlib.resources.files("resolvers").joinpath("data/bootstrap", name)
    doc = json.loads(path.read_text("utf-8"))
    assert set(doc) == {"description", "publication", "services", "version"}
    assert doc["version"] == "1.0" and len(doc["services"]) >= 5
    for keys, urls in doc["services"]:
        assert keys and urls and all(u.endswith("/") for u in urls)


@pytest.mark.parametrize(
    ("domain", "server"),
    [
        ("example.com", "https://rdap.verisign.com/com/v1/"),
        ("www.example.net", "https://rdap.verisign.com/net/v1/"),
        ("example.org", "https://rdap.publicinterestregistry.org/rdap/"),
        ("example.co.uk", "https://rdap.nominet.uk/uk/"),
        ("example.nl", "https://rdap.sidn.nl/"),
        ("example.fr", "https://rdap.nic.fr/"),
        ("example.info", "https://rdap.identitydigital.services/rdap/"),
    ],
)
def test_domains(bundled: Bootstrap, domain: str, server: str) -> None:
    assert bundled.domain_servers(domain)[0] == server


@pytest.mark.parametrize(
    ("ip", "server"),
    [
        ("8.8.8.8", "https://rdap.arin.net/registry/"),
        ("193.0.6.139", "https://rdap.db.ripe.net/"),
        ("1.1.1.1", "https://rdap.apnic.net/"),
        ("41.0.0.1", "https://rdap.afrinic.net/rdap/"),
        ("200.160.2.3", "https://rdap.lacnic.net/rdap/"),
        ("2a00:1450::1", "https://rdap.db.ripe.net/"),
        ("2600::1", "https://rdap.arin.net/registry/"),
    ],
)
def test_addresses(bundled: Bootstrap, ip: str, server: str) -> None:
    assert bundled.ip_servers(ip)[0] == server


def test_asns_and_gaps(bundled: Bootstrap) -> None:
    assert bundled.asn_servers(13335)[0] == "https://rdap.arin.net/registry/"
    assert bundled.asn_servers(3333)[0] == "https://rdap.db.ripe.net/"
    assert bundled.ip_servers("127.0.0.1") == []
    assert bundled.domain_servers("example.invalid") == []
