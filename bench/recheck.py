"""Benchmark: availability re-checks at network scale (not a timed test).

    python bench/recheck.py                 # 100,000 URLs, 2 workers on PostgreSQL + 1 on SQLite
    python bench/recheck.py --urls 2000     # a quick run

Monitored cases are bulk-inserted (status monitoring, due now, next check in 1h so
each is checked once) for URLs on minimal loopback HTTP servers (127.0.9.x, a
separate process answering every request `200` with no body). `nttd worker`
processes then check them all; checks/s is measured from the first to the last
check recorded. A raw aiohttp HEAD loop over the same URLs (same concurrency,
one connection per request like the checker) is the baseline: it runs before the
first measured run and after each, and a run's baseline is the mean of the raw
runs around it (the machine is shared; its load drifts). CPU per check of the
workers (and, on PostgreSQL, of the database backends) is counted from the first
check on. Peak RSS of each worker is read from /proc/PID/status (VmHWM).
`BENCH_PROFILE=DIR` runs each worker under cProfile (DIR/worker-N.prof).
PostgreSQL: NTTD_TEST_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres); a scratch database is
created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy import func, insert, literal, select, text

from nttd.db import UTCDateTime, make_engine
from nttd.migrate import upgrade
from nttd.models import Case, Check, CheckSchedule

PG_ADMIN = os.environ.get("NTTD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Type: image/jpeg\r\n\r\n"


class _Fast(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(ANSWER)  # type: ignore[attr-defined]


def _serve(hosts: list[str], ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = [await loop.create_server(_Fast, h, 0, backlog=4096) for h in hosts]
        ready.put([s.sockets[0].getsockname()[1] for s in servers])
        await asyncio.Event().wait()

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def backend_cpu(engine: Any) -> float | None:
    """CPU seconds of the PostgreSQL backends serving this database (same machine)."""
    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as conn:
        pids = list((await conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"))).scalars())
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


async def insert_cases(url: str, targets: list[str]) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for start in range(0, len(targets), 5000):
            await conn.execute(insert(Case), [
                {"url": t, "canonical_url": t, "host": t.split("/")[2].split(":")[0],
                 "status": "monitoring", "confirmed_at": now, "created_at": now,
                 "updated_at": now, "hold_seconds": 0.0, "resolve_attempts": 0,
                 "reappeared_count": 0} for t in targets[start:start + 5000]])
        await conn.execute(insert(CheckSchedule).from_select(
            ["case_id", "next_check_at", "check_count", "gone_streak"],
            select(Case.id, literal(now, UTCDateTime()), literal(0), literal(0))))
    async with engine.begin() as conn:
        # A bulk load this size is followed by autovacuum's ANALYZE within a minute in
        # service; the claim (a join) is planned from the real counts, so do it now.
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def run_workers(
    url: str, count: int, n: int, tmp: Path, concurrency: int, poll: str = "1s"
) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTTD_")}
    env.update({"NTTD_DATABASE_URL": url, "NTTD_ALLOW_PRIVATE_TARGETS": "1",
                "NTTD_RECHECK_SCHEDULE": "1h", "NTTD_WORKER_POLL_INTERVAL": poll,
                "NTTD_CHECK_CONCURRENCY": str(concurrency), "NTTD_CHECK_PER_HOST": "100000",
                "NTTD_LEASE_DURATION": "10m"})
    profile = os.environ.get("BENCH_PROFILE")  # a directory: each worker under cProfile
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, *(["-m", "cProfile", "-o", f"{profile}/worker-{i}.prof"] if profile
                          else []),
        "-m", "nttd.cli", "worker", env=env, cwd=tmp,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for i in range(count)]
    engine = make_engine(url)
    started = time.monotonic()
    # CPU is counted from the first poll that sees checks (start-up and imports left
    # out, they would weigh on small runs) to the end, per check made in between.
    cpu0 = db_cpu0 = None
    done0 = 0
    try:
        while True:
            await asyncio.sleep(0.5)
            async with engine.connect() as conn:
                done = (await conn.execute(select(func.count()).select_from(Check))).scalar_one()
            if cpu0 is None and done > 0:
                cpu0, db_cpu0, done0 = (sum(cpu_seconds(p.pid) for p in procs),
                                        await backend_cpu(engine), done)
            if done >= n or time.monotonic() - started > 3600:
                break
        rss = [peak_rss_mb(p.pid) for p in procs]
        cpu = sum(cpu_seconds(p.pid) for p in procs) - (cpu0 or 0.0)
        db_cpu_end = await backend_cpu(engine)
        db_cpu = (db_cpu_end - (db_cpu0 or 0.0)) if db_cpu_end is not None else None
        async with engine.connect() as conn:
            first, last, total = (await conn.execute(select(
                func.min(Check.checked_at), func.max(Check.checked_at), func.count()))).one()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            await p.wait()
        await engine.dispose()
    if isinstance(first, str):  # SQLite hands back text for aggregates
        first, last = datetime.fromisoformat(first), datetime.fromisoformat(last)
    span = max((last - first).total_seconds(), 1e-3)
    measured = max(total - done0, 1)
    return {"checks": total, "seconds": span, "rate": total / span, "rss_max_mb": max(rss),
            "cpu_ms_per_check": 1000 * cpu / measured,
            "db_cpu_ms_per_check": 1000 * db_cpu / measured if db_cpu is not None else -1.0}


async def raw_loop(targets: list[str], concurrency: int) -> tuple[float, float]:
    """(checks/s, CPU ms per check) of a bare aiohttp HEAD loop over `targets`."""
    connector = aiohttp.TCPConnector(force_close=True, limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, trust_env=False,
                                     auto_decompress=False) as session:
        gate = asyncio.Semaphore(concurrency)

        async def one(u: str) -> None:
            async with gate:
                resp = await session.head(u, allow_redirects=False)
                resp.close()

        started, cpu = time.monotonic(), time.process_time()
        await asyncio.gather(*(one(u) for u in targets))
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        rate, cpu_ms = len(targets) / elapsed, 1000 * cpu / len(targets)
        print(f"raw aiohttp HEAD loop (concurrency {concurrency}, one connection per "
              f"request): {rate:,.0f} checks/s, CPU {cpu_ms:.2f} ms/check", flush=True)
        return rate, cpu_ms


async def bracketing_baseline(before: tuple[float, float], targets: list[str],
                              concurrency: int) -> tuple[tuple[float, float], float, float]:
    """Run the raw loop again after a measured run; the baseline of that run is the
    mean of the runs before and after it (the machine is shared: its load drifts).
    Returns (the new run, baseline rate, baseline CPU ms per check)."""
    after = await raw_loop(targets, concurrency)
    return after, (before[0] + after[0]) / 2, (before[1] + after[1]) / 2


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="PostgreSQL worker processes")
    parser.add_argument("--servers", type=int, default=8, help="hosting servers (127.0.9.x)")
    parser.add_argument("--concurrency", type=int, default=100, help="checks in flight per worker")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    figures: list[dict[str, object]] = []

    hosts = [f"127.0.9.{i + 1}" for i in range(args.servers)]
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    server = ctx.Process(target=_serve, args=(hosts, ready), daemon=True)
    server.start()
    ports = ready.get(timeout=30)
    targets = [f"http://{hosts[i % len(hosts)]}:{ports[i % len(hosts)]}/img/{i}.jpg"
               for i in range(args.urls)]
    print(f"{args.urls} URLs on {len(hosts)} loopback hosting servers")
    try:
        last = await raw_loop(targets, args.concurrency)
        with tempfile.TemporaryDirectory() as tmp:
            if not args.no_postgres:
                name = "nttd_bench_" + uuid.uuid4().hex[:10]
                admin = await asyncpg.connect(PG_ADMIN)
                await admin.execute(f'CREATE DATABASE "{name}"')
                base = PG_ADMIN.rsplit("/", 1)[0].split("://", 1)[1]
                url = f"postgresql+asyncpg://{base}/{name}"
                try:
                    await insert_cases(url, targets)
                    r = await run_workers(url, args.workers, args.urls, Path(tmp),
                                          args.concurrency)
                finally:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    await admin.close()
                last, raw, raw_cpu = await bracketing_baseline(last, targets, args.concurrency)
                figures.append(_figure(f"PostgreSQL, {args.workers} workers", r, raw, raw_cpu))
                print(f"PostgreSQL, {args.workers} workers: {r['rate']:,.0f} checks/s "
                      f"({r['checks']} checks in {r['seconds']:.1f}s), "
                      f"{r['rate'] / raw:.2f} of raw (mean of the runs before and after: "
                      f"{raw:,.0f}/s), peak RSS per worker {r['rss_max_mb']:.0f} MB, "
                      f"worker CPU {r['cpu_ms_per_check']:.2f} ms/check, PostgreSQL backends "
                      f"{r['db_cpu_ms_per_check']:.2f} ms/check")
            if not args.no_sqlite:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                await insert_cases(url, targets)
                r = await run_workers(url, 1, args.urls, Path(tmp), args.concurrency)
                last, raw, raw_cpu = await bracketing_baseline(last, targets, args.concurrency)
                figures.append(_figure("SQLite, 1 worker", r, raw, raw_cpu))
                print(f"SQLite, 1 worker: {r['rate']:,.0f} checks/s "
                      f"({r['checks']} checks in {r['seconds']:.1f}s), "
                      f"{r['rate'] / raw:.2f} of raw ({raw:,.0f}/s), "
                      f"peak RSS {r['rss_max_mb']:.0f} MB, "
                      f"worker CPU {r['cpu_ms_per_check']:.2f} ms/check")
    finally:
        server.terminate()
        server.join()
    if args.json:  # one line for bench/run_all.py
        print(json.dumps({"bench": "recheck", "params": {
            "urls": args.urls, "workers": args.workers, "servers": args.servers,
            "concurrency": args.concurrency}, "figures": figures}))


def _figure(label: str, r: dict[str, float], raw: float, raw_cpu: float
            ) -> dict[str, object]:
    db_cpu = r["db_cpu_ms_per_check"]  # -1 on SQLite (the worker does it itself)
    nttd_cpu = r["cpu_ms_per_check"] + max(db_cpu, 0.0)
    return {"name": f"re-check rate, {label}", "unit": "checks/s", "value": round(r["rate"], 1),
            "baseline": "raw aiohttp HEAD loop (mean of the runs before and after)",
            "baseline_value": round(raw, 1),
            "ratio": round(r["rate"] / raw, 3), "better": "higher",
            "raw_cpu_ms_per_check": round(raw_cpu, 3),
            "cpu_ratio": round(raw_cpu / nttd_cpu, 3),  # raw CPU / (worker + database) CPU
            "cpu_ms_per_check": round(r["cpu_ms_per_check"], 3),
            "db_cpu_ms_per_check": round(db_cpu, 3) if db_cpu >= 0 else None,
            "peak_rss_mb": round(r["rss_max_mb"], 1)}


if __name__ == "__main__":
    asyncio.run(main())
