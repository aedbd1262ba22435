"""Addresses of a host name: A and AAAA, and the CNAME chain that led to them.

Failures are classified:

* a FACT: NXDOMAIN (the name does not exist: ``nxdomain=True``), NODATA for a
  type (that type is simply empty), a name with no address of either type
  (empty ``addresses``, no error);
* a FACT without any query: a name that cannot resolve publicly (``.onion``,
  ``.i2p``, ``.local``, ``.localhost``, ``.invalid``, ``.test``, ``.alt``,
  ``home.arpa``, a single label): ``not_public`` says why;
* could not find out, retry later (``error`` is set): SERVFAIL from every
  server, timeout, a CNAME loop or over-long chain, an answer we cannot parse.

``query_type`` asks for one type and reports the TTL to cache the answer for
(the smallest TTL of the chain; a fixed short one for NXDOMAIN; none for an
error); ``combine`` joins the A and AAAA answers. Unicode (IDN) hosts are
IDNA-encoded before they are asked about.

The resolver is injected: ``make_resolver`` builds one from the
``NTTD_DNS_SERVERS`` list, read by ``parse_nameservers`` (explicit servers never
read ``/etc/resolv.conf``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.resolver
import idna

__all__ = ["DnsAnswer", "Nameserver", "TypeAnswer", "combine", "make_resolver",
           "non_public_reason", "normalise_host", "parse_nameservers", "parse_server", "precheck",
           "query_type", "resolve_addresses"]

_MAX_CHAIN = 16
NEGATIVE_TTL = 60  # seconds an NXDOMAIN is remembered (the SOA minimum is not always there)
# Special-use names (RFC 6761, 6762, 7686, 8375, 9476) and overlay networks: never in public DNS.
_NOT_PUBLIC = {
    "onion": "a Tor onion service name",
    "i2p": "an I2P name",
    "local": "a multicast DNS (.local) name",
    "localhost": "a localhost name",
    "invalid": "an .invalid name",
    "test": "a .test name",
    "alt": "an .alt name (outside the DNS)",
    "home.arpa": "a home network name (home.arpa)",
}


class Nameserver(NamedTuple):
    """One DNS server to ask: an IP address and a UDP/TCP port."""

    address: str
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


_PORT = re.compile(r"[0-9]{1,5}")


def parse_server(entry: str) -> Nameserver:
    """Parse ``ip``, ``ip:port``, ``v6`` or ``[v6]:port`` (ValueError naming the entry)."""
    text = entry.strip()
    host, port_text = text, None
    if text.startswith("["):
        close = text.find("]")
        if close == -1 or (text[close + 1 :] and not text[close + 1 :].startswith(":")):
            raise ValueError(f"bad DNS server {entry!r}: use [v6]:port")
        host, port_text = text[1:close], (text[close + 2 :] if text[close + 1 :] else None)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"bad DNS server {entry!r}: not an IP address") from None
    if text.startswith("[") and address.version == 4:
        raise ValueError(f"bad DNS server {entry!r}: brackets are for IPv6 addresses only")
    if port_text is None:
        return Nameserver(str(address))
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"bad DNS server {entry!r}: the port must be 1-65535")
    return Nameserver(str(address), int(port_text))


def parse_nameservers(text: str) -> tuple[Nameserver, ...]:
    """``NTTD_DNS_SERVERS``: a comma list of ``ip[:port]`` (IPv6 as ``[v6]:port`` or a
    bare ``v6``). Empty text is the empty tuple (the system's resolver); a bad entry,
    a port outside 1-65535 or an empty item raises ValueError saying which."""
    if not text.strip():
        return ()
    servers: list[Nameserver] = []
    for number, item in enumerate(text.split(","), start=1):
        if not item.strip():
            raise ValueError(f"item {number} of {text!r} is empty (a stray comma?)")
        servers.append(parse_server(item))
    return tuple(servers)


def make_resolver(
    servers: Sequence[str | Nameserver] | None, *, timeout: float = 2.0, lifetime: float = 5.0
) -> dns.asyncresolver.Resolver:
    """An async resolver asking ``servers`` (or the system's when None or empty)."""
    if servers:
        nameservers: list[str | dns.nameserver.Nameserver] = []
        for entry in servers:
            ip, port = parse_server(entry) if isinstance(entry, str) else entry
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
    not_public: str | None = None  # why the name cannot resolve publicly (a fact, no query)


@dataclass(frozen=True)
class TypeAnswer:
    """The answer for one record type: cacheable for ``ttl`` seconds (None: do not cache)."""

    chain: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    nxdomain: bool = False
    error: str | None = None
    ttl: int | None = None


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


async def query_type(host: str, rdtype: str, resolver: dns.asyncresolver.Resolver) -> TypeAnswer:
    """Ask for one record type of ``host`` (a normalised name); never raises."""
    try:
        qname = dns.name.from_text(host)
        answer = await resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN as exc:
        chain: tuple[str, ...] = ()
        responses: dict[object, object] = exc.kwargs.get("responses") or {}
        for response in responses.values():
            chain = _chain_of(response)
        return TypeAnswer(chain=chain, nxdomain=True, ttl=NEGATIVE_TTL)
    except dns.message.ChainTooLong:
        return TypeAnswer(error=f"{rdtype}: CNAME chain too long or looping")
    except dns.resolver.LifetimeTimeout:
        return TypeAnswer(error=f"{rdtype}: timed out")
    except dns.resolver.NoNameservers as exc:
        return TypeAnswer(error=f"{rdtype}: no server could answer ({_short(exc)})")
    except dns.exception.DNSException as exc:
        return TypeAnswer(error=f"{rdtype}: {_short(exc)}")
    except OSError as exc:
        return TypeAnswer(error=f"{rdtype}: network error ({exc})")
    result = answer.chaining_result
    chain = tuple(_name(rrset[0].target) for rrset in result.cnames if len(rrset))
    addresses = tuple(rdata.to_text() for rdata in answer.rrset) if answer.rrset else ()
    return TypeAnswer(chain=chain, addresses=addresses, ttl=max(int(result.minimum_ttl), 0))


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


def normalise_host(host: str) -> str:
    """Lower-case IDNA ASCII without the trailing dot (unchanged when it cannot be encoded)."""
    name = host.strip().rstrip(".").lower()
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError:
            pass
    return name


def non_public_reason(host: str) -> str | None:
    """Why ``host`` (a normalised name, not an IP literal) cannot resolve publicly, or None."""
    labels = host.split(".")
    if len(labels) == 1:
        return f"{host} is a single-label name (not resolvable in public DNS)"
    for suffix, what in _NOT_PUBLIC.items():
        if host == suffix or host.endswith("." + suffix):
            return f"{host} is {what} (not resolvable in public DNS)"
    return None


def combine(host: str, v4: TypeAnswer, v6: TypeAnswer) -> DnsAnswer:
    """The answer for ``host`` from its A and AAAA answers."""
    chain = v4.chain or v6.chain
    addresses = v4.addresses + v6.addresses
    loop_error = _check_chain(host, chain)
    if loop_error is not None:
        return DnsAnswer(host=host, cname_chain=chain, addresses=(), nxdomain=False,
                         error=loop_error)
    if addresses:
        return DnsAnswer(host=host, cname_chain=chain, addresses=addresses, nxdomain=False,
                         error=None)
    if v4.nxdomain or v6.nxdomain:
        return DnsAnswer(host=host, cname_chain=chain, addresses=(), nxdomain=True, error=None)
    errors = [e for e in (v4.error, v6.error) if e is not None]
    return DnsAnswer(host=host, cname_chain=chain, addresses=(), nxdomain=False,
                     error="; ".join(errors) if errors else None)


def precheck(host: str) -> DnsAnswer | None:
    """The answer that needs no query (an IP literal, a bad or non-public name), or None."""
    name = normalise_host(host)
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
    reason = non_public_reason(name)
    if reason is not None:
        return DnsAnswer(host=name, cname_chain=(), addresses=(), nxdomain=False, error=None,
                         not_public=reason)
    return None


async def resolve_addresses(host: str, resolver: dns.asyncresolver.Resolver) -> DnsAnswer:
    """Ask for A and AAAA concurrently; never raises for DNS trouble."""
    early = precheck(host)
    if early is not None:
        return early
    name = normalise_host(host)
    v4, v6 = await asyncio.gather(query_type(name, "A", resolver),
                                  query_type(name, "AAAA", resolver))
    return combine(name, v4, v6)
