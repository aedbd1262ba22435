"""The IANA RDAP bootstrap registries (RFC 9224): which RDAP server answers for what.

The four files (``dns.json``, ``ipv4.json``, ``ipv6.json``, ``asn.json``) are
read from a directory (the bundled snapshot by default) or fetched once from a
URL, never at import. ``resolvers.bootstrap_update`` refreshes a directory.
A missing or malformed file raises ``BootstrapError``.
"""

from __future__ import annotations

import importlib.resources
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import aiohttp

from resolvers.errors import BootstrapError, LookupFailed
from resolvers.rdap_client import MAX_BODY, RdapClient

__all__ = ["BOOTSTRAP_FILES", "Bootstrap", "parse_bootstrap_services"]

BOOTSTRAP_FILES = ("dns.json", "ipv4.json", "ipv6.json", "asn.json")
_FILES = BOOTSTRAP_FILES
_IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network
_Urls = tuple[str, ...]


def _urls(raw: Any) -> _Urls:
    """http(s) base URLs ending in "/", https first."""
    urls = [u if u.endswith("/") else u + "/" for u in raw if isinstance(u, str)
            and u.lower().startswith(("https://", "http://"))]
    return tuple(sorted(urls, key=lambda u: not u.lower().startswith("https://")))


def parse_bootstrap_services(doc: Any, name: str) -> list[tuple[list[str], _Urls]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), list):
        raise BootstrapError(f"{name}: not an RDAP bootstrap file (no 'services' list)")
    out = []
    for service in doc["services"]:
        if not (isinstance(service, list) and len(service) >= 2
                and isinstance(service[0], list) and isinstance(service[1], list)):
            raise BootstrapError(f"{name}: malformed service entry {service!r:.80}")
        out.append(([str(key) for key in service[0]], _urls(service[1])))
    return out


class Bootstrap:
    """The IANA RDAP bootstrap registries, read-only once built."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.publication = {n: str(documents[n].get("publication", "")) for n in _FILES}
        self._dns: dict[str, _Urls] = {}
        for keys, urls in parse_bootstrap_services(documents["dns.json"], "dns.json"):
            for key in keys:
                self._dns[key.lower().strip(".")] = urls
        nets: list[tuple[_IpNet, _Urls]] = []
        for file in ("ipv4.json", "ipv6.json"):
            for keys, urls in parse_bootstrap_services(documents[file], file):
                for key in keys:
                    text = f"{key}.0.0.0/8" if key.isdigit() else key  # the old bare "8" form
                    try:
                        nets.append((ipaddress.ip_network(text, strict=False), urls))
                    except ValueError:
                        raise BootstrapError(f"{file}: bad prefix {key!r}") from None
        self._nets = sorted(nets, key=lambda item: -item[0].prefixlen)
        self._asns: list[tuple[int, int, _Urls]] = []
        for keys, urls in parse_bootstrap_services(documents["asn.json"], "asn.json"):
            for key in keys:
                low, _, high = key.partition("-")
                try:
                    self._asns.append((int(low), int(high or low), urls))
                except ValueError:
                    raise BootstrapError(f"asn.json: bad range {key!r}") from None

    @classmethod
    def load(cls, source: str | os.PathLike[str] | None = None) -> Bootstrap:
        """Read the four files from a directory; None reads the bundled snapshot."""
        if source is None:
            folder: Any = importlib.resources.files("resolvers").joinpath("data/bootstrap")
        else:
            folder = Path(source)
        documents = {}
        for name in _FILES:
            try:
                documents[name] = json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
            except OSError as exc:
                where = source or "the bundled snapshot"
                raise BootstrapError(f"cannot read {name} in {where}: {exc}") from None
            except ValueError as exc:
                raise BootstrapError(f"{name} is not valid JSON: {exc}") from None
        return cls(documents)

    @classmethod
    async def fetch(cls, base_url: str, session: aiohttp.ClientSession) -> Bootstrap:
        """Fetch the four files under ``base_url``; raises BootstrapError on any failure."""
        base = base_url if base_url.endswith("/") else base_url + "/"
        client = RdapClient(session)
        documents = {}
        for name in _FILES:
            try:
                documents[name] = await client.fetch_json(base + name, cap=16 * MAX_BODY)
            except LookupFailed as exc:
                raise BootstrapError(f"cannot fetch {name}: {exc}") from None
        return cls(documents)

    def ip_servers(self, ip: str) -> list[str]:
        """Base URLs for the longest bootstrap prefix holding ``ip`` (empty if none)."""
        try:
            address = ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            return []
        for network, urls in self._nets:  # sorted longest prefix first
            if network.version == address.version and address in network:
                return list(urls)
        return []

    def domain_servers(self, domain: str) -> list[str]:
        """Base URLs for the longest bootstrap entry that is a label suffix of ``domain``."""
        labels = domain.lower().strip(".").split(".")
        for start in range(len(labels)):
            urls = self._dns.get(".".join(labels[start:]))
            if urls is not None:
                return list(urls)
        return []

    def asn_servers(self, asn: int) -> list[str]:
        """Base URLs for the range holding ``asn`` (empty if none)."""
        for low, high, urls in self._asns:
            if low <= asn <= high:
                return list(urls)
        return []
