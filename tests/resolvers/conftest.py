"""Loopback stand-ins for the resolvers tests: a DNS server, an RDAP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import dns.asyncresolver
import pytest

from nttd.demo.standins.dns_server import DnsServer, Zone
from nttd.demo.standins.rdap_server import RdapServer
from resolvers.dns import make_resolver
from resolvers.rdap import Bootstrap


@pytest.fixture
def zone() -> Zone:
    return Zone()


@pytest.fixture
async def dns_server(zone: Zone) -> AsyncIterator[DnsServer]:
    async with DnsServer(zone) as server:
        yield server


@pytest.fixture
def resolver(dns_server: DnsServer) -> dns.asyncresolver.Resolver:
    return make_resolver([dns_server.address], timeout=0.3, lifetime=0.6)


@pytest.fixture
async def rdap() -> AsyncIterator[RdapServer]:
    async with RdapServer() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False) as session:
        yield session


@pytest.fixture
def bootstrap(rdap: RdapServer, tmp_path: Path) -> Bootstrap:
    return Bootstrap.load(rdap.write_bootstrap(tmp_path / "bootstrap"))
