"""RDAP: who holds an IP network and its abuse contact; who registered a domain.

The server to ask comes from the IANA bootstrap files (``dns.json``,
``ipv4.json``, ``ipv6.json``, ``asn.json``), loaded from a directory (the
bundled snapshot by default) or fetched once from a URL, never at import.

Requests send ``Accept: application/rdap+json``, follow at most 3 redirects,
stop after 10 s and refuse bodies over 2 MB. The lookup functions never raise:
they return a result whose ``error`` says what went wrong and whose
``retryable`` says which kind of failure it was:

* a FACT (``retryable=False``): 404 (no such record), no RDAP server for this
  address or TLD in the bootstrap, an answer too large, another 4xx;
* could not find out (``retryable=True``): timeout, connection trouble, 5xx,
  429, an answer that is not JSON.
"""

from __future__ import annotations

import importlib.resources
import ipaddress
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from resolvers.errors import (
    BootstrapError,
    LookupFailed,
    LookupRejected,
    LookupUnavailable,
    RecordNotFound,
)

__all__ = ["MAX_BODY", "Bootstrap", "IpRdap", "Registrar", "rdap_domain", "rdap_ip"]

MAX_BODY = 2 * 1024 * 1024
MAX_REDIRECTS = 3
_TIMEOUT = aiohttp.ClientTimeout(total=10)
_HEADERS = {"Accept": "application/rdap+json, application/json;q=0.9",
            "Accept-Encoding": "identity"}
_FILES = ("dns.json", "ipv4.json", "ipv6.json", "asn.json")
_IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network
_Urls = tuple[str, ...]


def _urls(raw: Any) -> _Urls:
    """http(s) base URLs ending in "/", https first."""
    urls = [u if u.endswith("/") else u + "/" for u in raw if isinstance(u, str)
            and u.lower().startswith(("https://", "http://"))]
    return tuple(sorted(urls, key=lambda u: not u.lower().startswith("https://")))


def _services(doc: Any, name: str) -> list[tuple[list[str], _Urls]]:
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
        for keys, urls in _services(documents["dns.json"], "dns.json"):
            for key in keys:
                self._dns[key.lower().strip(".")] = urls
        nets: list[tuple[_IpNet, _Urls]] = []
        for file in ("ipv4.json", "ipv6.json"):
            for keys, urls in _services(documents[file], file):
                for key in keys:
                    text = f"{key}.0.0.0/8" if key.isdigit() else key  # the old bare "8" form
                    try:
                        nets.append((ipaddress.ip_network(text, strict=False), urls))
                    except ValueError:
                        raise BootstrapError(f"{file}: bad prefix {key!r}") from None
        self._nets = sorted(nets, key=lambda item: -item[0].prefixlen)
        self._asns: list[tuple[int, int, _Urls]] = []
        for keys, urls in _services(documents["asn.json"], "asn.json"):
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
        documents = {}
        for name in _FILES:
            try:
                documents[name] = await _fetch_json(base + name, session, cap=16 * MAX_BODY)
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


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    if resp.content_length is not None and resp.content_length > cap:
        raise LookupRejected(f"answer of {resp.content_length} bytes is over the {cap} byte cap")
    chunks: list[bytes] = []
    size = 0
    while chunk := await resp.content.read(min(65536, cap + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise LookupRejected(f"answer is over the {cap} byte cap")
    return b"".join(chunks)


async def _fetch_json(url: str, session: aiohttp.ClientSession, *, cap: int = MAX_BODY) -> Any:
    """GET ``url`` and parse JSON; raises a LookupFailed subclass that classifies trouble."""
    try:
        async with session.get(url, headers=_HEADERS, timeout=_TIMEOUT, allow_redirects=True,
                               max_redirects=MAX_REDIRECTS) as resp:
            if resp.status == 404:
                raise RecordNotFound(f"not found ({url})")
            if resp.status in (408, 429) or resp.status >= 500:
                raise LookupUnavailable(f"HTTP {resp.status} from {url}")
            if resp.status != 200:
                raise LookupRejected(f"HTTP {resp.status} from {url}")
            body = await _read_capped(resp, cap)
    except aiohttp.TooManyRedirects:
        raise LookupRejected(f"more than {MAX_REDIRECTS} redirects from {url}") from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        kind = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        raise LookupUnavailable(f"{url}: {kind}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise LookupUnavailable(f"{url}: the answer is not JSON") from None


async def _ask(servers: list[str], path: str, session: aiohttp.ClientSession) -> tuple[Any, str]:
    """Ask each server (https ones only when there are any) until one answers."""
    https = [s for s in servers if s.lower().startswith("https://")]
    last: LookupFailed = LookupUnavailable("no server answered")
    for base in https or servers:
        url = base + path
        try:
            data = await _fetch_json(url, session)
        except LookupUnavailable as exc:
            last = exc
            continue
        if not isinstance(data, dict):
            raise LookupUnavailable(f"{url}: the answer is not a JSON object")
        return data, url
    raise last


# ---- reading RDAP objects -------------------------------------------------------------


def _entities(obj: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every entity under ``obj``, depth first (ARIN nests abuse inside the org)."""
    if depth > 6 or not isinstance(obj, dict):
        return
    for entity in obj.get("entities") or []:
        if isinstance(entity, dict):
            yield entity
            yield from _entities(entity, depth + 1)


def _has_role(entity: dict[str, Any], role: str) -> bool:
    roles = entity.get("roles")
    return isinstance(roles, list) and role in [str(r).lower() for r in roles]


def _vcard(entity: dict[str, Any], prop: str) -> list[str]:
    card = entity.get("vcardArray")
    if not (isinstance(card, list) and len(card) > 1 and isinstance(card[1], list)):
        return []
    values = []
    for item in card[1]:
        if isinstance(item, list) and len(item) >= 4 and str(item[0]).lower() == prop:
            value = item[3]
            if isinstance(value, str) and value.strip():
                values.append(value.strip())
    return values


def _emails(entities: list[dict[str, Any]]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for entity in entities:
        for value in _vcard(entity, "email"):
            email = value.removeprefix("mailto:")
            if "@" in email:
                seen.setdefault(email.lower(), email)
    return tuple(seen.values())


def _phone(entities: list[dict[str, Any]]) -> str | None:
    for entity in entities:
        for value in _vcard(entity, "tel"):
            return value.removeprefix("tel:")
    return None


@dataclass(frozen=True)
class IpRdap:
    """The network holding an address, from the RIR's RDAP."""

    handle: str | None
    name: str | None
    country: str | None
    abuse_emails: tuple[str, ...]
    error: str | None
    retryable: bool = False  # True when `error` is could-not-find-out


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


async def rdap_ip(ip: str, session: aiohttp.ClientSession, bootstrap: Bootstrap) -> IpRdap:
    """The network and abuse contact of ``ip``; never raises."""
    servers = bootstrap.ip_servers(ip)
    if not servers:
        return IpRdap(None, None, None, (), error=f"no RDAP server for {ip} in the bootstrap")
    try:
        data, _ = await _ask(servers, "ip/" + quote(ip.strip("[]"), safe=":."), session)
    except LookupFailed as exc:
        return IpRdap(None, None, None, (), error=f"rdap ip: {exc}", retryable=exc.retryable)
    country = _text(data.get("country"))
    abuse = [e for e in _entities(data) if _has_role(e, "abuse")]
    return IpRdap(handle=_text(data.get("handle")), name=_text(data.get("name")),
                  country=country.upper() if country else None,
                  abuse_emails=_emails(abuse), error=None)


@dataclass(frozen=True)
class Registrar:
    """The registrar of a domain and its abuse contact."""

    name: str | None
    iana_id: str | None
    abuse_emails: tuple[str, ...]
    abuse_phone: str | None
    rdap_url: str | None
    error: str | None
    retryable: bool = False  # True when `error` is could-not-find-out


def _registrar_facts(data: dict[str, Any]) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    """(name, IANA id, abuse entities) of the registrar in a domain answer."""
    registrar = next((e for e in _entities(data) if _has_role(e, "registrar")), None)
    name = iana_id = None
    abuse: list[dict[str, Any]] = []
    if registrar is not None:
        name = next(iter(_vcard(registrar, "fn")), None)
        for public_id in registrar.get("publicIds") or []:
            if isinstance(public_id, dict) and public_id.get("type") == "IANA Registrar ID":
                iana_id = _text(str(public_id.get("identifier", "")))
        abuse = [e for e in _entities(registrar) if _has_role(e, "abuse")]
    if not abuse:
        abuse = [e for e in _entities(data) if _has_role(e, "abuse")]
    return name, iana_id, abuse


def _related_link(data: dict[str, Any], own_url: str) -> str | None:
    for link in data.get("links") or []:
        if not isinstance(link, dict):
            continue
        href = link.get("href")
        if (link.get("rel") == "related" and link.get("type") == "application/rdap+json"
                and isinstance(href, str) and href.lower().startswith(("https://", "http://"))
                and href != own_url):
            return href
    return None


async def rdap_domain(domain: str, session: aiohttp.ClientSession,
                      bootstrap: Bootstrap) -> Registrar:
    """The registrar of ``domain`` from its registry, then once from the registrar; never raises."""
    servers = bootstrap.domain_servers(domain)
    if not servers:
        return Registrar(None, None, (), None, None,
                         error=f"no RDAP server for the TLD of {domain} in the bootstrap")
    try:
        data, url = await _ask(servers, "domain/" + quote(domain.lower(), safe="."), session)
    except LookupFailed as exc:
        return Registrar(None, None, (), None, None, error=f"rdap domain: {exc}",
                         retryable=exc.retryable)
    name, iana_id, abuse = _registrar_facts(data)
    emails, phone, rdap_url = _emails(abuse), _phone(abuse), url
    related = _related_link(data, url)
    if related is not None:
        try:
            registrar_data = await _fetch_json(related, session)
        except LookupFailed:
            registrar_data = None  # the registry's facts stand on their own
        if isinstance(registrar_data, dict):
            r_name, r_iana, r_abuse = _registrar_facts(registrar_data)
            rdap_url = related
            name, iana_id = name or r_name, iana_id or r_iana
            if _emails(r_abuse):
                emails, phone = _emails(r_abuse), _phone(r_abuse) or phone
    return Registrar(name, iana_id, emails, phone, rdap_url, error=None)

