"""Real-shaped RDAP answers from all five RIRs are read correctly."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from resolvers.rdap import Bootstrap, rdap_ip
from resolvers.rdap_client import RdapClient, RdapLimits
from tests.standins.rdap_server import RdapServer

FIXTURES = Path(__file__).parent / "fixtures" / "rdap"


def serve(rdap: RdapServer, path: str, fixture: str) -> None:
    text = (FIXTURES / f"{fixture}.json").read_text(encoding="utf-8")
    rdap.faults[path] = (200, text.replace("{base}", rdap.base_url).encode())


@pytest.fixture
def world_bootstrap(rdap: RdapServer, tmp_path: Path) -> Bootstrap:
    return Bootstrap.load(rdap.write_bootstrap(tmp_path / "b", ipv4_cidrs=["0.0.0.0/0"]))


@pytest.mark.parametrize(
    ("fixture", "ip", "handle", "country", "emails", "start", "end"),
    [
        ("arin_ip", "192.0.2.10", "NET-192-0-2-0-1", None, ("abuse@hosting.example",),
         "192.0.2.0", "192.0.2.255"),
        ("ripe_ip", "198.51.100.7", "198.51.100.0 - 198.51.100.255", "NL",
         ("abuse@hosting.example",), "198.51.100.0", "198.51.100.255"),
        ("apnic_ip", "203.0.113.5", "203.0.113.0 - 203.0.113.255", "AU",
         ("security@ap-hosting.example", "abuse@ap-hosting.example"),
         "203.0.113.0", "203.0.113.255"),
        ("lacnic_ip", "192.0.2.200", "192.0.2.128/25", "BR", ("abuse@br-hosting.example",),
         "192.0.2.128", "192.0.2.255"),
        ("afrinic_ip", "198.51.100.20", "198.51.100.0 - 198.51.100.127", "ZA",
         ("abuse@za-hosting.example",), "198.51.100.0", "198.51.100.127"),
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


async def test_arin_org_link_is_followed_for_the_abuse_contact(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    serve(rdap, "/ip/192.0.2.10", "arin_org_net_ip")
    serve(rdap, "/entity/EXAMP-1", "arin_org_entity")
    got = await rdap_ip("192.0.2.10", http, world_bootstrap)
    assert (got.error, got.abuse_emails) == (None, ("abuse@hosting.example",))
    assert rdap.requests["/entity/EXAMP-1"] == 1


async def test_a_broken_followed_link_leaves_no_contact_not_an_error(
    rdap: RdapServer, http: aiohttp.ClientSession, world_bootstrap: Bootstrap
) -> None:
    serve(rdap, "/ip/192.0.2.10", "arin_org_net_ip")
    rdap.faults["/entity/EXAMP-1"] = (200, b"not json")
    client = RdapClient(http, RdapLimits(retries=0))
    got = await rdap_ip("192.0.2.10", http, world_bootstrap, client=client)
    assert (got.error, got.abuse_emails, got.handle) == (None, (), "NET-192-0-2-0-1")
