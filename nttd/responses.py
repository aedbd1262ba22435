"""Providers answer a notice through a signed, expiring link, without an account.

Every notice to a host, registrar or CDN carries `<NTTD_PUBLIC_URL>/respond/<token>`.
The token is `<notice id>.<expiry, unix seconds>.<signature>`, the signature an
HMAC-SHA256 over `respond|<notice id>|<expiry>` with the link key, compared with
`hmac.compare_digest`. The expiry is inside the signed text: a changed expiry is a
tampered link (403), a genuine link past its expiry is an expired one (410).

The link key is NTTD_SECRET_KEY; without it, a random key made once per database
and kept in `instance_secrets` (made when the first link is, never on a read).

Actions (each accepted once per notice, recorded in `notice_responses`):

- `acknowledged`: stops the "time to acknowledgement" clock of each of the
  notice's cases (`acknowledged_at`, as a partner's acknowledgement does);
- `removal_reported`: the provider says it removed the content. Each case is
  checked now; only our own checks confirm removal. It counts as an
  acknowledgement too (the notice was read and acted on);
- `disputed`: the provider disputes the notice; an analyst reads the note.

Each action is an event `provider_<action>` on each case, actor `provider:<address>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import record_event, schedule
from nttd.models import Case, InstanceSecret, Notice, NoticeCase, NoticeResponse
from nttd.settings import Settings

PURPOSE = "respond"
KEY_NAME = "links"
LINKED_KINDS = ("host", "registrar", "cdn")
ACTIONS = ("acknowledged", "removal_reported", "disputed")
MAX_TOKEN = 200
MAX_ACTOR = 120


class LinkInvalid(Exception):
    """Not a link we signed (malformed, or the signature does not match)."""


class LinkExpired(Exception):
    """A link we signed, past its expiry."""


class AlreadyAnswered(Exception):
    """This action was already taken for this notice."""


async def link_key(session: AsyncSession, settings: Settings, *, create: bool) -> bytes | None:
    """The key of signed links; None when none exists yet and `create` is off."""
    if settings.secret_key:
        return settings.secret_key.encode()
    row = await session.get(InstanceSecret, KEY_NAME)
    if row is None and create:
        try:
            async with session.begin_nested():
                session.add(InstanceSecret(name=KEY_NAME, value=secrets.token_hex(32)))
        except IntegrityError:  # another worker made it first: use theirs
            pass
        row = await session.get(InstanceSecret, KEY_NAME, populate_existing=True)
    return row.value.encode() if row is not None else None


def _signature(key: bytes, notice_id: int, expires: int) -> str:
    mac = hmac.new(key, f"{PURPOSE}|{notice_id}|{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def sign(key: bytes, notice_id: int, expires: datetime) -> str:
    stamp = int(expires.timestamp())
    return f"{notice_id}.{stamp}.{_signature(key, notice_id, stamp)}"


def verify(key: bytes | None, token: str, now: datetime) -> int:
    """The notice id of a genuine, unexpired token (LinkInvalid, LinkExpired)."""
    parts = token.split(".")
    if key is None or len(token) > MAX_TOKEN or len(parts) != 3:
        raise LinkInvalid
    notice, stamp, given = parts
    if not (notice.isascii() and notice.isdigit() and stamp.isascii() and stamp.isdigit()
            and len(notice) <= 12 and len(stamp) <= 12):
        raise LinkInvalid
    notice_id, expires = int(notice), int(stamp)
    if not hmac.compare_digest(given.encode(), _signature(key, notice_id, expires).encode()):
        raise LinkInvalid
    if now >= datetime.fromtimestamp(expires, UTC):
        raise LinkExpired
    return notice_id


async def response_url(session: AsyncSession, settings: Settings, notice: Notice,
                       now: datetime) -> str | None:
    """The link printed in a notice to a provider (None: partners, or no public URL)."""
    if notice.recipient_kind not in LINKED_KINDS or not settings.public_url:
        return None
    key = await link_key(session, settings, create=True)
    assert key is not None
    expires = now + settings.response_link_ttl
    return f"{settings.public_url.rstrip('/')}/respond/{sign(key, notice.id, expires)}"


@dataclass(frozen=True)
class NoticeForResponse:
    notice: Notice
    cases: Sequence[Case]
    answered: dict[str, NoticeResponse]


async def notice_for_token(session: AsyncSession, settings: Settings, token: str,
                           now: datetime) -> NoticeForResponse:
    """The notice a token names, its cases and the answers so far (reads only)."""
    notice_id = verify(await link_key(session, settings, create=False), token, now)
    notice = await session.get(Notice, notice_id)
    if notice is None or notice.recipient_kind not in LINKED_KINDS:
        raise LinkInvalid
    cases = list(await session.scalars(
        select(Case).join(NoticeCase, NoticeCase.case_id == Case.id)
        .where(NoticeCase.notice_id == notice_id).order_by(Case.id)))
    answered = {r.action: r for r in await session.scalars(
        select(NoticeResponse).where(NoticeResponse.notice_id == notice_id))}
    return NoticeForResponse(notice, cases, answered)


async def record_response(session: AsyncSession, found: NoticeForResponse, action: str, *,
                          note: str | None, now: datetime) -> None:
    """Take `action` for the notice (AlreadyAnswered: nothing written)."""
    if action not in ACTIONS:
        raise ValueError(f"the action must be one of {', '.join(ACTIONS)}")
    if action in found.answered:
        raise AlreadyAnswered
    try:
        async with session.begin_nested():
            session.add(NoticeResponse(notice_id=found.notice.id, action=action, note=note,
                                       at=now))
    except IntegrityError:  # the same action at the same moment: the first one counts
        raise AlreadyAnswered from None
    actor = f"provider:{found.notice.address}"[:MAX_ACTOR]
    for case in found.cases:
        record_event(session, case.id, f"provider_{action}", actor=actor, now=now,
                     note=note, notice_id=found.notice.id)
        if action in ("acknowledged", "removal_reported") and case.acknowledged_at is None:
            case.acknowledged_at = now  # the clock "time to acknowledgement" stops here
        if action == "removal_reported":
            schedule.check_now(case, now)

