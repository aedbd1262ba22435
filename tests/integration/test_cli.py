"""The `nttd` command line: in-process (tests/cli.py), and once as a separate
process like a person runs it (`nttd serve`, below)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

from nttd.migrate import head_revision
from tests.cli import nttd
from tests.integration.world import SITES, partner_file, running_world


async def test_admin_commands(database_url: str, tmp_path: Path) -> None:
    env = {"NTTD_DATABASE_URL": database_url}
    code, out, err = await nttd("migrate", env=env, cwd=tmp_path)
    assert code == 0, err
    assert f"-> {head_revision()}" in out
    (tmp_path / "partners.toml").write_text(partner_file("http://127.0.0.1:9/hook"))
    code, out, err = await nttd("partners", "load", "partners.toml", env=env, cwd=tmp_path)
    assert (code, out.strip()) == (0, "hotlines: 3 created, 0 updated"), err
    code, out, err = await nttd("partners", "load", "partners.toml", env=env, cwd=tmp_path)
    assert out.strip() == "hotlines: 0 created, 3 updated"

    code, out, err = await nttd("user", "add", "alice", "--role", "analyst", "--password-stdin",
                                env=env, cwd=tmp_path, stdin="a long enough password\n")
    assert code == 0, err
    code, out, err = await nttd("user", "add", "nlp", "--role", "partner",
                                "--hotline", "nl-partner", env=env, cwd=tmp_path)
    assert code == 0 and "password (shown once):" in out
    code, out, err = await nttd("user", "add", "bob", "--role", "partner", env=env, cwd=tmp_path)
    assert code == 2 and "needs --hotline" in err
    code, token, err = await nttd("token", "create", "alice", env=env, cwd=tmp_path)
    assert code == 0 and token.startswith("nttd_")
    code, out, err = await nttd("token", "create", "nobody", env=env, cwd=tmp_path)
    assert code == 2 and "no user named 'nobody'" in err

    # Import: one bad row refuses the whole file.
    (tmp_path / "bad.txt").write_text("http://a.example.com/1.jpg\nftp://b.example.com/2\n")
    code, out, err = await nttd("import", "bad.txt", env=env, cwd=tmp_path)
    assert code == 2 and "row 2" in err and "nothing was imported" in err
    (tmp_path / "urls.csv").write_text(
        "url,reference,confirmed_at\n"
        "http://a.example.com/1.jpg,REF-A,2026-01-01T00:00:00Z\n"
        "http://b.example.com/2.jpg,REF-B,\n"
        "HTTP://A.EXAMPLE.COM:80/1.jpg,REF-C,\n")
    code, out, err = await nttd("import", "urls.csv", env=env, cwd=tmp_path)
    assert code == 0, err
    assert out.strip() == "imported 2 case(s); 1 duplicate(s) of open cases"

    code, out, err = await nttd("stats", "--json", env=env, cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["group_by"] == "country"


async def test_invalid_setting_fails_at_start_naming_the_variable(tmp_path: Path) -> None:
    code, _, err = await nttd("migrate", env={"NTTD_HOME_COUNTRY": "Britain"}, cwd=tmp_path)
    assert code == 2
    assert "NTTD_HOME_COUNTRY" in err
    assert not (tmp_path / "nttd.db").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_serve_on_the_embedded_default(tmp_path: Path) -> None:
    """README's first command: `nttd serve` on a fresh directory, SQLite by default."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTTD_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nttd.cli", "serve", "--port", str(port), cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert f"http://127.0.0.1:{port}/" in line.decode()
        # A fresh database: an admin to sign in with, its password printed once.
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert "created the user 'admin'" in line.decode()
        password = line.decode().rsplit(": ", 1)[1].strip()
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(trust_env=False, cookie_jar=jar) as http:
            async with http.get(f"http://127.0.0.1:{port}/") as resp:
                form = await resp.text()
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert csrf is not None
            async with http.post(f"http://127.0.0.1:{port}/login", allow_redirects=False,
                                 data={"username": "admin", "password": password,
                                       "csrf_token": csrf.group(1)}) as resp:
                assert resp.status == 303, await resp.text()
            async with http.get(f"http://127.0.0.1:{port}/admin/users") as resp:
                assert resp.status == 200 and "admin" in await resp.text()
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
            async with http.get(f"http://127.0.0.1:{port}/api/v1/openapi.json") as resp:
                spec: dict[str, Any] = await resp.json()
                assert "/api/v1/cases" in spec["paths"]
            async with http.get(f"http://127.0.0.1:{port}/api/v1/cases") as resp:
                assert resp.status == 401
        assert (tmp_path / "nttd.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=30)
    assert proc.returncode == 0


async def test_resolve_json(tmp_path: Path) -> None:
    async with running_world(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", tmp_path) as world:
        env = {"NTTD_DNS_SERVERS": world.dns.address,
               "NTTD_RDAP_BOOTSTRAP": str(tmp_path / "bootstrap"),
               "NTTD_ALLOW_PRIVATE_TARGETS": "1"}
        code, out, err = await nttd("resolve", world.url("cdn"), "--json", env=env,
                                    cwd=tmp_path)
        assert code == 0, err
        data = json.loads(out)
        assert data["host"] == "www.example.net"
        assert data["registered_domain"] == "example.net"
        assert data["cname_chain"] == ["www.example.net.cdn.cloudflare.net"]
        assert data["ips"] == [SITES["cdn"].ip]
        assert data["hosting"]["asn"] == 13335
        assert data["hosting"]["prefix"] == SITES["cdn"].network
        assert data["hosting"]["country"] == "US"
        assert data["hosting"]["abuse_emails"] == [SITES["cdn"].abuse]
        assert data["cdn"]["name"] == "Cloudflare"
        assert data["registrar"]["name"] == "Example Registrar, Inc."
        assert data["registrar"]["iana_id"] == "9999"
        assert data["registrar"]["abuse_emails"] == ["abuse@registrar.example"]
        assert data["errors"] == []

        # Without NTTD_ALLOW_PRIVATE_TARGETS a loopback target is refused, clearly.
        env.pop("NTTD_ALLOW_PRIVATE_TARGETS")
        code, out, err = await nttd("resolve", world.url("us"), "--json", env=env, cwd=tmp_path)
        assert code == 1
        data = json.loads(out)
        assert data["hosting"] is None
        assert any("loopback" in e for e in data["errors"])
        assert world.rdap.requests.get(f"/ip/{SITES['us'].ip}", 0) == 0


async def test_bootstrap_update(tmp_path: Path) -> None:
    """`nttd bootstrap update` fetches, validates and replaces the four IANA files."""
    from aiohttp import web

    from nttd.demo.standins.rdap_server import RdapServer

    async with RdapServer() as rdap:
        published = rdap.write_bootstrap(tmp_path / "iana")
    app = web.Application()
    app.router.add_static("/rdap/", published)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        base = f"http://127.0.0.1:{runner.addresses[0][1]}/rdap/"
        target = tmp_path / "bootstrap"
        target.mkdir()
        code, out, err = await nttd("bootstrap", "update", "--dir", str(target), "--from", base,
                                    env={}, cwd=tmp_path)
        assert code == 0, err
        assert "dns.json: published" in out
        for name in ("dns.json", "ipv4.json", "ipv6.json", "asn.json"):
            assert json.loads((target / name).read_text()) == json.loads(
                (published / name).read_text())
        # A source that is not a bootstrap changes nothing.
        (published / "asn.json").write_text("[]")
        before = (target / "asn.json").read_text()
        code, out, err = await nttd("bootstrap", "update", "--dir", str(target), "--from", base,
                                    env={}, cwd=tmp_path)
        assert code == 2 and "bootstrap not updated" in err
        assert (target / "asn.json").read_text() == before
    finally:
        await runner.cleanup()


async def test_tokens_are_listed_and_revoked_from_the_command_line(
    database_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from nttd.auth import authenticate
    from nttd.clock import utcnow
    from nttd.db import make_engine, make_sessionmaker
    from nttd.models import Event

    env = {"NTTD_DATABASE_URL": database_url}
    assert (await nttd("migrate", env=env, cwd=tmp_path))[0] == 0
    assert (await nttd("user", "add", "carol", "--role", "analyst", env=env, cwd=tmp_path))[0] == 0
    _, token, _ = await nttd("token", "create", "carol", env=env, cwd=tmp_path)
    _, second, _ = await nttd("token", "create", "carol", env=env, cwd=tmp_path)
    code, out, err = await nttd("token", "list", "carol", env=env, cwd=tmp_path)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all("live" in line for line in lines)
    assert token.strip() not in out and second.strip() not in out  # never the token itself
    prefix = next(line.split()[1] for line in lines if token.strip().startswith(line.split()[1]))

    code, out, err = await nttd("token", "revoke", "carol", prefix, env=env, cwd=tmp_path)
    assert code == 0 and f"revoked token {prefix} of carol" in out, err
    code, out, err = await nttd("token", "revoke", "carol", prefix, env=env, cwd=tmp_path)
    assert code == 2 and "already revoked" in err
    code, out, err = await nttd("token", "revoke", "carol", "nttd_nope", env=env, cwd=tmp_path)
    assert code == 2 and "has no token" in err
    code, out, err = await nttd("token", "revoke", "nobody", prefix, env=env, cwd=tmp_path)
    assert code == 2 and "no user named 'nobody'" in err

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            assert await authenticate(session, token.strip(), now=utcnow()) is None
            assert await authenticate(session, second.strip(), now=utcnow()) is not None
            kinds = list(await session.scalars(select(Event.kind).where(Event.case_id.is_(None))))
    finally:
        await engine.dispose()
    assert kinds.count("token_created") == 2 and kinds.count("token_revoked") == 1
