"""Which IP addresses are public: the one address policy of nttd.

An address is *public* when nttd may resolve facts about it (Team Cymru, RDAP),
connect to it (the availability checker) or follow a WHOIS referral to it.
Every such decision goes through ``non_public_reason`` / ``is_public_address``
here, so the three never disagree.

The policy is data, transcribed below from the IANA registries, so it does not
change with the Python version's ``ipaddress`` flags (``is_global``,
``is_private``... have changed between releases):

* IANA IPv4 Special-Purpose Address Registry and IANA IPv6 Special-Purpose
  Address Registry (RFC 6890, updated by RFC 8190),
  https://www.iana.org/assignments/iana-ipv4-special-registry/ and
  https://www.iana.org/assignments/iana-ipv6-special-registry/ : every entry,
  with its "Globally Reachable" column, as last updated 2025-10-09 (the IPv6
  one ends with 100:0:0:1::/64, RFC 9780, allocated 2025-04). iana.org cannot
  be reached from where this was written: the rows come from a verbatim copy
  of the registries' CSV exports, checked against the RFCs they cite. Re-check
  against the CSV exports when updating;
* the IPv6 Address Space registry: global unicast is 2000::/3, multicast is
  ff00::/8 (RFC 4291); IPv4 multicast is 224.0.0.0/4 (RFC 5771).

The decision, most specific entry first:

1. IPv6 forms that carry an IPv4 address are judged by that address:
   IPv4-mapped ``::ffff:0:0/96`` (the registry marks the block itself not
   reachable, but a socket sends it as the IPv4 address, so the IPv4 address
   decides), NAT64 ``64:ff9b::/96`` (RFC 6052: globally reachable when the
   IPv4 address is), 6to4 ``2002::/16`` and Teredo ``2001::/32`` (the registry
   says N/A: it depends on the IPv4 address; Teredo's client address is stored
   XOR'ed, RFC 4380 section 4). The local-use NAT64 prefix ``64:ff9b:1::/48``
   (RFC 8215) is not globally reachable whatever it carries.
2. Multicast is never public.
3. An address in a registry entry gets that entry's "Globally Reachable"
   verdict; a terminated entry (deprecated 6to4 relay anycast, the first
   ORCHID) is not public.
4. Otherwise an IPv4 address is public, and an IPv6 address is public only
   inside global unicast space (2000::/3): the rest (``::/8`` with the
   deprecated IPv4-compatible form, ``fec0::/10``...) is reserved by the IETF.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["IPV4_SPECIAL", "IPV6_SPECIAL", "IPAddress", "SpecialBlock", "is_public_address",
           "non_public_reason", "parse_ip_literal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class SpecialBlock:
    """One row of an IANA Special-Purpose Address Registry."""

    block: str  # the registry's Address Block
    name: str  # the registry's Name
    rfc: str  # the registry's RFC column
    globally_reachable: bool | None  # the registry's column; None where it says N/A
    what: str  # how a refusal names an address in it ("a loopback address")
    terminated: str | None = None  # the registry's Termination Date (its columns are empty)

    @property
    def network(self) -> _Network:
        return ipaddress.ip_network(self.block)


# Globally Reachable column: True / False as written; None for N/A (6to4, Teredo).
IPV4_SPECIAL: tuple[SpecialBlock, ...] = (
    SpecialBlock("0.0.0.0/8", '"This network"', "RFC 791 s3.2", False,
                 'a "this network" address (0.0.0.0/8)'),
    SpecialBlock("0.0.0.0/32", '"This host on this network"', "RFC 1122 s3.2.1.3", False,
                 "an unspecified address"),
    SpecialBlock("10.0.0.0/8", "Private-Use", "RFC 1918", False, "a private address"),
    SpecialBlock("100.64.0.0/10", "Shared Address Space", "RFC 6598", False,
                 "a shared address (100.64.0.0/10, carrier-grade NAT)"),
    SpecialBlock("127.0.0.0/8", "Loopback", "RFC 1122 s3.2.1.3", False, "a loopback address"),
    SpecialBlock("169.254.0.0/16", "Link Local", "RFC 3927", False, "a link-local address"),
    SpecialBlock("172.16.0.0/12", "Private-Use", "RFC 1918", False, "a private address"),
    SpecialBlock("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890 s2.1", False,
                 "an IETF protocol assignment (192.0.0.0/24)"),
    SpecialBlock("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335", False,
                 "an IPv4 service continuity address (192.0.0.0/29)"),
    SpecialBlock("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", False,
                 "the IPv4 dummy address"),
    SpecialBlock("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723", True,
                 "the PCP anycast address"),
    SpecialBlock("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155", True,
                 "the TURN anycast address"),
    SpecialBlock("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 s2.2", False,
                 "a NAT64/DNS64 discovery address"),
    SpecialBlock("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 s2.2", False,
                 "a NAT64/DNS64 discovery address"),
    SpecialBlock("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737", False,
                 "a documentation address"),
    SpecialBlock("192.31.196.0/24", "AS112-v4", "RFC 7535", True, "an AS112 address"),
    SpecialBlock("192.52.193.0/24", "AMT", "RFC 7450", True, "an AMT address"),
    SpecialBlock("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526", None,
                 "a deprecated 6to4 relay anycast address", terminated="2015-03"),
    SpecialBlock("192.88.99.2/32", "6a44-relay anycast address", "RFC 6751", False,
                 "the 6a44 relay anycast address"),
    SpecialBlock("192.168.0.0/16", "Private-Use", "RFC 1918", False, "a private address"),
    SpecialBlock("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534", True,
                 "an AS112 address"),
    SpecialBlock("198.18.0.0/15", "Benchmarking", "RFC 2544", False, "a benchmarking address"),
    SpecialBlock("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737", False,
                 "a documentation address"),
    SpecialBlock("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737", False,
                 "a documentation address"),
    SpecialBlock("240.0.0.0/4", "Reserved", "RFC 1112 s4", False, "a reserved address"),
    SpecialBlock("255.255.255.255/32", "Limited Broadcast", "RFC 8190, RFC 919 s7", False,
                 "the limited broadcast address"),
)

IPV6_SPECIAL: tuple[SpecialBlock, ...] = (
    SpecialBlock("::1/128", "Loopback Address", "RFC 4291", False, "a loopback address"),
    SpecialBlock("::/128", "Unspecified Address", "RFC 4291", False, "an unspecified address"),
    SpecialBlock("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", False,
                 "an IPv4-mapped address"),
    SpecialBlock("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052", True, "a NAT64 address"),
    SpecialBlock("64:ff9b:1::/48", "IPv4-IPv6 Translat.", "RFC 8215", False,
                 "a local-use NAT64 address (64:ff9b:1::/48)"),
    SpecialBlock("100::/64", "Discard-Only Address Block", "RFC 6666", False,
                 "a discard-only address"),
    SpecialBlock("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780", False,
                 "a dummy address (100:0:0:1::/64)"),
    SpecialBlock("2001::/23", "IETF Protocol Assignments", "RFC 2928", False,
                 "an IETF protocol assignment (2001::/23)"),
    SpecialBlock("2001::/32", "TEREDO", "RFC 4380, RFC 8190", None, "a Teredo address"),
    SpecialBlock("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723", True,
                 "the PCP anycast address"),
    SpecialBlock("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155", True,
                 "the TURN anycast address"),
    SpecialBlock("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665",
                 True, "the DNS-SD SRP anycast address"),
    SpecialBlock("2001:2::/48", "Benchmarking", "RFC 5180, RFC Errata 1752", False,
                 "a benchmarking address"),
    SpecialBlock("2001:3::/32", "AMT", "RFC 7450", True, "an AMT address"),
    SpecialBlock("2001:4:112::/48", "AS112-v6", "RFC 7535", True, "an AS112 address"),
    SpecialBlock("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843", None,
                 "a deprecated ORCHID address", terminated="2014-03"),
    SpecialBlock("2001:20::/28", "ORCHIDv2", "RFC 7343", True, "an ORCHIDv2 address"),
    SpecialBlock("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
                 "RFC 9374", True, "a drone remote ID (DET) address"),
    SpecialBlock("2001:db8::/32", "Documentation", "RFC 3849", False, "a documentation address"),
    SpecialBlock("2002::/16", "6to4", "RFC 3056", None, "a 6to4 address"),
    SpecialBlock("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534", True,
                 "an AS112 address"),
    SpecialBlock("3fff::/20", "Documentation", "RFC 9637", False, "a documentation address"),
    SpecialBlock("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602", False,
                 "a segment routing (SRv6) SID"),
    SpecialBlock("fc00::/7", "Unique-Local", "RFC 4193, RFC 8190", False,
                 "a unique-local address"),
    SpecialBlock("fe80::/10", "Link-Local Unicast", "RFC 4291", False, "a link-local address"),
)

_IPV4_MULTICAST = ipaddress.IPv4Network("224.0.0.0/4")  # RFC 5771
_IPV6_MULTICAST = ipaddress.IPv6Network("ff00::/8")  # RFC 4291 s2.7
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")  # IANA IPv6 Address Space
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 s2.5.5.1, deprecated


_Rows = tuple[tuple[_Network, SpecialBlock], ...]


def _most_specific_first(table: tuple[SpecialBlock, ...]) -> _Rows:
    rows = [(row.network, row) for row in table]
    return tuple(sorted(rows, key=lambda pair: pair[0].prefixlen, reverse=True))


_V4_ROWS = _most_specific_first(IPV4_SPECIAL)
_V6_ROWS = _most_specific_first(IPV6_SPECIAL)


def _low32(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _sixtofour(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)  # 2002:AABB:CCDD::/48


def _teredo_client(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(~int(address) & 0xFFFFFFFF)  # the last 32 bits, inverted


# The IPv6 blocks that carry an IPv4 address, each with the way to take it out.
_CARRIERS: dict[str, Callable[[ipaddress.IPv6Address], ipaddress.IPv4Address]] = {
    "::ffff:0:0/96": _low32,
    "64:ff9b::/96": _low32,
    "2002::/16": _sixtofour,
    "2001::/32": _teredo_client,
}


def _row(address: IPAddress) -> SpecialBlock | None:
    for network, row in _V4_ROWS if address.version == 4 else _V6_ROWS:
        if address in network:
            return row
    return None


def _verdict(row: SpecialBlock) -> str | None:
    if row.terminated is not None or row.globally_reachable is not True:
        return row.what
    return None


def _ipv4_reason(address: ipaddress.IPv4Address) -> str | None:
    if address in _IPV4_MULTICAST:
        return "a multicast address"
    row = _row(address)
    return None if row is None else _verdict(row)


def _ipv6_reason(address: ipaddress.IPv6Address) -> str | None:
    row = _row(address)
    if row is not None and row.block in _CARRIERS:
        carried = _CARRIERS[row.block](address)
        reason = _ipv4_reason(carried)
        return None if reason is None else f"{row.what} wrapping {carried} ({reason})"
    if address in _IPV6_MULTICAST:
        return "a multicast address"
    if row is not None:
        return _verdict(row)
    if address in _IPV4_COMPATIBLE:
        return f"a deprecated IPv4-compatible address (::{_low32(address)})"
    if address not in _IPV6_GLOBAL_UNICAST:
        return "an address outside IPv6 global unicast space (2000::/3)"
    return None


def _address(addr: IPAddress | str) -> IPAddress:
    if isinstance(addr, str):
        addr = ipaddress.ip_address(addr)
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id is not None:
        addr = ipaddress.IPv6Address(int(addr))  # fe80::1%eth0 is judged as fe80::1
    return addr


def non_public_reason(addr: IPAddress | str) -> str | None:
    """Why ``addr`` is not public ("a loopback address"), or None when it is public.

    A string must be an IP address (ValueError otherwise); an IPv6 zone
    (``%eth0``) is ignored.
    """
    address = _address(addr)
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_reason(address)
    return _ipv6_reason(address)


def is_public_address(addr: IPAddress | str) -> bool:
    """True when nttd may look ``addr`` up, connect to it or follow a referral to it."""
    return non_public_reason(addr) is None


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (brackets allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
