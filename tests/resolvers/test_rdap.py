from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from nttd.demo.standins.rdap_server import RdapServer
from resolvers.errors import BootstrapError
from resolvers.rdap import MAX_BODY, Bootstrap, rdap_domain, rdap_ip


def _doc(services: list[Any]) -> dict[str, Any]:
    return {"description": "test", "publication": "2024-01-01T00:00:00Z", "services": services,
            "version": "1.0"}


def _write(directory: Path, **docs: dict[str, Any]) -> Path:
    directory.mkdir()
    for name in ("dns", "ipv4", "ipv6", "asn"):
        doc = docs.get(name, _doc([]))
        (directory / f"{name}.json").write_text(json.dumps(doc))
    return directory


def test_bootstrap_longest_match(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "b",
        ipv4=_doc([[["8"], ["https://wide.example/rdap"]],
                   [["192.0.2.0/24", "198.51.100.0/24"], ["http://narrow.example/",
                                                          "https://narrow.example/"]],
                   [["192.0.0.0/8"], ["https://rir.example/"]]]),
        ipv6=_doc([[["2001:db8::/32"], ["https://v6.example/"]],
                   [["2001:db8:1::/48"], ["https://v6-narrow.example/"]]]),
        dns=_doc([[["com", "net"], ["https://com.example/"]],
                  [["co.uk"], ["https://couk.example/"]], [["uk"], ["https://uk.example/"]]]),
        asn=_doc([[["64496-64511", "65536"], ["https://asn.example/"]]]),
    )
    boot = Bootstrap.load(folder)
    assert boot.ip_servers("8.8.8.8") == ["https://wide.example/rdap/"]
    assert boot.ip_servers("192.0.2.7") == ["https://narrow.example/", "http://narrow.example/"]
    assert boot.ip_servers("192.0.3.1") == ["https://rir.example/"]
    assert boot.ip_servers("2001:db8:1::5") == ["https://v6-narrow.example/"]
    assert boot.ip_servers("2001:db8:2::5") == ["https://v6.example/"]
    assert boot.ip_servers("10.0.0.1") == []
    assert boot.ip_servers("not an ip") == []
    assert boot.domain_servers("example.com") == ["https://com.example/"]
    assert boot.domain_servers("example.co.uk") == ["https://couk.example/"]
    assert boot.domain_servers("example.org.uk") == ["https://uk.example/"]
    assert boot.domain_servers("example.org") == []
    assert boot.asn_servers(64500) == ["https://asn.example/"]
    assert boot.asn_servers(65536) == ["https://asn.example/"]
    assert boot.asn_servers(1) == []


def test_bootstrap_errors(tmp_path: Path) -> None:
    with pytest.raises(BootstrapError, match=r"cannot read dns\.json"):
        Bootstrap.load(tmp_path)
    folder = _write(tmp_path / "bad", dns={"no": "services"})
    with pytest.raises(BootstrapError, match="not an RDAP bootstrap file"):
        Bootstrap.load(folder)


async def test_bootstrap_fetch(rdap: RdapServer, http: aiohttp.ClientSession,
                               tmp_path: Path) -> None:
    folder = rdap.write_bootstrap(tmp_path / "boot")
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    for name, body in files.items():
        rdap.faults[f"/bootstrap/{name}"] = (200, body)
    boot = await Bootstrap.fetch(rdap.base_url + "bootstrap", http)
    assert boot.ip_servers("127.0.0.1") == [rdap.base_url]
    rdap.faults["/bootstrap/asn.json"] = (500, b"")
    with pytest.raises(BootstrapError, match=r"asn\.json"):
        await Bootstrap.fetch(rdap.base_url + "bootstrap/", http)


async def test_rdap_ip_ripe_shape(rdap: RdapServer, http: aiohttp.ClientSession,
                                  bootstrap: Bootstrap) -> None:
    rdap.add_ip_network("127.0.0.0/8", "US", "wide@isp.example", "WIDE-NET")
    rdap.add_ip_network("127.0.0.0/24", "nl", "abuse@hoster.example", "HOSTER-NET")
    got = await rdap_ip("127.0.0.2", http, bootstrap)
    assert (got.name, got.country, got.abuse_emails, got.error) == (
        "HOSTER-NET", "NL", ("abuse@hoster.example",), None)
    assert got.handle == "NET-127.0.0.0-24"
    assert rdap.accept_headers[-1].startswith("application/rdap+json")


async def test_rdap_ip_arin_nested_abuse(rdap: RdapServer, http: aiohttp.ClientSession,
                                         bootstrap: Bootstrap) -> None:
    rdap.add_ip_network("127.0.1.0/24", "US", "abuse@isp.example", "ISP-NET", style="arin")
    got = await rdap_ip("127.0.1.9", http, bootstrap)
    assert (got.abuse_emails, got.country, got.error) == (("abuse@isp.example",), "US", None)


async def test_rdap_ip_ipv6(rdap: RdapServer, http: aiohttp.ClientSession,
                            bootstrap: Bootstrap) -> None:
    rdap.add_ip_network("::1/128", "DE", "abuse@v6.example", "V6-NET")
    got = await rdap_ip("::1", http, bootstrap)
    assert got.abuse_emails == ("abuse@v6.example",)


async def test_rdap_ip_no_server_and_not_found_are_facts(
    rdap: RdapServer, http: aiohttp.ClientSession, bootstrap: Bootstrap
) -> None:
    outside = await rdap_ip("192.0.2.1", http, bootstrap)
    assert outside.error is not None and "no RDAP server" in outside.error
    assert outside.retryable is False
    missing = await rdap_ip("127.9.9.9", http, bootstrap)
    assert missing.error is not None and "not found" in missing.error
    assert missing.retryable is False


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (500, b"oops", True),
        (503, b"", True),
        (429, b"", True),
        (200, b"<html>not json</html>", True),
        (200, b"[1, 2]", True),
        (403, b"{}", False),
        (200, b"{" + b" " * (MAX_BODY + 10) + b"}", False),
    ],
)
async def test_rdap_ip_trouble_is_an_error_not_an_exception(
    rdap: RdapServer, http: aiohttp.ClientSession, bootstrap: Bootstrap,
    status: int, body: bytes, retryable: bool,
) -> None:
    rdap.faults["/ip/127.0.0.2"] = (status, body)
    got = await rdap_ip("127.0.0.2", http, bootstrap)
    assert got.error is not None
    assert got.retryable is retryable
    assert got.abuse_emails == ()


async def test_rdap_ip_connection_refused(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    async with RdapServer() as gone:
        boot = Bootstrap.load(gone.write_bootstrap(tmp_path / "b"))
    got = await rdap_ip("127.0.0.2", http, boot)
    assert got.error is not None and got.retryable is True


async def test_rdap_domain_with_related_link(rdap: RdapServer, http: aiohttp.ClientSession,
                                             bootstrap: Bootstrap) -> None:
    registry = rdap.add_domain("example.com", "Registrar Example Ltd", "9999",
                               "abuse@registrar.example")
    # The registry also names a (stale) abuse contact: the registrar's own wins.
    registry["entities"][0]["entities"] = [{
        "roles": ["abuse"],
        "vcardArray": ["vcard", [["email", {}, "text", "old@registry.example"]]],
    }]
    got = await rdap_domain("example.com", http, bootstrap)
    assert (got.name, got.iana_id, got.abuse_emails, got.error) == (
        "Registrar Example Ltd", "9999", ("abuse@registrar.example",), None)
    assert got.abuse_phone == "+1.5550100"
    assert got.rdap_url == f"{rdap.base_url}registrar/domain/example.com"
    assert rdap.requests["/domain/example.com"] == 1
    assert rdap.requests["/registrar/domain/example.com"] == 1


async def test_rdap_domain_thick_registry(rdap: RdapServer, http: aiohttp.ClientSession,
                                          bootstrap: Bootstrap) -> None:
    rdap.add_domain("example.org", "Org Registrar", "1234", "abuse@org-registrar.example",
                    related=False)
    got = await rdap_domain("example.org", http, bootstrap)
    assert (got.name, got.iana_id, got.abuse_emails) == (
        "Org Registrar", "1234", ("abuse@org-registrar.example",))
    assert got.rdap_url == f"{rdap.base_url}domain/example.org"


async def test_rdap_domain_related_failure_keeps_registry_facts(
    rdap: RdapServer, http: aiohttp.ClientSession, bootstrap: Bootstrap
) -> None:
    rdap.add_domain("example.net", "Net Registrar", "4321", "abuse@net-registrar.example")
    rdap.faults["/registrar/domain/example.net"] = (500, b"")
    got = await rdap_domain("example.net", http, bootstrap)
    assert (got.name, got.iana_id, got.error) == ("Net Registrar", "4321", None)


async def test_rdap_domain_failures(rdap: RdapServer, http: aiohttp.ClientSession,
                                    bootstrap: Bootstrap) -> None:
    missing = await rdap_domain("nobody.com", http, bootstrap)
    assert missing.error is not None and "not found" in missing.error
    assert missing.retryable is False
    no_tld = await rdap_domain("example.de", http, bootstrap)
    assert no_tld.error is not None and no_tld.retryable is False
    rdap.faults["/domain/broken.com"] = (502, b"")
    broken = await rdap_domain("broken.com", http, bootstrap)
    assert broken.error is not None and broken.retryable is True


async def test_redirects_are_followed_and_capped(
    rdap: RdapServer, http: aiohttp.ClientSession, bootstrap: Bootstrap
) -> None:
    rdap.add_ip_network("127.0.0.0/24", "NL", "abuse@hoster.example", "HOSTER-NET")
    rdap.redirects["/ip/127.0.1.1"] = rdap.base_url + "ip/127.0.0.2"
    moved = await rdap_ip("127.0.1.1", http, bootstrap)
    assert (moved.abuse_emails, moved.error) == (("abuse@hoster.example",), None)
    for hop in range(5):
        rdap.redirects[f"/ip/127.0.2.{hop}"] = rdap.base_url + f"ip/127.0.2.{hop + 1}"
    looping = await rdap_ip("127.0.2.0", http, bootstrap)
    assert looping.error is not None and "redirects" in looping.error
    assert rdap.requests["/ip/127.0.2.4"] == 0
