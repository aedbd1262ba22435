"""IP address to origin AS, prefix and country, from Team Cymru's DNS service.

Two TXT queries through the injected resolver:

* ``d.c.b.a.origin.asn.cymru.com`` (IPv6: nibbles under ``origin6.asn.cymru.com``)
  answers ``"ASN | prefix | CC | registry | date"``; several records or several
  origins ("64500 64501 | ...") can come back: the most specific prefix wins,
  and of its origins the first;
* ``AS<n>.asn.cymru.com`` answers ``"ASN | CC | registry | date | AS NAME, CC"``.

Failures: NXDOMAIN or an empty answer for the origin is a FACT (the address is
not announced: ``asn=None``, ``error=None``). Timeout, SERVFAIL or an answer
we cannot read is could-not-find-out (``error`` set, retry later). A failed AS
name lookup keeps what the origin lookup found and sets ``error``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver

__all__ = ["AsnInfo", "cymru_origin_name", "lookup_as_name", "lookup_asn", "lookup_origin"]

_TRAILING_COUNTRY = re.compile(r",\s*[A-Z]{2}$")


@dataclass(frozen=True)
class AsnInfo:
    """The origin AS of an address, as Team Cymru sees it."""

    ip: str
    asn: int | None
    prefix: str | None
    country: str | None
    registry: str | None
    as_name: str | None
    error: str | None  # could not find out: retry later


def cymru_origin_name(ip: str) -> str:
    """The origin query name for an IPv4 or IPv6 address."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ".".join(reversed(str(address).split("."))) + ".origin.asn.cymru.com"
    nibbles = address.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + ".origin6.asn.cymru.com"


class _NoRecord(Exception):
    """The name has no TXT record: a fact."""


async def _txt(name: str, resolver: dns.asyncresolver.Resolver) -> list[str]:
    """The TXT strings at ``name``; raises _NoRecord or dns.exception.DNSException."""
    try:
        answer = await resolver.resolve(dns.name.from_text(name), "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        raise _NoRecord(name) from None
    texts = []
    for rdata in answer:
        parts: tuple[bytes, ...] = rdata.strings
        texts.append(b"".join(parts).decode("utf-8", errors="replace"))
    return texts


def _fields(text: str) -> list[str]:
    return [field.strip() for field in text.split("|")]


def _blank(value: str) -> str | None:
    return value if value else None


def _pick_origin(texts: list[str]) -> tuple[int, str | None, str | None, str | None] | None:
    """(asn, prefix, country, registry) of the most specific prefix, or None."""
    best: tuple[int, tuple[int, str | None, str | None, str | None]] | None = None
    for text in texts:
        fields = _fields(text)
        if len(fields) < 3 or not fields[0]:
            continue
        try:
            asn = int(fields[0].split()[0])
        except ValueError:
            continue
        prefix = _blank(fields[1])
        length = -1
        if prefix is not None:
            try:
                length = ipaddress.ip_network(prefix, strict=False).prefixlen
            except ValueError:
                prefix = None
        country = _blank(fields[2].upper())
        registry = _blank(fields[3].lower()) if len(fields) > 3 else None
        if best is None or length > best[0]:
            best = (length, (asn, prefix, country, registry))
    return None if best is None else best[1]


async def lookup_origin(ip: str, resolver: dns.asyncresolver.Resolver) -> AsnInfo:
    """Origin AS, prefix, country and registry of ``ip`` (no AS name); never raises."""
    try:
        origin_name = cymru_origin_name(ip)
    except ValueError:
        return AsnInfo(ip, None, None, None, None, None, error=f"{ip!r} is not an IP address")
    try:
        texts = await _txt(origin_name, resolver)
    except _NoRecord:
        return AsnInfo(ip, None, None, None, None, None, error=None)
    except (dns.exception.DNSException, OSError) as exc:
        return AsnInfo(ip, None, None, None, None, None, error=f"cymru origin: {_why(exc)}")
    origin = _pick_origin(texts)
    if origin is None:
        return AsnInfo(ip, None, None, None, None, None,
                       error=f"cymru origin: unreadable answer {texts[:1]!r:.200}")
    asn, prefix, country, registry = origin
    return AsnInfo(ip, asn, prefix, country, registry, None, None)


async def lookup_as_name(asn: int, resolver: dns.asyncresolver.Resolver) -> tuple[str | None,
                                                                                 str | None]:
    """(AS name, error) of ``asn``: (None, None) when Cymru has no name (a fact)."""
    try:
        for text in await _txt(f"AS{asn}.asn.cymru.com", resolver):
            fields = _fields(text)
            if len(fields) >= 5 and fields[4]:
                name = _TRAILING_COUNTRY.sub("", fields[4]).strip()
                return (name[:200] or None), None
    except _NoRecord:
        pass
    except (dns.exception.DNSException, OSError) as exc:
        return None, f"cymru AS name: {_why(exc)}"
    return None, None


async def lookup_asn(ip: str, resolver: dns.asyncresolver.Resolver) -> AsnInfo:
    """Origin AS, prefix, country and AS name of ``ip``; never raises for DNS trouble."""
    origin = await lookup_origin(ip, resolver)
    if origin.asn is None:
        return origin
    as_name, error = await lookup_as_name(origin.asn, resolver)
    return dataclasses.replace(origin, as_name=as_name, error=error)


def _why(exc: BaseException) -> str:
    if isinstance(exc, dns.resolver.LifetimeTimeout):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
