"""Benchmark: resolving 10,000 URLs on 500 hosts over 20 networks (not a test).

Everything is served on loopback by the test stand-ins (a DNS server answering
A/AAAA and Team Cymru TXT, an RDAP server for the networks and domains). Run
from the repository root:

    python -m bench.resolve [--urls 10000] [--hosts 500] [--networks 20]

It prints URLs/s with a cold cache and again warm, DNS queries per (host, record
type), and RDAP queries per prefix and per registered domain. Targets: >= 150
URLs/s cold, >= 500 warm, <= 1.1 DNS queries per (host, type), <= 1 RDAP query
per prefix and per domain.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from resolvers.cache import MemoryFactCache
from resolvers.dns import make_resolver
from resolvers.rdap import Bootstrap
from resolvers.resolve import ResolverContext, resolve_url
from tests.standins.dns_server import DnsServer, Zone, add_cymru
from tests.standins.rdap_server import RdapServer

DOMAINS = ("example.com", "example.net", "example.org")


def build_world(zone: Zone, rdap: RdapServer, hosts: int, networks: int) -> list[str]:
    """Fill the stand-ins; return the host names."""
    names = []
    for net in range(networks):
        prefix = f"127.{net + 1}.0.0/24"
        add_asn = 64500 + net
        rdap.add_ip_network(prefix, "NL" if net % 2 else "DE", f"abuse@net{net}.example",
                            f"NET{net}", style="arin" if net % 3 == 0 else "ripe")
        for h in range(net, hosts, networks):
            ip = f"127.{net + 1}.0.{h // networks + 1}"
            name = f"h{h}.{DOMAINS[h % len(DOMAINS)]}"
            zone.add(name, "A", ip, ttl=300)
            add_cymru(zone, ip, add_asn, prefix, "NL", f"AS-NET{net}")
            names.append(name)
    for domain in DOMAINS:
        rdap.add_domain(domain, f"Registrar of {domain}", "9999", "abuse@registrar.example")
    return names


async def run(urls: list[str], ctx: ResolverContext, concurrency: int) -> tuple[float, int]:
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(url: str) -> None:
        nonlocal failures
        async with gate:
            result = await resolve_url(url, ctx)
        if result.errors or result.hosting is None:
            failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(url) for url in urls))
    return len(urls) / (time.perf_counter() - started), failures


async def main(n_urls: int, n_hosts: int, n_networks: int, concurrency: int) -> None:
    zone = Zone()
    async with DnsServer(zone) as dns_server, RdapServer() as rdap, \
            aiohttp.ClientSession(trust_env=False) as http:
        hosts = build_world(zone, rdap, n_hosts, n_networks)
        with tempfile.TemporaryDirectory() as tmp:
            bootstrap = Bootstrap.load(rdap.write_bootstrap(Path(tmp)))
        ctx = ResolverContext(dns=make_resolver([dns_server.address], timeout=2, lifetime=5),
                              http=http, bootstrap=bootstrap, allow_private=True,
                              cache=MemoryFactCache())
        urls = [f"http://{hosts[i % len(hosts)]}/img/{i}.jpg" for i in range(n_urls)]
        cold, cold_failures = await run(urls, ctx, concurrency)
        warm, warm_failures = await run(urls, ctx, concurrency)
        host_set = {h + "." for h in hosts}
        per_host = [n for (name, rdtype), n in dns_server.queries.items()
                    if name in host_set and rdtype in ("A", "AAAA")]
        per_name = list(dns_server.queries.values())
        ip_queries = sum(n for p, n in rdap.requests.items() if p.startswith("/ip/"))
        print(f"{n_urls} URLs on {len(hosts)} hosts over {n_networks} networks, "
              f"concurrency {concurrency}")
        print(f"cold: {cold:8.0f} URLs/s ({cold_failures} with errors)")
        print(f"warm: {warm:8.0f} URLs/s ({warm_failures} with errors)")
        print(f"DNS queries per (host, type): mean {statistics.mean(per_host):.2f}, "
              f"max {max(per_host)} over {len(per_host)} pairs; "
              f"all names incl. Team Cymru: max {max(per_name)}, total {sum(per_name)}")
        print(f"RDAP queries per prefix: {ip_queries / n_networks:.2f} "
              f"({ip_queries} for {n_networks} prefixes)")
        for domain in DOMAINS:
            print(f"RDAP queries for {domain}: registry {rdap.requests[f'/domain/{domain}']}, "
                  f"registrar {rdap.requests[f'/registrar/domain/{domain}']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.urls, args.hosts, args.networks, args.concurrency))
