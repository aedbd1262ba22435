"""Web accounts: signing in and out, server-side sessions, login throttling, and
the users' own and the admins' password changes.

A session is a row of `web_sessions`; the browser's cookie holds a random 256-bit
value (`secrets.token_urlsafe(32)`) and the row only its SHA-256, so logging out
(deleting the row) ends the session even for someone who kept a copy of the
cookie. A session ends `idle` after its last request and `max_age` after it began,
whichever comes first; an ended one is deleted when it is next presented. Each
session carries its own CSRF token (the synchronizer pattern: every form of that
session sends it back).

Failures are values, not exceptions: `sign_in` answers a `SignIn` saying why it
did not work, and the caller shows one message for "no such user", "disabled" and
"wrong password" alike.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nttd.auth import (
    MAX_PASSWORD,
    AuthError,
    PasswordHashing,
    Principal,
    Role,
    password_needs_rehash,
    password_problem,
)
from nttd.models import Hotline, User, WebSession

LAST_SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
# A hash to verify against when the user does not exist, so that "no such user"
# takes as long as "wrong password" (made once, lazily: it is slow on purpose).
_DUMMY_HASH: list[str] = []


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    max_age: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class SignedIn:
    """A live session: who, and the CSRF token of the session."""

    principal: Principal
    session_id: int
    csrf_token: str


class SignInFailure(StrEnum):
    BAD_CREDENTIALS = "bad_credentials"  # no such user, disabled, or wrong password
    BAD_INPUT = "bad_input"              # empty or oversized fields


@dataclass(frozen=True)
class SignIn:
    token: str | None = None  # the cookie value, when it worked
    failure: SignInFailure | None = None


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.name, Role(user.role), user.hotline_id)


async def sign_in(session: AsyncSession, name: str, password: str, *, now: datetime,
                  policy: SessionPolicy, hashing: PasswordHashing) -> SignIn:
    """Check the password and open a session. A scrypt (or weaker argon2) hash is
    replaced by today's argon2id hash on success. The caller commits."""
    if not name or len(name) > 100 or not password or len(password) > MAX_PASSWORD:
        return SignIn(failure=SignInFailure.BAD_INPUT)
    user = await session.scalar(select(User).where(User.name == name))
    if user is None:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(await hashing.hash(secrets.token_urlsafe(16)))
        await hashing.verify(password, _DUMMY_HASH[0])
        return SignIn(failure=SignInFailure.BAD_CREDENTIALS)
    if not await hashing.verify(password, user.password_hash) or user.disabled:
        return SignIn(failure=SignInFailure.BAD_CREDENTIALS)
    if password_needs_rehash(user.password_hash):
        user.password_hash = await hashing.hash(password)
    await purge_ended_sessions(session, now=now, policy=policy)  # housekeeping, a small table
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=hash_session_token(token), user_id=user.id,
                           created_at=now, last_seen_at=now, expires_at=now + policy.max_age,
                           csrf_token=secrets.token_urlsafe(32)))
    await session.flush()
    return SignIn(token=token)


async def lookup_session(read: async_sessionmaker[AsyncSession],
                         write: async_sessionmaker[AsyncSession], token: str, *,
                         now: datetime, policy: SessionPolicy) -> SignedIn | None:
    """The live session the cookie names, or None. It reads only, unless the session
    has ended (its row is deleted then) or was last seen more than a minute ago
    (noted then): a page view takes no write lock most of the time."""
    if not token or len(token) > 100:
        return None
    async with read() as session:
        row = (await session.execute(
            select(WebSession, User).join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == hash_session_token(token)))).first()
    if row is None:
        return None
    web_session, user = row
    if (user.disabled or now >= web_session.expires_at
            or now >= web_session.last_seen_at + policy.idle):
        async with write() as session, session.begin():
            await session.execute(delete(WebSession).where(WebSession.id == web_session.id))
        return None
    if now - web_session.last_seen_at >= LAST_SEEN_EVERY:
        async with write() as session, session.begin():
            await session.execute(update(WebSession).where(WebSession.id == web_session.id)
                                  .values(last_seen_at=now))
    return SignedIn(principal_of(user), web_session.id, web_session.csrf_token)


async def sign_out(session: AsyncSession, token: str) -> bool:
    """End the session the cookie names; True when there was one."""
    result = await session.execute(
        delete(WebSession).where(WebSession.token_hash == hash_session_token(token)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def end_sessions_of(session: AsyncSession, user_id: int, *,
                          keep: int | None = None) -> None:
    """End every session of a user (but `keep`, the one changing its password)."""
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        query = query.where(WebSession.id != keep)
    await session.execute(query)


async def change_own_password(session: AsyncSession, who: SignedIn, current: str, new: str,
                              *, hashing: PasswordHashing) -> None:
    """A user changes their own password (AuthError says why not); their other
    sessions end."""
    user = await session.get(User, who.principal.user_id)
    if user is None or not await hashing.verify(current, user.password_hash):
        raise AuthError("the current password is not right")
    problem = password_problem(new)
    if problem is not None:
        raise AuthError(problem)
    user.password_hash = await hashing.hash(new)
    await end_sessions_of(session, user.id, keep=who.session_id)


async def reset_password(session: AsyncSession, user_id: int, *,
                         hashing: PasswordHashing) -> str:
    """An admin gives a user a new generated password (returned, shown once); the
    user's sessions end."""
    user = await session.get(User, user_id)
    if user is None:
        raise AuthError("no such user")
    password = secrets.token_urlsafe(15)
    user.password_hash = await hashing.hash(password)
    await end_sessions_of(session, user.id)
    return password


async def set_disabled(session: AsyncSession, user_id: int, disabled: bool) -> User:
    """Disable (ending every session) or enable a user."""
    user = await session.get(User, user_id)
    if user is None:
        raise AuthError("no such user")
    user.disabled = disabled
    if disabled:
        await end_sessions_of(session, user.id)
    return user


@dataclass(frozen=True)
class UserView:
    id: int
    name: str
    role: str
    hotline: str | None
    disabled: bool
    created_at: datetime
    sessions: int


async def list_users(session: AsyncSession) -> list[UserView]:
    hotlines = {h.id: h.code for h in await session.scalars(select(Hotline))}
    counts: dict[int, int] = {}
    for user_id in await session.scalars(select(WebSession.user_id)):
        counts[user_id] = counts.get(user_id, 0) + 1
    return [UserView(u.id, u.name, u.role, hotlines.get(u.hotline_id or -1), u.disabled,
                     u.created_at, counts.get(u.id, 0))
            for u in await session.scalars(select(User).order_by(User.name))]


async def list_hotlines(session: AsyncSession) -> list[Hotline]:
    """The partner directory (the caller shows no webhook secret)."""
    return list(await session.scalars(select(Hotline).order_by(Hotline.code)))


async def hotline_codes(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(Hotline.code).order_by(Hotline.code)))


async def purge_ended_sessions(session: AsyncSession, *, now: datetime,
                               policy: SessionPolicy) -> int:
    """Delete every ended session (housekeeping)."""
    result = await session.execute(delete(WebSession).where(
        (WebSession.expires_at <= now) | (WebSession.last_seen_at <= now - policy.idle)))
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass
class LoginLimiter:
    """Failed sign-ins per account and per client address, in memory: after
    `limit` failures within `window` a key is refused until the oldest ages out."""

    limit: int = 5
    window: timedelta = timedelta(minutes=15)
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, keys: list[str], now: datetime) -> timedelta | None:
        """None when every key may try; otherwise how long until one may."""
        waits = []
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                waits.append(times[0] + self.window - now)
        return max(waits) if waits else None

    def failed(self, keys: list[str], now: datetime) -> None:
        for key in keys:
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a spray of names
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, account_key: str) -> None:
        self._failures.pop(account_key, None)
