"""Is the host behind a CDN or reverse proxy? Then the CDN must be told too.

The list lives in ``resolvers/data/cdns.json`` (versioned, with its sources),
read once, lazily. Matching goes CNAME suffix, then published IP range, then
origin AS: a CNAME names the service the site chose; a published edge range
says whose edge answered; an AS is listed only when the whole AS is the edge.

Pure functions over bundled data: no network, no failures to classify. A
missing or malformed data file is a packaging bug and raises.
"""

from __future__ import annotations

import functools
import importlib.resources
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Cdn", "cdn_catalogue", "cdn_data_version", "detect_cdn"]

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Cdn:
    """A CDN the URL goes through, and how to reach its abuse desk."""

    name: str
    abuse_emails: tuple[str, ...]
    abuse_url: str | None
    matched_by: str  # "cname:<suffix>" | "ip:<range>" | "asn:<n>"


@dataclass(frozen=True)
class _Entry:
    name: str
    cname_suffixes: tuple[str, ...]
    asns: frozenset[int]
    ip_ranges: tuple[_Net, ...]
    abuse_emails: tuple[str, ...]
    abuse_url: str | None


@functools.cache
def _data() -> dict[str, Any]:
    text = importlib.resources.files("resolvers").joinpath("data/cdns.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def cdn_data_version() -> str:
    """The ``version`` of the bundled CDN list (recorded as provenance)."""
    return str(_data().get("version", "unknown"))


@functools.cache
def _entries() -> tuple[_Entry, ...]:
    data = _data()
    return tuple(
        _Entry(
            name=str(item["name"]),
            cname_suffixes=tuple(s.lower().strip(".") for s in item.get("cname_suffixes", [])),
            asns=frozenset(int(a) for a in item.get("asns", [])),
            ip_ranges=tuple(ipaddress.ip_network(r) for r in item.get("ip_ranges", [])),
            abuse_emails=tuple(item.get("abuse_emails", [])),
            abuse_url=item.get("abuse_url"),
        )
        for item in data["cdns"]
    )


_Slot = dict[int, tuple[int, int, _Net]]  # network address -> (entry, position, network)


@functools.cache
def _range_index() -> dict[int, list[tuple[int, _Slot]]]:
    """The published ranges by IP version and prefix length. A lookup costs one dict probe
    per distinct prefix length instead of one test per range (there are over a thousand)."""
    index: dict[int, dict[int, _Slot]] = {4: {}, 6: {}}
    for e, entry in enumerate(_entries()):
        for p, network in enumerate(entry.ip_ranges):
            slot = index[network.version].setdefault(network.prefixlen, {})
            slot.setdefault(int(network.network_address), (e, p, network))
    return {version: sorted(by_length.items()) for version, by_length in index.items()}


def _range_hit(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
               ) -> tuple[_Entry, _Net] | None:
    """The first listed range holding ``address`` (file order, as a scan would find it)."""
    value, bits = int(address), address.max_prefixlen
    best: tuple[int, int, _Net] | None = None
    for length, slot in _range_index()[address.version]:
        hit = slot.get(value >> (bits - length) << (bits - length))
        if hit is not None and (best is None or hit[:2] < best[:2]):
            best = hit
    return None if best is None else (_entries()[best[0]], best[2])


def cdn_catalogue() -> tuple[str, ...]:
    """Names of the CDNs the bundled list knows."""
    return tuple(entry.name for entry in _entries())


def detect_cdn(cname_chain: Sequence[str], asn: int | None,
               ips: Sequence[str] = ()) -> Cdn | None:
    """The CDN named by a CNAME in the chain, else the one whose published ranges hold
    one of ``ips``, else the one owning ``asn``, else None."""
    names = [n.lower().rstrip(".") for n in cname_chain]
    for name in names:
        for entry in _entries():
            for suffix in entry.cname_suffixes:
                if name == suffix or name.endswith("." + suffix):
                    return Cdn(entry.name, entry.abuse_emails, entry.abuse_url, f"cname:{suffix}")
    for text in ips:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        hit = _range_hit(address)
        if hit is not None:
            entry, network = hit
            return Cdn(entry.name, entry.abuse_emails, entry.abuse_url, f"ip:{network}")
    if asn is not None:
        for entry in _entries():
            if asn in entry.asns:
                return Cdn(entry.name, entry.abuse_emails, entry.abuse_url, f"asn:{asn}")
    return None
