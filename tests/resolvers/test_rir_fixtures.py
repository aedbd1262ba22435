"""Recorded-shape RDAP answers from all five RIRs and a gTLD registry are read correctly.

Each fixture follows a recorded registry answer key for key (see fixtures/rdap/README.md
for which one), with every contact datum replaced by documentation data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from nttd.demo.standins.rdap_server import RdapServer
from resolvers.rdap import Bootstrap, rdap_domain, rdap_ip
from resolvers.rdap_client import RdapClient, RdapLimits

FIXTURES = Path(__file__).parent / "fixtures" / "rdap"


def load(fixture: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
    return data


def serve(rdap: RdapServer, path: str, fixture: str | dict[str, Any]) -> None:
    text = json.dumps(fixture) if isinstance(fixture, dict) else (
        (FIXTURES / f"{fixture}.json").read_text(encoding="utf-8"))
    rdap.faults[path] = (200, text.replace("{base}", rdap.base_url).encode())


@pytest.fixture
def world_bootstrap(rdap: RdapServer, tmp_path: Path) -> Bootstrap:
    return Bootstrap.load(rdap.write_bootstrap(tmp_path / "b", ipv4_cidrs=["0.0.0.0/0"],
                                               ipv6=["::/0"]))


@pytest.mark.parametrize(
    ("fixture", "ip", "handle", "country", "emails", "start", "end"),
    [
        # ARIN 2022: abuse POC only inside the org entity; org remarks name other mailboxes
        ("arin_ip", "192.0.2.10", "NET-192-0-2-0-1", None, ("abuse@hosting.example",),
         "192.0.2.0", "192.0.2.223"),
        # ARIN 2021 IPv6: the org's abuse POC plus a net POC (noc, technical, abuse) at top level
        ("arin_ip6", "2001:db8::10", "NET6-2001-DB8-1", None,
         ("abuse@hosting6.example", "noc@hosting6.example"),
         "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
        # RIPE NCC 2025: abuse-c with an e-mail typed "abuse" only, other e-mails redacted
        ("ripe_ip", "198.51.100.7", "198.51.100.0 - 198.51.100.255", "NL",
         ("abuse@hosting.example",), "198.51.100.0", "198.51.100.255"),
        # RIPE NCC 2016 IPv6: start/end written as "address/128"
        ("ripe_ip6", "2001:db8:ffff::1", "2001:db8:ffff::/64", "GB",
         ("abuse@hosting.example", "noc@hosting.example", "hostmaster@hosting.example"),
         "2001:db8:ffff::", "2001:db8:ffff:0:ffff:ffff:ffff:ffff"),
        # APNIC 2021: IRT with the same address twice; a remark names another mailbox
        ("apnic_ip", "203.0.113.5", "203.0.113.0 - 203.0.113.255", "AU",
         ("abuse@ap-hosting.example",), "203.0.113.0", "203.0.113.255"),
        # LACNIC 2016: one person entity holds administrative, technical and abuse
        ("lacnic_ip", "192.0.2.200", "192.0.2.200", "BR", ("noc@BR-HOSTING.EXAMPLE",),
         "192.0.2.200", "192.0.2.200"),
        # AFRINIC 2016: entities carry no roles; the abuse mailbox is only in a remark
        ("afrinic_ip", "198.51.100.20", "198.51.100.0 - 198.51.100.95", "ZA",
         ("abuse@za-hosting.example",), "198.51.100.0", "198.51.100.95"),
    ],
)
async def test_each_registry(rdap: RdapServer, http: aiohttp.ClientSession,
                             world_bootstrap: Bootstrap, fixture: str, ip: str, handle: str,
                             country: str | None, emails: tuple[str, ...], start: str,
                             end: str) -> None:
    serve(rdap, f"/ip/{ip}", fixture)
    got = await rdap_ip(ip, http, world_bootstrap)
    assert (got.error, got.handle, got.country, got.abuse_emails) == (None, handle, country,
                                                                      emails)
    assert (got.start, got.end) == (start, end)
    assert sum(rdap.requests.values()) == 1  # the abuse contact was in the first answer


async def test_legacy_arin_address_spellings_are_read(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    """ARIN's 2016 answers wrote zero-padded dotted quads ("074.125.000.000") and fully
    expanded upper-case IPv6 ("2001:4860:0000:...:FFFF"); the range must still be read."""
    net = load("arin_ip")
    net.update(startAddress="192.000.002.000", endAddress="192.000.002.223")
    serve(rdap, "/ip/192.0.2.10", net)
    net6 = load("arin_ip6")
    net6.update(startAddress="2001:0DB8:0000:0000:0000:0000:0000:0000",
                endAddress="2001:0DB8:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF")
    serve(rdap, "/ip/2001:db8::10", net6)
    got = await rdap_ip("192.0.2.10", http, world_bootstrap)
    got6 = await rdap_ip("2001:db8::10", http, world_bootstrap)
    assert (got.start, got.end) == ("192.0.2.0", "192.0.2.223")
    assert (got6.start, got6.end) == ("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")


async def test_nonsense_addresses_leave_no_range(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    net = load("arin_ip")
    net.update(startAddress="192.0.2.0/33", endAddress="0300.1.2.3")
    serve(rdap, "/ip/192.0.2.10", net)
    got = await rdap_ip("192.0.2.10", http, world_bootstrap)
    assert (got.error, got.start, got.end) == (None, None, None)
    assert got.abuse_emails == ("abuse@hosting.example",)


async def test_arin_nested_abuse_without_the_top_level_poc(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    """The IPv6 answer minus its top-level POC: only the org's nested abuse POC is left."""
    net6 = load("arin_ip6")
    net6["entities"] = net6["entities"][:1]
    serve(rdap, "/ip/2001:db8::10", net6)
    got = await rdap_ip("2001:db8::10", http, world_bootstrap)
    assert (got.error, got.abuse_emails) == (None, ("abuse@hosting6.example",))


async def test_remark_mailbox_is_not_used_when_an_abuse_entity_exists(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    apnic = load("apnic_ip")
    assert "resolver-abuse@anycast.example" in json.dumps(apnic["remarks"])
    serve(rdap, "/ip/203.0.113.5", apnic)
    got = await rdap_ip("203.0.113.5", http, world_bootstrap)
    assert got.abuse_emails == ("abuse@ap-hosting.example",)
    apnic["entities"] = apnic["entities"][1:]  # without its IRT, the remark is all there is
    serve(rdap, "/ip/203.0.113.5", apnic)
    got = await rdap_ip("203.0.113.5", http, world_bootstrap)
    assert got.abuse_emails == ("resolver-abuse@anycast.example",)


async def test_a_remark_without_the_word_abuse_gives_no_contact(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    afrinic = load("afrinic_ip")
    afrinic["remarks"] = [{"title": "Remark", "description": ["contact noc@za-hosting.example"]}]
    serve(rdap, "/ip/198.51.100.20", afrinic)
    got = await rdap_ip("198.51.100.20", http, world_bootstrap)
    assert (got.error, got.abuse_emails) == (None, ())


async def test_arin_org_link_is_followed_for_the_abuse_contact(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    serve(rdap, "/ip/192.0.2.10", "arin_org_net_ip")
    serve(rdap, "/entity/EXAMP-1", "arin_org_entity")
    got = await rdap_ip("192.0.2.10", http, world_bootstrap)
    assert (got.error, got.abuse_emails) == (None, ("abuse@hosting.example",))
    assert (got.handle, got.country, got.start, got.end) == (
        "NET-192-0-2-0-1", None, "192.0.2.0", "192.0.2.223")
    assert rdap.requests["/entity/EXAMP-1"] == 1


async def test_a_broken_followed_link_leaves_no_contact_not_an_error(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    serve(rdap, "/ip/192.0.2.10", "arin_org_net_ip")
    rdap.faults["/entity/EXAMP-1"] = (200, b"not json")
    client = RdapClient(http, RdapLimits(retries=0))
    got = await rdap_ip("192.0.2.10", http, world_bootstrap, client=client)
    assert (got.error, got.abuse_emails, got.handle) == (None, (), "NET-192-0-2-0-1")


async def test_gtld_registry_then_registrar(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    """Verisign-shaped registry answer whose related link leads to a registrar answer that
    names the registrar only in ``org`` and carries its own abuse desk."""
    serve(rdap, "/domain/example.com", "gtld_registry_domain")
    serve(rdap, "/registrar/domain/EXAMPLE.COM", "gtld_registrar_domain")
    got = await rdap_domain("example.com", http, world_bootstrap)
    assert (got.error, got.name, got.iana_id) == (None, "Example Registrar, Inc.", "9999")
    assert (got.abuse_emails, got.abuse_phone) == (("abuse-reports@registrar.example",),
                                                   "+1.5555550199")
    assert got.rdap_url == f"{rdap.base_url}registrar/domain/EXAMPLE.COM"
    assert rdap.requests["/registrar/domain/EXAMPLE.COM"] == 1


async def test_gtld_registry_alone_when_the_registrar_fails(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    serve(rdap, "/domain/example.com", "gtld_registry_domain")
    rdap.faults["/registrar/domain/EXAMPLE.COM"] = (500, b"")
    client = RdapClient(http, RdapLimits(retries=0))
    got = await rdap_domain("example.com", http, world_bootstrap, client=client)
    assert (got.error, got.name, got.abuse_emails, got.abuse_phone) == (
        None, "Example Registrar, Inc.", ("abuse@registrar.example",), "+1.5555550100")
