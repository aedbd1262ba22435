"""What the checker sends and refuses to keep: headers, cookies, TLS, header caps."""

from __future__ import annotations

import datetime as dt
import ssl

import dns.asyncresolver

from nttd.checks.probe import DEFAULT_USER_AGENT, Checker, Verdict
from nttd.demo.standins.dns_server import Zone
from nttd.demo.standins.hosting import HostingServer
from tests.checks.conftest import MakeChecker


async def test_request_headers(checker: Checker, hosting: HostingServer) -> None:
    hosting.route("/img/1.jpg", status=200)
    await checker.check(hosting.url("/img/1.jpg"))
    headers = hosting.requests[0].headers
    assert headers["user-agent"] == DEFAULT_USER_AGENT
    assert headers["accept-encoding"] == "identity"
    assert "cookie" not in headers


async def test_cookies_are_never_sent_back(checker: Checker, hosting: HostingServer) -> None:
    hosting.route(
        "/img/1.jpg",
        status=200,
        headers={"Set-Cookie": "session=abc; Path=/", "Set-Cookie2": "x=1"},
    )
    for _ in range(3):
        assert (await checker.check(hosting.url("/img/1.jpg"))).verdict is Verdict.ONLINE
    assert len(hosting.requests) == 3
    assert all("cookie" not in r.headers for r in hosting.requests)


async def test_header_too_large_is_an_error_verdict(
    make_checker: MakeChecker, hosting: HostingServer
) -> None:
    checker = make_checker(max_header_bytes=4096)
    hosting.route("/img/1.jpg", status=200, headers={"X-Padding": "a" * 20_000})
    hosting.route("/img/2.jpg", status=200)
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert result.verdict is Verdict.UNREACHABLE
    assert result.status_code is None
    assert result.error and result.error.startswith("invalid HTTP response")
    assert (await checker.check(hosting.url("/img/2.jpg"))).verdict is Verdict.ONLINE


async def test_header_under_the_cap_is_fine(
    make_checker: MakeChecker, hosting: HostingServer
) -> None:
    checker = make_checker(max_header_bytes=32768)
    hosting.route("/img/1.jpg", status=200, headers={"X-Padding": "a" * 20_000})
    assert (await checker.check(hosting.url("/img/1.jpg"))).verdict is Verdict.ONLINE


async def test_self_signed_certificate_is_tls_error(
    checker: Checker, self_signed_tls: ssl.SSLContext, zone: Zone
) -> None:
    zone.add("hosting.example", "A", "127.0.0.2")
    async with HostingServer("127.0.0.2", ssl_context=self_signed_tls) as server:
        server.route("/img/1.jpg", status=200)
        for host in ("127.0.0.2", "hosting.example"):
            result = await checker.check(server.url("/img/1.jpg", host=host))
            assert result.verdict is Verdict.TLS_ERROR
            assert result.error and "certificate" in result.error
            assert result.status_code is None
        await server.settle()
        assert server.requests == []


async def test_plain_http_to_a_tls_port_is_an_error_verdict(
    checker: Checker, self_signed_tls: ssl.SSLContext
) -> None:
    async with HostingServer("127.0.0.2", ssl_context=self_signed_tls) as server:
        url = server.url("/img/1.jpg").replace("https://", "http://")
        result = await checker.check(url)
        assert result.verdict is Verdict.UNREACHABLE


async def test_clock_is_injected(make_checker: MakeChecker, hosting: HostingServer) -> None:
    times = iter([dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 2, tzinfo=dt.UTC)])
    checker = make_checker(clock=lambda: next(times))
    first = await checker.check(hosting.url("/a"))
    second = await checker.check("ftp://files.example/a")
    assert first.checked_at == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert second.checked_at == dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


async def test_default_clock_is_utc_aware(
    resolver: dns.asyncresolver.Resolver, hosting: HostingServer
) -> None:
    async with Checker(resolver, allow_private=True) as checker:
        result = await checker.check(hosting.url("/a"))
    assert result.checked_at.utcoffset() == dt.timedelta(0)
    assert result.verdict is Verdict.GONE


async def test_usable_without_context_manager_and_after_close(
    resolver: dns.asyncresolver.Resolver, hosting: HostingServer
) -> None:
    checker = Checker(resolver, allow_private=True)
    hosting.route("/img/1.jpg", status=200)
    try:
        assert (await checker.check(hosting.url("/img/1.jpg"))).verdict is Verdict.ONLINE
        await checker.close()
        assert (await checker.check(hosting.url("/img/1.jpg"))).verdict is Verdict.ONLINE
    finally:
        await checker.close()
        await checker.close()  # closing twice is harmless
