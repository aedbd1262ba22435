"""Is the host behind a CDN or reverse proxy? Then the CDN must be told too.

The list lives in ``resolvers/data/cdns.json`` (versioned, with its sources),
read once, lazily. A CNAME suffix match wins over an origin-AS match, because
a CNAME names the service the site chose; an AS only says whose edge answered.

Pure functions over bundled data: no network, no failures to classify. A
missing or malformed data file is a packaging bug and raises.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Cdn", "cdn_catalogue", "detect_cdn"]


@dataclass(frozen=True)
class Cdn:
    """A CDN the URL goes through, and how to reach its abuse desk."""

    name: str
    abuse_emails: tuple[str, ...]
    abuse_url: str | None
    matched_by: str  # "cname:<suffix>" | "asn:<n>"


@dataclass(frozen=True)
class _Entry:
    name: str
    cname_suffixes: tuple[str, ...]
    asns: frozenset[int]
    abuse_emails: tuple[str, ...]
    abuse_url: str | None


@functools.cache
def _entries() -> tuple[_Entry, ...]:
    text = importlib.resources.files("resolvers").joinpath("data/cdns.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return tuple(
        _Entry(
            name=str(item["name"]),
            cname_suffixes=tuple(s.lower().strip(".") for s in item.get("cname_suffixes", [])),
            asns=frozenset(int(a) for a in item.get("asns", [])),
            abuse_emails=tuple(item.get("abuse_emails", [])),
            abuse_url=item.get("abuse_url"),
        )
        for item in data["cdns"]
    )


def cdn_catalogue() -> tuple[str, ...]:
    """Names of the CDNs the bundled list knows."""
    return tuple(entry.name for entry in _entries())


def detect_cdn(cname_chain: Sequence[str], asn: int | None) -> Cdn | None:
    """The CDN named by a CNAME in the chain, else the one owning ``asn``, else None."""
    names = [n.lower().rstrip(".") for n in cname_chain]
    for name in names:
        for entry in _entries():
            for suffix in entry.cname_suffixes:
                if name == suffix or name.endswith("." + suffix):
                    return Cdn(entry.name, entry.abuse_emails, entry.abuse_url, f"cname:{suffix}")
    if asn is not None:
        for entry in _entries():
            if asn in entry.asns:
                return Cdn(entry.name, entry.abuse_emails, entry.abuse_url, f"asn:{asn}")
    return None
