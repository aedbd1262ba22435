"""A shared cache of facts, and coalescing of identical lookups in flight.

``FactCache`` is the seam: four async methods over JSON-serialisable values,
so that a database-backed cache (shared by worker processes) can implement it
as well as ``MemoryFactCache`` (one process, LRU-bounded) does. Keys are
(kind, key) pairs of strings; network entries are keyed by CIDR prefixes, and
``get_network`` answers the most specific cached prefix holding an address.

``Inflight`` makes concurrent identical lookups share one: the first caller
runs it, the others await the same task (a cancelled waiter does not cancel it).

Nothing here fails for the outside world: a miss is ``None``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["FactCache", "Inflight", "MemoryFactCache", "networks_of_range"]

T = TypeVar("T")
_MAX_NETWORKS = 32  # a range that needs more CIDR blocks than this is not cached


class FactCache(Protocol):
    """Facts by (kind, key), each kept for a time to live in seconds."""

    async def get(self, kind: str, key: str) -> Any | None:
        """The value stored under (kind, key) if it has not expired, else None."""

    async def set(self, kind: str, key: str, value: Any, ttl: float) -> None:
        """Store a JSON-serialisable ``value`` for ``ttl`` seconds (``ttl <= 0``: don't)."""

    async def get_network(self, kind: str, ip: str) -> Any | None:
        """The value of the most specific unexpired network of ``kind`` holding ``ip``."""

    async def set_network(self, kind: str, networks: Sequence[str], value: Any,
                          ttl: float) -> None:
        """Store ``value`` for every CIDR in ``networks`` for ``ttl`` seconds."""


def networks_of_range(first: str, last: str) -> list[str]:
    """The CIDR blocks covering first..last (empty if invalid or too fragmented)."""
    try:
        low, high = ipaddress.ip_address(first), ipaddress.ip_address(last)
        blocks = list(ipaddress.summarize_address_range(low, high))
    except (ValueError, TypeError):
        return []
    return [str(block) for block in blocks] if len(blocks) <= _MAX_NETWORKS else []


class MemoryFactCache:
    """An in-process ``FactCache``: at most ``max_entries`` values, least recently used
    evicted first; ``clock`` gives monotonic seconds (injected for tests)."""

    def __init__(self, max_entries: int = 100_000, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()
        self._prefix_lengths: dict[tuple[str, int], set[int]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _read(self, key: tuple[str, str]) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def _write(self, key: tuple[str, str], value: Any, ttl: float) -> None:
        if ttl <= 0:
            return
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def get(self, kind: str, key: str) -> Any | None:
        value = self._read((kind, key))
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    async def set(self, kind: str, key: str, value: Any, ttl: float) -> None:
        self._write((kind, key), value, ttl)

    async def get_network(self, kind: str, ip: str) -> Any | None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for length in sorted(self._prefix_lengths.get((kind, address.version), ()), reverse=True):
            network = ipaddress.ip_network(f"{address}/{length}", strict=False)
            value = self._read((kind, f"net:{network}"))
            if value is not None:
                self.hits += 1
                return value
        self.misses += 1
        return None

    async def set_network(self, kind: str, networks: Sequence[str], value: Any,
                          ttl: float) -> None:
        for text in networks:
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError:
                continue
            self._prefix_lengths.setdefault((kind, network.version), set()).add(
                network.prefixlen)
            self._write((kind, f"net:{network}"), value, ttl)


class Inflight:
    """Concurrent calls with the same key share one running lookup."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self.started = 0  # lookups actually run, for benchmarks
        self.joined = 0  # calls that shared a running lookup

    async def run(self, kind: str, key: str, factory: Callable[[], Awaitable[T]]) -> T:
        """Await ``factory()``, or the identical lookup already running."""
        slot = (kind, key)
        task = self._tasks.get(slot)
        if task is None:
            task = asyncio.ensure_future(factory())
            self.started += 1
            self._tasks[slot] = task
            task.add_done_callback(lambda done: self._finished(slot, done))
        else:
            self.joined += 1
        result: T = await asyncio.shield(task)
        return result

    def _finished(self, slot: tuple[str, str], task: asyncio.Task[Any]) -> None:
        if self._tasks.get(slot) is task:
            del self._tasks[slot]
        if not task.cancelled():
            task.exception()  # retrieved: a failure reaches the awaiting callers only
