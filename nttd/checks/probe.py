"""Availability checks: is a reported URL still served? Headers only, never content.

A check sends HEAD. Only when the server refuses HEAD (405 or 501), or answers
it with something that is not valid HTTP (typically a body sent to HEAD), does
it send a GET, and that GET's connection is closed as soon as the status line and
headers are in: `ClientResponse.close()` closes the transport without reading
(aiohttp 3.14: it marks the payload stream failed and calls
`Connection.close()`, which closes the protocol; `release()`, `read()`,
`text()` or iterating `content` would read or drain the body, and none of them
is used here). Redirects are never followed; the `Location` header is recorded.
Cookies are never stored, the environment's proxies are ignored, responses are
not decompressed, and header lines are capped in size.

Which addresses may be reached is decided by `nttd.checks.guard.GuardedResolver`.

Outcomes are verdicts, not exceptions: `Checker.check` never raises for network
trouble. Facts about the URL: ONLINE, GONE, DNS_GONE, REDIRECTED_AWAY,
REDIRECTED, BLOCKED, CLIENT_ERROR, SERVER_ERROR (the server answered), REFUSED
(the guard will not check it). Could not find out (retry later): UNREACHABLE,
TLS_ERROR.

Redirects are split by where they point (`redirect_verdict`): to another host
(a leading `www.` is ignored, so `example.com` -> `www.example.com` is the same
site) or to the site's front page (path `/` or empty, any query) is
REDIRECTED_AWAY: the content is no longer at this address, the usual way a host
takes it down. A redirect to another path on the same host, or one without a
usable Location, is REDIRECTED: the content may simply have moved. Neither counts
toward removal by default (`NTTD_REMOVAL_VERDICTS`).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, cast

import aiohttp
import dns.asyncresolver
from yarl import URL

from nttd.checks.guard import (
    AddressNotAllowed,
    DnsLookupFailed,
    DnsNameNotFound,
    GuardedResolver,
)
from nttd.verdicts import Verdict

__all__ = [
    "GONE_VERDICTS",
    "AddressNotAllowed",
    "CheckResult",
    "Checker",
    "GuardedResolver",
    "Verdict",
    "redirect_verdict",
    "verdict_for_status",
]

DEFAULT_USER_AGENT = "nttd-checker/0.1 (+notice-and-takedown availability check; headers only)"
HEAD_REFUSED = frozenset({405, 501})


GONE_VERDICTS: frozenset[Verdict] = frozenset({Verdict.GONE, Verdict.DNS_GONE})


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    status_code: int | None
    method: str | None  # "HEAD" or "GET": the request that gave the verdict
    location: str | None  # Location header, as sent (recorded, not followed)
    peer_ip: str | None  # the address actually connected to
    latency_ms: int | None  # from the start of the check to its outcome
    error: str | None  # short reason for non-HTTP outcomes
    checked_at: datetime  # UTC aware, from the injected clock


def verdict_for_status(status: int) -> Verdict:
    """Map an HTTP status code to a verdict (any 3xx is REDIRECTED here; `check`
    refines it with `redirect_verdict`)."""
    if 200 <= status < 300:
        return Verdict.ONLINE
    if status in (404, 410):
        return Verdict.GONE
    if 300 <= status < 400:
        return Verdict.REDIRECTED
    if status in (401, 403, 451):
        return Verdict.BLOCKED
    if 400 <= status < 500:
        return Verdict.CLIENT_ERROR
    if 500 <= status < 600:
        return Verdict.SERVER_ERROR
    return Verdict.UNREACHABLE  # 1xx as final answer, or out of range: not a usable answer


def _site(host: str) -> str:
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def redirect_verdict(request_url: URL, location: str | None) -> Verdict:
    """REDIRECTED_AWAY for a Location on another host or at the front page, else
    REDIRECTED. A relative Location is joined to the request URL (never fetched)."""
    if not location:
        return Verdict.REDIRECTED
    try:
        target = request_url.join(URL(location.strip()))
    except (ValueError, TypeError):
        return Verdict.REDIRECTED
    if target.raw_host is None or request_url.raw_host is None:
        return Verdict.REDIRECTED
    if _site(target.raw_host) != _site(request_url.raw_host):
        return Verdict.REDIRECTED_AWAY
    if target.raw_path in ("", "/"):
        return Verdict.REDIRECTED_AWAY
    return Verdict.REDIRECTED


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _PeerResponse(aiohttp.ClientResponse):
    """A response that notes the peer address when it starts.

    For HEAD (and any empty body) aiohttp hands the connection back before the
    response is returned, so `resp.connection` is already None by then; `start`
    is the last moment the transport is known.
    """

    peer_ip: str | None = None

    async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        if transport is not None:
            peer: Any = transport.get_extra_info("peername")
            if isinstance(peer, tuple) and peer:
                self.peer_ip = str(peer[0])
        return await super().start(connection)


@dataclass(frozen=True)
class _Answer:
    method: str
    status: int
    location: str | None
    peer_ip: str | None


MAX_HEADER_TEXT = 2048  # a recorded header value is cut here (with a marker)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def safe_header_text(value: str | None, limit: int = MAX_HEADER_TEXT) -> str | None:
    """A header value as it can be stored and shown: bytes that were not UTF-8
    (aiohttp hands them over as surrogate escapes) written as \\xNN, control and
    direction-changing characters escaped, and at most `limit` characters."""
    if value is None:
        return None
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    text = _UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
    if len(text) > limit:
        text = text[:limit] + f"...[{len(text) - limit} more characters]"
    return text


def _short(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    text = " ".join((safe_header_text(text, 400) or "").split())
    return text if len(text) <= 200 else text[:197] + "..."


def _classify(exc: BaseException) -> tuple[Verdict, str]:
    """Map a failed request to a verdict and a short reason."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        cause = exc.os_error
        if isinstance(cause, AddressNotAllowed):
            return Verdict.REFUSED, _short(cause)
        if isinstance(cause, DnsNameNotFound):
            return Verdict.DNS_GONE, _short(cause)
        if isinstance(cause, DnsLookupFailed):
            return Verdict.UNREACHABLE, _short(cause)
        return Verdict.UNREACHABLE, f"DNS: {_short(cause)}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return Verdict.TLS_ERROR, f"certificate: {_short(exc.certificate_error)}"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError | aiohttp.ServerFingerprintMismatch):
        return Verdict.TLS_ERROR, f"TLS: {_short(exc)}"
    if isinstance(exc, aiohttp.InvalidURL):
        return Verdict.REFUSED, f"invalid URL: {_short(exc)}"
    if isinstance(exc, TimeoutError):
        return Verdict.UNREACHABLE, "timeout"
    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised (not returned) only when the answer is not valid HTTP, e.g. header
        # lines over the cap; its status 400 is aiohttp's, not the server's.
        return Verdict.UNREACHABLE, f"invalid HTTP response: {_short(exc.message)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Verdict.UNREACHABLE, f"connect: {_short(exc.os_error)}"
    return Verdict.UNREACHABLE, f"{type(exc).__name__}: {_short(exc)}"


class Checker:
    """Runs availability checks over one aiohttp session it owns.

    Each request is bounded by `timeout` seconds (DNS, connect and headers), so a
    check that falls back to GET may take up to twice that. `max_header_bytes`
    caps the status line and each header field. Safe for concurrent `check`s.
    """

    def __init__(
        self,
        dns_resolver: dns.asyncresolver.Resolver,
        *,
        allow_private: bool,
        timeout: float = 15.0,
        max_header_bytes: int = 32768,
        user_agent: str = DEFAULT_USER_AGENT,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._guard = GuardedResolver(dns_resolver, allow_private=allow_private)
        self._timeout = timeout
        self._max_header_bytes = max_header_bytes
        self._user_agent = user_agent
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # force_close: one connection per request. A server that sends a body
            # to HEAD would otherwise leave bytes on a kept-alive connection that
            # the next request would parse as its response (a bogus 400), and a
            # GET connection is closed after the headers anyway. Keep-alive would
            # matter at scale; reusing connections safely is left for later.
            connector = aiohttp.TCPConnector(
                resolver=self._guard, force_close=True, use_dns_cache=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                response_class=_PeerResponse,
                trust_env=False,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout, connect=self._timeout, sock_read=self._timeout
                ),
                max_line_size=self._max_header_bytes,
                max_field_size=self._max_header_bytes,
                headers={
                    "User-Agent": self._user_agent,
                    "Accept": "*/*",
                    "Accept-Encoding": "identity",
                },
            )
        return self._session

    async def __aenter__(self) -> Self:
        self._open_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            await asyncio.sleep(0)  # let closed transports finish (no ResourceWarning)

    async def _ask(self, method: str, url: URL) -> _Answer:
        """One request; the response is closed at the headers, its body never read."""
        session = self._open_session()
        resp = cast(_PeerResponse, await session.request(method, url, allow_redirects=False))
        try:
            return _Answer(
                method=method,
                status=resp.status,
                location=safe_header_text(resp.headers.get("Location")),
                peer_ip=resp.peer_ip,
            )
        finally:
            resp.close()  # closes the connection; never release()/read(): they drain

    async def check(self, url: str) -> CheckResult:
        """Probe `url` and return its verdict; network trouble becomes a verdict."""
        checked_at = self._clock()
        started = time.monotonic()

        def result(verdict: Verdict, answer: _Answer | None, error: str | None) -> CheckResult:
            return CheckResult(
                verdict=verdict,
                status_code=answer.status if answer else None,
                method=answer.method if answer else None,
                location=answer.location if answer else None,
                peer_ip=answer.peer_ip if answer else None,
                latency_ms=round((time.monotonic() - started) * 1000),
                error=error,
                checked_at=checked_at,
            )

        try:
            target = URL(url)
        except (ValueError, TypeError) as exc:
            return result(Verdict.REFUSED, None, f"invalid URL: {_short(exc)}")
        if target.scheme not in ("http", "https") or not target.raw_host:
            return result(Verdict.REFUSED, None, "invalid URL: not an http(s) URL with a host")
        try:
            self._guard.check_literal(target.raw_host)
        except AddressNotAllowed as exc:
            return result(Verdict.REFUSED, None, _short(exc))

        try:
            try:
                answer = await self._ask("HEAD", target)
            except aiohttp.ClientResponseError:
                # Not valid HTTP. Often a body sent to HEAD, arriving with the headers
                # so that aiohttp's parser fails on it; a GET expects a body.
                answer = None
            if answer is None or answer.status in HEAD_REFUSED:
                answer = await self._ask("GET", target)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            verdict, reason = _classify(exc)
            return result(verdict, None, reason)
        verdict = verdict_for_status(answer.status)
        if verdict is Verdict.REDIRECTED:
            verdict = redirect_verdict(target, answer.location)
        return result(verdict, answer, None)
