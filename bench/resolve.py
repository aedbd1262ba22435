"""Benchmark: resolving 10,000 URLs on 500 hosts over 20 networks (not a test).

Everything is served on loopback by the test stand-ins (a DNS server answering
A/AAAA and Team Cymru TXT, an RDAP server for the networks and domains). Run
from the repository root:

    python -m bench.resolve [--urls 10000] [--hosts 500] [--networks 20]

It prints URLs/s with a cold cache and again warm, DNS queries per (host, record
type), and RDAP queries per prefix and per registered domain. Targets: >= 150
URLs/s cold, >= 500 warm, <= 1.1 DNS queries per (host, type), <= 1 RDAP query
per prefix and per domain.

Two baselines are measured in the same run, after the resolver passes (so they
do not disturb the query counts), and printed as ratios (resolver rate divided
by baseline rate; 1.00 means "as fast as the baseline"):

* ``cold vs raw-DNS baseline``: a bare dnspython loop doing only the DNS a cold
  resolution cannot avoid for the same hosts on the same stand-in, at the same
  concurrency: A and AAAA per host, then the Team Cymru origin TXT per address
  it got. Its rate is counted in URLs (all the URLs' hosts done, divided by its
  time). The ratio says what share of raw DNS speed a cold resolution keeps
  while also doing the AS-name lookups, RDAP for networks and domains, CDN
  detection and fact assembly; below 1 is expected, the gap is that work.
* ``warm vs in-memory dict baseline``: the least a warm resolution must do per
  URL, parse the URL and fetch its host's facts from a dict, in a plain loop.
  The ratio is the share of that floor the warm path reaches; it is small by
  nature (the warm path still goes through the event loop, the cache's
  freshness checks and builds a full result with provenance) and is watched
  for regressions, not held to 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import dns.asyncresolver
import dns.exception
import dns.resolver

from nttd.demo.standins.dns_server import DnsServer, Zone, add_cymru
from nttd.demo.standins.rdap_server import RdapServer
from resolvers.asn import cymru_origin_name
from resolvers.cache import MemoryFactCache
from resolvers.dns import make_resolver
from resolvers.rdap import Bootstrap
from resolvers.resolve import ResolverContext, resolve_url

DOMAINS = ("example.com", "example.net", "example.org")


def build_world(zone: Zone, rdap: RdapServer, hosts: int, networks: int) -> list[str]:
    """Fill the stand-ins; return the host names."""
    names = []
    for net in range(networks):
        prefix = f"127.{net + 1}.0.0/24"
        add_asn = 64500 + net
        rdap.add_ip_network(prefix, "NL" if net % 2 else "DE", f"abuse@net{net}.example",
                            f"NET{net}", style="arin" if net % 3 == 0 else "ripe")
        rdap.add_autnum(add_asn, f"AS-NET{net}", f"abuse@transit{net}.example")
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


async def raw_dns(hosts: list[str], resolver: dns.asyncresolver.Resolver, concurrency: int,
                  ) -> tuple[float, dict[str, list[str]], int]:
    """The baseline: A + AAAA per host, then the Cymru origin TXT per address, nothing
    else (no cache, no parsing beyond the addresses). Returns (seconds, host -> addresses,
    queries sent)."""
    gate = asyncio.Semaphore(concurrency)
    found: dict[str, list[str]] = {}
    sent = 0

    async def query(name: str, rdtype: str) -> list[str]:
        nonlocal sent
        sent += 1
        try:
            answer = await resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers, dns.exception.Timeout):
            return []
        return [rr.to_text() for rr in answer.rrset] if answer.rrset is not None else []

    async def one(host: str) -> None:
        async with gate:
            v4, v6 = await asyncio.gather(query(host, "A"), query(host, "AAAA"))
            found[host] = v4 + v6
            await asyncio.gather(*(query(cymru_origin_name(ip), "TXT") for ip in v4 + v6))

    started = time.perf_counter()
    await asyncio.gather(*(one(host) for host in hosts))
    return time.perf_counter() - started, found, sent


def dict_floor(urls: list[str], facts: dict[str, Any], min_seconds: float = 0.5) -> float:
    """URLs/s of the warm floor: parse each URL, fetch its host's facts from a dict."""
    rounds, started = 0, time.perf_counter()
    while True:
        for url in urls:
            facts.get(urlsplit(url).hostname or "")
        rounds += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return rounds * len(urls) / elapsed


async def main(n_urls: int, n_hosts: int, n_networks: int, concurrency: int,
               as_json: bool = False) -> None:
    zone = Zone()
    async with DnsServer(zone) as dns_server, RdapServer() as rdap, \
            aiohttp.ClientSession(trust_env=False) as http:
        hosts = build_world(zone, rdap, n_hosts, n_networks)
        with tempfile.TemporaryDirectory() as tmp:
            bootstrap = Bootstrap.load(rdap.write_bootstrap(Path(tmp), asns=["64496-65534"]))
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
        autnum_queries = sum(n for p, n in rdap.requests.items() if p.startswith("/autnum/"))
        print(f"RDAP autnum queries per AS: {autnum_queries / n_networks:.2f} "
              f"({autnum_queries} for {n_networks} ASes)")
        for domain in DOMAINS:
            print(f"RDAP queries for {domain}: registry {rdap.requests[f'/domain/{domain}']}, "
                  f"registrar {rdap.requests[f'/registrar/domain/{domain}']}")

        # Baselines, after the counts above were taken.
        raw_seconds, found, sent = await raw_dns(
            hosts, make_resolver([dns_server.address], timeout=2, lifetime=5), concurrency)
        raw = n_urls / raw_seconds
        floor = dict_floor(urls, found)
        print(f"raw-DNS baseline: {raw:8.0f} URLs/s ({sent} queries for {len(hosts)} hosts "
              f"in {raw_seconds:.2f} s)")
        print(f"dict baseline:    {floor:8.0f} URLs/s")
        print(f"cold vs raw-DNS baseline: {cold / raw:.2f}")
        print(f"warm vs in-memory dict baseline: {warm / floor:.4f}")
        if as_json:  # one line for bench/run_all.py
            print(json.dumps({"bench": "resolve", "params": {
                "urls": n_urls, "hosts": len(hosts), "networks": n_networks,
                "concurrency": concurrency}, "figures": [
                {"name": "cold resolve rate", "unit": "URLs/s", "value": round(cold, 1),
                 "baseline": "raw DNS loop", "baseline_value": round(raw, 1),
                 "ratio": round(cold / raw, 3), "better": "higher"},
                {"name": "warm resolve rate", "unit": "URLs/s", "value": round(warm, 1),
                 "baseline": "in-memory dict", "baseline_value": round(floor, 1),
                 "ratio": round(warm / floor, 4), "better": "higher"},
                {"name": "DNS queries per (host, type)", "unit": "queries",
                 "value": round(statistics.mean(per_host), 3), "baseline": "one each",
                 "baseline_value": 1, "ratio": round(statistics.mean(per_host), 3),
                 "better": "lower"},
                {"name": "RDAP queries per prefix", "unit": "queries",
                 "value": round(ip_queries / n_networks, 3), "baseline": "one each",
                 "baseline_value": 1, "ratio": round(ip_queries / n_networks, 3),
                 "better": "lower"}]}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    asyncio.run(main(args.urls, args.hosts, args.networks, args.concurrency, args.json))
