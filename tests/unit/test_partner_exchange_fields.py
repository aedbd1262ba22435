"""The directory's fields for a partner running nttd: status_url and status_token
(nttd.exchange sends our status reports there), validated like the rest."""

from __future__ import annotations

import pytest

from nttd.exchange import sender_case_id
from nttd.partners import PartnerFileError, parse_partner_file

SECRET = "a-shared-secret-0123456789"
TOKEN = "nttd_partner-token-0123456789abcdef"


def entry(**fields: str) -> str:
    lines = ['[[hotline]]', 'code = "nl-partner"', 'name = "Partner NL"',
             'countries = ["NL"]']
    lines += [f'{key} = "{value}"' for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def test_status_fields_are_read() -> None:
    [e] = parse_partner_file(entry(webhook_url="https://nttd.partner-nl.example/api/v1/exchange",
                                   webhook_secret=SECRET,
                                   status_url="https://nttd.partner-nl.example/",
                                   status_token=TOKEN))
    assert e.status_url == "https://nttd.partner-nl.example"  # the base URL, no slash
    assert e.status_token == TOKEN
    [plain] = parse_partner_file(entry(email="reports@partner-nl.example"))
    assert plain.status_url is None and plain.status_token is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:8081", "http://[::1]:8081",
                                 "http://localhost:8081", "https://nttd.partner-nl.example"])
def test_plain_http_only_on_loopback(url: str) -> None:
    [e] = parse_partner_file(entry(webhook_secret=SECRET, status_url=url, status_token=TOKEN))
    assert e.status_url == url


def test_a_receiving_only_partner_needs_only_the_secret() -> None:
    [e] = parse_partner_file(entry(webhook_secret=SECRET, status_url="http://127.0.0.1:8081",
                                   status_token=TOKEN))
    assert e.webhook_url is None and e.webhook_secret == SECRET


@pytest.mark.parametrize(("fields", "message"), [
    ({"status_token": TOKEN}, "'status_token' needs 'status_url'"),
    ({"webhook_secret": SECRET, "status_url": "https://nttd.example"}, "'status_token'"),
    ({"webhook_secret": SECRET, "status_url": "ftp://nttd.example", "status_token": TOKEN},
     "'status_url' must be an http(s) URL"),
    ({"webhook_secret": SECRET, "status_url": "https://nttd.example",
      "status_token": "short"}, "'status_token'"),
    ({"webhook_secret": SECRET, "status_url": "https://nttd.example",
      "status_token": "has a space in it 0123456789"}, "'status_token'"),
    ({"status_url": "https://nttd.example", "status_token": TOKEN},
     "'webhook_secret' is required with status_url"),
    ({"webhook_secret": "short"}, "'webhook_secret' must be 16 characters or more"),
    ({"webhook_secret": SECRET, "status_url": "http://nttd.partner-nl.example",
      "status_token": TOKEN}, "'status_url' must be https"),
])
def test_bad_status_fields_are_refused_with_a_reason(fields: dict[str, str],
                                                     message: str) -> None:
    with pytest.raises(PartnerFileError) as caught:
        parse_partner_file(entry(**fields))
    assert message in str(caught.value) and "nl-partner" in str(caught.value)


@pytest.mark.parametrize(("reference", "expected"), [
    ("NTTD-42", 42), ("NTTD-0", None), ("NTTD-99999999999", None), ("REF-42", None),
    ("NTTD-4x", None), ("nttd-42", None)])
def test_the_sender_case_id_comes_from_an_nttd_reference(reference: str,
                                                        expected: int | None) -> None:
    assert sender_case_id(reference) == expected
