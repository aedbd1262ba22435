"""`nttd serve` and `nttd worker` started while the database is down.

`serve` says so in one line (the database's host, port and name, never the
password) and exits with status 1: systemd's Restart= or the operator tries again.
`worker` logs one line per attempt and retries with a growing pause; once the
database answers it starts working, and SIGTERM while it waits stops it cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.engine import make_url

from nttd.db import make_engine
from nttd.migrate import upgrade
from tests.conftest import drop_pg_database, make_pg_database

PASSWORD = "s3cret-db-password"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def clean_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTTD_")}
    env.update({"NTTD_DATABASE_URL": database_url, "NTTD_WORKER_POLL_INTERVAL": "50ms",
                "NTTD_WHOIS_FALLBACK": "0", "NTTD_DNS_SERVERS": "127.0.0.1:9"})
    return env


async def test_serve_with_the_database_down_exits_with_one_line(tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql+asyncpg://nttd:{PASSWORD}@127.0.0.1:{port}/nttd_prod"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nttd.cli", "serve", "--port", str(closed_port()),
        env=clean_env(url), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, err.decode()
    assert lines[0] == (f"nttd: error: cannot reach the database at 127.0.0.1:{port}, "
                        "database nttd_prod (NTTD_DATABASE_URL): connection refused")
    assert PASSWORD not in err.decode() + out.decode()
    assert b"listening" not in out


@contextlib.asynccontextmanager
async def forwarder(port: int, target: tuple[str, int]) -> AsyncIterator[None]:
    """A TCP relay on 127.0.0.1:`port` to `target`: the database "comes up" there."""
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*target)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def wait_for_line(log_path: Path, pattern: str, *, count: int = 1,
                        timeout: float = 60) -> list[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        lines = [line for line in log_path.read_text(errors="replace").splitlines()
                 if re.search(pattern, line)]
        if len(lines) >= count:
            return lines
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {pattern!r} x{count} in: {log_path.read_text()[-3000:]}")
        await asyncio.sleep(0.1)


async def test_worker_waits_for_the_database_then_works(tmp_path: Path) -> None:
    real_url, name = await make_pg_database()
    try:
        engine = make_engine(real_url)
        await upgrade(engine)
        await engine.dispose()
        real = make_url(real_url)
        port = closed_port()
        url = real.set(port=port).render_as_string(hide_password=False)
        log_path = tmp_path / "worker.log"
        with log_path.open("wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "nttd.cli", "worker", env=clean_env(url), cwd=tmp_path,
                stdout=log_file, stderr=log_file)
            try:
                waits = await wait_for_line(log_path, "cannot reach the database", count=2)
                assert f"127.0.0.1:{port}, database {name}" in waits[0]
                assert "attempt 1, retrying in 1 s" in waits[0]
                assert "attempt 2, retrying in 2 s" in waits[1]  # the pause grows
                assert proc.returncode is None  # still waiting, not dead
                async with forwarder(port, (real.host or "127.0.0.1", real.port or 5432)):
                    await wait_for_line(log_path, "the database at .* answers")
                    # Working: its steps poll the database without failing.
                    await asyncio.sleep(1.0)
                    assert proc.returncode is None, log_path.read_text()
                    proc.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(proc.wait(), timeout=30)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        log = log_path.read_text()
        assert proc.returncode == 0, log
        assert "Traceback" not in log and "step failed" not in log, log
    finally:
        await drop_pg_database(name)


async def test_worker_stopped_while_waiting_exits_cleanly(tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql+asyncpg://nttd:{PASSWORD}@127.0.0.1:{port}/nttd_prod"
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nttd.cli", "worker", env=clean_env(url), cwd=tmp_path,
            stdout=log_file, stderr=log_file)
        await wait_for_line(log_path, "cannot reach the database")
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=30)
    log = log_path.read_text()
    assert proc.returncode == 0, log
    assert "Traceback" not in log and PASSWORD not in log, log
    assert all("cannot reach the database" in line
               for line in log.splitlines() if "WARNING" in line or "ERROR" in line), log
