"""Defanging: writing a URL so that no mail client, chat or markdown renderer links it.

    defang("http://www.example.com/a.jpg")  ->  "hxxp://www[.]example[.]com/a.jpg"

The rules, chosen to be simple, readable and reversible by a person ("replace
hxxp with http and [.] with ."):

- the scheme: `http` -> `hxxp`, `https` -> `hxxps` (`ftp`/`ftps` -> `fxp`/`fxps`);
- the host: EVERY dot becomes `[.]`, IPv4 dots included; the full-width and
  ideographic dots that browsers read as dots (U+3002, U+FF0E, U+FF61) too.
  IPv6 colons, the port and any user-info are left alone;
- the rest (path, query, fragment): every `http` (any case) becomes `hxxp`, so an
  embedded `?u=http://...` is not linked either, every `www.` becomes `www[.]`,
  and the host of such an embedded URL (after `://`) has its dots defanged.
  Other dots in the rest stay as they are (`a.jpg` reads better).

A string without `scheme://` is treated as `host/rest`. Already-defanged parts
are recognised, so `defang(defang(x)) == defang(x)`.

This is for people only: machines always get the exact URL in a JSON part.
"""

from __future__ import annotations

import re

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
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
# "[.]" (kept as it is) or a dot, or a dot look-alike that browsers accept in host names.
_HOST_DOT_RE = re.compile(r"\[\.\]|[.\u3002\uff0e\uff61]")
_HTTP_RE = re.compile(r"h(tt)p", re.IGNORECASE)
_WWW_RE = re.compile(r"(www)\.", re.IGNORECASE)
# The host of a URL embedded in the rest (a redirector's "?u=http://host/..." parameter).
_EMBEDDED_HOST_RE = re.compile(r"(?<=://)[^/?#&=\s]+")


def _x_for_t(match: re.Match[str]) -> str:
    text = match.group(0)
    return text[0] + "".join("X" if c == "T" else "x" for c in match.group(1)) + text[-1]


def _defang_host(authority: str) -> str:
    # Keep user-info as it is; defang the host part (and leave an IPv6 literal's colons).
    userinfo, at, hostport = authority.rpartition("@")
    return userinfo + at + _HOST_DOT_RE.sub("[.]", hostport)


def _defang_rest(rest: str) -> str:
    rest = _HTTP_RE.sub(_x_for_t, rest)
    rest = _WWW_RE.sub(r"\1[.]", rest)
    return _EMBEDDED_HOST_RE.sub(lambda m: _HOST_DOT_RE.sub("[.]", m.group(0)), rest)


def defang(url: str) -> str:
    """Return `url` written so that it cannot be followed by a click; see the module doc."""
    url = url.strip()
    match = _SCHEME_RE.match(url)
    if match is not None:
        scheme = match.group(1)
        scheme = _SCHEMES.get(scheme.lower(), scheme)
        remainder = url[match.end():]
        prefix = f"{scheme}://"
    else:
        remainder = url
        prefix = ""
    split = re.search(r"[/?#]", remainder)
    end = split.start() if split is not None else len(remainder)
    authority, rest = remainder[:end], remainder[end:]
    # An unknown scheme could still be linkified: at least defang any "http" in it.
    prefix = _HTTP_RE.sub(_x_for_t, prefix)
    return prefix + _defang_host(_defang_rest(authority)) + _defang_rest(rest)
