"""Defanging: writing a URL so that no mail client, chat or markdown renderer links it.

    defang("http://www.example.com/a.jpg")  ->  "hxxp://www[.]example[.]com/a.jpg"

The rules, chosen to be simple, readable and reversible by a person ("replace
hxxp with http and [.] with ."; rarer, "[:]" with ":" and "[/]" with "/"):

- invisible characters first: control characters (C0, DEL, C1), format characters
  (bidi overrides and isolates such as U+202E, zero-width spaces, U+FEFF), line and
  paragraph separators and spaces other than U+0020 are written as visible escapes,
  `\\x1b`, `\\u202e`, `\\U0001d173` (backslashes already in the text are left as
  they are, so an escape is not escaped again);
- the scheme: `http` -> `hxxp`, `https` -> `hxxps` (`ftp`/`ftps` -> `fxp`/`fxps`).
  Any other scheme keeps its name and loses its colon, `javascript[:]alert(1)`,
  `mailto[:]abuse@...`, `file[:]/[/]/etc` (for the "//", see below): browsers and
  mail clients act on `javascript:`, `data:`, `vbscript:`, `file:` and `mailto:`
  without any `//`. (`host:8080/...` is a host and a port, not a scheme.);
- the host: EVERY dot becomes `[.]`, IPv4 dots included; the full-width and
  ideographic dots that browsers read as dots (U+3002, U+FF0E, U+FF61) too.
  IPv6 colons and the port are left alone; user-info dots become `[.]` too;
- the rest (path, query, fragment): every `http` (any case) becomes `hxxp`, so an
  embedded `?u=http://...` is not linked either; `javascript:`, `vbscript:`,
  `livescript:`, `data:`, `file:` and `mailto:` anywhere become `...[:]`; and every
  dot (or dot look-alike) becomes `[.]` except the dot of a plain file name (letters,
  digits, "_", "~", "-") right after a "/": `/a.jpg`, `/report_2.pdf` stay readable.
  A linkifier starts a link only after white space or punctuation, never after "/"
  or a letter, so that dot cannot begin one. A name with anything else in it
  (`/x,evil.de`, `/%20evil.de`, `/evil.example.de`) loses every dot. A "//" after
  neither a scheme's colon nor a name (a protocol-relative `//localhost/x`,
  `?u=//evil...`) is written `/[/]` (`///` as `/[/][/]`).

A string without `scheme:` is treated as `host/rest`. Already-defanged parts are
recognised, so `defang(defang(x)) == defang(x)`, with or without the same `max_len`.

`max_len` keeps the result to at most that many characters: what does not fit is
replaced by a marker saying how much was cut, `…[+1234 chars]`, so that an 8 KB
Location header does not flood a page.

This is for people only: machines always get the exact URL in a JSON part.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

__all__ = ["MIN_MAX_LEN", "defang"]

MIN_MAX_LEN = 20  # "…[+" + 10 digits + " chars]": room for the marker of any cut

# A scheme, its colon and any "//" (each plain or already defanged).
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)(:|\[:\])(//|/\[/\])?")
# After "name:" without "//": a port ("host:8080/..."), so the name is a host.
_PORT_RE = re.compile(r"\d+(?:[/?#]|$)")
_SCHEMES = {
    "http": "hxxp",
    "hxxp": "hxxp",
    "https": "hxxps",
    "hxxps": "hxxps",
    "ftp": "fxp",
    "fxp": "fxp",
    "ftps": "fxps",
    "fxps": "fxps",
}
# Schemes that browsers or mail clients act on without "//": their colon goes, anywhere.
_ACTIVE_SCHEME_RE = re.compile(r"(javascript|vbscript|livescript|data|file|mailto):",
                               re.IGNORECASE)
# "[.]" (kept as it is) or a dot, or a dot look-alike that browsers accept in host names.
_DOT_RE = re.compile(r"\[\.\]|[.\u3002\uff0e\uff61]")
_HTTP_RE = re.compile(r"h(tt)p", re.IGNORECASE)
_WWW_RE = re.compile(r"(www)\.", re.IGNORECASE)
# The host of a URL embedded in the rest ("?u=http://host/..." or "?u=//host/...").
_EMBEDDED_HOST_RE = re.compile(r"(?<=//)[^/?#&=\s]+")
# A run of slashes that follows no scheme and no name: "//localhost/" is a
# protocol-relative link.
_BARE_SLASHES_RE = re.compile(r"(?<![A-Za-z0-9:/])//+")
# What ends a file name's extension.
_EXTENSION_END_RE = re.compile(r"[/?#&]|\[\.\]|[.\u3002\uff0e\uff61]|$")
# Invisible or text-direction-changing characters, by Unicode category.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp", "Zs"})


def _escape_invisible(text: str) -> str:
    out = []
    for ch in text:
        if ch != " " and unicodedata.category(ch) in _INVISIBLE:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def _x_for_t(match: re.Match[str]) -> str:
    text = match.group(0)
    return text[0] + "".join("X" if c == "T" else "x" for c in match.group(1)) + text[-1]


def _every_dot(text: str) -> str:
    return _DOT_RE.sub("[.]", text)


def _dot_in_rest(match: re.Match[str]) -> str:
    """A dot in the rest stays only as the dot of a plain file name ("/a.jpg")."""
    if match.group(0) != ".":
        return "[.]"
    text, start = match.string, match.start()
    name_start = start
    while name_start > 0 and (text[name_start - 1].isalnum() or text[name_start - 1] in "_~-"):
        name_start -= 1
    after_slash = name_start > 0 and text[name_start - 1] == "/" and name_start < start
    # The extension runs to the next "/", "?", "#" or "&"; a dot before that makes
    # the name a host name ("/evil.example.de"), not a file name.
    ending = _EXTENSION_END_RE.search(text, match.end())
    ends_with_dot = ending is not None and ending.group(0) not in ("", "/", "?", "#", "&")
    return "." if after_slash and not ends_with_dot else "[.]"


def _defang_rest(rest: str, before: str) -> str:
    """The path, query and fragment; `before` is what stands in front of them."""
    rest = _HTTP_RE.sub(_x_for_t, rest)
    rest = _ACTIVE_SCHEME_RE.sub(r"\1[:]", rest)
    rest = _WWW_RE.sub(r"\1[.]", rest)
    rest = _EMBEDDED_HOST_RE.sub(lambda m: _every_dot(m.group(0)), rest)
    # Judged with the characters in front (a "//" may begin in them): "x//y" is a path.
    rest = _BARE_SLASHES_RE.sub(
        lambda m: m.group(0) if m.start() < len(before) else "/" + "[/]" * (len(m.group(0)) - 1),
        before + rest,
    )[len(before):]
    return _DOT_RE.sub(_dot_in_rest, rest)


def _defang_authority(authority: str) -> str:
    # User-info and host: every dot; an IPv6 literal keeps its colons, a port its digits.
    authority = _HTTP_RE.sub(_x_for_t, authority)
    authority = _ACTIVE_SCHEME_RE.sub(r"\1[:]", authority)
    return _every_dot(authority)


def _split_scheme(text: str) -> tuple[str, str]:
    """(the scheme written defanged, what follows it); ("", text) when there is none."""
    match = _SCHEME_RE.match(text)
    if match is None:
        return "", text
    name, _, slashes = match.groups()
    known = _SCHEMES.get(name.lower())
    if known is not None:
        return f"{known}:{'//' if slashes else ''}", text[match.end():]
    if not slashes and _PORT_RE.match(text, match.end()):
        return "", text  # "host:port/..."
    try:
        ipaddress.ip_address(text)
        return "", text  # a bare IPv6 address ("fe80::1"), not a scheme
    except ValueError:
        pass
    # Without its colon, "//" would start a protocol-relative link: "gopher[:]/[/]host".
    return f"{_defang_authority(name)}[:]{'/[/]' if slashes else ''}", text[match.end():]


def _truncate(text: str, max_len: int) -> str:
    omitted = len(text) - max_len
    if omitted <= 0:
        return text
    while True:  # the marker's length depends on the count it shows: settle both
        marker = f"…[+{omitted} chars]"
        keep = max_len - len(marker)
        # Never half a "[.]", "[:]" or "[/]": what is left of it would read otherwise.
        if text[keep - 1:keep] == "[":
            keep -= 1
        elif text[max(0, keep - 2):keep] in ("[.", "[:", "[/"):
            keep -= 2
        if len(text) - keep == omitted:
            return text[:keep] + marker
        omitted = len(text) - keep


def defang(url: str, *, max_len: int | None = None) -> str:
    """Return `url` written so that it cannot be followed by a click; see the module doc.

    With `max_len` (at least MIN_MAX_LEN, room for the marker), the result has at
    most that many characters.
    """
    if max_len is not None and max_len < MIN_MAX_LEN:
        raise ValueError(f"max_len must be at least {MIN_MAX_LEN}, got {max_len}")
    text = _escape_invisible(url.strip())
    prefix, remainder = _split_scheme(text)
    split = re.search(r"[/?#]", remainder)
    end = split.start() if split is not None else len(remainder)
    authority, rest = remainder[:end], remainder[end:]
    head = prefix + _defang_authority(authority)
    result = head + _defang_rest(rest, head[-2:])
    return result if max_len is None else _truncate(result, max_len)
