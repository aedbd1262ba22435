"""The fact cache in the database: what one worker found out, every worker reuses.

``DatabaseFactCache`` implements ``resolvers.cache.FactCache`` on the service's
engine (table ``fact_cache``), behind a small in-process ``MemoryFactCache`` (the
L1): a read tries the L1, then the database, and a database hit fills the L1 for
the rest of its time to live, at most ``l1_ttl`` (60 s) so that a process soon
sees what others wrote; a write goes to both. Expiry is an absolute
``expires_at`` from the service clock, so every process agrees on it. For
networks the L1 keeps the answer per address: a /16 in one process's L1 must
not hide the /24 another process stored (the networks this process stored
itself answer only while the database fails).

Networks are stored under exact keys ``net:<start>/<length>`` (start as 8 hex
digits for IPv4, 32 for IPv6). "The most specific unexpired network holding an
address" is then one primary-key lookup of the address's network at every
prefix length (33 keys for IPv4, 129 for IPv6) and the longest match wins: no
PostgreSQL-only operators, no per-process list of lengths that could go stale.

Writes are upserts (``INSERT ... ON CONFLICT DO UPDATE`` on both backends), so
workers writing one key at once never fail. The cache must never fail a
resolution: a database error or a slow database (``timeout``) is logged (at
most once a minute) and counts as a miss or a skipped write. Expired rows are
deleted in batches by ``prune_fact_cache``, a worker step.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from nttd.db import READ_ONLY
from nttd.models import FactCacheEntry
from resolvers.cache import MemoryFactCache

__all__ = ["DatabaseFactCache", "delete_expired_facts", "network_key"]

log = logging.getLogger(__name__)

MAX_KIND = 32  # column widths of fact_cache: longer names stay in the L1 only
MAX_KEY = 512
PRUNE_BATCH = 2000
PRUNE_MAX_BATCHES = 50  # per call: the step runs again at its next turn
LOG_EVERY = 60.0  # seconds between two warnings about a failing database

Entry = FactCacheEntry


def _utcnow() -> datetime:
    return datetime.now(UTC)


def network_key(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """``net:c0000200/24``: the fixed-width hex start and the prefix length."""
    width = 8 if network.version == 4 else 32
    return f"net:{int(network.network_address):0{width}x}/{network.prefixlen}"


def _candidates(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> dict[str, int]:
    """Network key -> prefix length, for every network that could hold ``address``."""
    bits, width, value = address.max_prefixlen, address.max_prefixlen // 4, int(address)
    # Integer arithmetic: building 129 ipaddress networks costs milliseconds.
    return {f"net:{value >> (bits - length) << (bits - length):0{width}x}/{length}": length
            for length in range(bits, -1, -1)}


class DatabaseFactCache:
    """A ``FactCache`` shared by every process on one database, with an in-process L1."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = _utcnow,
                 l1_entries: int = 10_000, l1_ttl: float = 60.0, timeout: float = 5.0,
                 max_connections: int = 4) -> None:
        self._engine = engine
        self._clock = clock
        self.l1 = MemoryFactCache(l1_entries, clock=lambda: self._clock().timestamp())
        self.l1_ttl = l1_ttl
        self.timeout = timeout
        self._gate = asyncio.Semaphore(max_connections)  # leave the pool to the workers
        self._last_warning = -LOG_EVERY
        self.db_hits = 0
        self.db_misses = 0
        self.errors = 0

    # -- the FactCache protocol ------------------------------------------------

    async def get(self, kind: str, key: str) -> Any | None:
        value = await self.l1.get(kind, key)
        if value is not None or not _storable(kind, key):
            return value
        statement = (select(Entry.value, Entry.expires_at)
                     .where(Entry.kind == kind, Entry.key == key,
                            Entry.expires_at > self._clock()))
        rows = await self._read(statement, f"get {kind}")
        found = self._decode(rows[0]) if rows else None
        if found is None:
            self.db_misses += 1
            return None
        self.db_hits += 1
        value, ttl = found
        await self.l1.set(kind, key, value, ttl)
        return value

    async def set(self, kind: str, key: str, value: Any, ttl: float) -> None:
        text = _json(value, ttl)
        if text is None:
            return
        await self.l1.set(kind, key, json.loads(text), min(ttl, self.l1_ttl))
        if _storable(kind, key):
            await self._upsert([(kind, key)], text, ttl)

    async def get_network(self, kind: str, ip: str) -> Any | None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        answered = f"addr:{address}"  # the L1 keeps the answer per address, not networks:
        value = await self.l1.get(kind, answered)  # a /16 here must not hide a /24 there
        if value is not None or len(kind) > MAX_KIND:
            return value
        candidates = _candidates(address)
        statement = (select(Entry.key, Entry.value, Entry.expires_at)
                     .where(Entry.kind == kind, Entry.key.in_(list(candidates)),
                            Entry.expires_at > self._clock()))
        rows = await self._read(statement, f"get_network {kind}")
        if rows is None:  # the database failed: what this process stored itself
            return await self.l1.get_network(kind, ip)
        for _, text, expires_at in sorted(rows, key=lambda row: candidates[row[0]],
                                          reverse=True):
            found = self._decode((text, expires_at))
            if found is not None:
                self.db_hits += 1
                await self.l1.set(kind, answered, *found)
                return found[0]
        self.db_misses += 1
        return None

    async def set_network(self, kind: str, networks: Sequence[str], value: Any,
                          ttl: float) -> None:
        text = _json(value, ttl)
        if text is None:
            return
        parsed = []
        for cidr in networks:
            try:
                parsed.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                continue
        if not parsed:
            return
        # Kept in full for when the database fails (then the L1 is the whole cache).
        await self.l1.set_network(kind, [str(n) for n in parsed], json.loads(text), ttl)
        if len(kind) <= MAX_KIND:
            await self._upsert([(kind, network_key(n)) for n in parsed], text, ttl)

    # -- the database ------------------------------------------------------------

    def _decode(self, row: Any) -> tuple[Any, float] | None:
        """(value, seconds left) of a row; None if it is not JSON or has just expired."""
        text, expires_at = row
        left = (expires_at - self._clock()).total_seconds()
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            return None
        return (value, min(left, self.l1_ttl)) if left > 0 else None

    async def _read(self, statement: Any, what: str) -> list[Any] | None:
        """The rows, or None when the database failed (logged)."""
        try:
            async with self._connection() as conn:
                await conn.execution_options(**{READ_ONLY: True})
                return list((await conn.execute(statement)).all())
        except Exception as exc:  # a cache failure is a miss, never a failure
            self._failed(what, exc)
            return None

    async def _upsert(self, keys: list[tuple[str, str]], text: str, ttl: float) -> None:
        expires_at = self._clock() + timedelta(seconds=ttl)
        rows = [{"kind": kind, "key": key, "value": text, "expires_at": expires_at}
                for kind, key in sorted(set(keys))]  # one order: no deadlock between writers
        insert = (postgresql.insert if self._engine.dialect.name == "postgresql"
                  else sqlite.insert)
        statement = insert(Entry).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=[Entry.kind, Entry.key],
            set_={"value": statement.excluded.value,
                  "expires_at": statement.excluded.expires_at})
        try:
            async with self._connection() as conn, conn.begin():
                await conn.execute(statement)
        except Exception as exc:  # a cache failure is a skipped write
            self._failed(f"set {keys[0][0]}", exc)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection on which the cache gives up after ``timeout``.

        PostgreSQL: by cancelling. SQLite: through a busy timeout as short, set for
        the cache's use only, since cancelling an aiosqlite call that waits for the
        write lock would still wait for its thread (the service's 30 s).
        """
        if self._engine.dialect.name != "sqlite":
            async with asyncio.timeout(self.timeout), self._gate, \
                    self._engine.connect() as conn:
                yield conn
            return
        async with self._gate, self._engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            before = await _pragma(driver, "busy_timeout")
            await _pragma(driver, f"busy_timeout = {max(int(self.timeout * 1000), 1)}")
            try:
                yield conn
            finally:
                try:
                    await _pragma(driver, f"busy_timeout = {int(before)}")
                except Exception:
                    await conn.invalidate()  # never back to the pool with our timeout
                    raise

    def _failed(self, what: str, exc: BaseException) -> None:
        self.errors += 1
        now = time.monotonic()
        if now - self._last_warning >= LOG_EVERY:
            self._last_warning = now
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            log.warning("fact cache: %s failed in the database (%s); treated as a miss "
                        "(%d failures so far, next warning in %.0fs at the earliest)",
                        what, reason, self.errors, LOG_EVERY)


async def _pragma(driver: Any, statement: str) -> Any:
    """Run a PRAGMA on the aiosqlite connection itself (outside any transaction)."""
    async with driver.execute(f"PRAGMA {statement}") as cursor:
        row = await cursor.fetchone()
    return row[0] if row else None


def _storable(kind: str, key: str) -> bool:
    return len(kind) <= MAX_KIND and len(key) <= MAX_KEY


def _json(value: Any, ttl: float) -> str | None:
    """The JSON text of ``value``, or None when it is not to be stored."""
    if not ttl > 0:  # also refuses NaN
        return None
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        log.warning("fact cache: a value that is not plain JSON was not cached (%s)",
                    type(value).__name__)
        return None


async def delete_expired_facts(engine: AsyncEngine, *, now: datetime,
                               batch: int = PRUNE_BATCH,
                               max_batches: int = PRUNE_MAX_BATCHES) -> int:
    """Delete facts that expired by ``now``, ``batch`` rows per transaction."""
    deleted = 0
    for _ in range(max_batches):
        victims = (select(Entry.kind, Entry.key).where(Entry.expires_at <= now)
                   .order_by(Entry.expires_at).limit(batch))
        # The outer condition is checked again on the row itself: a fact that a
        # worker has just refreshed is kept.
        statement = (delete(Entry)
                     .where(tuple_(Entry.kind, Entry.key).in_(victims),
                            Entry.expires_at <= now)
                     .execution_options(synchronize_session=False))
        async with engine.begin() as conn:
            count = (await conn.execute(statement)).rowcount
        deleted += count
        if count < batch:
            break
    return deleted
