"""defang: URLs written for people must never be clickable, and must read back."""

from __future__ import annotations

import re

import pytest

from notices.defang import defang

LINKABLE = [re.compile(r"https?://", re.IGNORECASE), re.compile(r"www\.\w", re.IGNORECASE)]

CASES = [
    ("http://example.com/a.jpg", "hxxp://example[.]com/a.jpg"),
    ("https://example.com/a.jpg", "hxxps://example[.]com/a.jpg"),
    ("HTTPS://WWW.EXAMPLE.COM/A.JPG", "hxxps://WWW[.]EXAMPLE[.]COM/A.JPG"),
    ("http://www.example.com/", "hxxp://www[.]example[.]com/"),
    ("http://127.0.0.2/x.png", "hxxp://127[.]0[.]0[.]2/x.png"),
    ("http://127.0.0.2:8080/x", "hxxp://127[.]0[.]0[.]2:8080/x"),
    ("http://[::1]:8080/x.jpg", "hxxp://[::1]:8080/x.jpg"),
    ("http://user:secret@files.example/x", "hxxp://user:secret@files[.]example/x"),
    ("http://bücher.example/ä.jpg", "hxxp://bücher[.]example/ä.jpg"),
    ("http://xn--bcher-kva.example/a", "hxxp://xn--bcher-kva[.]example/a"),
    # An ideographic full stop is a dot to a browser.
    ("http://files\u3002example/a", "hxxp://files[.]example/a"),
    ("ftp://files.example/a.zip", "fxp://files[.]example/a.zip"),
    ("www.example.com/a.jpg", "www[.]example[.]com/a.jpg"),
    ("example.net", "example[.]net"),
    ("http://example.com/a.jpg?x=1#frag", "hxxp://example[.]com/a.jpg?x=1#frag"),
    # URLs embedded in the rest (redirectors) are defanged too.
    (
        "http://go.example/r?u=https://www.example.org/b.jpg&v=2",
        "hxxp://go[.]example/r?u=hxxps://www[.]example[.]org/b.jpg&v=2",
    ),
    ("http://go.example/r?u=HTTP://x.example.net/", "hxxp://go[.]example/r?u=HXXP://x[.]example[.]net/"),
    # Every dot of a host name in the rest: "example.org" after "]" is a link to a linkifier.
    ("http://go.example/r/www.example.org", "hxxp://go[.]example/r/www[.]example[.]org"),
    ("  http://example.com/a  ", "hxxp://example[.]com/a"),
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_defang_known_forms(url: str, expected: str) -> None:
    assert defang(url) == expected


@pytest.mark.parametrize("url", [url for url, _ in CASES])
def test_defang_is_idempotent(url: str) -> None:
    once = defang(url)
    assert defang(once) == once


@pytest.mark.parametrize("url", [url for url, _ in CASES])
def test_defanged_output_is_not_auto_linkable(url: str) -> None:
    defanged = defang(url)
    for pattern in LINKABLE:
        assert not pattern.search(defanged), (url, defanged)


def test_defang_reads_back_with_the_instructions_given_in_notices() -> None:
    # The notice tells people: replace hxxp with http and [.] with ".".
    for url in ["http://www.example.com/a.jpg", "https://127.0.0.2:8443/b?c=d.e"]:
        assert defang(url).replace("hxxp", "http").replace("[.]", ".") == url


def test_defang_keeps_ipv6_colons() -> None:
    assert defang("http://[2001:db8::1]/a.jpg") == "hxxp://[2001:db8::1]/a.jpg"
