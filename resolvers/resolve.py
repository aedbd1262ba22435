"""Resolve one reported URL into its hosting facts: the resolvers in one call.

canonical URL -> DNS (A/AAAA, CNAME chain) -> for the hosting address (first
IPv4, else first IPv6) Team Cymru and RDAP concurrently, and the registrar of
the registrable domain by RDAP -> CDN detection.

Outcomes (``resolve_url`` never raises for network trouble):

* ``unresolvable=True`` is a FACT that needs an analyst: the URL is invalid, the
  name does not exist (NXDOMAIN), it has no address, or it points at a private,
  loopback or otherwise non-public address (refused before anything is asked
  about it, unless ``allow_private``);
* ``retryable=True`` means some fact could not be found out now (DNS SERVFAIL or
  timeout, a Cymru or RDAP server that did not answer): resolving again later
  may fill it in. It is never set together with ``unresolvable``;
* ``errors`` lists every failure in words, the facts and the could-not-find-outs.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from dns.asyncresolver import Resolver as DnsResolver

from resolvers.asn import AsnInfo, lookup_asn
from resolvers.cdn import Cdn, detect_cdn
from resolvers.dns import DnsAnswer, resolve_addresses
from resolvers.domain import registered_domain
from resolvers.rdap import Bootstrap, IpRdap, Registrar, rdap_domain, rdap_ip
from resolvers.urls import InvalidURL, canonicalize_url

__all__ = ["Hosting", "Resolution", "ResolverContext", "private_reason", "resolve_url"]

T = TypeVar("T")


@dataclass(frozen=True)
class Hosting:
    """Who hosts the address the URL resolves to."""

    ip: str
    asn: int | None
    as_name: str | None
    prefix: str | None
    country: str | None  # the RDAP country if present, else Cymru's
    abuse_emails: tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    """The hosting facts of one URL at one moment."""

    url: str
    host: str
    registered_domain: str | None
    cname_chain: tuple[str, ...]
    ips: tuple[str, ...]
    hosting: Hosting | None
    cdn: Cdn | None
    registrar: Registrar | None
    errors: tuple[str, ...]
    unresolvable: bool  # a FACT: it cannot be resolved (analyst needed)
    retryable: bool  # could not find out now: resolve again later
    resolved_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of DESIGN.md (plus a few extra keys so from_json is exact)."""
        h, c, r = self.hosting, self.cdn, self.registrar
        return {
            "url": self.url,
            "host": self.host,
            "registered_domain": self.registered_domain,
            "cname_chain": list(self.cname_chain),
            "ips": list(self.ips),
            "hosting": None if h is None else {
                "ip": h.ip, "asn": h.asn, "as_name": h.as_name, "prefix": h.prefix,
                "country": h.country, "abuse_emails": list(h.abuse_emails),
            },
            "cdn": None if c is None else {
                "name": c.name, "abuse_emails": list(c.abuse_emails), "abuse_url": c.abuse_url,
                "matched_by": c.matched_by,
            },
            "registrar": None if r is None else {
                "name": r.name, "iana_id": r.iana_id, "abuse_emails": list(r.abuse_emails),
                "abuse_phone": r.abuse_phone, "rdap_url": r.rdap_url,
            },
            "errors": list(self.errors),
            "unresolvable": self.unresolvable,
            "retryable": self.retryable,
            "resolved_at": self.resolved_at.astimezone(UTC).isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resolution:
        """Rebuild what ``to_json`` wrote."""
        h, c, r = data.get("hosting"), data.get("cdn"), data.get("registrar")
        resolved_at = datetime.fromisoformat(data["resolved_at"])
        if resolved_at.tzinfo is None:
            resolved_at = resolved_at.replace(tzinfo=UTC)
        return cls(
            url=data["url"],
            host=data["host"],
            registered_domain=data.get("registered_domain"),
            cname_chain=tuple(data.get("cname_chain") or ()),
            ips=tuple(data.get("ips") or ()),
            hosting=None if h is None else Hosting(
                ip=h["ip"], asn=h.get("asn"), as_name=h.get("as_name"), prefix=h.get("prefix"),
                country=h.get("country"), abuse_emails=tuple(h.get("abuse_emails") or ()),
            ),
            cdn=None if c is None else Cdn(
                name=c["name"], abuse_emails=tuple(c.get("abuse_emails") or ()),
                abuse_url=c.get("abuse_url"), matched_by=c.get("matched_by", ""),
            ),
            registrar=None if r is None else Registrar(
                name=r.get("name"), iana_id=r.get("iana_id"),
                abuse_emails=tuple(r.get("abuse_emails") or ()),
                abuse_phone=r.get("abuse_phone"), rdap_url=r.get("rdap_url"), error=None,
            ),
            errors=tuple(data.get("errors") or ()),
            unresolvable=bool(data.get("unresolvable", False)),
            retryable=bool(data.get("retryable", False)),
            resolved_at=resolved_at.astimezone(UTC),
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ResolverContext:
    """The outside world the resolution goes through (all injected)."""

    dns: DnsResolver
    http: aiohttp.ClientSession
    bootstrap: Bootstrap
    allow_private: bool = False
    clock: Callable[[], datetime] = field(default=_utc_now)


def private_reason(ip: str) -> str | None:
    """Why ``ip`` must not be looked up or checked ("a loopback address"), or None."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    return None if address.is_global else "a non-public address"


async def _skip(value: T) -> T:
    return value


async def resolve_url(url: str, ctx: ResolverContext) -> Resolution:
    """Everything the resolvers know about ``url`` now; never raises for network trouble."""
    try:
        canonical = canonicalize_url(url)
    except InvalidURL as exc:
        return Resolution(url.strip(), "", None, (), (), None, None, None,
                          (f"invalid URL: {exc}",), True, False, ctx.clock())
    host = canonical.host
    domain = None if canonical.host_is_ip else registered_domain(host)
    if canonical.host_is_ip:
        answer = DnsAnswer(host=host, cname_chain=(), addresses=(host,), nxdomain=False, error=None)
    else:
        answer = await resolve_addresses(host, ctx.dns)
    ips, chain = answer.addresses, answer.cname_chain
    if not ctx.allow_private:
        for ip in ips:
            reason = private_reason(ip)
            if reason is not None:
                refusal = f"refused: {ip} is {reason} (private targets are not allowed)"
                return Resolution(canonical.url, host, domain, chain, ips, None, None, None,
                                  (refusal,), True, False, ctx.clock())
    errors: list[str] = []
    unresolvable = retryable = False
    if answer.nxdomain:
        errors.append(f"dns: {host} does not exist (NXDOMAIN)")
        unresolvable = True
    elif answer.error is not None:
        errors.append(f"dns: {answer.error}")
        retryable = True
    elif not ips:
        errors.append(f"dns: {host} has no A or AAAA record")
        unresolvable = True
    v4 = [ip for ip in ips if ipaddress.ip_address(ip).version == 4]
    candidates = v4 or list(ips)
    hosting_ip = candidates[0] if candidates else None
    no_registrar: Registrar | None = None
    asn_job: Awaitable[AsnInfo | None]
    ip_job: Awaitable[IpRdap | None]
    if hosting_ip is not None:
        asn_job = lookup_asn(hosting_ip, ctx.dns)
        ip_job = rdap_ip(hosting_ip, ctx.http, ctx.bootstrap)
    else:
        asn_job, ip_job = _skip(None), _skip(None)
    registrar_job = rdap_domain(domain, ctx.http, ctx.bootstrap) if domain else _skip(no_registrar)
    asn, ip_rdap, registrar = await asyncio.gather(asn_job, ip_job, registrar_job)
    hosting = None
    if hosting_ip is not None and asn is not None and ip_rdap is not None:
        if asn.error is not None:
            errors.append(asn.error)
            retryable = True
        if ip_rdap.error is not None:
            errors.append(ip_rdap.error)
            retryable = retryable or ip_rdap.retryable
        hosting = Hosting(ip=hosting_ip, asn=asn.asn, as_name=asn.as_name, prefix=asn.prefix,
                          country=ip_rdap.country or asn.country,
                          abuse_emails=ip_rdap.abuse_emails)
    if registrar is not None and registrar.error is not None:
        errors.append(registrar.error)
        retryable = retryable or registrar.retryable
        registrar = None
    cdn = detect_cdn(chain, hosting.asn if hosting else None)
    return Resolution(canonical.url, host, domain, chain, ips, hosting, cdn, registrar,
                      tuple(errors), unresolvable, retryable and not unresolvable, ctx.clock())
