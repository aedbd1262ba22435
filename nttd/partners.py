"""The hotline directory: loaded from a TOML file (format in DESIGN.md).

A partner that runs nttd itself exchanges cases with us (nttd.exchange): we send it
cases by its `webhook_url` (its `/api/v1/exchange`), it sends us cases signed with the
same `webhook_secret`, and our status reports about the cases it sent go to its
`status_url` (its base URL) with the bearer `status_token` it issued us.

Loading is all or nothing: every entry is validated first, then hotlines are
created or updated by `code`. Hotlines missing from the file are kept (cases
refer to them); the file is the source of truth for those it names.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.models import Hotline

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIELDS = {"code", "name", "countries", "self", "language", "email", "webhook_url",
           "webhook_secret", "status_url", "status_token"}
_URL = re.compile(r"^https?://[^\s/]+[^\s]*$")
_TOKEN = re.compile(r"^[\x21-\x7e]{16,200}$")  # printable ASCII, no spaces


class PartnerFileError(ValueError):
    """The partner file is invalid; the message names the entry and field."""


@dataclass(frozen=True)
class HotlineEntry:
    code: str
    name: str
    countries: tuple[str, ...]
    is_self: bool
    language: str
    email: str | None
    webhook_url: str | None
    webhook_secret: str | None
    status_url: str | None = None
    status_token: str | None = None


def parse_partner_file(text: str) -> list[HotlineEntry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PartnerFileError(f"not valid TOML: {exc}") from None
    raw = data.get("hotline")
    if not isinstance(raw, list) or not raw:
        raise PartnerFileError("expected one or more [[hotline]] tables")
    entries = [_entry(i, item) for i, item in enumerate(raw, 1)]
    codes = [e.code for e in entries]
    if len(set(codes)) != len(codes):
        raise PartnerFileError("duplicate hotline code(s): " + ", ".join(
            sorted({c for c in codes if codes.count(c) > 1})))
    if sum(e.is_self for e in entries) > 1:
        raise PartnerFileError("more than one hotline has self = true")
    seen: dict[str, str] = {}
    for e in entries:
        for country in () if e.is_self else e.countries:
            if country in seen:
                raise PartnerFileError(
                    f"country {country} is covered by both {seen[country]} and {e.code}")
            seen[country] = e.code
    return entries


def _entry(index: int, item: Any) -> HotlineEntry:
    where = f"hotline #{index}"
    if not isinstance(item, dict):
        raise PartnerFileError(f"{where}: must be a table")
    unknown = set(item) - _FIELDS
    if unknown:
        raise PartnerFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    code = item.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise PartnerFileError(f"{where}: 'code' must be lower-case letters, digits, - or _")
    where = f"hotline {code!r}"
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PartnerFileError(f"{where}: 'name' is required")
    countries = item.get("countries", [])
    if not isinstance(countries, list) or not all(
        isinstance(c, str) and re.fullmatch(r"[A-Za-z]{2}", c) for c in countries
    ):
        raise PartnerFileError(f"{where}: 'countries' must be a list of ISO alpha-2 codes")
    email = item.get("email")
    if email is not None and (not isinstance(email, str) or not _EMAIL.match(email)):
        raise PartnerFileError(f"{where}: 'email' is not an e-mail address")
    webhook_url = item.get("webhook_url")
    secret = item.get("webhook_secret")
    if webhook_url is not None:
        if not isinstance(webhook_url, str) or not re.match(r"^https?://[^\s/]+", webhook_url):
            raise PartnerFileError(f"{where}: 'webhook_url' must be an http(s) URL")
        if not isinstance(secret, str) or len(secret) < 16:
            raise PartnerFileError(
                f"{where}: 'webhook_secret' (16 characters or more) is required with webhook_url")
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
        raise PartnerFileError(f"{where}: 'webhook_secret' must be 16 characters or more")
    status_url, status_token = _status_fields(where, item, secret)
    language = item.get("language", "en")
    if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2}(-[A-Za-z]{2})?", language):
        raise PartnerFileError(f"{where}: 'language' must be a language code such as 'nl'")
    is_self = item.get("self", False)
    if not isinstance(is_self, bool):
        raise PartnerFileError(f"{where}: 'self' must be true or false")
    return HotlineEntry(code, name.strip(), tuple(c.upper() for c in countries), is_self,
                        language, email, webhook_url, secret, status_url, status_token)


def _status_fields(where: str, item: dict[str, Any],
                   secret: object) -> tuple[str | None, str | None]:
    """`status_url` and `status_token` (an nttd partner's): both or neither."""
    status_url = item.get("status_url")
    token = item.get("status_token")
    if status_url is None:
        if token is not None:
            raise PartnerFileError(f"{where}: 'status_token' needs 'status_url'")
        return None, None
    if not isinstance(status_url, str) or not _URL.match(status_url):
        raise PartnerFileError(f"{where}: 'status_url' must be an http(s) URL (the partner's "
                               "nttd, e.g. https://nttd.partner.example)")
    if status_url.startswith("http://") and not _loopback(status_url):
        raise PartnerFileError(f"{where}: 'status_url' must be https (the status_token "
                               "travels with every report; plain http only on loopback)")
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise PartnerFileError(f"{where}: 'status_token' (the API token the partner issued "
                               "us, 16 to 200 printable characters) is required with "
                               "status_url")
    if secret is None:
        raise PartnerFileError(f"{where}: 'webhook_secret' is required with status_url (it "
                               "verifies the cases this partner sends us)")
    return status_url.rstrip("/"), token


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_partner_file(path: Path) -> list[HotlineEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PartnerFileError(f"cannot read {path}: {exc.strerror}") from None
    return parse_partner_file(text)


def partner_entry(item: dict[str, Any]) -> HotlineEntry:
    """One hotline from a form's fields, validated as a partner file's entry is."""
    return _entry(1, item)


async def check_countries(session: AsyncSession, entries: list[HotlineEntry]) -> None:
    """A country is covered by one partner: refuse entries that would give one to two
    (counting the hotlines already in the directory that the entries do not replace)."""
    codes = {e.code for e in entries}
    seen: dict[str, str] = {}
    for hotline in await session.scalars(select(Hotline)):
        if hotline.code not in codes and not hotline.is_self:
            for country in hotline.countries or []:
                seen[country] = hotline.code
    for e in entries:
        for country in () if e.is_self else e.countries:
            if country in seen and seen[country] != e.code:
                raise PartnerFileError(
                    f"country {country} is covered by both {seen[country]} and {e.code}")
            seen[country] = e.code


async def load_partners(session: AsyncSession, entries: list[HotlineEntry]) -> tuple[int, int]:
    """Create or update hotlines from parsed entries; returns (created, updated)."""
    await check_countries(session, entries)
    existing = {h.code: h for h in await session.scalars(select(Hotline))}
    created = updated = 0
    if any(e.is_self for e in entries):
        for hotline in existing.values():
            hotline.is_self = False
    for e in entries:
        found = existing.get(e.code)
        if found is None:
            hotline = Hotline(code=e.code)
            session.add(hotline)
            created += 1
        else:
            hotline = found
            updated += 1
        hotline.name = e.name
        hotline.countries = list(e.countries)
        hotline.is_self = e.is_self
        hotline.language = e.language
        hotline.email = e.email
        hotline.webhook_url = e.webhook_url
        hotline.webhook_secret = e.webhook_secret
        hotline.status_url = e.status_url
        hotline.status_token = e.status_token
    await session.flush()
    return created, updated
