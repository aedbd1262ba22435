"""The three places that refuse non-public addresses agree, through one policy.

The resolver (before Team Cymru and RDAP are asked), the checker's connection
guard and the WHOIS referral are each given IPv6 addresses that wrap loopback
or private IPv4 space; each must refuse them without contacting anything.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import dns.asyncresolver
import pytest

from nttd.checks.guard import AddressNotAllowed, GuardedResolver
from nttd.demo.standins.dns_server import DnsServer, Zone
from nttd.demo.standins.rdap_server import RdapServer
from nttd.demo.standins.whois_server import WhoisServer
from resolvers.addresses import non_public_reason
from resolvers.rdap import Bootstrap
from resolvers.resolve import ResolverContext, resolve_url
from resolvers.whois import WhoisConfig, WhoisRuntime, whois_domain

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
THIN_REGISTRY = Path(__file__).parent / "fixtures" / "whois" / "thin_registry.txt"

SIXTOFOUR_LOOPBACK = "2002:7f00:1::1"
WRAPPED = [
    SIXTOFOUR_LOOPBACK,  # 6to4 around 127.0.0.1
    "2001:0:c000:201:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1 (XOR'ed)
    "64:ff9b::a01:203",  # NAT64 around 10.1.2.3
    "::ffff:7f00:2",  # IPv4-mapped 127.0.0.2
]


def test_the_6to4_example_names_what_it_wraps() -> None:
    assert non_public_reason(SIXTOFOUR_LOOPBACK) == (
        "a 6to4 address wrapping 127.0.0.1 (a loopback address)")
    assert all(non_public_reason(address) for address in WRAPPED)


@pytest.mark.parametrize("address", WRAPPED)
async def test_the_resolver_refuses_before_asking_cymru_or_rdap(
    address: str, zone: Zone, dns_server: DnsServer, rdap: RdapServer,
    resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession, bootstrap: Bootstrap,
) -> None:
    zone.add("wrapped.example.com", "AAAA", address)
    ctx = ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, clock=lambda: NOW)
    for url in ("http://wrapped.example.com/a.jpg", f"http://[{address}]/a.jpg"):
        got = await resolve_url(url, ctx)
        assert [ipaddress.ip_address(ip) for ip in got.ips] == [ipaddress.ip_address(address)]
        shown = got.ips[0]  # as DNS or the URL wrote it
        assert got.errors == (f"refused: {shown} is {non_public_reason(address)} "
                              "(private targets are not allowed)",)
        assert got.unresolvable is True and got.retryable is False
        assert got.hosting is None and got.registrar is None
    assert not [q for q in dns_server.queries if "cymru" in q[0]]
    assert sum(rdap.requests.values()) == 0


async def test_the_resolver_refusal_reads_as_the_policy_says(
    zone: Zone, resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
    bootstrap: Bootstrap,
) -> None:
    ctx = ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, clock=lambda: NOW)
    got = await resolve_url(f"http://[{SIXTOFOUR_LOOPBACK}]/a.jpg", ctx)
    assert got.errors == ("refused: 2002:7f00:1::1 is a 6to4 address wrapping 127.0.0.1 "
                          "(a loopback address) (private targets are not allowed)",)


@pytest.mark.parametrize("address", WRAPPED)
async def test_the_guard_refuses_to_connect(
    address: str, zone: Zone, resolver: dns.asyncresolver.Resolver,
) -> None:
    zone.add("wrapped.example", "AAAA", address)
    guard = GuardedResolver(resolver, allow_private=False)
    with pytest.raises(AddressNotAllowed):
        guard.check_literal(f"[{address}]")
    with pytest.raises(AddressNotAllowed, match="no allowed address"):
        await guard.resolve("wrapped.example", 80, family=socket.AF_UNSPEC)
    # The same name passes when private targets are allowed: the policy refused it.
    open_guard = GuardedResolver(resolver, allow_private=True)
    found = await open_guard.resolve("wrapped.example", 80, family=socket.AF_UNSPEC)
    assert [ipaddress.ip_address(r["host"]) for r in found] == [ipaddress.ip_address(address)]


@pytest.fixture(scope="module")
def runtime() -> Iterator[WhoisRuntime]:
    shared = WhoisRuntime()
    yield shared
    shared.close()


@pytest.mark.parametrize("address", WRAPPED)
async def test_the_whois_referral_is_not_followed(address: str, runtime: WhoisRuntime) -> None:
    thin = THIN_REGISTRY.read_text(encoding="utf-8")
    thin = "\n".join(line for line in thin.splitlines()
                     if not line.strip().startswith(("Registrar:", "Registrar IANA",
                                                     "Registrar Abuse")))
    async with WhoisServer() as registry, WhoisServer() as registrar:
        registry.answers["example.ws"] = thin.replace("whois.registrar.example", address)
        config = WhoisConfig(servers={"ws": registry.address}, port=registrar.port,
                             timeout=2.0, runtime=runtime)
        got = await whois_domain("example.ws", config)
        assert got.error == (f"whois: referral to {address} refused: not a public address "
                             f"({address} is {non_public_reason(address)})")
        assert got.retryable is False
        assert registry.queries == {"example.ws": 1}
        assert registrar.queries == {}
