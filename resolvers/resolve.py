"""Resolve one reported URL into its hosting facts: the resolvers in one call.

canonical URL -> DNS (A/AAAA, CNAME chain) -> Team Cymru for every address (up
to ``max_addresses``), RDAP for the hosting address (first IPv4, else first
IPv6) once its prefix is known and, beside it, RDAP autnum for the abuse contact of
its AS (``hosting.as_abuse_emails``: the upstream; a failure there is an ``errors``
entry and leaves it empty, never a reason to resolve again), and concurrently the registrar of the
registrable domain by RDAP (port-43 WHOIS where the TLD has no RDAP service)
-> CDN detection (CNAME, then IP range, then AS).
Every lookup goes through the context's cache and is coalesced
(``resolvers.facts``); every fact carries its source and time (``provenance``).

Outcomes (``resolve_url`` never raises for network trouble):

* ``unresolvable=True`` is a FACT that needs an analyst: the URL is invalid, the
  name cannot resolve publicly (.onion, .i2p, a single label...), it does not
  exist (NXDOMAIN), it has no address, or it points at a private, loopback or
  otherwise non-public address (refused before anything is asked about it,
  unless ``allow_private``);
* ``retryable=True`` means some fact could not be found out now (DNS SERVFAIL or
  timeout, a CNAME loop, a Cymru or RDAP server that did not answer): resolving
  again later may fill it in. It is never set together with ``unresolvable``;
* ``errors`` lists every failure in words, the facts and the could-not-find-outs.
"""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import datetime

from resolvers.addresses import non_public_reason
from resolvers.asn import AsnInfo
from resolvers.cdn import cdn_data_version, detect_cdn
from resolvers.context import ResolverContext
from resolvers.dns import DnsAnswer
from resolvers.domain import registered_domain
from resolvers.facts import (
    cached_addresses,
    cached_asn,
    cached_rdap_autnum,
    cached_rdap_ip,
    cached_registrar,
)
from resolvers.rdap import Autnum, IpRdap, Registrar
from resolvers.resolution import AddressFacts, Hosting, Provenance, Resolution
from resolvers.urls import InvalidURL, canonicalize_url

__all__ = ["AddressFacts", "Hosting", "Provenance", "Resolution", "ResolverContext",
           "non_public_reason", "private_reason", "resolve_url"]


# The older name of the one address policy (``resolvers.addresses``), kept for callers.
private_reason = non_public_reason


_Primary = tuple[AsnInfo, datetime, IpRdap, datetime, Autnum | None, datetime | None]


async def _no_autnum() -> tuple[None, None]:
    return None, None


async def _primary(ip: str | None, ctx: ResolverContext) -> _Primary | None:
    if ip is None:
        return None
    asn, asn_at = await cached_asn(ip, ctx)
    autnum_job = cached_rdap_autnum(asn.asn, ctx) if asn.asn is not None else _no_autnum()
    (rdap, rdap_at), (autnum, autnum_at) = await asyncio.gather(
        cached_rdap_ip(ip, ctx, asn.prefix), autnum_job)
    return asn, asn_at, rdap, rdap_at, autnum, autnum_at


async def _no_registrar() -> tuple[Registrar, datetime, str] | tuple[None, None, None]:
    return None, None, None


def _dns_outcome(answer: DnsAnswer, host: str) -> tuple[str | None, bool, bool]:
    """(error, unresolvable, retryable) of the DNS answer."""
    if answer.not_public is not None:
        return f"dns: {answer.not_public}", True, False
    if answer.nxdomain:
        return f"dns: {host} does not exist (NXDOMAIN)", True, False
    if answer.error is not None:
        return f"dns: {answer.error}", False, True
    if not answer.addresses:
        return f"dns: {host} has no A or AAAA record", True, False
    return None, False, False


async def resolve_url(url: str, ctx: ResolverContext) -> Resolution:
    """Everything the resolvers know about ``url`` now; never raises for network trouble."""
    try:
        canonical = canonicalize_url(url)
    except InvalidURL as exc:
        return Resolution(url.strip(), "", None, (), (), None, None, None,
                          (f"invalid URL: {exc}",), True, False, ctx.clock())
    host = canonical.host
    domain = None if canonical.host_is_ip else registered_domain(host)
    answer, dns_at = await cached_addresses(host, ctx)
    ips, chain = answer.addresses, answer.cname_chain
    if answer.not_public is not None:
        domain = None  # no registry sells it: nothing to ask a registrar
    provenance: list[Provenance] = []
    if dns_at is not None:
        provenance.append(Provenance("dns", "dns", dns_at))
    if not ctx.allow_private:
        for ip in ips:
            reason = non_public_reason(ip)
            if reason is not None:
                refusal = f"refused: {ip} is {reason} (private targets are not allowed)"
                return Resolution(canonical.url, host, domain, chain, ips, None, None, None,
                                  (refusal,), True, False, ctx.clock(),
                                  provenance=tuple(provenance))
    errors: list[str] = []
    dns_error, unresolvable, retryable = _dns_outcome(answer, host)
    if dns_error is not None:
        errors.append(dns_error)
    v4 = [ip for ip in ips if ipaddress.ip_address(ip).version == 4]
    candidates = v4 or list(ips)
    hosting_ip = candidates[0] if candidates else None
    others = [ip for ip in ips if ip != hosting_ip][: max(ctx.max_addresses - 1, 0)]
    registrar_job = cached_registrar(domain, ctx) if domain else _no_registrar()
    (registrar, registrar_at, registrar_source), primary, other_asns = await asyncio.gather(
        registrar_job, _primary(hosting_ip, ctx),
        asyncio.gather(*(cached_asn(ip, ctx) for ip in others)))
    hosting = None
    address_facts: list[AddressFacts] = []
    if hosting_ip is not None and primary is not None:
        asn, asn_at, ip_rdap, rdap_at, autnum, autnum_at = primary
        for info in (asn, *(a for a, _ in other_asns)):
            if info.error is not None:
                errors.append(info.error)
                retryable = True
            address_facts.append(AddressFacts(ip=info.ip, asn=info.asn, prefix=info.prefix,
                                              country=info.country, as_name=info.as_name))
        if ip_rdap.error is not None:
            errors.append(ip_rdap.error)
            retryable = retryable or ip_rdap.retryable
        as_abuse: tuple[str, ...] = ()
        if autnum is not None and autnum.error is not None:
            errors.append(autnum.error)  # only the upstream rung misses it: not retried
        elif autnum is not None and autnum_at is not None:
            as_abuse = autnum.abuse_emails
        geoip_country = ctx.geoip.country(hosting_ip) if ctx.geoip is not None else None
        hosting = Hosting(ip=hosting_ip, asn=asn.asn, as_name=asn.as_name, prefix=asn.prefix,
                          country=ip_rdap.country or asn.country,
                          abuse_emails=ip_rdap.abuse_emails, geoip_country=geoip_country,
                          as_abuse_emails=as_abuse)
        if ctx.geoip is not None:
            provenance.append(Provenance("hosting.geoip_country", "geoip", ctx.clock(),
                                         ctx.geoip.description))
        provenance.append(Provenance("hosting.network", "cymru", asn_at))
        provenance.append(Provenance("hosting.abuse_emails", "rdap", rdap_at, ip_rdap.handle))
        provenance.append(Provenance("hosting.country", "rdap" if ip_rdap.country else "cymru",
                                     rdap_at if ip_rdap.country else asn_at))
        if autnum is not None and autnum.found and autnum.error is None and autnum_at is not None:
            provenance.append(Provenance("hosting.as_abuse_emails", "rdap", autnum_at,
                                         autnum.handle or f"AS{autnum.asn}"))
        provenance.append(Provenance("addresses", "cymru",
                                     min([asn_at, *(at for _, at in other_asns)])))
    if registrar is not None and registrar.error is not None:
        errors.append(registrar.error)
        retryable = retryable or registrar.retryable
        registrar = None
    if registrar is not None and registrar_at is not None:
        provenance.append(Provenance("registrar", registrar_source or "rdap", registrar_at,
                                     registrar.rdap_url))
    cdn = detect_cdn(chain, hosting.asn if hosting else None, ips)
    now = ctx.clock()
    if cdn is not None:
        provenance.append(Provenance("cdn", "cdn-data", now, cdn_data_version()))
    asns = {a.asn for a in address_facts if a.asn is not None}
    countries = {a.country for a in address_facts if a.country is not None}
    return Resolution(canonical.url, host, domain, chain, ips, hosting, cdn, registrar,
                      tuple(errors), unresolvable, retryable and not unresolvable, now,
                      addresses=tuple(address_facts), spans_networks=len(asns) > 1,
                      spans_countries=len(countries) > 1, provenance=tuple(provenance))
