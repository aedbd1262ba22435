"""Refreshing the bootstrap files: all four or none."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from nttd.demo.standins.rdap_server import RdapServer
from resolvers.bootstrap import BOOTSTRAP_FILES, Bootstrap
from resolvers.bootstrap_update import update_bootstrap
from resolvers.errors import BootstrapError


def publish(rdap: RdapServer, tmp_path: Path) -> None:
    source = rdap.write_bootstrap(tmp_path / "published")
    for name in BOOTSTRAP_FILES:
        rdap.faults[f"/rdap/{name}"] = (200, (source / name).read_bytes())


async def test_update_writes_all_four(rdap: RdapServer, http: aiohttp.ClientSession,
                                      tmp_path: Path) -> None:
    publish(rdap, tmp_path)
    target = tmp_path / "snapshot"
    got = await update_bootstrap(target, http, base_url=rdap.base_url + "rdap")
    assert got == dict.fromkeys(BOOTSTRAP_FILES, "2024-01-01T00:00:00Z")
    assert Bootstrap.load(target).ip_servers("127.0.0.1") == [rdap.base_url]
    assert sorted(p.name for p in target.iterdir()) == sorted(BOOTSTRAP_FILES)


@pytest.mark.parametrize(("status", "body"), [(500, b""), (200, b"[]"), (200, b'{"x": 1}')])
async def test_a_bad_file_changes_nothing(rdap: RdapServer, http: aiohttp.ClientSession,
                                          tmp_path: Path, status: int, body: bytes) -> None:
    publish(rdap, tmp_path)
    target = tmp_path / "snapshot"
    await update_bootstrap(target, http, base_url=rdap.base_url + "rdap")
    before = {n: (target / n).read_text() for n in BOOTSTRAP_FILES}
    rdap.faults["/rdap/ipv6.json"] = (status, body)
    with pytest.raises(BootstrapError):
        await update_bootstrap(target, http, base_url=rdap.base_url + "rdap")
    assert {n: (target / n).read_text() for n in BOOTSTRAP_FILES} == before
    assert json.loads(before["dns.json"])["services"]
