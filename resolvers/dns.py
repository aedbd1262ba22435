"""Addresses of a host name: A and AAAA, and the CNAME chain that led to them.

Failures are classified:

* a FACT: NXDOMAIN (the name does not exist: ``nxdomain=True``), NODATA for a
  type (that type is simply empty), a name with no address of either type
  (empty ``addresses``, no error);
* could not find out, retry later (``error`` is set): SERVFAIL from every
  server, timeout, a CNAME loop or over-long chain, an answer we cannot parse.

The resolver is injected: ``make_resolver`` builds one from the
``NTTD_DNS_SERVERS`` list (explicit servers never read ``/etc/resolv.conf``).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.resolver

__all__ = ["DnsAnswer", "make_resolver", "parse_server", "resolve_addresses"]

_MAX_CHAIN = 16


def parse_server(entry: str) -> tuple[str, int]:
    """Parse ``ip``, ``ip:port``, ``v6`` or ``[v6]:port`` into (ip, port)."""
    text = entry.strip()
    host, port_text = text, ""
    if text.startswith("["):
        close = text.find("]")
        if close == -1 or (text[close + 1 :] and not text[close + 1 :].startswith(":")):
            raise ValueError(f"bad DNS server {entry!r}: use [v6]:port")
        host, port_text = text[1:close], text[close + 2 :]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"bad DNS server {entry!r}: not an IP address") from None
    port = 53
    if port_text or text.endswith(":"):
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"bad DNS server {entry!r}: the port must be 1-65535")
        port = int(port_text)
    return str(address), port


def make_resolver(
    servers: Sequence[str] | None, *, timeout: float = 2.0, lifetime: float = 5.0
) -> dns.asyncresolver.Resolver:
    """An async resolver asking ``servers`` (or the system's when None or empty)."""
    if servers:
        nameservers: list[str | dns.nameserver.Nameserver] = []
        for entry in servers:
            ip, port = parse_server(entry)
            nameservers.append(dns.nameserver.Do53Nameserver(ip, port))
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = nameservers
    else:
        resolver = dns.asyncresolver.Resolver(configure=True)
    resolver.timeout = timeout
    resolver.lifetime = lifetime
    resolver.cache = None  # answers are facts of the moment; callers cache if they want
    return resolver


@dataclass(frozen=True)
class DnsAnswer:
    """What DNS says about one host."""

    host: str
    cname_chain: tuple[str, ...]  # every name after `host`, in order, no trailing dots
    addresses: tuple[str, ...]  # A then AAAA
    nxdomain: bool  # the name does not exist (a fact)
    error: str | None  # could not find out (SERVFAIL, timeout, loop...): retry later


@dataclass(frozen=True)
class _TypeResult:
    chain: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    nxdomain: bool = False
    error: str | None = None


def _name(value: dns.name.Name) -> str:
    return value.to_text(omit_final_dot=True).lower()


def _chain_of(response: object) -> tuple[str, ...]:
    """The CNAME targets in ``response``, in order (best effort, for NXDOMAIN)."""
    if not isinstance(response, dns.message.QueryMessage):
        return ()
    try:
        result = response.resolve_chaining()
    except dns.exception.DNSException:
        return ()
    return tuple(_name(rrset[0].target) for rrset in result.cnames if len(rrset))


async def _query(host: str, rdtype: str, resolver: dns.asyncresolver.Resolver) -> _TypeResult:
    qname = dns.name.from_text(host)
    try:
        answer = await resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN as exc:
        chain: tuple[str, ...] = ()
        responses: dict[object, object] = exc.kwargs.get("responses") or {}
        for response in responses.values():
            chain = _chain_of(response)
        return _TypeResult(chain=chain, nxdomain=True)
    except dns.message.ChainTooLong:
        return _TypeResult(error=f"{rdtype}: CNAME chain too long or looping")
    except dns.resolver.LifetimeTimeout:
        return _TypeResult(error=f"{rdtype}: timed out")
    except dns.resolver.NoNameservers as exc:
        return _TypeResult(error=f"{rdtype}: no server could answer ({_short(exc)})")
    except dns.exception.DNSException as exc:
        return _TypeResult(error=f"{rdtype}: {_short(exc)}")
    except OSError as exc:
        return _TypeResult(error=f"{rdtype}: network error ({exc})")
    chain = tuple(_name(rrset[0].target) for rrset in answer.chaining_result.cnames if len(rrset))
    addresses = tuple(rdata.to_text() for rdata in answer.rrset) if answer.rrset else ()
    return _TypeResult(chain=chain, addresses=addresses)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _check_chain(host: str, chain: tuple[str, ...]) -> str | None:
    seen = {host}
    for name in chain:
        if name in seen:
            return f"CNAME loop at {name}"
        seen.add(name)
    if len(chain) > _MAX_CHAIN:
        return f"CNAME chain longer than {_MAX_CHAIN}"
    return None


async def resolve_addresses(host: str, resolver: dns.asyncresolver.Resolver) -> DnsAnswer:
    """Ask for A and AAAA concurrently; never raises for DNS trouble."""
    name = host.strip().rstrip(".").lower()
    literal = name.strip("[]")
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        pass
    else:
        return DnsAnswer(host=name, cname_chain=(), addresses=(str(address),), nxdomain=False,
                         error=None)
    try:
        dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        return DnsAnswer(host=name, cname_chain=(), addresses=(), nxdomain=False,
                         error=f"not a valid DNS name: {_short(exc)}")
    v4, v6 = await asyncio.gather(_query(name, "A", resolver), _query(name, "AAAA", resolver))
    chain = v4.chain or v6.chain
    addresses = v4.addresses + v6.addresses
    loop_error = _check_chain(name, chain)
    if loop_error is not None:
        return DnsAnswer(host=name, cname_chain=chain, addresses=(), nxdomain=False,
                         error=loop_error)
    if addresses:
        return DnsAnswer(host=name, cname_chain=chain, addresses=addresses, nxdomain=False,
                         error=None)
    if v4.nxdomain or v6.nxdomain:
        return DnsAnswer(host=name, cname_chain=chain, addresses=(), nxdomain=True, error=None)
    errors = [e for e in (v4.error, v6.error) if e is not None]
    return DnsAnswer(host=name, cname_chain=chain, addresses=(), nxdomain=False,
                     error="; ".join(errors) if errors else None)
