"""Who each rung of the escalation ladder tells (nttd.outbox.escalation), from the
cases' facts: grouped per address, never the party or address already notified, the
upstream never the host's own address and never for a case behind a CDN."""

from __future__ import annotations

from typing import Any

from nttd.models import Case, Notice
from nttd.outbox.escalation import recipients_on_rung

HOST = "abuse@host.example"


def _case(case_id: int, *, registrar: list[str] | None = None, as_abuse: list[str] | None = None,
          host_abuse: list[str] | None = None, cdn: list[str] | None = None) -> Case:
    facts: dict[str, Any] = {"hosting": {
        "ip": "192.0.2.1", "asn": 64500, "as_name": "HOSTER-AS",
        "abuse_emails": host_abuse if host_abuse is not None else [HOST],
        "as_abuse_emails": as_abuse or []}}
    if registrar is not None:
        facts["registrar"] = {"name": "Registrar Example", "abuse_emails": registrar}
    if cdn is not None:
        facts["cdn"] = {"name": "Example CDN", "abuse_emails": cdn}
    return Case(id=case_id, facts=facts)


def _first(kind: str = "host", address: str = HOST) -> Notice:
    return Notice(recipient_kind=kind, address=address)


def _plain(groups: dict[Any, list[Case]]) -> dict[tuple[str, str, str], list[int]]:
    return {(to.kind, to.address, to.name): [c.id for c in cases] for to, cases in groups.items()}


def test_registrar_rung_groups_cases_per_address() -> None:
    cases = [_case(1, registrar=["abuse@reg.example"]),
             _case(2, registrar=["abuse@reg.example", "legal@reg.example"]),
             _case(3)]  # no registrar known: nobody for it on this rung
    assert _plain(recipients_on_rung("registrar", _first(), cases)) == {
        ("registrar", "abuse@reg.example", "Registrar Example"): [1, 2],
        ("registrar", "legal@reg.example", "Registrar Example"): [2],
    }


def test_the_party_already_notified_is_skipped() -> None:
    cases = [_case(1, registrar=["abuse@reg.example"], cdn=["abuse@cdn.example"])]
    assert recipients_on_rung("registrar", _first("registrar", "abuse@reg.example"),
                              cases) == {}
    assert recipients_on_rung("cdn", _first("cdn", "abuse@cdn.example"), cases) == {}
    # and an address that got the first notice, whatever the party
    assert recipients_on_rung("registrar", _first("host", "Abuse@Reg.example"), cases) == {}


def test_upstream_is_the_as_contact_less_the_hosts_own() -> None:
    same = _case(1, as_abuse=[HOST])
    other = _case(2, as_abuse=["abuse@transit.example", HOST])
    assert recipients_on_rung("upstream", _first(), [same]) == {}
    assert _plain(recipients_on_rung("upstream", _first(), [same, other])) == {
        ("host", "abuse@transit.example", "HOSTER-AS (AS64500)"): [2]}
    # behind a CDN the address (and so the AS) is the CDN's: no upstream rung
    behind = _case(3, as_abuse=["abuse@transit.example"], cdn=["abuse@cdn.example"])
    assert recipients_on_rung("upstream", _first("cdn", "abuse@cdn.example"), [behind]) == {}


def test_cdn_rung_for_a_case_first_notified_elsewhere() -> None:
    cases = [_case(1, cdn=["abuse@cdn.example"]), _case(2)]
    assert _plain(recipients_on_rung("cdn", _first("registrar", "abuse@reg.example"),
                                     cases)) == {
        ("cdn", "abuse@cdn.example", "Example CDN"): [1]}
