from __future__ import annotations

import pytest

from resolvers.urls import CanonicalURL, InvalidURL, canonicalize_url


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("  HTTP://WWW.Example.COM/Path/A.JPG?X=1#frag \n", "http://www.example.com/Path/A.JPG?X=1"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com?q", "http://example.com/?q"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("http://example.com./a", "http://example.com/a"),
        # The path and query are normalised (RFC 3986 6.2.2; tests/unit/test_url_normalisation.py).
        ("http://bücher.example/ä?ü", "http://xn--bcher-kva.example/%C3%A4?%C3%BC"),
        ("http://BÜCHER.example/", "http://xn--bcher-kva.example/"),
        ("http://example.com/a/../b/%41", "http://example.com/b/A"),
        ("http://my_host.example.com/", "http://my_host.example.com/"),
    ],
)
def test_canonical_form(raw: str, url: str) -> None:
    assert canonicalize_url(raw).url == url


def test_parts() -> None:
    assert canonicalize_url("https://Example.com:8443/x") == CanonicalURL(
        url="https://example.com:8443/x", scheme="https", host="example.com", port=8443,
        host_is_ip=False,
    )


def test_ipv6_literal() -> None:
    got = canonicalize_url("http://[::0001]:8080/a")
    assert (got.url, got.host, got.port) == ("http://[::1]:8080/a", "::1", 8080)
    assert got.host_is_ip
    assert canonicalize_url("https://[2001:DB8::1]/").url == "https://[2001:db8::1]/"


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("http://127.0.0.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0177.0.0.01/", "127.0.0.1"),
    ],
)
def test_numeric_hosts_are_read_as_a_browser_does(raw: str, host: str) -> None:
    got = canonicalize_url(raw)
    assert got.host == host and got.host_is_ip


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ftp://example.com/a", "scheme 'ftp' is not allowed: only http and https"),
        ("javascript:alert(1)", "scheme 'javascript' is not allowed"),
        ("example.com/a.jpg", "no scheme"),
        ("http:/example.com/a", "must have the form"),
        ("http:///a", "no host"),
        ("http://example.com:0/", "invalid port"),
        ("http://example.com:65536/", "invalid port"),
        ("http://example.com:8o/", "invalid port"),
        ("http://exa mple.com/", "white space"),
        ("http://example.com/a b", "white space"),
        ("http://example.com/a\x00", "control character"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http://user@example.com/", "user name or password"),
        ("http://[::1/", "closing"),
        ("http://[::zz]/", "invalid IPv6"),
        ("http://::1/", "brackets"),
        ("http://exa..mple.com/", "empty label"),
        ("http://ex!ample.com/", "characters a host name cannot"),
        ("http://256.1.1.1/", "out of range"),
        ("", "empty"),
        ("http://example.com/" + "a" * 5000, "at most 4096"),
    ],
)
def test_rejections_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidURL) as caught:
        canonicalize_url(raw)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)
