from __future__ import annotations

import pytest

from nttd.cases import CaseFacts
from nttd.models import Hotline
from nttd.partners import PartnerFileError, parse_partner_file
from nttd.routing import decide_route

PARTNERS = """
[[hotline]]
code = "gb-home"
name = "Home Hotline"
countries = ["GB"]
self = true

[[hotline]]
code = "nl-partner"
name = "Partner Hotline NL"
countries = ["NL"]
language = "nl"
webhook_url = "http://127.0.0.1:9/hook"
webhook_secret = "0123456789abcdef0123"

[[hotline]]
code = "de-partner"
name = "Partner Hotline DE"
countries = ["DE", "AT"]
email = "reports@partner-de.example"
"""


def hotlines() -> list[Hotline]:
    return [
        Hotline(id=i, code=e.code, name=e.name, countries=list(e.countries), is_self=e.is_self,
                language=e.language, email=e.email, webhook_url=e.webhook_url,
                webhook_secret=e.webhook_secret)
        for i, e in enumerate(parse_partner_file(PARTNERS), 1)
    ]


def facts(country: str | None, *, cdn: bool = False, host_email: bool = True,
          registrar_email: bool = True) -> CaseFacts:
    return CaseFacts.from_json({
        "hosting": {"ip": "127.0.0.2", "asn": 64500, "as_name": "EXAMPLE-NET",
                    "country": country,
                    "abuse_emails": ["abuse@host.example"] if host_email else []},
        "cdn": {"name": "Cloudflare", "abuse_emails": ["abuse@cdn.example"]} if cdn else None,
        "registrar": {"name": "Example Registrar", "iana_id": "9999",
                      "abuse_emails": ["abuse@registrar.example"] if registrar_email else []},
    })


def test_partner_country_with_webhook() -> None:
    route = decide_route(facts("NL"), hotlines(), None)
    assert (route.kind, route.hotline_code) == ("partner", "nl-partner")
    assert [(r.kind, r.channel, r.language) for r in route.recipients] == [
        ("partner", "webhook", "nl")]


def test_partner_country_with_email() -> None:
    route = decide_route(facts("AT"), hotlines(), None)
    assert route.hotline_code == "de-partner"
    assert [(r.channel, r.address) for r in route.recipients] == [
        ("email", "reports@partner-de.example")]


def test_no_partner_goes_to_the_host() -> None:
    route = decide_route(facts("US"), hotlines(), None)
    assert route.kind == "direct"
    assert [(r.kind, r.address) for r in route.recipients] == [("host", "abuse@host.example")]


def test_own_country_goes_to_the_host_even_with_home_country_setting() -> None:
    assert decide_route(facts("GB"), hotlines(), None).recipients[0].kind == "host"
    assert decide_route(facts("NL"), hotlines(), "NL").recipients[0].kind == "host"


def test_cdn_in_front_goes_to_the_cdn() -> None:
    route = decide_route(facts("NL", cdn=True), hotlines(), None)
    assert route.kind == "direct"
    assert [(r.kind, r.address) for r in route.recipients] == [("cdn", "abuse@cdn.example")]


def test_registrar_when_the_host_has_no_contact() -> None:
    route = decide_route(facts("US", host_email=False), hotlines(), None)
    assert [r.kind for r in route.recipients] == ["registrar"]


def test_nobody_to_tell() -> None:
    route = decide_route(facts("US", host_email=False, registrar_email=False), hotlines(), None)
    assert route.kind == "none"
    assert "no abuse contact" in route.reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "not valid TOML"),
        ('[[hotline]]\ncode = "x"\n', "'name' is required"),
        ('[[hotline]]\ncode = "Bad Code"\nname = "x"\n', "'code'"),
        ('[[hotline]]\ncode = "a"\nname = "A"\nwebhook_url = "http://127.0.0.1/h"\n',
         "webhook_secret"),
        ('[[hotline]]\ncode = "a"\nname = "A"\ncountries = ["NL"]\n'
         '[[hotline]]\ncode = "b"\nname = "B"\ncountries = ["NL"]\n', "covered by both"),
        ('[[hotline]]\ncode = "a"\nname = "A"\n[[hotline]]\ncode = "a"\nname = "B"\n',
         "duplicate hotline code"),
        ('[[hotline]]\ncode = "a"\nname = "A"\ncolour = "red"\n', "unknown field"),
    ],
)
def test_bad_partner_files(text: str, message: str) -> None:
    with pytest.raises(PartnerFileError, match=message):
        parse_partner_file(text)


def test_addresses_marked_bad_are_skipped_in_the_ladders_order() -> None:
    data = {
        "hosting": {"ip": "127.0.0.2", "asn": 64500, "as_name": "EXAMPLE-NET", "country": "US",
                    "abuse_emails": ["abuse@host.example", "noc@host.example"],
                    "as_abuse_emails": ["abuse@upstream.example"]},
        "registrar": {"name": "Example Registrar", "abuse_emails": ["abuse@registrar.example"]},
    }
    case = CaseFacts.from_json(data)

    def to(bad: set[str]) -> list[tuple[str, str]]:
        route = decide_route(case, hotlines(), "GB", frozenset(bad))
        return [(r.kind, r.address) for r in route.recipients]

    assert to(set()) == [("host", "abuse@host.example"), ("host", "noc@host.example")]
    assert to({"abuse@host.example"}) == [("host", "noc@host.example")]
    both = {"abuse@host.example", "noc@host.example"}
    assert to(both) == [("host", "abuse@upstream.example")]  # the AS before the registrar
    assert to(both | {"abuse@upstream.example"}) == [("registrar", "abuse@registrar.example")]
    assert decide_route(case, hotlines(), "GB", frozenset(
        both | {"abuse@upstream.example", "abuse@registrar.example"})).kind == "none"
    # A host with no abuse contact at all still goes to the registrar, as before.
    no_host = CaseFacts.from_json({**data, "hosting": {**data["hosting"], "abuse_emails": []}})
    assert [r.kind for r in decide_route(no_host, hotlines(), "GB").recipients] == [
        "registrar"]
    # Behind a CDN: the CDN's address, else the registrar's.
    cdn = CaseFacts.from_json({**data, "cdn": {"name": "CDN", "abuse_emails": ["a@cdn.example"]}})
    assert [r.address for r in decide_route(cdn, hotlines(), "GB", frozenset(
        {"a@cdn.example"})).recipients] == ["abuse@registrar.example"]
