"""Lookups through the context's cache, coalesced, each with the time it was found out.

Every function returns ``(result, at)``: ``at`` is when the fact was looked up
(earlier than now when it came from the cache), for provenance. What is cached:

* DNS by (host, type), for min(the answer's TTL, ``dns_ttl_cap``); NXDOMAIN for
  ``NEGATIVE_TTL``; errors never;
* Team Cymru origins by announced prefix (an address inside a cached prefix
  reuses it; an unannounced address by itself), AS names by AS number;
* RDAP IP answers by the network's start..end range (an address inside reuses
  it), RDAP domain answers by registered domain, RDAP autnum answers (the abuse
  contact of an AS) by AS number; "not found" for
  ``negative_ttl``, could-not-find-out never;
* port-43 WHOIS answers (``cached_registrar``, for a TLD with no RDAP service in
  the bootstrap, when ``ctx.whois`` is set) under their own kind, same TTLs.

Concurrent identical lookups run once (``Inflight``). An RDAP IP lookup is
coalesced by the Cymru prefix when one is known, so a cold burst of addresses
in one network asks once; an address outside the network that came back asks
for itself. Never raises: results carry their ``error``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from resolvers.asn import AsnInfo, lookup_as_name, lookup_origin
from resolvers.cache import networks_of_range
from resolvers.context import ResolverContext
from resolvers.dns import DnsAnswer, TypeAnswer, combine, normalise_host, precheck, query_type
from resolvers.rdap import Autnum, IpRdap, Registrar, rdap_autnum, rdap_domain, rdap_ip
from resolvers.whois import whois_domain

__all__ = ["cached_addresses", "cached_asn", "cached_rdap_autnum", "cached_rdap_domain",
           "cached_rdap_ip", "cached_registrar"]

T = TypeVar("T")
_Dataclass = TypeVar("_Dataclass", TypeAnswer, AsnInfo, IpRdap, Registrar, Autnum)


def _encode(value: Any) -> dict[str, Any]:
    encoded: dict[str, Any] = dataclasses.asdict(value)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in encoded.items()}


def _decoder(cls: type[_Dataclass]) -> Callable[[Any], _Dataclass]:
    def decode(data: Any) -> _Dataclass:
        if not isinstance(data, dict):
            raise TypeError("not an object")
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in data.items()}
        return cls(**fields)
    return decode


def _parse_at(text: Any) -> datetime:
    value = datetime.fromisoformat(str(text))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _from_cache(ctx: ResolverContext, hit: Any,
                      decode: Callable[[Any], T]) -> tuple[T, datetime] | None:
    if not isinstance(hit, dict):
        return None
    try:
        return decode(hit["value"]), _parse_at(hit["at"])
    except (KeyError, TypeError, ValueError):
        return None  # an entry of another shape (an older version): a miss


def _entry(value: Any, at: datetime) -> dict[str, Any]:
    return {"at": at.astimezone(UTC).isoformat(), "value": _encode(value)}


async def _memo(ctx: ResolverContext, kind: str, key: str,
                compute: Callable[[], Awaitable[tuple[T, float]]],
                decode: Callable[[Any], T]) -> tuple[T, datetime]:
    async def load() -> tuple[T, datetime]:
        if ctx.cache is not None:
            cached = await _from_cache(ctx, await ctx.cache.get(kind, key), decode)
            if cached is not None:
                return cached
        value, ttl = await compute()
        at = ctx.clock()
        if ctx.cache is not None and ttl > 0:
            await ctx.cache.set(kind, key, _entry(value, at), ttl)
        return value, at
    return await ctx.shared.inflight.run(kind, key, load)


async def _dns_type(ctx: ResolverContext, host: str, rdtype: str) -> tuple[TypeAnswer, datetime]:
    async def compute() -> tuple[TypeAnswer, float]:
        answer = await query_type(host, rdtype, ctx.dns)
        return answer, 0.0 if answer.ttl is None else min(float(answer.ttl), ctx.dns_ttl_cap)
    return await _memo(ctx, "dns", f"{host}|{rdtype}", compute, _decoder(TypeAnswer))


async def cached_addresses(host: str, ctx: ResolverContext) -> tuple[DnsAnswer, datetime | None]:
    """A and AAAA of ``host``; ``at`` is None when no query was needed."""
    early = precheck(host)
    if early is not None:
        return early, None
    name = normalise_host(host)
    (v4, v4_at), (v6, v6_at) = await asyncio.gather(_dns_type(ctx, name, "A"),
                                                    _dns_type(ctx, name, "AAAA"))
    return combine(name, v4, v6), min(v4_at, v6_at)


async def _origin(ip: str, ctx: ResolverContext) -> tuple[AsnInfo, datetime]:
    decode = _decoder(AsnInfo)

    async def load() -> tuple[AsnInfo, datetime]:
        if ctx.cache is not None:
            # One after the other: the exact key only when no network holds the address
            # (a tuple of both awaits would ask the shared cache twice every time).
            for ask in (ctx.cache.get_network, ctx.cache.get):
                cached = await _from_cache(ctx, await ask("cymru", ip), decode)
                if cached is not None:
                    return dataclasses.replace(cached[0], ip=ip), cached[1]
        info = await lookup_origin(ip, ctx.dns)
        at = ctx.clock()
        if ctx.cache is not None and info.error is None:
            if info.prefix is not None:
                await ctx.cache.set_network("cymru", [info.prefix], _entry(info, at),
                                            ctx.cymru_ttl)
            else:
                await ctx.cache.set("cymru", ip, _entry(info, at), ctx.cymru_ttl)
        return info, at
    return await ctx.shared.inflight.run("cymru", ip, load)


async def cached_asn(ip: str, ctx: ResolverContext) -> tuple[AsnInfo, datetime]:
    """Origin AS, prefix, country and AS name of ``ip`` (Team Cymru)."""
    info, at = await _origin(ip, ctx)
    if info.asn is None:
        return info, at
    asn = info.asn

    async def compute() -> tuple[AsnInfo, float]:
        name, error = await lookup_as_name(asn, ctx.dns)
        named = AsnInfo(ip="", asn=asn, prefix=None, country=None, registry=None,
                        as_name=name, error=error)
        return named, 0.0 if error else ctx.cymru_ttl
    named, _ = await _memo(ctx, "asname", str(asn), compute, _decoder(AsnInfo))
    return dataclasses.replace(info, as_name=named.as_name, error=named.error), at


def _holds(result: IpRdap, ip: str) -> bool:
    if result.start is None or result.end is None:
        return False
    try:
        network = networks_of_range(result.start, result.end)
        address = ipaddress.ip_address(ip)
        return any(address in ipaddress.ip_network(n) for n in network)
    except ValueError:
        return False


async def cached_rdap_ip(ip: str, ctx: ResolverContext,
                         prefix: str | None = None) -> tuple[IpRdap, datetime]:
    """The RIR's network and abuse contact for ``ip``; coalesced by ``prefix`` if given."""
    decode = _decoder(IpRdap)
    limits = ctx.rdap_limits

    async def load(asked: str) -> tuple[IpRdap, datetime]:
        if ctx.cache is not None:
            for ask in (ctx.cache.get_network, ctx.cache.get):  # in turn, as above
                cached = await _from_cache(ctx, await ask("rdap-ip", asked), decode)
                if cached is not None:
                    return cached
        result = await rdap_ip(asked, ctx.http, ctx.bootstrap, client=ctx.rdap)
        at = ctx.clock()
        if ctx.cache is not None:
            networks = networks_of_range(result.start, result.end) if (
                result.start and result.end and result.error is None) else []
            if networks:
                await ctx.cache.set_network("rdap-ip", networks, _entry(result, at), limits.ttl)
            elif result.error is None or not result.retryable:
                ttl = limits.ttl if result.error is None else limits.negative_ttl
                await ctx.cache.set("rdap-ip", asked, _entry(result, at), ttl)
        return result, at

    key = prefix or ip
    result, at = await ctx.shared.inflight.run("rdap-ip", key, lambda: load(ip))
    if prefix is not None and result.error is None and not _holds(result, ip):
        result, at = await ctx.shared.inflight.run("rdap-ip", ip, lambda: load(ip))
    return result, at


async def cached_rdap_domain(domain: str, ctx: ResolverContext) -> tuple[Registrar, datetime]:
    """The registrar of ``domain`` (registry RDAP, then the registrar's own)."""

    async def compute() -> tuple[Registrar, float]:
        result = await rdap_domain(domain, ctx.http, ctx.bootstrap, client=ctx.rdap)
        return result, _registrar_ttl(result, ctx)
    return await _memo(ctx, "rdap-domain", domain.lower(), compute, _decoder(Registrar))


async def cached_rdap_autnum(asn: int, ctx: ResolverContext) -> tuple[Autnum, datetime]:
    """The abuse contact of AS ``asn``: one query per AS number (then the cache)."""

    async def compute() -> tuple[Autnum, float]:
        result = await rdap_autnum(asn, ctx.http, ctx.bootstrap, client=ctx.rdap)
        if not result.found:
            return result, ctx.rdap_limits.negative_ttl
        return result, _registrar_ttl(result, ctx)
    return await _memo(ctx, "rdap-autnum", str(int(asn)), compute, _decoder(Autnum))


def _registrar_ttl(result: Registrar | Autnum, ctx: ResolverContext) -> float:
    """Found: the RDAP cache time; not found: the negative one; could not find out: 0."""
    if result.error is None:
        return ctx.rdap_limits.ttl
    return 0.0 if result.retryable else ctx.rdap_limits.negative_ttl


async def cached_registrar(domain: str, ctx: ResolverContext) -> tuple[Registrar, datetime, str]:
    """The registrar of ``domain`` and who told: ``"rdap"``, or ``"whois"`` (port 43) when
    the bootstrap has no RDAP server for its TLD and ``ctx.whois`` is set and enabled."""
    whois = ctx.whois
    if whois is None or not whois.enabled or ctx.bootstrap.domain_servers(domain):
        result, at = await cached_rdap_domain(domain, ctx)
        return result, at, "rdap"

    async def compute() -> tuple[Registrar, float]:
        result = await whois_domain(domain, whois)
        return result, _registrar_ttl(result, ctx)
    result, at = await _memo(ctx, "whois-domain", domain.lower(), compute, _decoder(Registrar))
    return result, at, "whois"
