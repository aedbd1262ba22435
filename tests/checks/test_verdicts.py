"""Each verdict, produced by a real server or DNS answer on loopback."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from nttd.checks.probe import GONE_VERDICTS, Checker, CheckResult, Verdict, verdict_for_status
from nttd.demo.standins.dns_server import Zone
from nttd.demo.standins.hosting import HostingServer
from tests.checks.conftest import FIXED_NOW, MakeChecker


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.ONLINE),
        (204, Verdict.ONLINE),
        (404, Verdict.GONE),
        (410, Verdict.GONE),
        (401, Verdict.BLOCKED),
        (403, Verdict.BLOCKED),
        (451, Verdict.BLOCKED),
        (400, Verdict.CLIENT_ERROR),
        (429, Verdict.CLIENT_ERROR),
        (500, Verdict.SERVER_ERROR),
        (503, Verdict.SERVER_ERROR),
    ],
)
async def test_status_maps_to_verdict(
    checker: Checker, hosting: HostingServer, status: int, verdict: Verdict
) -> None:
    hosting.route("/img/1.jpg", status=status)
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert result == CheckResult(
        verdict=verdict,
        status_code=status,
        method="HEAD",
        location=None,
        peer_ip="127.0.0.2",
        latency_ms=result.latency_ms,
        error=None,
        checked_at=FIXED_NOW,
    )
    assert isinstance(result.latency_ms, int) and result.latency_ms >= 0
    assert [(r.method, r.path) for r in hosting.requests] == [("HEAD", "/img/1.jpg")]


def test_status_mapping_edges() -> None:
    assert verdict_for_status(299) is Verdict.ONLINE
    assert verdict_for_status(308) is Verdict.REDIRECTED
    assert verdict_for_status(499) is Verdict.CLIENT_ERROR
    assert verdict_for_status(599) is Verdict.SERVER_ERROR
    assert GONE_VERDICTS == {Verdict.GONE, Verdict.DNS_GONE}


async def test_unknown_path_is_gone_and_route_changes_at_run_time(
    checker: Checker, hosting: HostingServer
) -> None:
    assert (await checker.check(hosting.url("/nothing-here"))).verdict is Verdict.GONE
    hosting.route("/img/1.jpg", status=200)
    assert (await checker.check(hosting.url("/img/1.jpg"))).verdict is Verdict.ONLINE
    hosting.route("/img/1.jpg", status=404)  # the host removed it
    assert (await checker.check(hosting.url("/img/1.jpg"))).verdict is Verdict.GONE


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_is_recorded_never_followed(
    checker: Checker, hosting: HostingServer, status: int
) -> None:
    target = hosting.url("/moved/1.jpg")
    hosting.route("/img/1.jpg", status=status, headers={"Location": target})
    hosting.route("/moved/1.jpg", status=200)
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert result.verdict is Verdict.REDIRECTED
    assert result.status_code == status
    assert result.location == target
    await hosting.settle()
    assert hosting.paths_requested() == ["/img/1.jpg"]  # the target was never asked for


async def test_relative_location_is_recorded_as_sent(
    checker: Checker, hosting: HostingServer
) -> None:
    hosting.route("/a", status=302, headers={"Location": "../b?x=1"})
    result = await checker.check(hosting.url("/a"))
    assert (result.verdict, result.location) == (Verdict.REDIRECTED, "../b?x=1")


async def test_refused_port_is_unreachable(checker: Checker) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.2", 0))
        port = sock.getsockname()[1]
    result = await checker.check(f"http://127.0.0.2:{port}/img/1.jpg")
    assert result.verdict is Verdict.UNREACHABLE
    assert result.status_code is None and result.method is None
    assert result.error and "connect" in result.error


async def test_server_that_never_answers_times_out(
    make_checker: MakeChecker, hosting: HostingServer
) -> None:
    hosting.route("/img/1.jpg", hang=True)
    checker = make_checker(timeout=0.5)
    started = time.monotonic()
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert time.monotonic() - started < 3
    assert (result.verdict, result.error) == (Verdict.UNREACHABLE, "timeout")
    await hosting.settle()
    assert hosting.closed_early == [True]


async def test_name_resolving_to_server(
    checker: Checker, hosting: HostingServer, zone: Zone
) -> None:
    zone.add("www.hosting.example", "CNAME", "edge.hosting.example")
    zone.add("edge.hosting.example", "A", "127.0.0.2")
    hosting.route("/img/1.jpg", status=200)
    result = await checker.check(hosting.url("/img/1.jpg", host="www.hosting.example"))
    assert (result.verdict, result.peer_ip) == (Verdict.ONLINE, "127.0.0.2")
    assert hosting.requests[0].headers["host"] == f"www.hosting.example:{hosting.port}"


async def test_nxdomain_is_dns_gone(checker: Checker, hosting: HostingServer) -> None:
    result = await checker.check(hosting.url("/img/1.jpg", host="gone.hosting.example"))
    assert result.verdict is Verdict.DNS_GONE
    assert result.error and "NXDOMAIN" in result.error
    assert result.verdict in GONE_VERDICTS
    assert hosting.requests == []


async def test_name_without_addresses_is_dns_gone(checker: Checker, zone: Zone) -> None:
    zone.add("mail-only.example", "MX", "10 mx.example.net")
    result = await checker.check("http://mail-only.example/img/1.jpg")
    assert result.verdict is Verdict.DNS_GONE
    assert result.error and "no address" in result.error


async def test_servfail_is_unreachable(checker: Checker, zone: Zone) -> None:
    zone.servfail.add("broken.example")
    result = await checker.check("http://broken.example/img/1.jpg")
    assert result.verdict is Verdict.UNREACHABLE
    assert result.error and "failure" in result.error


async def test_dns_timeout_is_unreachable(checker: Checker, zone: Zone) -> None:
    zone.silent.add("silent.example")
    result = await checker.check("http://silent.example/img/1.jpg")
    assert result.verdict is Verdict.UNREACHABLE
    assert result.error and "timeout" in result.error


@pytest.mark.parametrize("url", ["ftp://files.example/a.jpg", "not a url", "http:///a.jpg", ""])
async def test_not_an_http_url_is_refused(checker: Checker, url: str) -> None:
    result = await checker.check(url)
    assert result.verdict is Verdict.REFUSED
    assert result.error and result.error.startswith("invalid URL")


async def test_checks_run_concurrently_on_one_checker(
    checker: Checker, hosting: HostingServer, hosting3: HostingServer
) -> None:
    for n in range(5):
        hosting.route(f"/img/{n}.jpg", status=200)
        hosting3.route(f"/img/{n}.jpg", status=410)
    results = await asyncio.gather(
        *(checker.check(s.url(f"/img/{n}.jpg")) for s in (hosting, hosting3) for n in range(5))
    )
    assert [r.verdict for r in results] == [Verdict.ONLINE] * 5 + [Verdict.GONE] * 5
    assert {r.peer_ip for r in results[:5]} == {"127.0.0.2"}
    assert {r.peer_ip for r in results[5:]} == {"127.0.0.3"}
