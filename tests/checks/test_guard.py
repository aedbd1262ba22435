"""The SSRF guard: private and loopback targets are refused unless allowed."""

from __future__ import annotations

import ipaddress
import socket

import dns.asyncresolver
import pytest

from nttd.checks.guard import AddressNotAllowed, GuardedResolver, is_public_address
from nttd.checks.probe import Verdict
from nttd.demo.standins.dns_server import DnsServer, Zone
from nttd.demo.standins.hosting import HostingServer
from tests.checks.conftest import MakeChecker

# Classified only, never contacted: a well-known public anycast address.
PUBLIC_V4 = "8.8.8.8"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.2",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.1.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


def test_public_address() -> None:
    assert is_public_address(ipaddress.ip_address(PUBLIC_V4))
    assert is_public_address(ipaddress.ip_address(f"::ffff:{PUBLIC_V4}"))


async def test_literal_refused_without_contact(
    make_checker: MakeChecker, hosting: HostingServer
) -> None:
    hosting.route("/img/1.jpg", status=200)
    result = await make_checker(allow_private=False).check(hosting.url("/img/1.jpg"))
    assert result.verdict is Verdict.REFUSED
    assert result.error and "127.0.0.2" in result.error
    assert (result.status_code, result.peer_ip) == (None, None)
    await hosting.settle()
    assert hosting.requests == [] and hosting.connections == []


async def test_name_resolving_to_loopback_refused_without_contact(
    make_checker: MakeChecker, hosting: HostingServer, zone: Zone
) -> None:
    zone.add("sneaky.example", "A", "127.0.0.2")
    zone.add("sneaky.example", "AAAA", "::1")
    hosting.route("/img/1.jpg", status=200)
    checker = make_checker(allow_private=False)
    result = await checker.check(hosting.url("/img/1.jpg", host="sneaky.example"))
    assert result.verdict is Verdict.REFUSED
    assert result.error and "no allowed address" in result.error
    await hosting.settle()
    assert hosting.requests == [] and hosting.connections == []


async def test_allow_private_allows(
    make_checker: MakeChecker, hosting: HostingServer, zone: Zone
) -> None:
    zone.add("hosting.example", "A", "127.0.0.2")
    hosting.route("/img/1.jpg", status=200)
    checker = make_checker(allow_private=True)
    for url in (hosting.url("/img/1.jpg"), hosting.url("/img/1.jpg", host="hosting.example")):
        assert (await checker.check(url)).verdict is Verdict.ONLINE


@pytest.mark.parametrize(
    "url", ["http://[::1]/a.jpg", "http://[::ffff:127.0.0.2]/a.jpg", "http://0.0.0.0/a.jpg"]
)
async def test_other_literals_refused(make_checker: MakeChecker, url: str) -> None:
    result = await make_checker(allow_private=False).check(url)
    assert result.verdict is Verdict.REFUSED


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize("host", ["127.1", "2130706433", "017700000001"])
async def test_legacy_ipv4_forms_refused(
    make_checker: MakeChecker, host: str, allow_private: bool
) -> None:
    result = await make_checker(allow_private=allow_private).check(f"http://{host}/a.jpg")
    assert result.verdict is Verdict.REFUSED
    assert result.error and "canonical" in result.error


async def test_hex_ipv4_form_is_only_a_name(make_checker: MakeChecker) -> None:
    """Never turned into 127.0.0.2: it is looked up in DNS like any name."""
    result = await make_checker(allow_private=True).check("http://0x7f.0.0.2/a.jpg")
    assert result.verdict is Verdict.DNS_GONE


async def test_resolver_keeps_only_public_addresses(
    resolver: dns.asyncresolver.Resolver, zone: Zone
) -> None:
    zone.add("mixed.example", "A", "127.0.0.2")
    zone.add("mixed.example", "A", PUBLIC_V4)
    zone.add("mixed.example", "AAAA", "::1")
    guard = GuardedResolver(resolver, allow_private=False)
    found = await guard.resolve("mixed.example", 80, family=socket.AF_UNSPEC)
    assert [(r["host"], r["port"], r["family"]) for r in found] == [(PUBLIC_V4, 80, socket.AF_INET)]
    open_guard = GuardedResolver(resolver, allow_private=True)
    found = await open_guard.resolve("mixed.example", 80, family=socket.AF_UNSPEC)
    assert sorted(r["host"] for r in found) == sorted(["127.0.0.2", PUBLIC_V4, "::1"])
    with pytest.raises(AddressNotAllowed):
        await guard.resolve("127.0.0.2", 80)
    with pytest.raises(AddressNotAllowed):
        guard.check_literal("[::1]")
    guard.check_literal("hosting.example")  # names are judged after resolution


async def test_each_check_connects_where_its_own_lookup_says(
    make_checker: MakeChecker,
    hosting: HostingServer,
    dns_server: DnsServer,
) -> None:
    """The guard is the resolver: one lookup per check, and the addresses it kept are
    the only ones connected to. Nothing is cached, so a name that moves (or moves
    to a refused address: DNS rebinding) is judged again on the next check."""
    zone = dns_server.zone
    zone.add("moving.example", "A", "127.0.0.2", ttl=0)
    hosting.route("/img/1.jpg", status=200)
    open_checker = make_checker(allow_private=True)
    url = hosting.url("/img/1.jpg", host="moving.example")
    assert (await open_checker.check(url)).peer_ip == "127.0.0.2"
    assert dns_server.queries[("moving.example.", "A")] == 1
    zone.replace("moving.example", "A", "127.0.0.9", ttl=0)
    moved = await open_checker.check(url)
    assert moved.verdict is Verdict.UNREACHABLE  # nobody listens there
    assert moved.error and "127.0.0.9" in moved.error  # it went to the new address
    assert dns_server.queries[("moving.example.", "A")] == 2
    guarded = make_checker(allow_private=False)
    assert (await guarded.check(url)).verdict is Verdict.REFUSED
    await hosting.settle()
    assert len(hosting.connections) == 1
