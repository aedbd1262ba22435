"""Polite RDAP fetching: one GET, its limits, its retries, its classification.

``RdapClient`` wraps the injected aiohttp session with what registries expect
of a good citizen and what a hostile server must not be able to do to us:

* at most ``RdapLimits.per_server`` requests in flight per server (scheme, host
  and port), shared by every lookup that goes through the same client;
* a total time limit per request (a slow-loris server ends as a timeout) and a
  cap on the body (read in chunks; a 50 MB answer is refused at the cap);
* 429 with ``Retry-After`` (seconds or an HTTP date, capped) waited out once;
  5xx, 408, 429 without a usable ``Retry-After`` and timeouts retried a few
  times with exponential backoff.

Failures are raised as ``LookupFailed`` subclasses (see ``resolvers.errors``):
404 is ``RecordNotFound`` (a fact), an oversized answer, another 4xx or too many
redirects are ``LookupRejected`` (a fact about the server), and the rest
(timeout, connection trouble, 5xx, 429, not JSON) is ``LookupUnavailable``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from resolvers.errors import LookupRejected, LookupUnavailable, RecordNotFound

__all__ = ["MAX_BODY", "MAX_REDIRECTS", "RdapClient", "RdapLimits", "parse_retry_after"]

MAX_BODY = 2 * 1024 * 1024
MAX_REDIRECTS = 3
_HEADERS = {"Accept": "application/rdap+json, application/json;q=0.9",
            "Accept-Encoding": "identity"}


@dataclass(frozen=True)
class RdapLimits:
    """How politely and how patiently RDAP servers are asked."""

    per_server: int = 4  # requests in flight per server
    timeout: float = 10.0  # total seconds per request, body included
    retries: int = 2  # extra attempts after a retryable failure
    backoff: float = 0.25  # seconds before the first retry, doubled each time
    max_retry_after: float = 60.0  # a longer Retry-After is cut to this
    max_body: int = MAX_BODY  # bytes
    ttl: float = 86400.0  # seconds an answer is cached
    negative_ttl: float = 3600.0  # seconds a "not found" is cached


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


class _RetryLater(LookupUnavailable):
    """A 429 whose Retry-After says how long to wait."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class RdapClient:
    """GETs RDAP JSON through one session, within ``limits``. Safe to share."""

    def __init__(self, session: aiohttp.ClientSession, limits: RdapLimits | None = None, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.session = session
        self.limits = limits or RdapLimits()
        self._sleep = sleep
        self._gates: dict[str, asyncio.Semaphore] = {}
        self.requests = 0  # GETs sent, for benchmarks

    def _gate(self, url: str) -> asyncio.Semaphore:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}".lower()
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = asyncio.Semaphore(self.limits.per_server)
        return gate

    async def fetch_json(self, url: str, *, cap: int | None = None) -> Any:
        """GET ``url`` and parse its JSON, retrying what is worth retrying."""
        limits = self.limits
        delay = limits.backoff
        honoured_retry_after = False
        attempt = 0
        while True:
            try:
                async with self._gate(url):
                    return await self._fetch_once(url, cap or limits.max_body)
            except _RetryLater as exc:
                if honoured_retry_after:
                    raise LookupUnavailable(str(exc)) from None
                honoured_retry_after = True
                await self._sleep(min(exc.wait, limits.max_retry_after))
            except LookupUnavailable:
                if attempt >= limits.retries:
                    raise
                attempt += 1
                await self._sleep(delay)
                delay *= 2

    async def _fetch_once(self, url: str, cap: int) -> Any:
        self.requests += 1
        timeout = aiohttp.ClientTimeout(total=self.limits.timeout)
        try:
            async with self.session.get(url, headers=_HEADERS, timeout=timeout,
                                        allow_redirects=True,
                                        max_redirects=MAX_REDIRECTS) as resp:
                if resp.status == 404:
                    raise RecordNotFound(f"not found ({url})")
                if resp.status == 429:
                    wait = parse_retry_after(resp.headers.get("Retry-After"), datetime.now(UTC))
                    if wait is not None:
                        raise _RetryLater(f"HTTP 429 from {url}", wait)
                if resp.status in (408, 429) or resp.status >= 500:
                    raise LookupUnavailable(f"HTTP {resp.status} from {url}")
                if resp.status != 200:
                    raise LookupRejected(f"HTTP {resp.status} from {url}")
                body = await _read_capped(resp, cap)
        except aiohttp.TooManyRedirects:
            raise LookupRejected(f"more than {MAX_REDIRECTS} redirects from {url}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            kind = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            raise LookupUnavailable(f"{url}: {kind}") from None
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise LookupUnavailable(f"{url}: the answer is not JSON") from None


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    if resp.content_length is not None and resp.content_length > cap:
        raise LookupRejected(f"answer of {resp.content_length} bytes is over the {cap} byte cap")
    chunks: list[bytes] = []
    size = 0
    while chunk := await resp.content.read(min(65536, cap + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise LookupRejected(f"answer is over the {cap} byte cap")
    return b"".join(chunks)

