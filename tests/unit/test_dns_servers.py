"""NTTD_DNS_SERVERS: one parser (resolvers.dns.parse_nameservers) for settings and resolver."""

from __future__ import annotations

import re
from pathlib import Path

import dns.nameserver
import pytest

from nttd.cli import main
from nttd.settings import Settings, SettingsError
from resolvers.dns import Nameserver, make_resolver, parse_nameservers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("   ", ()),
        ("127.0.0.1", (Nameserver("127.0.0.1", 53),)),
        ("127.0.0.1:5353", (Nameserver("127.0.0.1", 5353),)),
        ("::1", (Nameserver("::1", 53),)),
        ("[::1]", (Nameserver("::1", 53),)),
        ("[::1]:5353", (Nameserver("::1", 5353),)),
        ("2001:db8::53", (Nameserver("2001:db8::53", 53),)),
        (" 127.0.0.1:1 , [::1]:65535 ,::1",
         (Nameserver("127.0.0.1", 1), Nameserver("::1", 65535), Nameserver("::1", 53))),
        ("[2001:DB8:0::1]:53", (Nameserver("2001:db8::1", 53),)),
    ],
)
def test_good_lists(text: str, expected: tuple[Nameserver, ...]) -> None:
    assert parse_nameservers(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dns.example", "bad DNS server 'dns.example': not an IP address"),
        ("127.0.0.256", "not an IP address"),
        ("[::1]:99999", "bad DNS server '[::1]:99999': the port must be 1-65535"),
        ("[::1]:0", "the port must be 1-65535"),
        ("127.0.0.1:0", "the port must be 1-65535"),
        ("127.0.0.1:65536", "the port must be 1-65535"),
        ("127.0.0.1:", "the port must be 1-65535"),
        ("127.0.0.1:+53", "the port must be 1-65535"),
        ("127.0.0.1:\u0665\u0663", "the port must be 1-65535"),  # Arabic-Indic digits
        ("[::1]:", "the port must be 1-65535"),
        ("[::1", "use [v6]:port"),
        ("[::1]53", "use [v6]:port"),
        ("[127.0.0.1]:53", "brackets are for IPv6 addresses only"),
        ("127.0.0.1,,::1", "item 2 of '127.0.0.1,,::1' is empty"),
        ("127.0.0.1,", "item 2 of '127.0.0.1,' is empty"),
        (",127.0.0.1", "item 1 of ',127.0.0.1' is empty"),
    ],
)
def test_bad_lists_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_nameservers(text)


def test_a_nameserver_prints_as_it_is_written() -> None:
    assert str(Nameserver("::1", 5353)) == "[::1]:5353"
    assert str(Nameserver("127.0.0.1")) == "127.0.0.1:53"


def test_settings_and_resolver_read_the_same_list() -> None:
    text = "127.0.0.1:5353, [::1]:5454"
    settings = Settings.load({"NTTD_DNS_SERVERS": text})
    assert settings.dns_servers == ("127.0.0.1:5353", "[::1]:5454")
    resolver = make_resolver(list(settings.dns_servers))
    servers = resolver.nameservers
    assert all(isinstance(s, dns.nameserver.Do53Nameserver) for s in servers)
    assert [(s.address, s.port) for s in servers] == [  # type: ignore[union-attr]
        (ns.address, ns.port) for ns in parse_nameservers(text)]
    by_tuple = make_resolver(parse_nameservers(text))
    assert [(s.address, s.port) for s in by_tuple.nameservers] == [  # type: ignore[union-attr]
        ("127.0.0.1", 5353), ("::1", 5454)]


@pytest.mark.parametrize("value", ["[::1]:99999", "127.0.0.1,,::1", "[::1"])
def test_settings_reject_what_the_resolver_would_reject(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^NTTD_DNS_SERVERS: invalid value"):
        Settings.load({"NTTD_DNS_SERVERS": value})


def test_serve_with_a_bad_port_prints_one_line_and_exits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("NTTD_CONFIG", "NTTD_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NTTD_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'nttd.db'}")
    monkeypatch.setenv("NTTD_DNS_SERVERS", "[::1]:99999")
    code = main(["serve", "--port", "0"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == ("nttd: error: NTTD_DNS_SERVERS: invalid value '[::1]:99999': "
                   "bad DNS server '[::1]:99999': the port must be 1-65535\n")
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing was started or created
