"""The one address policy, entry by entry of the IANA special-purpose registries.

Public addresses appear here only as values to classify; nothing is contacted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from resolvers.addresses import (
    IPV4_SPECIAL,
    IPV6_SPECIAL,
    is_public_address,
    non_public_reason,
    parse_ip_literal,
)

# Every entry of both registries with its "Globally Reachable" cell as IANA writes it:
# "True", "False", "N/A", or "" (the empty cells of a terminated entry).
REGISTRY: list[tuple[str, str]] = [
    ("0.0.0.0/8", "False"),
    ("0.0.0.0/32", "False"),
    ("10.0.0.0/8", "False"),
    ("100.64.0.0/10", "False"),
    ("127.0.0.0/8", "False"),
    ("169.254.0.0/16", "False"),
    ("172.16.0.0/12", "False"),
    ("192.0.0.0/24", "False"),
    ("192.0.0.0/29", "False"),
    ("192.0.0.8/32", "False"),
    ("192.0.0.9/32", "True"),
    ("192.0.0.10/32", "True"),
    ("192.0.0.170/32", "False"),
    ("192.0.0.171/32", "False"),
    ("192.0.2.0/24", "False"),
    ("192.31.196.0/24", "True"),
    ("192.52.193.0/24", "True"),
    ("192.88.99.0/24", ""),
    ("192.88.99.2/32", "False"),
    ("192.168.0.0/16", "False"),
    ("192.175.48.0/24", "True"),
    ("198.18.0.0/15", "False"),
    ("198.51.100.0/24", "False"),
    ("203.0.113.0/24", "False"),
    ("240.0.0.0/4", "False"),
    ("255.255.255.255/32", "False"),
    ("::1/128", "False"),
    ("::/128", "False"),
    ("::ffff:0:0/96", "False"),
    ("64:ff9b::/96", "True"),
    ("64:ff9b:1::/48", "False"),
    ("100::/64", "False"),
    ("100:0:0:1::/64", "False"),
    ("2001::/23", "False"),
    ("2001::/32", "N/A"),
    ("2001:1::1/128", "True"),
    ("2001:1::2/128", "True"),
    ("2001:1::3/128", "True"),
    ("2001:2::/48", "False"),
    ("2001:3::/32", "True"),
    ("2001:4:112::/48", "True"),
    ("2001:10::/28", ""),
    ("2001:20::/28", "True"),
    ("2001:30::/28", "True"),
    ("2001:db8::/32", "False"),
    ("2002::/16", "N/A"),
    ("2620:4f:8000::/48", "True"),
    ("3fff::/20", "False"),
    ("5f00::/16", "False"),
    ("fc00::/7", "False"),
    ("fe80::/10", "False"),
]

# The blocks whose addresses carry an IPv4 address; they are judged by it.
CARRIERS = {"::ffff:0:0/96", "64:ff9b::/96", "2001::/32", "2002::/16"}

PUBLIC_V4 = ipaddress.IPv4Address("8.8.8.8")  # a value only, never contacted
TEREDO_SERVER = ipaddress.IPv4Address("192.0.2.1")


def mapped(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0xFFFF << 32) | int(v4))


def nat64(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(v4))


def sixtofour(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80) | 1)


def teredo(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    """RFC 4380 s4: prefix, server, flags, obscured port, obscured (XOR'ed) client."""
    return ipaddress.IPv6Address((0x20010000 << 96) | (int(TEREDO_SERVER) << 64)
                                 | (0x8000 << 48) | (0x63BF << 32) | (~int(v4) & 0xFFFFFFFF))


Wrapper = Callable[[ipaddress.IPv4Address], ipaddress.IPv6Address]
WRAPPERS: dict[str, Wrapper] = {"::ffff:0:0/96": mapped, "64:ff9b::/96": nat64,
                                "2002::/16": sixtofour, "2001::/32": teredo}


def _cell(globally_reachable: bool | None, terminated: str | None) -> str:
    if terminated is not None:
        return ""
    return "N/A" if globally_reachable is None else str(globally_reachable)


def test_the_tables_are_the_registries() -> None:
    policy = [(row.block, _cell(row.globally_reachable, row.terminated))
              for row in (*IPV4_SPECIAL, *IPV6_SPECIAL)]
    assert policy == REGISTRY


def test_the_wrappers_put_the_ipv4_address_where_the_rfcs_say() -> None:
    """The builders below agree with the standard library's decoders."""
    assert mapped(PUBLIC_V4).ipv4_mapped == PUBLIC_V4
    assert sixtofour(PUBLIC_V4).sixtofour == PUBLIC_V4
    assert teredo(PUBLIC_V4).teredo == (TEREDO_SERVER, PUBLIC_V4)
    assert nat64(PUBLIC_V4) == ipaddress.IPv6Address("64:ff9b::808:808")


def _inside_only(block: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Addresses of ``block`` that no more specific registry entry covers."""
    network = ipaddress.ip_network(block)
    more_specific = [ipaddress.ip_network(b) for b, _ in REGISTRY
                     if ipaddress.ip_network(b).version == network.version
                     and ipaddress.ip_network(b).prefixlen > network.prefixlen]
    candidates = {network.network_address, network.broadcast_address,
                  network.network_address + network.num_addresses // 2,
                  network.broadcast_address - 1 if network.num_addresses > 1
                  else network.network_address}
    chosen = sorted(a for a in candidates if not any(a in m for m in more_specific))
    assert chosen, f"no address of {block} outside its more specific entries"
    return chosen


@pytest.mark.parametrize(("block", "cell"),
                         [(b, c) for b, c in REGISTRY if b not in CARRIERS], ids=str)
def test_every_registry_entry_gets_its_verdict(block: str, cell: str) -> None:
    for address in _inside_only(block):
        reason = non_public_reason(address)
        assert is_public_address(address) is (cell == "True"), (address, reason)
        assert (reason is None) is (cell == "True")
        assert is_public_address(str(address)) is (cell == "True")


@pytest.mark.parametrize("block", sorted(CARRIERS))
def test_carriers_are_judged_by_the_ipv4_address_they_carry(block: str) -> None:
    wrap = WRAPPERS[block]
    assert ipaddress.ip_address(wrap(PUBLIC_V4)) in ipaddress.ip_network(block)
    assert is_public_address(wrap(PUBLIC_V4))
    assert not is_public_address(wrap(ipaddress.IPv4Address("127.0.0.1")))


@pytest.mark.parametrize(
    ("form", "wrap"),
    [("an IPv4-mapped address", mapped), ("a NAT64 address", nat64),
     ("a 6to4 address", sixtofour), ("a Teredo address", teredo)],
)
@pytest.mark.parametrize(
    ("inner", "inner_reason"),
    [("127.0.0.1", "a loopback address"), ("10.1.2.3", "a private address"),
     ("100.64.0.1", "a shared address (100.64.0.0/10, carrier-grade NAT)"),
     ("169.254.1.1", "a link-local address"), ("192.0.2.7", "a documentation address"),
     ("224.0.0.251", "a multicast address"), ("8.8.8.8", None)],
)
def test_wrapped_addresses(form: str, wrap: Wrapper, inner: str, inner_reason: str | None) -> None:
    address = wrap(ipaddress.IPv4Address(inner))
    expected = None if inner_reason is None else f"{form} wrapping {inner} ({inner_reason})"
    assert non_public_reason(address) == expected


def test_the_brief_example_6to4_wrapping_loopback() -> None:
    assert non_public_reason("2002:7f00:1::") == (
        "a 6to4 address wrapping 127.0.0.1 (a loopback address)")


@pytest.mark.parametrize("inner", ["8.8.8.8", "127.0.0.1"])
def test_local_use_nat64_is_never_public(inner: str) -> None:
    """RFC 8215: 64:ff9b:1::/48 is not globally reachable, whatever it carries."""
    address = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b:1::"))
                                    | int(ipaddress.IPv4Address(inner)))
    assert non_public_reason(address) == "a local-use NAT64 address (64:ff9b:1::/48)"


@pytest.mark.parametrize(
    ("address", "reason"),
    [("224.0.0.1", "a multicast address"), ("239.255.255.255", "a multicast address"),
     ("ff02::1", "a multicast address"), ("ff0e::1", "a multicast address"),
     ("fec0::1", "an address outside IPv6 global unicast space (2000::/3)"),
     ("4000::1", "an address outside IPv6 global unicast space (2000::/3)"),
     ("::1:2", "a deprecated IPv4-compatible address (::0.1.0.2)"),
     ("::808:808", "a deprecated IPv4-compatible address (::8.8.8.8)"),
     ("fe80::1%eth0", "a link-local address"),
     ("2606:2800:220:1::1", None), ("2a00:1450:4001::1", None), ("8.8.8.8", None),
     ("93.184.216.34", None), ("1.1.1.1", None)],
)
def test_outside_the_registries(address: str, reason: str | None) -> None:
    assert non_public_reason(address) == reason


def test_a_string_that_is_not_an_address_is_an_error() -> None:
    with pytest.raises(ValueError):
        non_public_reason("example.com")


@pytest.mark.parametrize(
    ("host", "expected"),
    [("[::1]", "::1"), ("127.0.0.1", "127.0.0.1"), ("2002:7f00:1::", "2002:7f00:1::"),
     ("example.com", None), ("127.1", None), ("", None)],
)
def test_parse_ip_literal(host: str, expected: str | None) -> None:
    parsed = parse_ip_literal(host)
    assert (None if parsed is None else str(parsed)) == expected
