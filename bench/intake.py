"""Benchmark: intake to first notice at scale, through the HTTP API (not a timed test).

    python -m bench.intake                          # 10,000 URLs on 500 hosts, 2 workers
    python -m bench.intake --urls 1000 --hosts 100  # a quick run

Run from the repository root (it reuses the fault tests' loopback internet,
`tests.faults.support`): the five hosting sites of `tests.integration.world` with
`--hosts` names spread over them, a DNS server with Team Cymru answers, RDAP, an
SMTP sink and a partner webhook receiver, all in this process. A real `nttd serve`
(API and its own workers) and `--workers` `nttd worker` processes run on a scratch
PostgreSQL database (NTTD_TEST_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/postgres; created and dropped).

The URLs are POSTed in batches of `--batch`; the clock starts at the first POST.
Figures: seconds until every case has its first notice sent (or is in a partner's
hands: `first_notice_at` set), the rate of that, seconds until every case is
resolved, DNS queries per (host, record type) and RDAP queries per prefix and per
domain, counted at the stand-ins. Baseline, measured in the same run: the rate at
which the API took the URLs in (URLs / seconds spent POSTing); the ratio is the
first-notice rate divided by it (1.0: notices go out as fast as URLs come in).
`--json` prints the figures as one JSON object (bench/run_all.py reads it).
`BENCH_PROFILE=DIR` runs serve and each worker under cProfile (DIR/serve.prof,
DIR/worker-N.prof; their CPU per case is then inflated by the profiler).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select

from nttd.models import Case
from tests.faults.support import (
    Db,
    LoopbackNet,
    NttdProcess,
    free_port,
    healthz,
    loopback_net,
    prepare_database,
    start_nttd,
    submit_urls,
    wait_until,
)
from tests.integration.world import SITES

PG_ADMIN = os.environ.get("NTTD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RESOLVED = {"resolved", "routed", "notified", "monitoring", "unresolvable"}
# What the bench sets for nttd beyond the loopback wiring (tests.faults.support.env):
# notices to one recipient gather for 5 s (production: 10 min), leases outlast a
# resolve batch on a loaded machine, idle workers look for work every second (the
# default; every step of every process polls, and on a loaded machine that costs).
SETTINGS = {"NTTD_NOTICE_BATCH_WINDOW": "5s", "NTTD_LEASE_DURATION": "2m",
            "NTTD_WORKER_POLL_INTERVAL": "1s"}


async def start_profiled(command: str, env: dict[str, str], tmp: Path, name: str
                         ) -> NttdProcess:
    """`start_nttd`, under cProfile when BENCH_PROFILE names a directory (the
    profile is written when the process exits cleanly, on SIGTERM)."""
    profile = os.environ.get("BENCH_PROFILE")
    if not profile:
        return await start_nttd(command, env, tmp, name)
    log_path = tmp / f"{name}.log"
    log_file = log_path.open("wb")
    args = [command]
    port = free_port() if command == "serve" else None
    if port is not None:
        args += ["--host", "127.0.0.1", "--port", str(port)]
    out = Path(profile).resolve() / f"{name}.prof"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cProfile", "-o", str(out), "-m", "nttd.cli", *args,
        env=env, cwd=tmp, stdout=log_file, stderr=log_file)
    process = NttdProcess(name, proc, log_path, log_file, port)
    if port is not None:
        async def up() -> bool:
            return await healthz(process.base_url) is not None

        await wait_until(f"{name} to answer /healthz", up, cap=90)
    return process


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def progress(db: Db) -> tuple[int, int, int]:
    """(cases, resolved, with a first notice)."""
    async with db.sessions() as session:
        rows = (await session.execute(select(
            func.count(), func.count(Case.first_notice_at),
            func.count().filter(Case.status.in_(RESOLVED))))).one()
    return int(rows[0]), int(rows[2]), int(rows[1])


def query_counts(net: LoopbackNet, hosts: list[str]) -> dict[str, Any]:
    names = {h.lower().rstrip(".") for h in hosts}
    per_key: Counter[tuple[str, str]] = Counter()
    cymru = 0
    for (name, rdtype), count in net.dns.queries.items():
        name = name.lower().rstrip(".")
        if name in names:
            per_key[(name, rdtype)] += count
        elif name.endswith("cymru.com"):
            cymru += count
    rdap_ip = {p: n for p, n in net.rdap.requests.items() if p.startswith("/ip/")}
    rdap_domain = {p: n for p, n in net.rdap.requests.items() if p.startswith("/domain/")}
    prefixes = len({s.network for s in SITES.values()})
    return {
        "dns_per_host_type_mean": round(sum(per_key.values()) / max(len(per_key), 1), 3),
        "dns_per_host_type_max": max(per_key.values(), default=0),
        "dns_queries_hosts": sum(per_key.values()),
        "dns_queries_cymru": cymru,
        "rdap_per_prefix": round(sum(rdap_ip.values()) / prefixes, 3),
        "rdap_ip_queries": sum(rdap_ip.values()),
        "rdap_per_domain": round(sum(rdap_domain.values()) / 2, 3),  # example.com, .net
    }


async def measure(db: Db, base_url: str, token: str, targets: list[str], batch: int,
                  cap: float, started: float) -> tuple[float, float, float]:
    """POST the URLs and wait until every case has a first notice: (seconds to POST
    them all, seconds until all were resolved, seconds until all had a notice)."""
    urls = len(targets)
    submitting = asyncio.create_task(submit_urls(base_url, token, targets, batch=batch))
    posted_in = resolved_in = None
    while True:
        await asyncio.sleep(0.5)
        now = time.monotonic() - started
        if posted_in is None and submitting.done():
            await submitting  # raises if the API refused a batch
            posted_in = now
        cases, resolved, noticed = await progress(db)
        if resolved_in is None and resolved >= urls:
            resolved_in = now
        if noticed >= urls and posted_in is not None and resolved_in is not None:
            return posted_in, resolved_in, time.monotonic() - started
        if now > cap:
            submitting.cancel()
            raise SystemExit(f"gave up after {cap:.0f} s: {cases} cases, {resolved} "
                             f"resolved, {noticed} with a notice; "
                             f"{dict(await db.case_statuses())}")
        if int(now * 2) % 20 == 0:
            log(f"{now:5.1f} s: {cases} cases, {resolved} resolved, "
                f"{noticed} with a first notice")


async def run(urls: int, hosts: int, workers: int, batch: int, cap: float) -> dict[str, Any]:
    name = "nttd_bench_" + uuid.uuid4().hex[:10]
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].split("://", 1)[1]
    url = f"postgresql+asyncpg://{base}/{name}"
    processes = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            per_site = max(hosts // len(SITES), 1)
            async with loopback_net(Path(tmp), names_per_site=per_site) as net:
                token = await prepare_database(url, net)
                env = net.env(url, **SETTINGS)
                serve = await start_profiled("serve", env, Path(tmp), "serve")
                processes.append(serve)
                for i in range(workers):
                    processes.append(await start_profiled("worker", env, Path(tmp),
                                                         f"worker-{i}"))
                db = Db(url)
                targets = net.urls(urls)
                log(f"{urls} URLs on {len(net.names)} hosts; serve + {workers} workers")
                started = time.monotonic()
                try:
                    result = await measure(db, serve.base_url, token, targets, batch, cap,
                                           started)
                except BaseException:
                    for process in processes:  # why, before the logs go with the directory
                        log(f"--- {process.name} log (tail):\n{process.log()[-4000:]}")
                    raise
                posted_in, resolved_in, elapsed = result
                cpu = {p.name: cpu_seconds(p.proc.pid) for p in processes}
                notices = await db.notice_statuses()
                await db.close()
                counts = query_counts(net, [h for _, h in net.names])
                mails, hooks = len(net.smtp.messages), len(net.webhook.requests)
                for process in processes:
                    text = await process.stop()
                    if "Traceback" in text:
                        log(f"{process.name} logged a traceback:\n{text[-3000:]}")
                processes = []
    finally:
        for process in processes:
            await process.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    post_rate = urls / posted_in
    rate = urls / elapsed
    return {
        "urls": urls, "hosts": len(net.names), "workers": workers,
        "seconds_to_first_notice": round(elapsed, 2),
        "first_notice_rate": round(rate, 1),
        "seconds_to_resolved": round(resolved_in, 2),
        "baseline_post_seconds": round(posted_in, 2),
        "baseline_post_rate": round(post_rate, 1),
        "ratio": round(rate / post_rate, 3),
        "nttd_cpu_ms_per_case": round(1000 * sum(cpu.values()) / urls, 2),
        "notices": dict(notices), "mails": mails, "webhooks": hooks,
        **counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=500, help="host names (5 sites)")
    parser.add_argument("--workers", type=int, default=2, help="nttd worker processes")
    parser.add_argument("--batch", type=int, default=500, help="URLs per POST")
    parser.add_argument("--cap", type=float, default=900, help="give up after (seconds)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    figures = asyncio.run(run(args.urls, args.hosts, args.workers, args.batch, args.cap))
    if args.json:  # one line for bench/run_all.py (after the text)
        as_json = json.dumps({"bench": "intake", "params": {
            "urls": args.urls, "hosts": figures["hosts"], "workers": args.workers,
            "batch": args.batch}, "details": figures, "figures": [
            {"name": "intake to first notice rate", "unit": "cases/s",
             "value": figures["first_notice_rate"], "seconds": figures["seconds_to_first_notice"],
             "baseline": "POSTing the URLs alone", "baseline_value": figures["baseline_post_rate"],
             "ratio": figures["ratio"], "better": "higher"},
            {"name": "DNS queries per (host, type)", "unit": "queries",
             "value": figures["dns_per_host_type_mean"], "baseline": "one each",
             "baseline_value": 1, "ratio": figures["dns_per_host_type_mean"],
             "better": "lower"},
            {"name": "RDAP queries per prefix", "unit": "queries",
             "value": figures["rdap_per_prefix"], "baseline": "one each",
             "baseline_value": 1, "ratio": figures["rdap_per_prefix"], "better": "lower"}]})
    print(f"{figures['urls']} URLs on {figures['hosts']} hosts, serve + "
          f"{figures['workers']} workers on PostgreSQL")
    print(f"every case with its first notice after {figures['seconds_to_first_notice']} s "
          f"({figures['first_notice_rate']} cases/s; target <= 60 s at 10,000); all "
          f"resolved after {figures['seconds_to_resolved']} s")
    print(f"baseline: POSTing took {figures['baseline_post_seconds']} s "
          f"({figures['baseline_post_rate']} URLs/s); ratio {figures['ratio']}")
    print(f"CPU of the nttd processes: {figures['nttd_cpu_ms_per_case']} ms per case")
    print(f"notices {figures['notices']} ({figures['mails']} mails, "
          f"{figures['webhooks']} webhooks)")
    print(f"DNS per (host, type): mean {figures['dns_per_host_type_mean']}, max "
          f"{figures['dns_per_host_type_max']}; Team Cymru queries "
          f"{figures['dns_queries_cymru']}; RDAP per prefix {figures['rdap_per_prefix']}, "
          f"per domain {figures['rdap_per_domain']}")
    if args.json:
        print(as_json)


if __name__ == "__main__":
    main()
