"""RDAP: who holds an IP network and its abuse contact; who registered a domain; the
abuse contact of an autonomous system (``/autnum/<asn>``: the upstream of a host).

The server to ask comes from the IANA bootstrap (``resolvers.bootstrap``);
requests go through an ``RdapClient`` (``resolvers.rdap_client``: per-server
concurrency, time limit, size cap, retries, 429 ``Retry-After``). Registries
publish differently shaped documents, and all of them are read here:

* RIPE NCC, APNIC, AFRINIC: an ``abuse`` entity (abuse-c / IRT) at the top level;
* ARIN: the abuse entity nested inside the organisation (registrant) entity;
* LACNIC: abuse entity at the top level, e-mail sometimes only in a nested one;
* where the network answer names no abuse e-mail at all, the ``related`` link and
  the ``self`` links of its entities are followed (at most two extra GETs).
* and where that finds none either, a mailbox the network's own remarks give for
  abuse reports is taken (AFRINIC answers whose entities carry no roles).

The lookup functions never raise: they return a result whose ``error`` says
what went wrong and whose ``retryable`` says which kind of failure it was:

* a FACT (``retryable=False``): 404 (no such record), no RDAP server for this
  address or TLD in the bootstrap, an answer too large, another 4xx;
* could not find out (``retryable=True``): timeout, connection trouble, 5xx,
  429, an answer that is not JSON (or not a JSON object).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from resolvers.bootstrap import Bootstrap
from resolvers.errors import LookupFailed, LookupUnavailable, RecordNotFound
from resolvers.rdap_client import MAX_BODY, RdapClient

__all__ = ["MAX_BODY", "Autnum", "Bootstrap", "IpRdap", "Registrar", "rdap_autnum", "rdap_domain",
           "rdap_ip"]

_MAX_FOLLOW = 2


async def _ask(servers: list[str], path: str, client: RdapClient) -> tuple[dict[str, Any], str]:
    """Ask each server (https ones only when there are any) until one answers."""
    https = [s for s in servers if s.lower().startswith("https://")]
    last: LookupFailed = LookupUnavailable("no server answered")
    for base in https or servers:
        url = base + path
        try:
            data = await client.fetch_json(url)
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
    entities = obj.get("entities")
    for entity in entities if isinstance(entities, list) else []:
        if isinstance(entity, dict):
            yield entity
            yield from _entities(entity, depth + 1)


def _has_role(entity: dict[str, Any], role: str) -> bool:
    roles = entity.get("roles")
    return isinstance(roles, list) and role in [str(r).lower() for r in roles]


def _strings(value: Any) -> list[str]:
    """A vCard value as strings: a text, or a list of texts (structured values)."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []


def _vcard(entity: dict[str, Any], prop: str) -> list[str]:
    card = entity.get("vcardArray")
    if not (isinstance(card, list) and len(card) > 1 and isinstance(card[1], list)):
        return []
    values = []
    for item in card[1]:
        if isinstance(item, list) and len(item) >= 4 and str(item[0]).lower() == prop:
            values.extend(_strings(item[3]))
    return values


def _emails(entities: list[dict[str, Any]]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for entity in entities:
        for value in _vcard(entity, "email"):
            email = value.removeprefix("mailto:").strip()
            if "@" in email and len(email) <= 254 and " " not in email:
                seen.setdefault(email.lower(), email)
    return tuple(seen.values())


def _phone(entities: list[dict[str, Any]]) -> str | None:
    for entity in entities:
        for value in _vcard(entity, "tel"):
            return value.removeprefix("tel:")
    return None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _links(obj: dict[str, Any], rels: tuple[str, ...]) -> list[str]:
    out = []
    links = obj.get("links")
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict):
            continue
        href = link.get("href")
        if (link.get("rel") in rels and isinstance(href, str)
                and href.lower().startswith(("https://", "http://"))
                and link.get("type", "application/rdap+json") == "application/rdap+json"):
            out.append(href)
    return out


@dataclass(frozen=True)
class IpRdap:
    """The network holding an address, from the RIR's RDAP."""

    handle: str | None
    name: str | None
    country: str | None
    abuse_emails: tuple[str, ...]
    error: str | None
    retryable: bool = False  # True when `error` is could-not-find-out
    start: str | None = None  # first address of the network (for caching by range)
    end: str | None = None  # last address of the network


def _address(value: Any) -> str | None:
    """A network's first or last address, also as registries have spelled it: ``a/128``
    (RIPE NCC answers of 2016) and zero-padded dotted quads ``074.125.000.000`` (ARIN, 2016)."""
    if not isinstance(value, str):
        return None
    text, _, length = value.strip().partition("/")
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
        text = ".".join(str(int(p)) for p in parts)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if length and length != str(address.max_prefixlen):
        return None  # a prefix, not an address
    return str(address)


_MAILBOX = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _remark_abuse(data: dict[str, Any]) -> tuple[str, ...]:
    """Mailboxes the network's own remarks give for abuse reports: the last resort, for
    answers whose entities carry no roles (AFRINIC, 2016: "please send abuse reports to ...")."""
    found: list[dict[str, Any]] = []
    remarks = data.get("remarks")
    for remark in remarks if isinstance(remarks, list) else []:
        if not isinstance(remark, dict):
            continue
        lines = _strings(remark.get("description"))
        if "abuse" not in " ".join([str(remark.get("title", "")), *lines]).lower():
            continue
        mailboxes = [m for line in lines for m in _MAILBOX.findall(line)]
        found.append({"vcardArray": ["vcard", [["email", {}, "text", m] for m in mailboxes]]})
    return _emails(found)


def _follow_candidates(data: dict[str, Any], own_url: str) -> list[str]:
    """Where an abuse contact may live when the network answer names none."""
    urls = _links(data, ("related",))
    for entity in _entities(data):
        if _has_role(entity, "abuse") or _has_role(entity, "registrant"):
            urls.extend(_links(entity, ("self", "related")))
    return [u for u in dict.fromkeys(urls) if u != own_url][:_MAX_FOLLOW]


async def _followed_abuse(data: dict[str, Any], url: str, client: RdapClient) -> tuple[str, ...]:
    for link in _follow_candidates(data, url):
        try:
            linked = await client.fetch_json(link)
        except LookupFailed:
            continue
        if not isinstance(linked, dict):
            continue
        found = [linked] if _has_role(linked, "abuse") else []
        found += [e for e in _entities(linked) if _has_role(e, "abuse")]
        emails = _emails(found)
        if emails:
            return emails
    return ()


async def rdap_ip(ip: str, session: aiohttp.ClientSession, bootstrap: Bootstrap, *,
                  client: RdapClient | None = None) -> IpRdap:
    """The network and abuse contact of ``ip``; never raises."""
    rdap = client or RdapClient(session)
    servers = bootstrap.ip_servers(ip)
    if not servers:
        return IpRdap(None, None, None, (), error=f"no RDAP server for {ip} in the bootstrap")
    try:
        data, url = await _ask(servers, "ip/" + quote(ip.strip("[]"), safe=":."), rdap)
    except LookupFailed as exc:
        return IpRdap(None, None, None, (), error=f"rdap ip: {exc}", retryable=exc.retryable)
    country = _text(data.get("country"))
    abuse = [e for e in _entities(data) if _has_role(e, "abuse")]
    emails = (_emails(abuse) or await _followed_abuse(data, url, rdap)
              or _remark_abuse(data))
    return IpRdap(handle=_text(data.get("handle")), name=_text(data.get("name")),
                  country=country.upper() if country and len(country) == 2 else None,
                  abuse_emails=emails, error=None,
                  start=_address(data.get("startAddress")), end=_address(data.get("endAddress")))


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
        public_ids = registrar.get("publicIds")
        for public_id in public_ids if isinstance(public_ids, list) else []:
            if isinstance(public_id, dict) and public_id.get("type") == "IANA Registrar ID":
                iana_id = _text(str(public_id.get("identifier", "")))
        abuse = [e for e in _entities(registrar) if _has_role(e, "abuse")]
    if not abuse:
        abuse = [e for e in _entities(data) if _has_role(e, "abuse")]
    return name, iana_id, abuse


async def rdap_domain(domain: str, session: aiohttp.ClientSession, bootstrap: Bootstrap, *,
                      client: RdapClient | None = None) -> Registrar:
    """The registrar of ``domain`` from its registry, then once from the registrar; never raises."""
    rdap = client or RdapClient(session)
    servers = bootstrap.domain_servers(domain)
    if not servers:
        return Registrar(None, None, (), None, None,
                         error=f"no RDAP server for the TLD of {domain} in the bootstrap")
    try:
        data, url = await _ask(servers, "domain/" + quote(domain.lower(), safe="."), rdap)
    except LookupFailed as exc:
        return Registrar(None, None, (), None, None, error=f"rdap domain: {exc}",
                         retryable=exc.retryable)
    name, iana_id, abuse = _registrar_facts(data)
    emails, phone, rdap_url = _emails(abuse), _phone(abuse), url
    related = next((link for link in _links(data, ("related",)) if link != url), None)
    if related is not None:
        try:
            registrar_data = await rdap.fetch_json(related)
        except LookupFailed:
            registrar_data = None  # the registry's facts stand on their own
        if isinstance(registrar_data, dict):
            r_name, r_iana, r_abuse = _registrar_facts(registrar_data)
            rdap_url = related
            name, iana_id = name or r_name, iana_id or r_iana
            if _emails(r_abuse):
                emails, phone = _emails(r_abuse), _phone(r_abuse) or phone
    return Registrar(name, iana_id, emails, phone, rdap_url, error=None)


@dataclass(frozen=True)
class Autnum:
    """An autonomous system and its abuse contact, from the RIR's RDAP (``/autnum/<asn>``)."""

    asn: int
    handle: str | None
    name: str | None
    abuse_emails: tuple[str, ...]
    error: str | None
    retryable: bool = False  # True when `error` is could-not-find-out
    found: bool = True  # False: no such record, or no server for it (a fact, not an error)


async def rdap_autnum(asn: int, session: aiohttp.ClientSession, bootstrap: Bootstrap, *,
                      client: RdapClient | None = None) -> Autnum:
    """The abuse contact of AS ``asn`` (the server from the bootstrap's asn.json, the
    abuse entity found as for an IP network); never raises. No server for the AS number
    (a private one) or no record is a fact (``found=False``, no error): the AS has no
    contact to give. Any other failure sets ``error``."""
    rdap = client or RdapClient(session)
    servers = bootstrap.asn_servers(asn)
    if not servers:
        return Autnum(asn, None, None, (), error=None, found=False)
    try:
        data, url = await _ask(servers, f"autnum/{int(asn)}", rdap)
    except RecordNotFound:
        return Autnum(asn, None, None, (), error=None, found=False)
    except LookupFailed as exc:
        return Autnum(asn, None, None, (), error=f"rdap autnum AS{asn}: {exc}",
                      retryable=exc.retryable)
    abuse = [e for e in _entities(data) if _has_role(e, "abuse")]
    emails = (_emails(abuse) or await _followed_abuse(data, url, rdap)
              or _remark_abuse(data))
    return Autnum(asn, handle=_text(data.get("handle")), name=_text(data.get("name")),
                  abuse_emails=emails, error=None)
