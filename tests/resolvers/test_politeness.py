"""RDAP politeness and hostile answers: limits, retries, Retry-After, caps, odd shapes."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from nttd.demo.standins.rdap_server import RdapServer
from resolvers.errors import LookupRejected, LookupUnavailable
from resolvers.rdap import Bootstrap, rdap_domain, rdap_ip
from resolvers.rdap_client import RdapClient, RdapLimits, parse_retry_after

FAST = RdapLimits(backoff=0.01, timeout=2.0)


class Sleeps:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_parse_retry_after() -> None:
    now = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True),
                             now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


async def test_per_server_concurrency_limit(rdap: RdapServer, http: aiohttp.ClientSession,
                                            bootstrap: Bootstrap) -> None:
    rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
    for n in range(8):
        rdap.delays[f"/ip/127.0.0.{n}"] = 0.05
    client = RdapClient(http, RdapLimits(per_server=2))
    got = await asyncio.gather(*(rdap_ip(f"127.0.0.{n}", http, bootstrap, client=client)
                                 for n in range(8)))
    assert all(r.error is None for r in got)
    assert rdap.max_in_flight == 2


async def test_429_with_retry_after_is_honoured_once(rdap: RdapServer, http: aiohttp.ClientSession,
                                                     bootstrap: Bootstrap) -> None:
    rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
    rdap.once["/ip/127.0.0.2"] = (429, b"", {"Retry-After": "120"})
    sleeps = Sleeps()
    client = RdapClient(http, RdapLimits(max_retry_after=30), sleep=sleeps)
    got = await rdap_ip("127.0.0.2", http, bootstrap, client=client)
    assert got.error is None and got.abuse_emails == ("abuse@hoster.example",)
    assert sleeps.waits == [30]  # capped
    assert rdap.requests["/ip/127.0.0.2"] == 2


async def test_429_without_retry_after_ends_as_retry_later(
    rdap: RdapServer, http: aiohttp.ClientSession, bootstrap: Bootstrap
) -> None:
    sleeps = Sleeps()
    rdap.faults["/ip/127.0.0.3"] = (429, b"")
    client = RdapClient(http, RdapLimits(retries=1, backoff=0.1), sleep=sleeps)
    got = await rdap_ip("127.0.0.3", http, bootstrap, client=client)
    assert got.error is not None and "429" in got.error and got.retryable is True
    assert sleeps.waits == [0.1] and rdap.requests["/ip/127.0.0.3"] == 2


async def test_5xx_is_retried_with_backoff(rdap: RdapServer, http: aiohttp.ClientSession,
                                           bootstrap: Bootstrap) -> None:
    rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
    rdap.once["/ip/127.0.0.2"] = (503, b"busy", {})
    sleeps = Sleeps()
    client = RdapClient(http, RdapLimits(retries=2, backoff=0.5), sleep=sleeps)
    got = await rdap_ip("127.0.0.2", http, bootstrap, client=client)
    assert got.error is None and sleeps.waits == [0.5]
    rdap.faults["/ip/127.0.0.9"] = (500, b"")
    failed = await rdap_ip("127.0.0.9", http, bootstrap, client=client)
    assert failed.retryable is True and rdap.requests["/ip/127.0.0.9"] == 3
    assert sleeps.waits == [0.5, 0.5, 1.0]


async def test_slow_loris_server_ends_as_a_timeout(rdap: RdapServer, http: aiohttp.ClientSession,
                                                   bootstrap: Bootstrap) -> None:
    rdap.trickle["/ip/127.0.0.2"] = 0.05
    client = RdapClient(http, RdapLimits(timeout=0.3, retries=0))
    started = time.monotonic()
    got = await rdap_ip("127.0.0.2", http, bootstrap, client=client)
    assert time.monotonic() - started < 2
    assert got.error is not None and "timed out" in got.error and got.retryable is True


async def test_fifty_megabyte_body_is_refused_at_the_cap(rdap: RdapServer,
                                                         http: aiohttp.ClientSession) -> None:
    rdap.faults["/huge"] = (200, b"[" + b"0," * (25 * 1024 * 1024) + b"0]")
    client = RdapClient(http, FAST)
    with pytest.raises(LookupRejected, match="cap"):
        await client.fetch_json(rdap.base_url + "huge")


@pytest.mark.parametrize("body", [b"\xff\xfe garbage", b"{\"a\": ", b"[" * 100_000 + b"]" * 100_000,
                                  b"null", b"\"just a string\""])
async def test_garbage_json_is_a_recorded_error(rdap: RdapServer, http: aiohttp.ClientSession,
                                                bootstrap: Bootstrap, body: bytes) -> None:
    rdap.faults["/ip/127.0.0.2"] = (200, body)
    got = await rdap_ip("127.0.0.2", http, bootstrap, client=RdapClient(http, FAST))
    assert got.error is not None and got.retryable is True and got.abuse_emails == ()


async def test_not_json_raises_unavailable_inside(rdap: RdapServer,
                                                  http: aiohttp.ClientSession) -> None:
    rdap.faults["/x"] = (200, b"<html>")
    with pytest.raises(LookupUnavailable):
        await RdapClient(http, FAST).fetch_json(rdap.base_url + "x")


ODD_ENTITIES = [
    "not a list",
    [None, 3, "x"],
    [{"roles": "abuse", "vcardArray": "nope"}],
    [{"roles": ["abuse"], "vcardArray": ["vcard"]}],
    [{"roles": ["abuse"], "vcardArray": ["vcard", "props"]}],
    [{"roles": ["abuse"], "vcardArray": ["vcard", [["email"], ["email", {}, "text"], 5,
                                                   ["email", {}, "text", {"x": 1}],
                                                   ["email", {}, "text", "not-an-address"]]]}],
    [{"roles": ["abuse"], "entities": {"oops": 1},
      "vcardArray": ["vcard", [["email", {}, "text", ["", "abuse@odd.example"]]]]}],
]


@pytest.mark.parametrize("entities", ODD_ENTITIES)
async def test_odd_vcards_never_crash(rdap: RdapServer, http: aiohttp.ClientSession,
                                      bootstrap: Bootstrap, entities: object) -> None:
    doc = {"objectClassName": "ip network", "handle": 12, "country": ["NL"],
           "startAddress": "bogus", "entities": entities, "links": "nope"}
    rdap.faults["/ip/127.0.0.2"] = (200, json.dumps(doc).encode())
    got = await rdap_ip("127.0.0.2", http, bootstrap, client=RdapClient(http, FAST))
    assert got.error is None and got.country is None and got.start is None
    assert got.abuse_emails in ((), ("abuse@odd.example",))
    domain = {"objectClassName": "domain", "entities": entities, "links": [1, {"rel": "related"}]}
    rdap.faults["/domain/odd.com"] = (200, json.dumps(domain).encode())
    registrar = await rdap_domain("odd.com", http, bootstrap, client=RdapClient(http, FAST))
    assert registrar.error is None
