"""Routing: who must act on a resolved case.

- A CDN in front: the address is the CDN's edge, so its country says nothing about
  the host; the notice goes to the CDN's abuse contact (the CDN can act, and can
  name the origin host).
- Hosting country covered by a partner hotline that is not us: route to that
  partner (its webhook if it has one, else its e-mail, else only its inbox).
- Our own country, or no partner: a notice to the hosting network's abuse contact.
- No abuse contact for the host (or CDN): the registrar's abuse contact.
- Nobody to tell at all: the case needs an analyst (unresolvable).

Abuse addresses marked bad (`nttd.outbox.bad_contacts`: they refused or bounced a
notice) are left out; a host whose addresses are all marked bad goes to its AS /
upstream abuse contact before the registrar (the fallback ladder's order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nttd.cases import CaseFacts, CaseStatus
from nttd.models import Hotline
from nttd.outbox import Recipient


@dataclass(frozen=True)
class Route:
    kind: str                          # partner | direct | none
    hotline_id: int | None = None
    hotline_code: str | None = None
    country: str | None = None
    reason: str = ""
    recipients: tuple[Recipient, ...] = field(default_factory=tuple)

    @property
    def case_status(self) -> CaseStatus:
        """The status a case takes on this route: routed to a partner, or notified."""
        return CaseStatus.ROUTED if self.kind == "partner" else CaseStatus.NOTIFIED

    def who(self) -> frozenset[object]:
        """Who must act: the hotline and the recipients (a re-route that keeps them
        changes nothing for anyone)."""
        return frozenset({(r.kind, r.channel, r.address) for r in self.recipients}
                         | {self.hotline_id})


def decide_route(
    facts: CaseFacts, hotlines: Sequence[Hotline], home_country: str | None,
    bad: frozenset[str] = frozenset(),
) -> Route:
    """The route of `facts`; `bad`: abuse addresses (lower case) to leave out."""
    hosting, cdn, registrar = facts.hosting, facts.cdn, facts.registrar
    country = facts.country
    home = {c for h in hotlines if h.is_self for c in h.countries}
    if home_country:
        home.add(home_country)

    def good(emails: Sequence[str]) -> list[str]:
        return [e for e in emails if e.strip().lower() not in bad]

    registrar_recipients = () if registrar is None else tuple(
        Recipient("registrar", "email", email, registrar.name or "registrar")
        for email in good(registrar.abuse_emails)
    )
    if cdn is not None:
        recipients = tuple(
            Recipient("cdn", "email", email, cdn.name or "CDN")
            for email in good(cdn.abuse_emails)
        )
        reason = f"behind CDN {cdn.name}: notice to the CDN"
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
    host_recipients = () if hosting is None else tuple(
        Recipient("host", "email", email, hosting.as_name or "hosting provider")
        for email in good(hosting.abuse_emails)
    )
    if hosting is not None and hosting.abuse_emails and not host_recipients:
        upstream = (f"AS{hosting.asn} {hosting.as_name or ''}".strip()
                    if hosting.asn is not None else hosting.as_name or "upstream network")
        host_recipients = tuple(Recipient("host", "email", email, upstream)
                                for email in good(hosting.as_abuse_emails))
    if host_recipients:
        return Route("direct", country=country, reason=f"{why}: notice to the host",
                     recipients=host_recipients)
    if registrar_recipients:
        return Route("direct", country=country,
                     reason=f"{why}; no abuse contact for the host: notice to the registrar",
                     recipients=registrar_recipients)
    return Route("none", country=country, reason=f"{why}; no abuse contact found")
