"""The hosting facts of one URL at one moment, and their JSON form.

``Resolution.to_json()`` is what nttd stores on a case and ``nttd resolve
--json`` prints: the keys of DESIGN.md (``url, host, registered_domain,
cname_chain, ips, hosting, cdn, registrar, errors``) and, added later and never
renamed, ``addresses`` (facts per address), ``spans_networks``,
``spans_countries``, ``provenance`` (``{fact: {"source", "at", "detail"?}}``,
source one of dns, cymru, rdap, whois, geoip, cdn-data, manual) and, under
``hosting``, ``geoip_country`` and ``geoip_disagrees`` (GeoIP is optional) and
``as_abuse_emails`` (the abuse contact of the AS, from RDAP autnum).
``from_json`` rebuilds exactly what ``to_json`` wrote, and reads older JSON
without the added keys. Pure data: nothing here fails but a malformed dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from resolvers.cdn import Cdn
from resolvers.rdap import Registrar

__all__ = ["SOURCES", "AddressFacts", "Hosting", "Provenance", "Resolution"]

SOURCES = ("dns", "cymru", "rdap", "whois", "geoip", "cdn-data", "manual")


@dataclass(frozen=True)
class Hosting:
    """Who hosts the address the URL resolves to."""

    ip: str
    asn: int | None
    as_name: str | None
    prefix: str | None
    country: str | None  # the RDAP country if present, else Cymru's
    abuse_emails: tuple[str, ...]
    geoip_country: str | None = None  # where a GeoIP database (if configured) places ip
    # The abuse contact of the AS announcing ip (RDAP autnum): the host's upstream.
    as_abuse_emails: tuple[str, ...] = ()

    @property
    def geoip_disagrees(self) -> bool:
        """The GeoIP country and the registry country are both known and differ."""
        return None not in (self.country, self.geoip_country) and (
            self.country != self.geoip_country)


@dataclass(frozen=True)
class AddressFacts:
    """The network of one of the addresses the host resolves to (from Team Cymru)."""

    ip: str
    asn: int | None
    prefix: str | None
    country: str | None
    as_name: str | None


@dataclass(frozen=True)
class Provenance:
    """Where one fact came from and when it was found out."""

    fact: str  # "dns", "addresses", "hosting.network", "hosting.country", ...
    source: str  # one of SOURCES
    at: datetime
    detail: str | None = None  # e.g. the RDAP URL or the data file version


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass(frozen=True)
class Resolution:
    """The hosting facts of one URL at one moment."""

    url: str
    host: str
    registered_domain: str | None
    cname_chain: tuple[str, ...]
    ips: tuple[str, ...]
    hosting: Hosting | None
    cdn: Cdn | None
    registrar: Registrar | None
    errors: tuple[str, ...]
    unresolvable: bool  # a FACT: it cannot be resolved (analyst needed)
    retryable: bool  # could not find out now: resolve again later
    resolved_at: datetime
    addresses: tuple[AddressFacts, ...] = ()
    spans_networks: bool = False  # the addresses are announced by more than one AS
    spans_countries: bool = False  # the addresses are registered in more than one country
    provenance: tuple[Provenance, ...] = ()

    def source_of(self, fact: str) -> Provenance | None:
        """The provenance of ``fact``, or None."""
        return next((p for p in self.provenance if p.fact == fact), None)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of DESIGN.md (plus keys so that from_json is exact)."""
        h, c, r = self.hosting, self.cdn, self.registrar
        return {
            "url": self.url,
            "host": self.host,
            "registered_domain": self.registered_domain,
            "cname_chain": list(self.cname_chain),
            "ips": list(self.ips),
            "hosting": None if h is None else {
                "ip": h.ip, "asn": h.asn, "as_name": h.as_name, "prefix": h.prefix,
                "country": h.country, "abuse_emails": list(h.abuse_emails),
                "geoip_country": h.geoip_country, "geoip_disagrees": h.geoip_disagrees,
                "as_abuse_emails": list(h.as_abuse_emails),
            },
            "cdn": None if c is None else {
                "name": c.name, "abuse_emails": list(c.abuse_emails), "abuse_url": c.abuse_url,
                "matched_by": c.matched_by,
            },
            "registrar": None if r is None else {
                "name": r.name, "iana_id": r.iana_id, "abuse_emails": list(r.abuse_emails),
                "abuse_phone": r.abuse_phone, "rdap_url": r.rdap_url,
            },
            "errors": list(self.errors),
            "unresolvable": self.unresolvable,
            "retryable": self.retryable,
            "resolved_at": self.resolved_at.astimezone(UTC).isoformat(),
            "addresses": [
                {"ip": a.ip, "asn": a.asn, "prefix": a.prefix, "country": a.country,
                 "as_name": a.as_name}
                for a in self.addresses
            ],
            "spans_networks": self.spans_networks,
            "spans_countries": self.spans_countries,
            "provenance": {
                p.fact: {"source": p.source, "at": p.at.astimezone(UTC).isoformat(),
                         **({"detail": p.detail} if p.detail is not None else {})}
                for p in self.provenance
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resolution:
        """Rebuild what ``to_json`` wrote (older JSON without the added keys too)."""
        h, c, r = data.get("hosting"), data.get("cdn"), data.get("registrar")
        provenance = data.get("provenance") or {}
        return cls(
            url=data["url"],
            host=data["host"],
            registered_domain=data.get("registered_domain"),
            cname_chain=tuple(data.get("cname_chain") or ()),
            ips=tuple(data.get("ips") or ()),
            hosting=None if h is None else Hosting(
                ip=h["ip"], asn=h.get("asn"), as_name=h.get("as_name"), prefix=h.get("prefix"),
                country=h.get("country"), abuse_emails=tuple(h.get("abuse_emails") or ()),
                geoip_country=h.get("geoip_country"),
                as_abuse_emails=tuple(h.get("as_abuse_emails") or ()),
            ),
            cdn=None if c is None else Cdn(
                name=c["name"], abuse_emails=tuple(c.get("abuse_emails") or ()),
                abuse_url=c.get("abuse_url"), matched_by=c.get("matched_by", ""),
            ),
            registrar=None if r is None else Registrar(
                name=r.get("name"), iana_id=r.get("iana_id"),
                abuse_emails=tuple(r.get("abuse_emails") or ()),
                abuse_phone=r.get("abuse_phone"), rdap_url=r.get("rdap_url"), error=None,
            ),
            errors=tuple(data.get("errors") or ()),
            unresolvable=bool(data.get("unresolvable", False)),
            retryable=bool(data.get("retryable", False)),
            resolved_at=_time(data["resolved_at"]),
            addresses=tuple(
                AddressFacts(ip=a["ip"], asn=a.get("asn"), prefix=a.get("prefix"),
                             country=a.get("country"), as_name=a.get("as_name"))
                for a in data.get("addresses") or ()
            ),
            spans_networks=bool(data.get("spans_networks", False)),
            spans_countries=bool(data.get("spans_countries", False)),
            provenance=tuple(
                Provenance(fact=fact, source=p["source"], at=_time(p["at"]),
                           detail=p.get("detail"))
                for fact, p in provenance.items()
            ),
        )
