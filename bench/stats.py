"""Benchmark: removal-time statistics over a million cases (not a timed test).

    python bench/stats.py                        # 1,000,000 on PostgreSQL, 100,000 on SQLite
    python bench/stats.py --pg-cases 100000 --sqlite-cases 20000 --runs 5   # a quick run
    python bench/stats.py --pg-database nttd_bench_1m --sqlite-file /tmp/b.db  # keep, reuse
    python bench/stats.py --pg-database nttd_bench_1m --sqlite-file /tmp/b.db --drop

Cases are bulk-generated (COPY through asyncpg on PostgreSQL, Core executemany on
SQLite) with realistic removal delays: lognormal per hosting country and per network
(a network's median is its country's times a factor of its own), 20% still online
(censored), a notice a few minutes after confirmation, 1% with a law-enforcement hold,
2% reappeared, acknowledgements for half of the partner routes; confirmed over the
last year. The main queries - by country, by ASN, by week, and by ASN within one
country - run through `nttd.stats.stats_for` (the SQL aggregation and the estimates,
as the API does them; all three clocks, and time to removal alone) `--runs` times
each; it prints p50/p95 and the ratio of the p50 to that of a bare
`SELECT key, count(*) ... GROUP BY key` over the same rows in the same run.
Then the coordinator's dashboard page (/stats by country: its figures and its HTML, as
the web UI makes them, without the HTTP request). Every line shows the CPU time of this
process (on SQLite that is the whole query; on PostgreSQL the client's share) and the
load average, since the machine may be shared.
Targets: p95 <= 300 ms on PostgreSQL at 1M, <= 1 s on SQLite at 100k, the dashboard
<= 500 ms at 1M.
PostgreSQL: NTTD_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
a scratch database is created and dropped, unless --pg-database names one: it is then
kept (generated once, migrated and reused by later runs) until --drop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from nttd.auth import Role
from nttd.db import READ_ONLY, make_engine, make_sessionmaker
from nttd.migrate import upgrade
from nttd.models import Case, Hotline
from nttd.stats import METRICS, StatsQuery, forget_estimates, refresh_stats, stats_for
from nttd.stats.sqltime import week_start
from nttd.web.dashboard import PARAMS, dashboard_figures, page_values
from nttd.web.render import environment

PG_ADMIN = os.environ.get("NTTD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
# country, weight, median hours to removal
COUNTRIES = [("US", 30, 40.0), ("NL", 15, 10.0), ("DE", 12, 14.0), ("FR", 6, 30.0),
             ("GB", 5, 8.0), ("RU", 5, 200.0), ("CA", 4, 24.0), ("SG", 3, 60.0),
             ("HK", 3, 90.0), ("UA", 3, 72.0), ("BG", 2, 48.0), ("RO", 2, 36.0),
             ("PL", 2, 20.0), ("SE", 1, 12.0), ("CZ", 1, 18.0), ("LT", 1, 30.0),
             ("ES", 1, 26.0), ("IT", 1, 28.0), ("JP", 1, 16.0), ("BR", 1, 50.0)]
NETWORKS_PER_COUNTRY = 25
REGISTRARS = [f"Registrar {i}, Inc." for i in range(40)]
TLDS = ["com", "net", "org", "ru", "nl", "de", "io", "xyz", "info", "top"]
CDNS = ["Cloudflare", "Akamai", "Fastly"]
CHASE_STEPS = ["notice", "reminder-1", "reminder-2", "escalation-host", "escalation-registrar"]
CHASE_WEIGHTS = [60, 20, 10, 6, 4]
QUERIES = [("by country", StatsQuery(group_by="country"), "country", METRICS),
           ("by asn", StatsQuery(group_by="asn"), "asn", METRICS),
           ("by week", StatsQuery(group_by="week"), "week", METRICS),
           ("by asn, country=DE", StatsQuery(group_by="asn", country="DE"), "asn", METRICS),
           ("by country, removal only", StatsQuery(group_by="country"), "country",
            ("time_to_removal",)),
           ("by asn, removal only", StatsQuery(group_by="asn"), "asn", ("time_to_removal",))]


def generate(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    weights = [w for _, w, _ in COUNTRIES]
    networks = {c: [(64512 + i * NETWORKS_PER_COUNTRY + k, rng.lognormvariate(0, 0.6))
                    for k in range(NETWORKS_PER_COUNTRY)]
                for i, (c, _, _) in enumerate(COUNTRIES)}
    for i in range(n):
        country, _, median_h = rng.choices(COUNTRIES, weights)[0]
        asn, factor = rng.choice(networks[country])
        confirmed = NOW - timedelta(seconds=rng.uniform(0, 365 * 86400))
        notice = confirmed + timedelta(seconds=rng.uniform(30, 900))
        delay = timedelta(hours=rng.lognormvariate(math.log(median_h * factor), 1.2))
        hold = rng.random() < 0.01
        hold_seconds = rng.uniform(3600, 7 * 86400) if hold else 0.0
        removed = confirmed + delay + timedelta(seconds=hold_seconds)
        still_open = rng.random() < 0.2 or removed > NOW
        partner = rng.random() < 0.3
        reappeared = 1 if not still_open and rng.random() < 0.02 else 0
        chase = rng.choices(CHASE_STEPS, CHASE_WEIGHTS)[0]
        acknowledged = (notice + timedelta(hours=rng.lognormvariate(1.5, 1.0))
                        if partner and rng.random() < 0.5 else None)
        yield {
            "url": f"http://h{i}.example.com/{i}.jpg",
            "canonical_url": f"http://h{i}.example.com/{i}.jpg",
            "host": f"h{i}.example.com",
            "status": "monitoring" if still_open else "removed",
            "classification": rng.choice(["1A", "1B", "2"]),
            "content_type": rng.choice(["image", "video", "website"]),
            "confirmed_at": confirmed, "created_at": confirmed, "updated_at": confirmed,
            "first_notice_at": notice,
            "removed_at": None if still_open else removed,
            "hold_seconds": hold_seconds,
            "acknowledged_at": acknowledged if acknowledged and acknowledged < NOW else None,
            "country": country, "asn": asn, "as_name": f"NET-{asn}",
            "registrar": rng.choice(REGISTRARS), "tld": rng.choice(TLDS),
            "cdn": rng.choice(CDNS) if rng.random() < 0.1 else None,
            "route_kind": "partner" if partner else "direct",
            "route_hotline_id": 1 if partner else None,
            "resolve_attempts": 0,
            "reappeared_count": reappeared,
            "chase_step": chase,
        }


async def load_postgres(url: str, n: int) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("INSERT INTO hotlines (id, code, name, countries, is_self, language) "
                           "VALUES (1, 'nl-partner', 'Partner NL', '[\"NL\"]', false, 'nl')")
        rows = generate(n)
        first = next(rows)
        columns = list(first)
        chunk: list[tuple[Any, ...]] = [tuple(first.values())]
        for row in rows:
            chunk.append(tuple(row.values()))
            if len(chunk) == 50_000:
                await conn.copy_records_to_table("cases", records=chunk, columns=columns)
                chunk = []
        if chunk:
            await conn.copy_records_to_table("cases", records=chunk, columns=columns)
        await conn.execute("VACUUM ANALYZE cases")
    finally:
        await conn.close()


async def load_sqlite(engine: Any, n: int) -> None:
    table = Case.__table__
    async with engine.begin() as conn:
        await conn.execute(insert(Hotline.__table__).values(
            id=1, code="nl-partner", name="Partner NL", countries=["NL"], is_self=False,
            language="nl"))
        batch: list[dict[str, Any]] = []
        for row in generate(n):
            batch.append(row)
            if len(batch) == 20_000:
                await conn.execute(insert(table), batch)
                batch = []
        if batch:
            await conn.execute(insert(table), batch)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))


async def timed(fn: Callable[[], Awaitable[Any]], runs: int,
                cpu: list[float] | None = None, *, cold: bool = False) -> list[float]:
    """Wall-clock ms of each run; `cpu` gets this process's CPU ms of each (on SQLite
    the whole query: its connections' threads are in this process; on PostgreSQL the
    client's share: the backends are other processes). `cold`: the estimates
    remembered from the run before are forgotten first (as after new data)."""
    await fn()  # warm the cache and the statement cache
    times = []
    for _ in range(runs):
        if cold:
            forget_estimates()
        start, start_cpu = time.perf_counter(), time.process_time()
        await fn()
        times.append((time.perf_counter() - start) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - start_cpu) * 1000)
    return times


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)]


async def measure(label: str, url: str, n: int, runs: int, *,
                  dashboard: bool = True) -> list[dict[str, Any]]:
    engine = make_engine(url)
    # Read-only sessions, as the API and the web UI use (nttd.services.read_sessions).
    sessions = make_sessionmaker(engine.execution_options(**{READ_ONLY: True}))
    keys = {"country": Case.country, "asn": Case.asn, "week": week_start(Case.confirmed_at)}
    figures: list[dict[str, Any]] = []
    # The worker's refresh step (nttd.stats.fresh), run to the end here: bins every
    # case's narrow copy for NOW (after a load or a migration, all are stale).
    start, refreshed = time.perf_counter(), 0
    async with make_sessionmaker(engine)() as session:
        while True:  # a call that writes less than it may has been through every due row
            done = await refresh_stats(session, now=NOW, batch=5000, max_batches=50)
            refreshed += done
            if done < 5000 * 50:
                break
    took = time.perf_counter() - start
    if refreshed and url.startswith("postgresql"):  # as autovacuum would, soon after
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            for table in ("case_stats", "stats_rollup", "stats_lists"):
                await conn.execute(f"VACUUM ANALYZE {table}")
        finally:
            await conn.close()
    if refreshed:
        print(f"{label}: refreshed {refreshed:,} case_stats rows in {took:.1f} s "
              f"({refreshed / took:,.0f}/s)")
        figures.append({"name": f"{label} {n} cases: refresh rate", "unit": "rows/s",
                        "value": round(refreshed / took), "better": "higher"})
    print(f"\n{label}: {n:,} cases, {runs} runs per query ({load_average()})")
    print(f"{'query':<26} {'groups':>6} {'p50 ms':>8} {'p95 ms':>8} {'cold p50':>9}"
          f" {'cold p95':>9} {'bare p50':>9} {'ratio':>6} {'cpu p50':>8} {'cold cpu':>8}  load")
    try:
        for name, query, key, metrics in QUERIES:
            result: dict[str, Any] = {}

            async def full(query: StatsQuery = query, result: dict[str, Any] = result,
                           metrics: tuple[str, ...] = metrics) -> None:
                async with sessions() as session:
                    result.update(await stats_for(session, query, now=NOW, metrics=metrics))

            bare_query = select(keys[key], func.count()).where(Case.route_kind.is_not(None))
            if query.country is not None:
                bare_query = bare_query.where(Case.country == query.country)
            bare_query = bare_query.group_by(keys[key])

            async def bare(bare_query: Any = bare_query) -> None:
                async with sessions() as session:
                    (await session.execute(bare_query)).all()

            cpu: list[float] = []
            cold_cpu: list[float] = []
            times = await timed(full, runs, cpu)
            cold = await timed(full, runs, cold_cpu, cold=True)
            bare_times = await timed(bare, runs)
            p50, bare_p50 = statistics.median(times), statistics.median(bare_times)
            print(f"{name:<26} {len(result['groups']):>6} {p50:>8.0f} {pct(times, 0.95):>8.0f} "
                  f"{statistics.median(cold):>9.0f} {pct(cold, 0.95):>9.0f} "
                  f"{bare_p50:>9.0f} {p50 / bare_p50:>6.1f} {statistics.median(cpu):>8.0f}"
                  f" {statistics.median(cold_cpu):>8.0f}  {os.getloadavg()[0]:.1f}")
            figures.append({"name": f"{label} {n} cases: {name} p50", "unit": "ms",
                            "value": round(p50, 1), "p95": round(pct(times, 0.95), 1),
                            "cold_p50": round(statistics.median(cold), 1),
                            "cold_p95": round(pct(cold, 0.95), 1),
                            "baseline": "bare GROUP BY count p50",
                            "baseline_value": round(bare_p50, 1),
                            "ratio": round(p50 / bare_p50, 2), "better": "lower"})
        total = result["overall"]["time_to_removal"]
        print(f"(last query: {total['n']:,} cases, {total['censored']:,} censored, "
              f"median {total['median']['estimate']} s)")
        if dashboard:
            html: list[str] = []

            async def page() -> None:
                html[:] = [await dashboard_html(sessions, StatsQuery(group_by="country"))]

            cpu, cold_cpu = [], []
            times = await timed(page, runs, cpu)
            cold = await timed(page, runs, cold_cpu, cold=True)
            print(f"{'dashboard page, country':<26} {'':>6} {statistics.median(times):>8.0f} "
                  f"{pct(times, 0.95):>8.0f} {statistics.median(cold):>9.0f} "
                  f"{pct(cold, 0.95):>9.0f} {'':>9} {'':>6} {statistics.median(cpu):>8.0f}"
                  f" {statistics.median(cold_cpu):>8.0f}  {os.getloadavg()[0]:.1f}"
                  f"   ({len(html[0]):,} bytes of HTML)")
            figures.append({"name": f"{label} {n} cases: dashboard page p50", "unit": "ms",
                            "value": round(statistics.median(times), 1),
                            "p95": round(pct(times, 0.95), 1),
                            "cold_p50": round(statistics.median(cold), 1),
                            "cold_p95": round(pct(cold, 0.95), 1), "better": "lower"})
    finally:
        await engine.dispose()
    return figures


async def dashboard_html(sessions: Any, query: StatsQuery) -> str:
    """The coordinator's /stats page as the web UI makes it (figures and template),
    without the HTTP request around it."""
    values = await dashboard_figures(sessions, query, now=NOW, min_group=10)
    given = {**{name: "" for name in PARAMS}, "group_by": query.group_by}
    return environment().get_template("stats.html").render(
        me=None, csrf_token="", Role=Role, **page_values(given, None, values))


async def _count(url: str) -> int | None:
    """Cases in an existing bench database (None: no cases table yet)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM cases"))).scalar_one())
    except DBAPIError:  # a fresh database has no table yet
        return None
    finally:
        await engine.dispose()


async def prepare(url: str, n: int, label: str,
                  load: Callable[[str, int], Awaitable[None]]) -> None:
    """Migrate the database at `url` (a reused one gets the new migrations and their
    backfills) and load `n` cases unless it already holds them."""
    held = await _count(url)
    engine = make_engine(url)
    start = time.perf_counter()
    await upgrade(engine)
    await engine.dispose()
    if held is not None:
        print(f"{label}: migrated the reused database in {time.perf_counter() - start:.1f} s")
        if url.startswith("postgresql"):  # a migration's backfill leaves dead rows
            conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
            try:
                await conn.execute("VACUUM ANALYZE cases")
            finally:
                await conn.close()
    if held == n:
        print(f"{label}: reusing {n:,} cases")
        return
    if held:
        raise SystemExit(f"{label}: the database holds {held:,} cases, not {n:,}; "
                         "drop it (--drop) or name another")
    start = time.perf_counter()
    await load(url, n)
    print(f"{label}: loaded {n:,} cases in {time.perf_counter() - start:.0f} s")


async def _load_sqlite_url(url: str, n: int) -> None:
    engine = make_engine(url)
    try:
        await load_sqlite(engine, n)
    finally:
        await engine.dispose()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-cases", type=int, default=1_000_000)
    parser.add_argument("--sqlite-cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-dashboard", action="store_true")
    parser.add_argument("--pg-database", metavar="NAME",
                        help="generate into this PostgreSQL database and keep it, or reuse "
                        "it if it already holds --pg-cases cases (default: a scratch "
                        "database, dropped at the end)")
    parser.add_argument("--sqlite-file", metavar="PATH", type=Path,
                        help="the same for SQLite (default: a temporary file)")
    parser.add_argument("--drop", action="store_true",
                        help="drop --pg-database / delete --sqlite-file at the end")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    figures: list[dict[str, Any]] = []
    if not args.no_postgres:
        name = args.pg_database or "nttd_bench_stats_" + uuid.uuid4().hex[:8]
        drop = args.drop or not args.pg_database
        admin = await asyncpg.connect(PG_ADMIN)
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN.rsplit("/", 1)[0].split("://", 1)[1]
        url = f"postgresql+asyncpg://{base}/{name}"
        try:
            await prepare(url, args.pg_cases, "PostgreSQL", load_postgres)
            figures += await measure("PostgreSQL", url, args.pg_cases, args.runs,
                          dashboard=not args.no_dashboard)
        finally:
            if drop:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.sqlite_file or Path(tmp) / "bench.db"
            url = f"sqlite+aiosqlite:///{path}"
            try:
                await prepare(url, args.sqlite_cases, "SQLite", _load_sqlite_url)
                figures += await measure("SQLite", url, args.sqlite_cases, args.runs,
                              dashboard=not args.no_dashboard)
            finally:
                if args.drop and args.sqlite_file:
                    args.sqlite_file.unlink(missing_ok=True)
    if args.json:  # one line for bench/run_all.py
        print(json.dumps({"bench": "stats", "params": {
            "pg_cases": 0 if args.no_postgres else args.pg_cases,
            "sqlite_cases": 0 if args.no_sqlite else args.sqlite_cases, "runs": args.runs},
            "figures": figures}))


if __name__ == "__main__":
    asyncio.run(main())
