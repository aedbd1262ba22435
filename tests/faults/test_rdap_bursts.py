"""RDAP answering 429 (with Retry-After) and 500 in bursts: every case is resolved in
the end, none is given up on for a passing error, and retries are spaced out
(Retry-After honoured, backoff after a 5xx, the case put back for later once a
lookup's own retries are spent) — never a hot loop."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from nttd.demo.standins.dns_server import add_cymru
from nttd.models import Case, Event
from tests.faults.support import (
    DONE,
    Db,
    loopback_net,
    prepare_database,
    start_nttd,
    submit_urls,
    wait_for_progress,
    wait_until,
)

pytestmark = pytest.mark.faults

NETWORKS = 60  # one case per network: each network is looked up on its own


async def test_rdap_429_and_500_bursts_are_waited_out(pg_url: str, tmp_path: Path) -> None:
    async with loopback_net(tmp_path, names_per_site=1) as net:
        urls = []
        for i in range(NETWORKS):
            ip, network = f"127.30.{i}.1", f"127.30.{i}.0/24"
            country = "US" if i % 2 else "GB"  # no partner: a notice to the host
            net.rdap.add_ip_network(network, country, f"abuse@net{i}.example", f"NET-{i}")
            add_cymru(net.zone, ip, 64600 + i, network, country, f"NET-{i}")
            net.zone.add(f"r{i}.example.org", "A", ip)
            urls.append(f"http://r{i}.example.org/img/{i}.jpg")
        net.rdap.add_domain("example.org", "Example Registrar, Inc.", "9999",
                            "abuse@registrar.example")
        token = await prepare_database(pg_url, net)
        env = net.env(pg_url, NTTD_LEASE_DURATION="60s")
        db = Db(pg_url)
        started = time.monotonic()
        serve = await start_nttd("serve", env, tmp_path, "serve")
        worker = await start_nttd("worker", env, tmp_path, "worker")
        try:
            # The first wave meets a burst of 429s, then one of 500s ...
            net.rdap.fail_next(40, 429, retry_after="1")
            net.rdap.fail_next(40, 500)
            ids = await submit_urls(serve.base_url, token, urls)

            async def some_done() -> bool:
                return await db.cases_done() >= 5

            await wait_until("the first cases through", some_done, cap=300)
            # ... and the retries meet another burst of 500s.
            net.rdap.fail_next(30, 500)
            await wait_for_progress("cases done + notices sent", db.all_done, stall=120)
            elapsed = time.monotonic() - started
        finally:
            logs = {p.name: await p.stop() for p in (serve, worker)}
        async with db.sessions() as session:
            cases = list(await session.scalars(select(Case).where(Case.id.in_(ids))))
            events = list(await session.scalars(
                select(Event).where(Event.kind == "resolved").order_by(Event.id)))
        statuses = await db.case_statuses()
        await db.close()

        by_path: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for at, path, status in net.rdap.answers:
            by_path[path].append((at, status))
        after: dict[int, list[float]] = {429: [], 500: []}  # gap after a failure, same path
        for path, answers in by_path.items():
            if path.startswith("/ip/"):
                for (at, status), (next_at, _) in itertools.pairwise(answers):
                    if status in after:
                        after[status].append(next_at - at)
        failures = sum(1 for _, _, s in net.rdap.answers if s in after)
        put_back = sum(1 for e in events if (e.data or {}).get("retryable"))
        most = max(len(a) for p, a in by_path.items() if p.startswith("/ip/"))
        report = (f"{elapsed:.0f} s; cases {dict(statuses)}; {len(net.rdap.answers)} RDAP "
                  f"requests, {failures} answered 429/500; {put_back} resolutions put back "
                  f"for later; most requests for one network: {most}; shortest gap after "
                  f"a 429: {min(after[429], default=None)}, after a 500: "
                  f"{min(after[500], default=None)}")
        print(report)
        for name, text in logs.items():
            assert "Traceback" not in text, (name, text[-5000:])
        assert not net.rdap.failing, report  # every burst was served
        assert len(cases) == NETWORKS and {c.status for c in cases} <= DONE, report
        assert all((c.facts or {})["hosting"]["abuse_emails"] for c in cases), report
        assert put_back > 0, report  # some lookups spent their retries: case backoff
        # Spaced out: Retry-After (1 s) waited for, at least the first backoff after a 500.
        assert after[429] and min(after[429]) >= 0.9, report
        assert after[500] and min(after[500]) >= 0.2, report
        assert most <= 10, report  # no hot loop on any network
