"""VERP envelope senders: a bounce names the notice it is about, and cannot be forged.

Each e-mail notice goes out with the envelope sender (MAIL FROM, the Return-Path of
what comes back)

    <local>+n<notice id>-<tag>@<domain>

of the bounce address (`hotline@home.example` → `hotline+n42-1a2b3c4d@home.example`).
The tag is the first 8 hex digits of HMAC-SHA256(key, "verp|<notice id>"), so
only we can make an address for a notice: a bounce to a made-up or altered address
is refused. The mail server delivers `<local>+<anything>@<domain>` to `<local>`
(Postfix `recipient_delimiter = +`, Exim's `local_part_suffix = +*`).

    ValueError          the base address is not an address (make_verp)
    VerpForged          an address in our VERP form whose tag does not verify
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

TAG_LENGTH = 8
_VERP = re.compile(r"^(?P<local>[^@\s]+)\+n(?P<id>[0-9]{1,12})-(?P<tag>[0-9a-fA-F]+)"
                   r"@(?P<domain>[^@\s]+)$")


class VerpForged(ValueError):
    """A VERP address that we did not make (its tag does not verify)."""


@dataclass(frozen=True)
class VerpAddress:
    notice_id: int
    base: str  # the bounce address it was made from, <local>@<domain>


def _tag(key: bytes, notice_id: int) -> str:
    mac = hmac.new(key, f"verp|{notice_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:TAG_LENGTH]


def make_verp(base: str, notice_id: int, key: bytes) -> str:
    """The envelope sender of notice `notice_id` made from the bounce address `base`."""
    local, at, domain = base.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{base!r} is not an e-mail address")
    return f"{local}+n{notice_id}-{_tag(key, notice_id)}@{domain}"


def parse_verp(address: str, key: bytes, base: str | None = None) -> VerpAddress | None:
    """The notice a VERP address names; None when `address` is not in the VERP form (or
    not made from `base`, when given), VerpForged when it is and its tag does not verify."""
    match = _VERP.match(address.strip().strip("<>").strip())
    if match is None:
        return None
    if base is not None and f"{match['local']}@{match['domain']}".lower() != base.lower():
        return None
    notice_id = int(match["id"])
    if not hmac.compare_digest(match["tag"].lower().encode(), _tag(key, notice_id).encode()):
        raise VerpForged(f"the address {address.strip()!r} names notice {notice_id} with a tag "
                         "we did not make")
    return VerpAddress(notice_id, f"{match['local']}@{match['domain']}")
