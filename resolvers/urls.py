"""Canonical form of a reported URL: the deduplication key of a case.

Only ``http`` and ``https`` URLs are accepted. The scheme and host are
lower-cased, the host is IDNA-encoded (UTS-46 mapping, punycode ASCII), a
trailing dot and the scheme's default port are dropped, and the fragment is dropped.

The path and the query get RFC 3986's syntax-based normalisation (section 6.2.2),
so that spellings of one address are one case (``/%7Ea`` and ``/~a``, ``/%41``
and ``/A``, ``/a/../b`` and ``/b``, ``http://h`` and ``http://h/``):

- a percent-encoded unreserved character (ALPHA / DIGIT / "-" / "." / "_" / "~")
  is decoded; every other percent-encoding keeps its octet, with upper-case hex
  (``%2f`` becomes ``%2F`` and is NOT decoded: a reserved character encoded and
  the character itself mean different things);
- a "%" not followed by two hex digits is taken as a literal percent sign and
  written ``%25`` (what browsers send for it), so the result is a valid URI;
- a character that cannot appear in a URI is percent-encoded as UTF-8, the way
  browsers send it: any non-ASCII character (``/ä`` is ``/%C3%A4``) and the ASCII
  characters RFC 3986 excludes (``"<>\\^`{|}``);
- dot segments are removed from the path (RFC 3986 5.2.4, after the decoding, so
  ``/a/%2E%2E/b`` is ``/b`` as in a browser); the query keeps its dots;
- an empty path is "/".

Nothing else changes: ``+`` stays ``+``, an empty query ("?") is kept, and case is
kept in the path and query. ``canonicalize_url(c.url).url == c.url`` holds for
every result ``c`` (the canonical form is a fixed point). Cases stored before this
normalisation keep the key they were stored with.

Hosts written as numbers are read the way a browser reads them
(``http://2130706433/`` and ``http://0x7f.1/`` are ``http://127.0.0.1/``), so a
numeric disguise cannot hide an address from the private-target check.

Failures are facts about the input: ``InvalidURL`` whose ``str()`` is a reason an
analyst can act on. Nothing here touches the network.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass

import idna

from resolvers.errors import InvalidURL

__all__ = [
    "MAX_URL_LENGTH",
    "CanonicalURL",
    "InvalidURL",
    "canonicalize_url",
    "normalize_percent_encoding",
    "remove_dot_segments",
]

MAX_URL_LENGTH = 4096
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_ASCII_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?$")
_HEX = re.compile(r"^0[xX][0-9a-fA-F]*$")
# RFC 3986 2.3: the characters that mean the same whether percent-encoded or not.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# A percent-encoding (group 1: its hex), a "%" that starts none, or a character that
# has no place in a URI (not unreserved, reserved or "%"; ASCII controls and white
# space are refused before this runs).
_PERCENT_OR_FOREIGN = re.compile(r"%([0-9A-Fa-f]{2})|%|[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]")


@dataclass(frozen=True)
class CanonicalURL:
    """A URL in canonical form, and the parts the resolvers need."""

    url: str  # canonical string: the dedup key
    scheme: str  # "http" | "https"
    host: str  # lower-case IDNA ASCII, no trailing dot; IPv6 without brackets
    port: int | None  # None when it is the scheme's default
    host_is_ip: bool


def canonicalize_url(raw: str) -> CanonicalURL:
    """Return the canonical form of ``raw`` or raise ``InvalidURL`` with the reason."""
    text = raw.strip()
    if not text:
        raise InvalidURL("the URL is empty")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidURL(f"the URL is {len(text)} characters long: at most {MAX_URL_LENGTH}")
    for ch in text:
        if ch.isspace():
            raise InvalidURL("the URL contains a space or other white space")
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            raise InvalidURL(f"the URL contains the control character U+{ord(ch):04X}")
    match = _SCHEME.match(text)
    if match is None:
        raise InvalidURL("the URL has no scheme: it must start with http:// or https://")
    scheme = match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL(f"scheme {scheme!r} is not allowed: only http and https")
    rest = text[match.end() :]
    if not rest.startswith("//"):
        raise InvalidURL(f"the URL must have the form {scheme}://host/path")
    rest = rest[2:]
    rest = rest.split("#", 1)[0]  # the fragment never reaches a server
    end = len(rest)
    for sep in "/?":
        index = rest.find(sep)
        if index != -1:
            end = min(end, index)
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        raise InvalidURL("the URL contains a user name or password (user@host): remove it")
    if "\\" in authority:
        raise InvalidURL("the host part contains a backslash")
    host, port = _split_authority(authority)
    host, host_is_ip = _canonical_host(host)
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    path, sep, query = tail.partition("?")
    path = remove_dot_segments(normalize_percent_encoding(path)) or "/"
    query = normalize_percent_encoding(query)
    shown_host = f"[{host}]" if ":" in host else host
    shown_port = f":{port}" if port is not None else ""
    url = f"{scheme}://{shown_host}{shown_port}{path}{sep}{query}"
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"the URL is {len(url)} characters long: at most {MAX_URL_LENGTH}")
    return CanonicalURL(url=url, scheme=scheme, host=host, port=port, host_is_ip=host_is_ip)


def normalize_percent_encoding(text: str) -> str:
    """RFC 3986 6.2.2.1 and 6.2.2.2 on a path or query (see the module doc)."""
    return _PERCENT_OR_FOREIGN.sub(_normalize_one, text)


def _normalize_one(match: re.Match[str]) -> str:
    hex_digits = match.group(1)
    if hex_digits is not None:
        char = chr(int(hex_digits, 16))
        return char if char in _UNRESERVED else "%" + hex_digits.upper()
    text = match.group(0)
    if text == "%":
        return "%25"  # a lone percent sign: the literal character, encoded
    try:
        octets = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidURL("the URL is not valid Unicode text (it has a lone surrogate)") from None
    return "".join(f"%{octet:02X}" for octet in octets)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, step by step: "/a/b/../c/./d" -> "/a/c/d"."""
    output: list[str] = []  # each element a segment with its leading "/" (if any)
    while path:
        if path.startswith("../"):  # A
            path = path[3:]
        elif path.startswith("./"):
            path = path[2:]
        elif path.startswith("/./"):  # B
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../"):  # C
            path = path[3:]
            if output:
                output.pop()
        elif path == "/..":
            path = "/"
            if output:
                output.pop()
        elif path in (".", ".."):  # D
            path = ""
        else:  # E: move the first segment (with its leading "/") to the output
            end = path.find("/", 1)
            if end == -1:
                end = len(path)
            output.append(path[:end])
            path = path[end:]
    return "".join(output)


def _split_authority(authority: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (``[v6]:port`` for IPv6) and check the port."""
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise InvalidURL("the IPv6 address in the host is missing its closing ']'")
        host, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise InvalidURL("unexpected text after the IPv6 address in the host")
        port_text = after[1:] if after else ""
    else:
        host, _, port_text = authority.partition(":")
        if ":" in port_text:
            raise InvalidURL("an IPv6 address in a URL must be written in brackets: [2001:db8::1]")
    if not host:
        raise InvalidURL("the URL has no host")
    if not port_text:
        return host, None
    if not port_text.isascii() or not port_text.isdigit():
        raise InvalidURL(f"invalid port {port_text!r}: a port is a number from 1 to 65535")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise InvalidURL(f"invalid port {port}: a port is a number from 1 to 65535")
    return host, port


def _canonical_host(host: str) -> tuple[str, bool]:
    """Return (canonical host, host_is_ip)."""
    if host.startswith("["):
        inner = host[1:-1]
        if "%" in inner:
            raise InvalidURL("IPv6 zone identifiers (%...) are not allowed in a reported URL")
        try:
            return ipaddress.IPv6Address(inner).compressed, True
        except ValueError:
            raise InvalidURL(f"invalid IPv6 address {inner!r}") from None
    if "%" in host:
        raise InvalidURL("percent-encoding is not allowed in the host")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidURL(f"invalid international host name: {exc}") from None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if not host or any(not label for label in labels):
        raise InvalidURL("the host has an empty label (two dots in a row, or only a dot)")
    ipv4 = _parse_ipv4(labels)
    if ipv4 is not None:
        return ipv4, True
    if len(host) > 253:
        raise InvalidURL("the host name is longer than 253 characters")
    for label in labels:
        if len(label) > 63:
            raise InvalidURL(f"the host label {label[:20]!r}... is longer than 63 characters")
        if not _ASCII_LABEL.match(label):
            raise InvalidURL(f"the host label {label!r} contains characters a host name cannot")
    return host, False


def _parse_ipv4(labels: list[str]) -> str | None:
    """Read a numeric host as a browser does; None when the host is a name."""
    last = labels[-1]
    if not (last.isdigit() or _HEX.match(last)):
        return None
    if len(labels) > 4:
        raise InvalidURL("the host looks like an IPv4 address but has more than four parts")
    numbers = [_ipv4_number(label) for label in labels]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InvalidURL("the host looks like an IPv4 address but a part is out of range")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return str(ipaddress.IPv4Address(value))


def _ipv4_number(label: str) -> int:
    try:
        if _HEX.match(label):
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label[1:], 8)
        return int(label, 10)
    except ValueError:
        reason = f"the host looks like an IPv4 address but {label!r} is not a number"
        raise InvalidURL(reason) from None
