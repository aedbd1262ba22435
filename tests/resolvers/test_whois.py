"""Port-43 WHOIS fallback: recorded answer shapes through a real loopback WHOIS server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import dns.asyncresolver
import pytest

from nttd.demo.standins.dns_server import DnsServer, Zone, add_cymru
from nttd.demo.standins.rdap_server import RdapServer
from nttd.demo.standins.whois_server import WhoisServer
from resolvers.bootstrap import Bootstrap
from resolvers.cache import MemoryFactCache
from resolvers.rdap import Registrar
from resolvers.resolve import Provenance, ResolverContext, resolve_url
from resolvers.whois import WhoisConfig, WhoisRuntime, parse_whois_servers, whois_domain
from tests.cli import nttd

FIXTURES = Path(__file__).parent / "fixtures" / "whois"
NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text(encoding="utf-8")


def without_registrar_lines(text: str) -> str:
    """A thin registry answer that only names the registrar's server."""
    return "\n".join(line for line in text.splitlines()
                     if not line.strip().startswith(("Registrar:", "Registrar IANA",
                                                     "Registrar Abuse")))


@pytest.fixture(scope="module")
def runtime() -> Iterator[WhoisRuntime]:
    """One thread pool and parser process for the module (the parser takes ~1 s to start)."""
    shared = WhoisRuntime()
    yield shared
    shared.close()


@pytest.fixture
def make_config(runtime: WhoisRuntime) -> Callable[..., WhoisConfig]:
    def make(**kwargs: Any) -> WhoisConfig:
        kwargs.setdefault("timeout", 2.0)
        return WhoisConfig(runtime=runtime, **kwargs)
    return make


@pytest.fixture
async def whois() -> AsyncIterator[WhoisServer]:
    async with WhoisServer() as server:
        yield server


@pytest.fixture
async def registrar_whois() -> AsyncIterator[WhoisServer]:
    async with WhoisServer() as server:
        yield server


class Ticker:
    """When a 10 ms sleeper on the event loop woke up: a blocked loop shows a long gap."""

    def __init__(self) -> None:
        self.times = [time.monotonic()]

    @property
    def longest_gap(self) -> float:
        return max(b - a for a, b in zip(self.times, self.times[1:], strict=False))


@contextlib.asynccontextmanager
async def ticking(interval: float = 0.01) -> AsyncIterator[Ticker]:
    ticker = Ticker()

    async def tick() -> None:
        while True:
            await asyncio.sleep(interval)
            ticker.times.append(time.monotonic())
    task = asyncio.create_task(tick())
    try:
        yield ticker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        ticker.times.append(time.monotonic())


# ---- recorded shapes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tld", "name", "expected"),
    [
        ("be", "be", Registrar("Example Registrar BV", None, (), None, None, None)),
        ("ee", "ee", Registrar("Example Registrar OÜ", None, (), "+1 555 555 0100", None, None)),
        ("ws", "icann_registrar",
         Registrar("Example Registrar, Inc.", "9999", ("abuse-desk@example.net",),
                   "+1.5555550100", None, None)),
    ],
)
async def test_recorded_answer_shapes_are_read(
    whois: WhoisServer, make_config: Callable[..., WhoisConfig], tld: str, name: str,
    expected: Registrar,
) -> None:
    whois.answers[f"example.{tld}"] = fixture(name)
    got = await whois_domain(f"Example.{tld.upper()}.", make_config(servers={tld: whois.address}))
    assert got == Registrar(expected.name, expected.iana_id, expected.abuse_emails,
                            expected.abuse_phone, f"whois://127.0.0.1:{whois.port}", None)
    assert whois.queries == {f"example.{tld}": 1}


def test_the_chosen_cctlds_truly_have_no_rdap_and_a_whois_server() -> None:
    from resolvers.whois import _library_server

    bundled = Bootstrap.load()
    for tld in ("be", "ee"):
        assert bundled.domain_servers(f"example.{tld}") == []
        assert _library_server(tld) is not None


# ---- referral -----------------------------------------------------------------------


async def test_thin_registry_refers_once_to_the_registrar(
    whois: WhoisServer, registrar_whois: WhoisServer, make_config: Callable[..., WhoisConfig],
) -> None:
    async with WhoisServer() as third:
        whois.answers["example.ws"] = fixture("thin_registry")
        registrar_whois.answers["example.ws"] = fixture("icann_registrar").replace(
            "Registrar WHOIS Server: whois.registrar.example",
            "Registrar WHOIS Server: whois.third.example")
        config = make_config(servers={"ws": whois.address,
                                      "whois.registrar.example": registrar_whois.address,
                                      "whois.third.example": third.address})
        got = await whois_domain("example.ws", config)
        assert third.queries == {}  # a second hop is never taken
    # The registrar's own abuse desk wins over the registry's copy.
    assert got == Registrar("Example Registrar, Inc.", "9999", ("abuse-desk@example.net",),
                            "+1.5555550100",
                            f"whois://whois.registrar.example:{registrar_whois.port}", None)
    assert whois.queries == {"example.ws": 1}
    assert registrar_whois.queries == {"example.ws": 1}


async def test_registry_facts_stand_when_the_registrar_does_not_answer(
    whois: WhoisServer, registrar_whois: WhoisServer, make_config: Callable[..., WhoisConfig],
) -> None:
    whois.answers["example.ws"] = fixture("thin_registry")
    registrar_whois.mode = "close"
    config = make_config(servers={"ws": whois.address,
                                  "whois.registrar.example": registrar_whois.address})
    got = await whois_domain("example.ws", config)
    assert got == Registrar("Example Registrar, Inc.", "9999", ("abuse@example.net",),
                            "+1-555-555-0100", f"whois://127.0.0.1:{whois.port}", None)
    assert registrar_whois.queries == {"example.ws": 1}


async def test_a_registry_that_only_refers_fails_as_its_registrar_does(
    whois: WhoisServer, registrar_whois: WhoisServer, make_config: Callable[..., WhoisConfig],
) -> None:
    whois.answers["example.ws"] = without_registrar_lines(fixture("thin_registry"))
    registrar_whois.mode = "close"
    config = make_config(servers={"ws": whois.address,
                                  "whois.registrar.example": registrar_whois.address})
    got = await whois_domain("example.ws", config)
    assert got.error == (f"whois: whois://whois.registrar.example:{registrar_whois.port}: "
                         "closed the connection without answering")
    assert got.retryable is True


@pytest.mark.parametrize("named", ["https://whois.registrar.example/",
                                   "whois.registrar.example:4343", "-bad-.example", ""])
async def test_a_referral_that_is_not_a_host_name_is_not_followed(
    whois: WhoisServer, registrar_whois: WhoisServer, make_config: Callable[..., WhoisConfig],
    named: str,
) -> None:
    whois.answers["example.ws"] = without_registrar_lines(fixture("thin_registry")).replace(
        "whois.registrar.example", named)
    config = make_config(servers={"ws": whois.address,
                                  "whois.registrar.example": registrar_whois.address})
    got = await whois_domain("example.ws", config)
    assert got.error == f"whois: the answer from whois://127.0.0.1:{whois.port} names no registrar"
    assert got.retryable is False
    assert registrar_whois.queries == {}


async def test_a_referral_to_a_private_address_is_refused_unless_allowed(
    whois: WhoisServer, registrar_whois: WhoisServer, make_config: Callable[..., WhoisConfig],
) -> None:
    whois.answers["example.ws"] = without_registrar_lines(fixture("thin_registry")).replace(
        "whois.registrar.example", "127.0.0.1")
    registrar_whois.answers["example.ws"] = fixture("icann_registrar")
    servers = {"ws": whois.address}
    refused = await whois_domain("example.ws", make_config(servers=servers,
                                                           port=registrar_whois.port))
    assert refused.error == ("whois: referral to 127.0.0.1 refused: not a public address "
                             "(127.0.0.1 is a loopback address)")
    assert refused.retryable is False
    assert registrar_whois.queries == {}
    allowed = await whois_domain("example.ws", make_config(servers=servers, allow_private=True,
                                                           port=registrar_whois.port))
    assert allowed.error is None and allowed.abuse_emails == ("abuse-desk@example.net",)
    assert allowed.rdap_url == f"whois://127.0.0.1:{registrar_whois.port}"


# ---- failures -----------------------------------------------------------------------


async def test_no_match_is_a_fact(whois: WhoisServer,
                                  make_config: Callable[..., WhoisConfig]) -> None:
    got = await whois_domain("nothing.be", make_config(servers={"be": whois.address}))
    assert got == Registrar(None, None, (), None, None,
                            f"whois: nothing.be not found at whois://127.0.0.1:{whois.port}",
                            retryable=False)


async def test_no_server_for_the_tld_and_bad_names_are_facts(
    make_config: Callable[..., WhoisConfig],
) -> None:
    config = make_config()
    got = await whois_domain("example.al", config)  # the table knows .al has no WHOIS
    assert (got.error, got.retryable) == (
        "whois: no WHOIS server known for the TLD of example.al", False)
    for bad in ("example.be\r\nexample.com", "bad name.be", "127.0.0.1", "nodot"):
        got = await whois_domain(bad, config)
        assert got.error == f"whois: {bad!r} is not a domain name" and not got.retryable


async def test_slow_loris_times_out_and_the_loop_keeps_running(
    whois: WhoisServer, make_config: Callable[..., WhoisConfig],
) -> None:
    whois.mode = "slow"
    config = make_config(servers={"be": whois.address}, timeout=0.5)
    async with ticking() as ticks:
        started = time.monotonic()
        got = await whois_domain("example.be", config)
        elapsed = time.monotonic() - started
    assert got.error == (f"whois: whois://127.0.0.1:{whois.port}: "
                         "no complete answer within 0.5s")
    assert got.retryable is True
    assert 0.45 <= elapsed < 3
    # The socket wait ran off the event loop: it kept waking every ~10 ms meanwhile.
    assert len(ticks.times) >= 10 and ticks.longest_gap < 0.25


async def test_a_hostile_answer_cannot_stall_the_loop_through_the_parser(
    whois: WhoisServer, make_config: Callable[..., WhoisConfig],
) -> None:
    # Quadratic for asyncwhois's .it parser: minutes of regex holding the GIL in-process.
    whois.answers["example.it"] = "Registrar" * 25_000
    whois.answers["example.be"] = fixture("be")
    config = make_config(servers={"it": whois.address, "be": whois.address},
                         parse_timeout=0.5)
    async with ticking() as ticks:
        started = time.monotonic()
        got = await whois_domain("example.it", config)
        elapsed = time.monotonic() - started
    assert got.error == (f"whois: whois://127.0.0.1:{whois.port}: the answer could not be "
                         "read within 0.5s (malformed or hostile)")
    assert got.retryable is False
    assert elapsed < 3
    assert len(ticks.times) >= 10 and ticks.longest_gap < 0.25
    after = await whois_domain("example.be", config)  # a fresh parser process takes over
    assert after.error is None and after.name == "Example Registrar BV"


async def test_an_answer_over_the_size_cap_is_an_error(
    whois: WhoisServer, make_config: Callable[..., WhoisConfig],
) -> None:
    whois.mode = "huge"
    got = await whois_domain("example.be", make_config(servers={"be": whois.address}))
    assert got.error == (f"whois: whois://127.0.0.1:{whois.port}: answer too large "
                         "(more than 262144 bytes)")
    assert got.retryable is False
    small = await whois_domain("example.be", make_config(servers={"be": whois.address},
                                                         max_bytes=1000))
    assert small.error is not None and "more than 1000 bytes" in small.error


@pytest.mark.parametrize(
    ("mode", "answer", "error", "retryable"),
    [
        ("close", None, "closed the connection without answering", True),
        ("garbage", None, "names no registrar", False),
        ("normal", "% Query rate limit exceeded. Try again later.\n", "query limit exceeded",
         True),
        ("normal", "Domain: example.be\nStatus: AVAILABLE\n", "names no registrar", False),
    ],
)
async def test_unusable_answers(
    whois: WhoisServer, make_config: Callable[..., WhoisConfig], mode: str, answer: str | None,
    error: str, retryable: bool,
) -> None:
    whois.mode = mode
    if answer is not None:
        whois.answers["example.be"] = answer
    got = await whois_domain("example.be", make_config(servers={"be": whois.address}))
    assert got.error is not None and error in got.error, got.error
    assert got.retryable is retryable
    assert (got.name, got.abuse_emails) == (None, ())


async def test_connection_refused_is_retryable(make_config: Callable[..., WhoisConfig]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        got = await whois_domain("example.be", make_config(servers={"be": f"127.0.0.1:{port}"}))
    assert got.error == f"whois: whois://127.0.0.1:{port}: connection refused"
    assert got.retryable is True


def test_server_overrides_are_validated() -> None:
    text = " BE=127.0.0.1:4343, whois.registrar.example=[::1]:43,ee=host.test"
    assert parse_whois_servers(text) == {
        "be": "127.0.0.1:4343", "whois.registrar.example": "[::1]:43", "ee": "host.test"}
    for bad in ("be", "be=", "be=http://whois.example/", "be=127.0.0.1:99999", "b e=x.example",
                "be=[::1", "be=user@host.example"):
        with pytest.raises(ValueError):
            parse_whois_servers(bad)
    with pytest.raises(ValueError):
        WhoisConfig(servers={"be": "http://x.example/"})


# ---- wired into the resolution ------------------------------------------------------


@pytest.fixture
def world(zone: Zone, rdap: RdapServer) -> Zone:
    zone.add("www.example.be", "A", "127.0.0.2")
    zone.add("www.example.com", "A", "127.0.0.2")
    add_cymru(zone, "127.0.0.2", 64500, "127.0.0.0/24", "BE", "HOSTER-AS")
    rdap.add_ip_network("127.0.0.0/24", "BE", "abuse@hoster.example", "HOSTER-NET")
    rdap.add_domain("example.com", "Registrar Example", "9999", "abuse@registrar.example")
    return zone


def context(resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
            bootstrap: Bootstrap, whois: WhoisConfig | None) -> ResolverContext:
    return ResolverContext(dns=resolver, http=http, bootstrap=bootstrap, allow_private=True,
                           clock=lambda: NOW, cache=MemoryFactCache(), whois=whois)


async def test_resolution_asks_whois_only_where_the_tld_has_no_rdap(
    world: Zone, resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
    bootstrap: Bootstrap, whois: WhoisServer, make_config: Callable[..., WhoisConfig],
) -> None:
    whois.answers["example.be"] = fixture("be")
    whois.answers["example.com"] = fixture("icann_registrar")  # must never be asked
    ctx = context(resolver, http, bootstrap,
                  make_config(servers={"be": whois.address, "com": whois.address}))
    assert bootstrap.domain_servers("example.be") == []  # the stand-in bootstrap: com/net/org
    be = await resolve_url("http://www.example.be/a.jpg", ctx)
    assert be.errors == () and be.retryable is False
    assert be.registrar is not None and be.registrar.name == "Example Registrar BV"
    assert be.source_of("registrar") == Provenance(
        "registrar", "whois", NOW, f"whois://127.0.0.1:{whois.port}")
    com = await resolve_url("http://www.example.com/a.jpg", ctx)
    assert com.registrar is not None and com.registrar.name == "Registrar Example"
    source = com.source_of("registrar")
    assert source is not None and source.source == "rdap"
    assert whois.queries == {"example.be": 1}
    again = await resolve_url("http://www.example.be/b.jpg", ctx)  # cached as whois-domain
    assert again.registrar == be.registrar and again.source_of("registrar") == \
        be.source_of("registrar")
    assert whois.queries == {"example.be": 1}
    assert ctx.cache is not None and await ctx.cache.get("whois-domain", "example.be")


async def test_whois_failures_reach_the_resolution(
    world: Zone, resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
    bootstrap: Bootstrap, whois: WhoisServer, make_config: Callable[..., WhoisConfig],
) -> None:
    whois.mode = "close"
    ctx = context(resolver, http, bootstrap, make_config(servers={"be": whois.address}))
    got = await resolve_url("http://www.example.be/a.jpg", ctx)
    assert got.registrar is None and got.retryable is True
    assert got.errors == (f"whois: whois://127.0.0.1:{whois.port}: closed the connection "
                          "without answering",)
    assert ctx.cache is not None and await ctx.cache.get("whois-domain", "example.be") is None


@pytest.mark.parametrize("enabled", [None, False])
async def test_without_the_fallback_the_rdap_error_stays(
    world: Zone, resolver: dns.asyncresolver.Resolver, http: aiohttp.ClientSession,
    bootstrap: Bootstrap, whois: WhoisServer, make_config: Callable[..., WhoisConfig],
    enabled: bool | None,
) -> None:
    whois.answers["example.be"] = fixture("be")
    config = None if enabled is None else make_config(servers={"be": whois.address},
                                                      enabled=enabled)
    got = await resolve_url("http://www.example.be/a.jpg", context(resolver, http, bootstrap,
                                                                   config))
    assert got.registrar is None
    assert got.errors == ("no RDAP server for the TLD of example.be in the bootstrap",)
    assert got.source_of("registrar") is None
    assert whois.queries == {}


async def test_nttd_resolve_json_end_to_end(tmp_path: Path, world: Zone, dns_server: DnsServer,
                                            rdap: RdapServer, whois: WhoisServer) -> None:
    whois.answers["example.be"] = fixture("be")
    env = {"NTTD_DNS_SERVERS": dns_server.address,
           "NTTD_RDAP_BOOTSTRAP": str(rdap.write_bootstrap(tmp_path / "bootstrap")),
           "NTTD_ALLOW_PRIVATE_TARGETS": "1",
           "NTTD_WHOIS_SERVERS": f"be={whois.address}", "NTTD_WHOIS_TIMEOUT": "5s"}
    code, out, err = await nttd("resolve", "http://www.example.be/a.jpg", "--json", env=env,
                                cwd=tmp_path)
    assert code == 0, err
    data = json.loads(out)
    assert data["registrar"] == {"name": "Example Registrar BV", "iana_id": None,
                                 "abuse_emails": [], "abuse_phone": None,
                                 "rdap_url": f"whois://127.0.0.1:{whois.port}"}
    assert data["provenance"]["registrar"]["source"] == "whois"
    assert data["provenance"]["registrar"]["detail"] == f"whois://127.0.0.1:{whois.port}"
    assert data["errors"] == [] and whois.queries == {"example.be": 1}
