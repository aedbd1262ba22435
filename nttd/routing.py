"""Routing: who must act on a resolved case.

- A CDN in front: the address is the CDN's edge, so its country says nothing about
  the host; the notice goes to the CDN's abuse contact (the CDN can act, and can
  name the origin host).
- Hosting country covered by a partner hotline that is not us: route to that
  partner (its webhook if it has one, else its e-mail, else only its inbox).
- Our own country, or no partner: a notice to the hosting network's abuse contact.
- No abuse contact for the host (or CDN): the registrar's abuse contact.
- Nobody to tell at all: the case needs an analyst (unresolvable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nttd.models import Hotline


@dataclass(frozen=True)
class Recipient:
    kind: str            # host | cdn | registrar | partner
    channel: str         # email | webhook
    address: str         # e-mail address or webhook URL
    name: str
    language: str = "en"
    hotline_id: int | None = None


@dataclass(frozen=True)
class Route:
    kind: str                          # partner | direct | none
    hotline_id: int | None = None
    hotline_code: str | None = None
    country: str | None = None
    reason: str = ""
    recipients: tuple[Recipient, ...] = field(default_factory=tuple)


def decide_route(
    facts: dict[str, Any], hotlines: Sequence[Hotline], home_country: str | None
) -> Route:
    hosting = facts.get("hosting") or {}
    cdn = facts.get("cdn")
    registrar = facts.get("registrar") or {}
    country = hosting.get("country")
    home = {c for h in hotlines if h.is_self for c in h.countries}
    if home_country:
        home.add(home_country)

    registrar_recipients = tuple(
        Recipient("registrar", "email", email, registrar.get("name") or "registrar")
        for email in registrar.get("abuse_emails") or ()
    )
    if cdn:
        recipients = tuple(
            Recipient("cdn", "email", email, cdn.get("name") or "CDN")
            for email in cdn.get("abuse_emails") or ()
        )
        reason = f"behind CDN {cdn.get('name')}: notice to the CDN"
        if not recipients:
            recipients, reason = registrar_recipients, reason + " (no CDN e-mail: registrar)"
        return Route("direct" if recipients else "none", country=country, reason=reason,
                     recipients=recipients)

    if country and country not in home:
        partner = next(
            (h for h in hotlines if not h.is_self and country in (h.countries or [])), None
        )
        if partner is not None:
            channel = ("webhook", partner.webhook_url) if partner.webhook_url else (
                ("email", partner.email) if partner.email else None)
            partner_recipients = () if channel is None else (
                Recipient("partner", channel[0], channel[1], partner.name,
                          partner.language or "en", partner.id),)
            return Route("partner", partner.id, partner.code, country,
                         f"hosted in {country}: partner {partner.code}", partner_recipients)

    why = "hosted in our own country" if country in home else (
        f"no partner for {country}" if country else "hosting country unknown")
    host_recipients = tuple(
        Recipient("host", "email", email, hosting.get("as_name") or "hosting provider")
        for email in hosting.get("abuse_emails") or ()
    )
    if host_recipients:
        return Route("direct", country=country, reason=f"{why}: notice to the host",
                     recipients=host_recipients)
    if registrar_recipients:
        return Route("direct", country=country,
                     reason=f"{why}; no abuse contact for the host: notice to the registrar",
                     recipients=registrar_recipients)
    return Route("none", country=country, reason=f"{why}; no abuse contact found")
