"""A typed view of a case's hosting facts.

The facts are stored as the resolvers' JSON (`Resolution.to_json()`, with an
analyst's overrides and their provenance folded in). Code that decides something
from them reads this view instead of chains of `.get(...) or {}`; the view is
lenient (a missing or malformed part reads as absent), because stored facts may
come from an older resolver or a hand correction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nttd.models import Case

__all__ = ["CaseFacts", "Contact", "Hosting", "store_facts", "tld_of"]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _emails(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(v for v in value if isinstance(v, str) and v)


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    value = data.get(name)
    return value if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class Hosting:
    """The network that hosts the URL's address."""

    ip: str | None = None
    asn: int | None = None
    as_name: str | None = None
    prefix: str | None = None
    country: str | None = None
    abuse_emails: tuple[str, ...] = ()
    # The abuse contact of the autonomous system (RDAP autnum): the upstream rung of
    # the escalation ladder and a fallback when the network's own contact fails.
    as_abuse_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contact:
    """A CDN or a registrar: a name and its abuse addresses."""

    name: str | None = None
    abuse_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseFacts:
    ips: tuple[str, ...] = ()
    hosting: Hosting | None = None
    cdn: Contact | None = None
    registrar: Contact | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> CaseFacts:
        if not isinstance(data, Mapping):
            return cls()
        hosting = _section(data, "hosting")
        asn = hosting.get("asn") if hosting is not None else None
        provenance = data.get("provenance")
        return cls(
            ips=tuple(sorted(str(ip) for ip in data.get("ips") or () if isinstance(ip, str))),
            hosting=None if hosting is None else Hosting(
                ip=_text(hosting.get("ip")),
                asn=asn if isinstance(asn, int) and not isinstance(asn, bool) else None,
                as_name=_text(hosting.get("as_name")),
                prefix=_text(hosting.get("prefix")),
                country=_text(hosting.get("country")),
                abuse_emails=_emails(hosting.get("abuse_emails")),
                as_abuse_emails=_emails(hosting.get("as_abuse_emails")),
            ),
            cdn=_contact(_section(data, "cdn")),
            registrar=_contact(_section(data, "registrar")),
            provenance=provenance if isinstance(provenance, Mapping) else {},
        )

    @property
    def country(self) -> str | None:
        return self.hosting.country if self.hosting is not None else None

    @property
    def asn(self) -> int | None:
        return self.hosting.asn if self.hosting is not None else None

    def network(self) -> dict[str, Any]:
        """The parts whose change is a move: addresses, network, country, CDN."""
        return {
            "ips": list(self.ips),
            "asn": self.asn,
            "prefix": self.hosting.prefix if self.hosting is not None else None,
            "country": self.country,
            "cdn": self.cdn.name if self.cdn is not None else None,
        }


def _contact(section: Mapping[str, Any] | None) -> Contact | None:
    if section is None:
        return None
    return Contact(name=_text(section.get("name")),
                   abuse_emails=_emails(section.get("abuse_emails")))


def tld_of(host: str | None) -> str | None:
    """The top-level domain of a host name (its last label); None for an address."""
    if not host or host.startswith("[") or ":" in host:
        return None
    label = host.rstrip(".").rsplit(".", 1)[-1].lower()
    if not label or label.isdigit() or "." not in host.rstrip("."):
        return None  # a bare name, or an IPv4 address (its last label is a number)
    return label[:63]


def store_facts(case: Case, facts: dict[str, Any]) -> CaseFacts:
    """Give `case` these facts, and copy what is queried by column (country, ASN,
    and for the statistics the network's name, registrar, CDN and TLD)."""
    view = CaseFacts.from_json(facts)
    case.facts = facts
    case.country, case.asn = view.country, view.asn
    case.as_name = view.hosting.as_name[:200] if view.hosting and view.hosting.as_name else None
    case.registrar = view.registrar.name[:200] if view.registrar and view.registrar.name else None
    case.cdn = view.cdn.name[:100] if view.cdn and view.cdn.name else None
    case.tld = tld_of(case.host)
    return view
