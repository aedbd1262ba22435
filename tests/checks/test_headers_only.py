"""Proof that a check reads the status line and headers and never the content."""

from __future__ import annotations

import time

import pytest

from nttd.checks.probe import Checker, Verdict
from nttd.demo.standins.hosting import HostingServer

FIFTY_MB = 50 * 1024 * 1024
SMALL = 256 * 1024  # bounded by socket buffers, far below the body


async def test_head_never_gets_a_body(checker: Checker, hosting: HostingServer) -> None:
    hosting.route("/img/1.jpg", status=200, body_size=FIFTY_MB)
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert (result.verdict, result.method) == (Verdict.ONLINE, "HEAD")
    await hosting.settle()
    assert hosting.body_bytes_sent == [0]
    assert [r.method for r in hosting.requests] == ["HEAD"]


@pytest.mark.parametrize("head_status", [405, 501])
async def test_head_refused_falls_back_to_get_closed_at_headers(
    checker: Checker, hosting: HostingServer, head_status: int
) -> None:
    hosting.route("/img/1.jpg", status=200, body_size=FIFTY_MB, head_status=head_status)
    started = time.monotonic()
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert time.monotonic() - started < 3
    assert (result.verdict, result.status_code, result.method) == (Verdict.ONLINE, 200, "GET")
    assert result.peer_ip == "127.0.0.2"
    await hosting.settle()
    assert [r.method for r in hosting.requests] == ["HEAD", "GET"]
    get_conn = hosting.connections[hosting.requests[1].connection]
    assert get_conn.closed_early  # the client hung up before the body was done
    assert get_conn.body_bytes_sent < FIFTY_MB // 4  # sent as fast as the server can


@pytest.mark.parametrize("head_status", [405, 501])
async def test_trickled_body_stays_tiny(
    checker: Checker, hosting: HostingServer, head_status: int
) -> None:
    hosting.route(
        "/img/1.jpg", status=200, body_size=FIFTY_MB, head_status=head_status, trickle=True
    )
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert (result.verdict, result.method) == (Verdict.ONLINE, "GET")
    await hosting.settle(timeout=3)  # the server notices the close within a few chunks
    get_conn = hosting.connections[hosting.requests[1].connection]
    assert get_conn.closed_early
    assert get_conn.body_bytes_sent < SMALL


async def test_get_fallback_keeps_the_real_status(checker: Checker, hosting: HostingServer) -> None:
    hosting.route("/img/1.jpg", status=410, body_size=FIFTY_MB, head_status=405, trickle=True)
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert (result.verdict, result.status_code, result.method) == (Verdict.GONE, 410, "GET")


@pytest.mark.parametrize("delay", [0.0, 0.05])
async def test_stray_body_on_head_does_not_break_the_next_check(
    checker: Checker, hosting: HostingServer, delay: float
) -> None:
    """delay 0: the stray body comes with the headers (aiohttp cannot parse the HEAD
    answer, so the check falls back to GET); delay > 0: it comes later, on a
    connection the checker has already closed instead of reusing it."""
    hosting.route("/img/1.jpg", status=200, body_size=4096, head_body=True, head_body_delay=delay)
    hosting.route("/img/2.jpg", status=404, body_size=4096, head_body=True, head_body_delay=delay)
    hosting.route("/img/3.jpg", status=403)
    results = [
        await checker.check(hosting.url(path))
        for path in ("/img/1.jpg", "/img/2.jpg", "/img/1.jpg", "/img/3.jpg")
    ]
    assert [(r.verdict, r.status_code) for r in results] == [
        (Verdict.ONLINE, 200),
        (Verdict.GONE, 404),
        (Verdict.ONLINE, 200),
        (Verdict.BLOCKED, 403),
    ]
    await hosting.settle()
    assert [c.requests for c in hosting.connections] == [1] * len(hosting.requests)
    if delay:
        assert [r.method for r in hosting.requests] == ["HEAD"] * 4


async def test_no_decompression_asked(checker: Checker, hosting: HostingServer) -> None:
    hosting.route("/img/1.jpg", status=200, headers={"Content-Encoding": "gzip"})
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert result.verdict is Verdict.ONLINE
    assert hosting.requests[0].headers["accept-encoding"] == "identity"
