"""A private PostgreSQL cluster for one test, to stop and start at will (the shared
server must never be restarted: other tests use it at the same time).

initdb refuses to run as root: as root the cluster belongs to the `postgres` user
and every command runs through `runuser -u postgres --`. The directory is a fresh
one under the system temporary directory (pytest's own is not open to other users).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.support import free_port

REQUIRE_PG = bool(os.environ.get("CI") or os.environ.get("NTTD_REQUIRE_POSTGRES"))


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PrivatePostgres:
    bindir: Path
    datadir: Path
    port: int
    prefix: list[str]  # runuser ... when root

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.prefix, str(self.bindir / args[0]), *args[1:],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {out.decode(errors='replace')}")

    async def start(self) -> None:
        options = (f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        await self._run("pg_ctl", "-D", str(self.datadir), "-l",
                        str(self.datadir / "server.log"), "-o", options, "-w", "-t", "120",
                        "start")

    async def stop(self) -> None:
        await self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "120",
                        "stop")


@contextlib.asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    bindir = _bindir()
    if bindir is None:
        message = "no PostgreSQL server binaries (initdb) on this machine"
        if REQUIRE_PG:
            pytest.fail(message + " — required in CI", pytrace=False)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="nttd-pg-"))
    datadir = base / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    server = PrivatePostgres(bindir, datadir, free_port(), prefix)
    try:
        await server._run("initdb", "-D", str(datadir), "-U", "postgres", "-A", "trust",
                          "--no-sync", "-E", "UTF8")
        await server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(RuntimeError):
                await server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
