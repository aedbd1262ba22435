"""RFC 3986 syntax-based normalisation of the canonical URL (the dedup key of a case):
each rule with the RFC's own examples, then properties over random paths and queries."""

from __future__ import annotations

import re
import string
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.urls import (
    MAX_URL_LENGTH,
    InvalidURL,
    canonicalize_url,
    normalize_percent_encoding,
    remove_dot_segments,
)

UNRESERVED = string.ascii_letters + string.digits + "-._~"


def canon(url: str) -> str:
    return canonicalize_url(url).url


# -- one rule at a time ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # 6.2.2.2: percent-encoded unreserved characters are decoded ...
        ("http://example.com/%7Esmith/home.html", "http://example.com/~smith/home.html"),
        ("http://example.com/%7esmith", "http://example.com/~smith"),
        ("http://example.com/%41%62%63%30%2D%2E%5F", "http://example.com/Abc0-._"),
        ("http://example.com/a?q=%7E%41", "http://example.com/a?q=~A"),
        # ... and nothing else is: a reserved character encoded means something else.
        ("http://example.com/a%2Fb", "http://example.com/a%2Fb"),
        ("http://example.com/a%3Fb?c=%3F&d=%26", "http://example.com/a%3Fb?c=%3F&d=%26"),
        ("http://example.com/%25", "http://example.com/%25"),
        ("http://example.com/%20", "http://example.com/%20"),
        ("http://example.com/a+b?c+d", "http://example.com/a+b?c+d"),
    ],
)
def test_unreserved_characters_are_decoded_and_only_they(raw: str, expected: str) -> None:
    assert canon(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # 6.2.2.1: "%3a" and "%3A" are the same; upper case is the normal form.
        ("http://example.com/a%3ab", "http://example.com/a%3Ab"),
        ("http://example.com/%2f?x=%2f%c3%a4", "http://example.com/%2F?x=%2F%C3%A4"),
        ("http://example.com/%fF", "http://example.com/%FF"),
    ],
)
def test_percent_encoding_hex_is_upper_case(raw: str, expected: str) -> None:
    assert canon(raw) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # RFC 3986 5.2.4, the two worked examples.
        ("/a/b/c/./../../g", "/a/g"),
        ("mid/content=5/../6", "mid/6"),
        # 5.4 (normal and abnormal), as they leave the path of base http://a/b/c/d;p?q.
        ("/b/c/g/.", "/b/c/g/"),
        ("/b/c/g/./h", "/b/c/g/h"),
        ("/b/c/g/../h", "/b/c/h"),
        ("/b/c/../../../g", "/g"),
        ("/b/c/../../../../g", "/g"),
        ("/./g", "/g"),
        ("/../g", "/g"),
        ("/b/c/g.", "/b/c/g."),
        ("/b/c/.g", "/b/c/.g"),
        ("/b/c/g..", "/b/c/g.."),
        ("/b/c/..g", "/b/c/..g"),
        ("/b/c/./../g", "/b/g"),
        ("/b/c/./g/.", "/b/c/g/"),
        ("/b/c/g;x=1/../y", "/b/c/y"),
        ("/..", "/"),
        ("/.", "/"),
        ("/a/..", "/"),
        ("/a//../b", "/a/b"),  # the empty segment is a segment
        ("/a//b", "/a//b"),
        ("", ""),
    ],
)
def test_remove_dot_segments_rfc_examples(path: str, expected: str) -> None:
    assert remove_dot_segments(path) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://example.com/a/../b", "http://example.com/b"),
        ("http://example.com/a/./b/", "http://example.com/a/b/"),
        ("http://example.com/../../b", "http://example.com/b"),
        # 6.2.2: after the decoding, so an encoded dot segment is one too (as in browsers).
        ("http://example.com/a/%2E%2e/b", "http://example.com/b"),
        ("http://example.com/a/%2e/b", "http://example.com/a/b"),
        ("http://a/./b/../b/%63/%7bfoo%7d", "http://a/b/c/%7Bfoo%7D"),  # the RFC's example
        # Only in the path: the query keeps its dots.
        ("http://example.com/x?a/../b", "http://example.com/x?a/../b"),
        # The path comes out as it would be sent: "/..//x" is "//x", kept after the host.
        ("http://example.com/..//x", "http://example.com//x"),
    ],
)
def test_dot_segments_are_removed_from_the_path(raw: str, expected: str) -> None:
    assert canon(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["http://example.com", "http://example.com/", "http://example.com:/", "http://example.com:80/",
     "HTTP://EXAMPLE.COM", "http://example.com/.", "http://example.com/a/.."],
)
def test_empty_path_is_slash(raw: str) -> None:
    # RFC 3986 6.2.3's four equivalent forms, and dot segments that leave nothing.
    assert canon(raw) == "http://example.com/"


def test_an_empty_query_is_kept() -> None:
    # "?" with nothing after is a different URI from none (6.2.3 says to keep it).
    assert canon("http://example.com?") == "http://example.com/?"
    assert canon("http://example.com/a?") != canon("http://example.com/a")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://example.com/%", "http://example.com/%25"),
        ("http://example.com/100%", "http://example.com/100%25"),
        ("http://example.com/%zz", "http://example.com/%25zz"),
        ("http://example.com/%4", "http://example.com/%254"),
        ("http://example.com/a?p=5%&q=%g1", "http://example.com/a?p=5%25&q=%25g1"),
    ],
)
def test_a_lone_percent_sign_is_the_literal_character(raw: str, expected: str) -> None:
    # Decided: a "%" that starts no percent-encoding is the character itself, which a
    # browser sends as %25; so "/%zz" and "/%25zz" are one case.
    assert canon(raw) == expected
    assert canon(expected) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://example.com/ä", "http://example.com/%C3%A4"),
        ("http://bücher.example/ä?ü=€", "http://xn--bcher-kva.example/%C3%A4?%C3%BC=%E2%82%AC"),
        ("http://example.com/\U0001f600", "http://example.com/%F0%9F%98%80"),
        # The ASCII characters no URI may hold, encoded as a browser sends them.
        ('http://example.com/a"b<c>d', "http://example.com/a%22b%3Cc%3Ed"),
        ("http://example.com/a\\b^c`d{e|f}", "http://example.com/a%5Cb%5Ec%60d%7Be%7Cf%7D"),
    ],
)
def test_characters_outside_uris_are_percent_encoded_as_utf8(raw: str, expected: str) -> None:
    assert canon(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://example.com/%7Ea", "http://example.com/~a"),
        ("http://example.com/%41", "http://example.com/A"),
        ("http://example.com/a/../b", "http://example.com/b"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/ä", "http://example.com/%C3%A4"),
        ("http://example.com/ä", "http://example.com/%c3%a4"),
        ("http://example.com/%", "http://example.com/%25"),
    ],
)
def test_spellings_of_one_address_have_one_key(a: str, b: str) -> None:
    assert canon(a) == canon(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://example.com/a%2Fb", "http://example.com/a/b"),
        ("http://example.com/a?x=%26", "http://example.com/a?x=&"),
        ("http://example.com/A", "http://example.com/a"),
        ("http://example.com/%2e%2e%2Fx", "http://example.com/x"),
    ],
)
def test_different_addresses_keep_different_keys(a: str, b: str) -> None:
    assert canon(a) != canon(b)


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(InvalidURL, match="lone surrogate"):
        canonicalize_url("http://example.com/\ud800")


def test_encoding_may_not_grow_the_url_past_the_limit() -> None:
    raw = "http://example.com/" + "ä" * 2000  # 2,019 characters, 12,019 encoded
    with pytest.raises(InvalidURL, match=f"at most {MAX_URL_LENGTH}"):
        canonicalize_url(raw)


# -- properties -------------------------------------------------------------------------

# Path and query material with everything the rules act on: encoded unreserved and
# reserved characters in both cases, lone and broken "%", dot segments (plain and
# encoded), empty segments, non-ASCII and the ASCII characters URIs exclude.
_pieces = st.one_of(
    st.text(alphabet=UNRESERVED + "!$&'()*+,;=:@", max_size=6),
    st.sampled_from(["%7E", "%7e", "%41", "%2F", "%2f", "%3F", "%25", "%2E", "%2e", "%C3%A4",
                     "%c3%a4", "%ff", "%", "%z", "%4", ".", "..", "%2E%2E", ".%2e", "ä", "€",
                     "\U0001f600", '"', "<", "\\", "{", "|", "^", "`", "[", "]"]),
    st.characters(min_codepoint=0xA0, max_codepoint=0x2FFFF,
                  blacklist_categories=("Cs", "Zs", "Zl", "Zp")),
)
_segment = st.lists(_pieces, max_size=4).map("".join)
_path = st.lists(_segment, max_size=6).map(lambda segments: "/" + "/".join(segments))
_query = st.one_of(st.just(""), st.lists(_pieces, max_size=6).map(lambda p: "?" + "".join(p)))
_host = st.sampled_from(["example.com", "files.example.org", "127.0.0.1", "[2001:db8::1]"])


def _unquoted_segments_after_dot_removal(path: str) -> list[str]:
    """An independent oracle: segments as unquote reads them, ".." popping the one before
    (never the root), "." dropped; a trailing dot segment leaves the path ending in "/"."""
    segments = path.split("/")
    out = [segments[0]]
    for index, segment in enumerate(segments[1:], start=1):
        last = index == len(segments) - 1
        # unquote(s) is "." or ".." exactly when s is a dot segment, encoded or not:
        # only "%2E" decodes to a dot.
        word = unquote(segment)
        if word == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        elif word == ".":
            if last:
                out.append("")
        else:
            out.append(segment)
    return [unquote(s) for s in out]


@given(host=_host, path=_path, query=_query)
@settings(max_examples=400, deadline=None, database=None)
def test_canonical_form_is_a_fixed_point(host: str, path: str, query: str) -> None:
    c = canonicalize_url(f"http://{host}{path}{query}")
    assert canonicalize_url(c.url) == c


@given(path=_path, query=_query)
@settings(max_examples=400, deadline=None, database=None)
def test_normalisation_never_changes_what_the_path_and_query_decode_to(
    path: str, query: str,
) -> None:
    # Decoding unreserved characters, upper-casing hex and encoding "%" or foreign
    # characters leave unquote's reading of the path and query as it was; removing dot
    # segments changes only which segments there are (checked against the oracle).
    url = canon(f"http://example.com{path}{query}")
    got_path, _, got_query = url.removeprefix("http://example.com").partition("?")
    assert unquote(normalize_percent_encoding(path)) == unquote(path)
    assert [unquote(s) for s in got_path.split("/")] == _unquoted_segments_after_dot_removal(path)
    assert unquote(got_query) == unquote(query.removeprefix("?"))


_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


@given(path=_path, query=_query)
@settings(max_examples=400, deadline=None, database=None)
def test_canonical_path_and_query_are_a_valid_uri_in_normal_form(path: str, query: str) -> None:
    url = canon(f"http://example.com{path}{query}")
    assert url.isascii()
    assert re.fullmatch(r"[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]*", url)
    assert re.fullmatch(r"(?:[^%]|%[0-9A-F]{2})*", url)  # every "%" starts an encoding
    assert not any(chr(int(h, 16)) in UNRESERVED for h in _PERCENT.findall(url))
    tail = url.removeprefix("http://example.com").partition("?")[0]
    assert not re.search(r"(^|/)\.\.?(/|$)", tail)  # no dot segment left
