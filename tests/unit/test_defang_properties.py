"""defang against a real linkifier: for random URLs (hostile hosts, embedded URLs,
e-mail addresses, IP literals, dot look-alikes, active schemes, invisible characters)
and for any text, linkify-it finds no link in the output; the output is a fixed point;
max_len bounds it; active schemes lose their colon; invisible characters show."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from linkify_it import LinkifyIt
from linkify_it.tlds import TLDS

from notices.defang import defang

# The strictest linkifier linkify-it makes: every TLD, links and e-mail addresses
# without a scheme, bare IP addresses; plus the schemes browsers run.
LINKIFY = LinkifyIt(options={"fuzzy_link": True, "fuzzy_email": True, "fuzzy_ip": True})
LINKIFY.tlds(TLDS)
for _scheme in ("javascript:", "vbscript:", "livescript:", "data:", "file:"):
    LINKIFY.add(_scheme, {"validate": re.compile(r"^\S+")})


def linked(text: str) -> list[str]:
    return [m.raw for m in LINKIFY.match(text) or []]


def test_the_linkifier_finds_what_it_must() -> None:
    # The test's own instrument: each of these is a link to it.
    for text in ["http://evil.example.com/x", "evil.example.com", "abuse@evil.example.com",
                 "see 192.0.2.1/x", "//localhost/x", "javascript:alert(1)",
                 "data:text/html,x", "mailto:abuse@evil.example.com", "www.example.org",
                 "x?u=evil.de", "x,evil.zip", "ftp://files.example/a"]:
        assert LINKIFY.test(text), text


_dot = st.sampled_from([".", ".", ".", "\u3002", "\uff0e", "\uff61"])
_label = st.sampled_from(["evil", "www", "files", "cdn", "xn--bcher-kva", "bücher", "a-b", "x1"])
_tld = st.sampled_from(["com", "org", "de", "zip", "mov", "io", "example", "co.uk", "рф"])
_name = st.builds(lambda labels, dots, tld: "".join(
    label + dot for label, dot in zip(labels, dots, strict=False)) + tld,
    st.lists(_label, min_size=1, max_size=3), st.lists(_dot, min_size=3, max_size=3), _tld)
_host = st.one_of(
    _name,
    st.sampled_from(["evil.example.com", "localhost", "EVIL.EXAMPLE.COM", "evil.example.com."]),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.builds(lambda user, host: f"{user}@{host}", st.sampled_from(["user", "a.b", "abuse"]),
              st.just("evil.example.com")),
)
_port = st.sampled_from(["", "", ":80", ":8080"])
_scheme = st.sampled_from(["http://", "https://", "HTTP://", "hTTps://", "ftp://", "", "//",
                           "javascript:", "JavaScript:", "data:", "vbscript:", "file://",
                           "file:", "mailto:", "gopher://", "http:", "hxxp://", "http[:]//"])
_embedded = st.one_of(
    _host.map(lambda h: f"//{h}/x"),
    _host.map(lambda h: f"http://{h}/x"),
    _host.map(lambda h: f"https://{h}"),
    _host,
    _name.map(lambda n: f"abuse@{n}"),
    st.sampled_from(["javascript:alert(1)", "data:text/html,<script>", "mailto:a@evil.example.com",
                     "vbscript:msgbox", "file:///etc/passwd", "www.example.org", "10.0.0.1"]),
)
_segment = st.one_of(
    st.sampled_from(["a.jpg", "img", "1.png", "report_2.pdf", "v1.2", "a.tar.gz", "..", "",
                     "%20evil.de", "x,evil.zip", "x(evil.de)", "www.jpg", "a.", ".b",
                     "\u202egpj.exe", "a\u200bb", "a\x1bb", "ä.jpg"]),
    _name,
    st.text(max_size=8),
)
_query = st.one_of(
    st.just(""),
    _embedded.map(lambda e: f"?u={e}"),
    st.builds(lambda a, b: f"?a={a}&b={b}", _embedded, st.text(max_size=6)),
    _embedded.map(lambda e: f"?({e})"),
)
_fragment = st.one_of(st.just(""), _embedded.map(lambda e: f"#{e}"))
URLS = st.builds(
    lambda scheme, host, port, segments, query, fragment, pad: (
        pad + scheme + host + port + "".join("/" + s for s in segments) + query + fragment),
    _scheme, _host, _port, st.lists(_segment, max_size=4), _query, _fragment,
    st.sampled_from(["", " ", "\x00", "\u202e", "\x1b"]),
)
TEXT = st.one_of(URLS, st.text(), st.text(alphabet="./:@[]?=&#%wht ptxj1-é。", max_size=30))


@given(url=URLS)
@settings(max_examples=1500, deadline=None, database=None)
@example(url="http://go.example/r?u=//evil.example.com/x")
@example(url="http://go.example/r/www.example.org")
@example(url="//localhost/x")
def test_no_linkifier_finds_a_link_in_a_defanged_url(url: str) -> None:
    out = defang(url)
    assert not LINKIFY.test(out), (url, out, linked(out))


@given(text=TEXT)
@settings(max_examples=1000, deadline=None, database=None)
def test_no_link_in_any_defanged_text_even_cut_short(text: str) -> None:
    out = defang(text)
    assert not LINKIFY.test(out), (text, out, linked(out))
    short = defang(text, max_len=40)
    assert not LINKIFY.test(short), (text, short, linked(short))


@given(text=TEXT, max_len=st.one_of(st.none(), st.integers(min_value=20, max_value=80)))
@settings(max_examples=1500, deadline=None, database=None)
def test_defang_is_idempotent(text: str, max_len: int | None) -> None:
    once = defang(text, max_len=max_len)
    assert defang(once, max_len=max_len) == once
    assert defang(once) == once


_MARKER = re.compile(r"…\[\+(\d+) chars\]$")


@given(text=TEXT, max_len=st.integers(min_value=20, max_value=200))
@settings(max_examples=1000, deadline=None, database=None)
def test_max_len_bounds_the_output_and_says_what_it_cut(text: str, max_len: int) -> None:
    full = defang(text)
    out = defang(text, max_len=max_len)
    assert len(out) <= max_len
    if len(full) <= max_len:
        assert out == full
        return
    marker = _MARKER.search(out)
    assert marker is not None, out
    kept = out[:marker.start()]
    assert full.startswith(kept)
    assert len(kept) + int(marker.group(1)) == len(full)


def test_max_len_on_an_8_kb_location_header() -> None:
    location = "http://evil.example.com/" + "a" * 8192
    out = defang(location, max_len=500)
    assert len(out) == 500
    assert out.startswith("hxxp://evil[.]example[.]com/aaa")
    cut = len(defang(location)) - (500 - len("…[+7734 chars]"))
    assert (cut, out[-14:]) == (7734, "…[+7734 chars]")
    assert defang("http://a.example/", max_len=500) == "hxxp://a[.]example/"
    assert defang("http://a.example/" + "x" * 100, max_len=20) == "hxxp://…[+112 chars]"
    with pytest.raises(ValueError, match="max_len must be at least 20"):
        defang("x", max_len=19)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("javascript:alert(1)", "javascript[:]alert(1)"),
        ("JavaScript:alert(document.cookie)", "JavaScript[:]alert(document[.]cookie)"),
        ("vbscript:msgbox(1)", "vbscript[:]msgbox(1)"),
        ("data:text/html;base64,PHNjcmlwdD4=", "data[:]text/html;base64,PHNjcmlwdD4="),
        ("file:///etc/passwd", "file[:]/[/]/etc/passwd"),
        ("file://server.example/share", "file[:]/[/]server[.]example/share"),
        ("mailto:abuse@evil.example.com", "mailto[:]abuse@evil[.]example[.]com"),
        ("gopher://x.example/", "gopher[:]/[/]x[.]example/"),
        ("gopher://localhost/", "gopher[:]/[/]localhost/"),
        ("http://a.example/r?u=javascript:alert(1)", "hxxp://a[.]example/r?u=javascript[:]alert(1)"),
        # Not schemes: a host and its port, a bare IPv6 address.
        ("files.example.com:8080/a.jpg", "files[.]example[.]com:8080/a.jpg"),
        ("fe80::1", "fe80::1"),
        # A protocol-relative link, at the start or embedded.
        ("//localhost/x", "/[/]localhost/x"),
        ("http://go.example/r?u=//evil.example.com/x",
         "hxxp://go[.]example/r?u=/[/]evil[.]example[.]com/x"),
        # Host names in the rest lose every dot; a plain file name keeps its one.
        ("http://a.example/x,evil.de/a.jpg", "hxxp://a[.]example/x,evil[.]de/a.jpg"),
        ("http://a.example/%20evil.de", "hxxp://a[.]example/%20evil[.]de"),
        ("http://a.example/evil.example.de", "hxxp://a[.]example/evil[.]example[.]de"),
        ("http://a.example/?ip=10.0.0.1", "hxxp://a[.]example/?ip=10[.]0[.]0[.]1"),
        ("http://a.example/r?m=abuse@evil.example.com",
         "hxxp://a[.]example/r?m=abuse@evil[.]example[.]com"),
    ],
)
def test_active_schemes_and_hosts_in_the_rest(url: str, expected: str) -> None:
    assert defang(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://a.example/\u202egpj.exe", "hxxp://a[.]example/\\u202egpj[.]exe"),
        ("\x1bhttp://a.example/", "\\x1bhxxp://a[.]example/"),
        ("http://a.example/a\u200bb\u2066c\u061cd", "hxxp://a[.]example/a\\u200bb\\u2066c\\u061cd"),
        ("http://a.example/a\tb\x7f\x85", "hxxp://a[.]example/a\\x09b\\x7f"),
        ("http://a.example/\U000e0041", "hxxp://a[.]example/\\U000e0041"),
        # Browsers drop a newline inside a scheme; written out, it is no scheme at all.
        ("java\nscript:alert(1)", "java\\x0ascript:alert(1)"),
    ],
)
def test_invisible_characters_are_escaped_visibly(url: str, expected: str) -> None:
    assert defang(url) == expected


@given(text=TEXT)
@settings(max_examples=500, deadline=None, database=None)
def test_no_invisible_character_survives(text: str) -> None:
    for ch in defang(text):
        assert ch == " " or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Zl",
                                                             "Zp", "Zs"}, (text, ch)
