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
        for entry in _entries():
            for network in entry.ip_ranges:
                if network.version == address.version and address in network:
                    return Cdn(entry.name, entry.abuse_emails, entry.abuse_url, f"ip:{network}")
    if asn is not None:
        for entry in _entries():
            if asn in entry.asns:
                return Cdn(entry.name, entry.abuse_emails, entry.abuse_url, f"asn:{asn}")
    return None
