"""Redirects: away (another host, or the site's front page) versus moved on the same
host. Either way the Location is recorded and never followed."""

from __future__ import annotations

import pytest
from yarl import URL

from nttd.checks.probe import Checker, Verdict, redirect_verdict
from nttd.demo.standins.hosting import HostingServer

SOURCE = URL("http://files.example.com/img/1.jpg")


@pytest.mark.parametrize(
    ("location", "verdict"),
    [
        ("http://other.example.net/img/1.jpg", Verdict.REDIRECTED_AWAY),  # another host
        ("https://files.example.com/", Verdict.REDIRECTED_AWAY),  # the front page
        ("/", Verdict.REDIRECTED_AWAY),
        ("/?removed=1", Verdict.REDIRECTED_AWAY),
        ("https://www.files.example.com", Verdict.REDIRECTED_AWAY),  # www. is the same site
        ("https://www.files.example.com/img/1.jpg", Verdict.REDIRECTED),  # http -> https
        ("/img/2.jpg", Verdict.REDIRECTED),  # moved on the same host
        ("../b?x=1", Verdict.REDIRECTED),
        ("", Verdict.REDIRECTED),  # no usable Location: cannot tell
        (None, Verdict.REDIRECTED),
        ("http://[not-an-address/", Verdict.REDIRECTED),
    ],
)
def test_redirect_kinds(location: str | None, verdict: Verdict) -> None:
    assert redirect_verdict(SOURCE, location) is verdict


async def test_redirect_to_another_host_is_away_and_not_followed(
    checker: Checker, hosting: HostingServer, hosting3: HostingServer
) -> None:
    target = hosting3.url("/landing")
    hosting.route("/img/1.jpg", status=301, headers={"Location": target})
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert (result.verdict, result.status_code, result.location) == (
        Verdict.REDIRECTED_AWAY, 301, target)
    assert result.peer_ip == "127.0.0.2"
    assert hosting3.requests == []


async def test_redirect_to_front_page_is_away(checker: Checker, hosting: HostingServer) -> None:
    hosting.route("/img/1.jpg", status=302, headers={"Location": "/"})
    result = await checker.check(hosting.url("/img/1.jpg"))
    assert (result.verdict, result.location) == (Verdict.REDIRECTED_AWAY, "/")
    await hosting.settle()
    assert hosting.paths_requested() == ["/img/1.jpg"]
