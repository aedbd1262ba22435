"""The address guard: which hosts the availability checker may connect to.

nttd checks URLs that anyone could have reported, so a URL must not become a way
to make the service talk to itself or to a private network (SSRF). The guard is
an aiohttp resolver: every address aiohttp connects to comes out of
`GuardedResolver.resolve`, so the decision is made on the address actually
connected to, which also holds against DNS rebinding (there is no second lookup
to win). IP-literal hosts never reach a resolver in aiohttp, so callers check
them with `GuardedResolver.check_literal` first.

Failures, as exceptions (all `OSError`, so aiohttp wraps them in
`ClientConnectorDNSError` and keeps the original as `os_error`):

    OSError
     ├── AddressNotAllowed   the target's addresses are all private/reserved (a fact)
     ├── DnsNameNotFound     NXDOMAIN, no A/AAAA records, or a name DNS cannot
     │                       hold (a fact: the name does not lead anywhere)
     └── DnsLookupFailed     SERVFAIL, timeout, no nameserver answered
                             (could not find out: retry later)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
from aiohttp.abc import AbstractResolver, ResolveResult

# The one address policy lives in resolvers; these names stay importable from here.
from resolvers.addresses import is_public_address as is_public_address
from resolvers.addresses import parse_ip_literal as parse_ip_literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressNotAllowed(OSError):
    """Every address of the target is one the guard refuses to connect to."""


class DnsNameNotFound(OSError):
    """The name does not exist (NXDOMAIN) or has no address records."""


class DnsLookupFailed(OSError):
    """The lookup failed (SERVFAIL, timeout): nothing is known about the name."""


class GuardedResolver(AbstractResolver):
    """aiohttp resolver over dnspython that drops addresses nttd must not reach.

    With `allow_private=True` (tests, demo) every address is kept.
    """

    def __init__(self, dns_resolver: dns.asyncresolver.Resolver, *, allow_private: bool) -> None:
        self._dns = dns_resolver
        self._allow_private = allow_private

    @property
    def allow_private(self) -> bool:
        return self._allow_private

    def allowed(self, addr: IPAddress) -> bool:
        return self._allow_private or is_public_address(addr)

    def check_literal(self, host: str) -> None:
        """Raise AddressNotAllowed if `host` is an IP literal the guard refuses."""
        addr = parse_ip_literal(host)
        if addr is not None and not self.allowed(addr):
            raise AddressNotAllowed(f"address {addr} is not allowed")

    async def _lookup(self, host: str, rdtype: str) -> list[str] | BaseException:
        try:
            answer = await self._dns.resolve(host, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return DnsNameNotFound(f"{host}: no such name (NXDOMAIN)")
        except (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel) as exc:
            return DnsNameNotFound(f"{host}: not a valid DNS name ({exc})")
        except dns.exception.Timeout:
            return DnsLookupFailed(f"{host}: DNS timeout ({rdtype})")
        except dns.resolver.NoNameservers:
            return DnsLookupFailed(f"{host}: DNS server failure ({rdtype})")
        except dns.exception.DNSException as exc:
            return DnsLookupFailed(f"{host}: DNS error ({type(exc).__name__})")
        if answer.rrset is None:
            return []
        return [rdata.to_text() for rdata in answer.rrset]

    async def _addresses(self, host: str, family: socket.AddressFamily) -> list[IPAddress]:
        literal = parse_ip_literal(host)
        if literal is not None:
            return [literal]
        rdtypes = {socket.AF_INET: ["A"], socket.AF_INET6: ["AAAA"]}.get(family, ["A", "AAAA"])
        results = await asyncio.gather(*(self._lookup(host, t) for t in rdtypes))
        found: list[IPAddress] = []
        failures: list[BaseException] = []
        for result in results:
            if isinstance(result, BaseException):
                failures.append(result)
            else:
                found.extend(ipaddress.ip_address(text) for text in result)
        for failure in failures:
            if isinstance(failure, DnsNameNotFound):
                raise failure  # NXDOMAIN is about the name, whatever the type asked
        if found:
            return found
        if failures:
            raise failures[0]
        raise DnsNameNotFound(f"{host}: no address records")

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._addresses(host, family)
        kept = [addr for addr in addresses if self.allowed(addr)]
        if not kept:
            listed = ", ".join(str(a) for a in addresses)
            raise AddressNotAllowed(f"{host}: no allowed address (resolved to {listed})")
        return [
            ResolveResult(
                hostname=host,
                host=str(addr),
                port=port,
                family=socket.AF_INET if addr.version == 4 else socket.AF_INET6,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for addr in kept
        ]

    async def close(self) -> None:
        """Nothing to release: the dnspython resolver belongs to the caller."""
