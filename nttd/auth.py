"""Users, roles, passwords and API tokens.

Passwords are hashed with argon2id (argon2-cffi, the RFC 9106 low-memory
defaults: about 0.3-0.5 s and 64 MiB a hash on our machines, so it runs in an
executor, a few at a time: `PasswordHashing`). Hashes of the scrypt scheme used
before still verify, and `password_needs_rehash` says when to replace one. API
tokens are random 256-bit values shown once and stored as their SHA-256 (a token
is high-entropy, so a fast hash is the right tool and lookups stay indexable).

Authenticating a request only reads. When a token was last used is recorded by
`TokenUsage`: at most once a minute per token, in a transaction of its own,
after the request has its answer, so that a read never waits for (or holds) the
database's write lock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nttd.models import ApiToken, Hotline, User

log = logging.getLogger(__name__)
TOKEN_PREFIX = "nttd_"  # noqa: S105 - a prefix that makes leaked tokens greppable


class Role(StrEnum):
    ANALYST = "analyst"          # enters and follows cases at the operating hotline
    PARTNER = "partner"          # a partner hotline: its inbox and status reports
    COORDINATOR = "coordinator"  # reads statistics
    ADMIN = "admin"              # everything


class AuthError(ValueError):
    """A user or token could not be created; the message says why."""


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    role: Role
    hotline_id: int | None
    token_id: int | None = None  # the API token it came with, if any

    @property
    def actor(self) -> str:
        return f"user:{self.name}"

    def can(self, *roles: Role) -> bool:
        return self.role is Role.ADMIN or self.role in roles


_ARGON2 = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # a longer one is refused before any hashing


def hash_password(password: str) -> str:
    """An argon2id hash (slow on purpose: call it off the event loop)."""
    return _ARGON2.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (argon2id, or the older scrypt scheme)."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _ARGON2.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored: str) -> bool:
    """True for a hash of an older scheme or weaker parameters than today's."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _ARGON2.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, salt_b64, digest_b64 = stored.split("$")
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return hmac.compare_digest(digest, expected)


def hash_scrypt(password: str) -> str:
    """The scheme used before argon2id (kept so tests can make such a hash)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def password_problem(password: str) -> str | None:
    """Why `password` cannot be used, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password must have at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password must have at most {MAX_PASSWORD} characters"
    return None


class PasswordHashing:
    """Hashing and verifying off the event loop, at most `limit` at once (each one
    takes 64 MiB and a core for a few tenths of a second); the rest wait their turn."""

    def __init__(self, limit: int = 2) -> None:
        self._limit = asyncio.Semaphore(limit)

    async def hash(self, password: str) -> str:
        async with self._limit:
            return await asyncio.get_running_loop().run_in_executor(
                None, hash_password, password)

    async def verify(self, password: str, stored: str) -> bool:
        async with self._limit:
            return await asyncio.get_running_loop().run_in_executor(
                None, verify_password, password, stored)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def add_user(
    session: AsyncSession,
    name: str,
    role: str,
    *,
    password: str,
    hotline_code: str | None,
    now: datetime,
    hashing: PasswordHashing | None = None,
) -> User:
    """Add a user (AuthError says what is wrong). The password is hashed off the
    event loop, through `hashing` when given (it caps how many hash at once)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AuthError("a user name must have 1 to 100 characters")
    try:
        parsed_role = Role(role)
    except ValueError:
        raise AuthError(
            f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}"
        ) from None
    problem = password_problem(password)
    if problem is not None:
        raise AuthError(problem)
    if await session.scalar(select(User.id).where(User.name == name)) is not None:
        raise AuthError(f"a user named {name!r} already exists")
    hotline_id = None
    if hotline_code is not None:
        hotline_id = await session.scalar(select(Hotline.id).where(Hotline.code == hotline_code))
        if hotline_id is None:
            raise AuthError(f"no hotline with code {hotline_code!r}; load the partner file first")
    if parsed_role is Role.PARTNER and hotline_id is None:
        raise AuthError("a partner user needs --hotline CODE")
    user = User(
        name=name,
        role=parsed_role.value,
        hotline_id=hotline_id,
        password_hash=await (hashing or PasswordHashing(1)).hash(password),
        created_at=now,
        disabled=False,
    )
    session.add(user)
    await session.flush()
    return user


async def create_token(session: AsyncSession, user_name: str, *, now: datetime) -> str:
    user = await session.scalar(select(User).where(User.name == user_name))
    if user is None:
        raise AuthError(f"no user named {user_name!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hash_token(token),
            prefix=token[: len(TOKEN_PREFIX) + 6],
            created_at=now,
        )
    )
    await session.flush()
    return token


async def authenticate(session: AsyncSession, token: str, *, now: datetime) -> Principal | None:
    row = (
        await session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == hash_token(token))
        )
    ).first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked_at is not None or user.disabled:
        return None
    return Principal(user.id, user.name, Role(user.role), user.hotline_id, api_token.id)


class TokenUsage:
    """Records when API tokens were last used: at most once per `every` for each
    token, each in a short transaction of its own, in the background. A failure
    to record is logged and forgotten (it is bookkeeping, not data)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 every: timedelta = timedelta(minutes=1)) -> None:
        self._sessions = sessions
        self._every = every
        self._recorded: dict[int, datetime] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def seen(self, token_id: int, now: datetime) -> bool:
        """Note a use of the token; True when it will be written."""
        last = self._recorded.get(token_id)
        if last is not None and now - last < self._every:
            return False
        self._recorded[token_id] = now
        task = asyncio.create_task(self._record(token_id, now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _record(self, token_id: int, now: datetime) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(update(ApiToken).where(ApiToken.id == token_id)
                                      .values(last_used_at=now))
        except Exception as exc:  # bookkeeping: never fail anything else for it
            log.warning("could not record the use of API token %s: %s", token_id, exc)

    async def flush(self) -> None:
        """Wait for the writes under way (on shutdown, and in tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclass(frozen=True)
class TokenView:
    """What an owner sees of one of their API tokens (never the token itself)."""

    id: int
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def has_users(session: AsyncSession) -> bool:
    return await session.scalar(select(User.id).limit(1)) is not None


async def find_user(session: AsyncSession, name: str) -> User | None:
    return await session.scalar(select(User).where(User.name == name))


async def list_tokens(session: AsyncSession, user_id: int) -> list[TokenView]:
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc()))
    return [TokenView(t.id, t.prefix, t.created_at, t.last_used_at, t.revoked_at) for t in rows]


async def revoke_token(session: AsyncSession, user_id: int, token_id: int, *,
                       now: datetime) -> bool:
    """Revoke one of the user's own tokens; False when they have no such live token."""
    token = await session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        return False
    token.revoked_at = now
    return True
