"""Worker loops: resolve, deliver and check, each polling the database for due work.

`nttd serve` runs them beside the web app; `nttd worker` runs them alone. On
PostgreSQL several worker processes share the work through claims with leases;
on SQLite run one (SQLite has no SKIP LOCKED and serialises writers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nttd.db import is_sqlite
from nttd.monitoring import check_due_cases
from nttd.outbox import deliver_due_notices
from nttd.resolving import resolve_due_cases
from nttd.services import Services

log = logging.getLogger(__name__)

Step = Callable[[Services], Awaitable[int]]
STEPS: dict[str, Step] = {
    "resolve": resolve_due_cases,
    "deliver": deliver_due_notices,
    "check": check_due_cases,
}


async def run_step_forever(svc: Services, name: str, step: Step, stop: asyncio.Event) -> None:
    idle = svc.settings.worker_poll_interval.total_seconds()
    while not stop.is_set():
        try:
            done = await step(svc)
        except Exception:
            log.exception("%s step failed; retrying after %.1fs", name, idle)
            done = 0
        if done == 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=idle)
            except TimeoutError:
                pass


async def run_workers(svc: Services, stop: asyncio.Event) -> None:
    if is_sqlite(svc.settings.database_url):
        log.info("SQLite database: running a single worker (use PostgreSQL for several)")
    await asyncio.gather(
        *(run_step_forever(svc, name, step, stop) for name, step in STEPS.items())
    )
