"""Worker loops: resolve, deliver, re-resolve and check, each polling the database.

`nttd serve` runs them beside the web app; `nttd worker` runs them alone. On
PostgreSQL several worker processes share the work through claims with leases
(`nttd.db.claim`): a worker killed mid-batch loses nothing, its leases expire and
another worker takes the cases. On SQLite run one worker (SQLite has no SKIP
LOCKED and serialises writers); it says so when it starts.

The check step (`CheckScheduler`) is a pipeline rather than a batch: it keeps up
to `NTTD_CHECK_CONCURRENCY` checks in flight in this process, at most
`NTTD_CHECK_PER_HOST` of them against one host, claims more as slots free up, and
writes finished results in one transaction per round. A host that times out 3
times in a row is left alone for the next step of `NTTD_HOST_BACKOFF_SCHEDULE`
(growing while it keeps timing out): its cases are not claimed, and cases already
claimed are deferred to the end of the pause without a check. Host state lives in
the process (each worker learns on its own); hosts are keyed by name.
`NTTD_LEASE_DURATION` must exceed a check's worst case (twice the checker's
timeout) plus a round, or a slow check's case could be claimed a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from nttd.checker import CheckResult, Verdict
from nttd.db import claim, is_sqlite
from nttd.factcache import prune_fact_cache
from nttd.lifecycle import CHECKED_STATUSES
from nttd.models import Case
from nttd.monitoring import Outcome, prune_check_history, record_outcomes
from nttd.moves import reresolve_due_cases
from nttd.outbox import deliver_due_notices
from nttd.resolving import resolve_due_cases
from nttd.services import Services

log = logging.getLogger(__name__)

Step = Callable[[Services], Awaitable[int]]
STEPS: dict[str, Step] = {
    "resolve": resolve_due_cases,
    "deliver": deliver_due_notices,
    "reresolve": reresolve_due_cases,
}
TIMEOUTS_BEFORE_BACKOFF = 3
MAX_EXCLUDED_HOSTS = 500  # hosts in backoff left out of the claim query (the rest are deferred)
ROUND = 0.05  # seconds a check round waits for in-flight checks before writing results
PRUNE_EVERY = timedelta(minutes=10)


@dataclass
class HostState:
    """Politeness towards one host within this process."""

    gate: asyncio.Semaphore
    busy: int = 0
    timeouts: int = 0  # in a row
    backoff_until: datetime | None = None


def _timed_out(result: CheckResult) -> bool:
    return result.verdict is Verdict.UNREACHABLE and result.error == "timeout"


@dataclass
class CheckScheduler:
    """The check step of one worker process (state: in-flight checks and hosts)."""

    rng: random.Random = field(default_factory=random.Random)
    round_seconds: float = ROUND
    hosts: dict[str, HostState] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _done: list[Outcome] = field(default_factory=list)

    def _host(self, svc: Services, host: str) -> HostState:
        state = self.hosts.get(host)
        if state is None:
            state = HostState(asyncio.Semaphore(svc.settings.check_per_host))
            self.hosts[host] = state
        return state

    def backing_off(self, now: datetime) -> list[str]:
        return [h for h, s in self.hosts.items()
                if s.backoff_until is not None and s.backoff_until > now]

    def note(self, svc: Services, state: HostState, result: CheckResult) -> None:
        """Count timeouts in a row; from the 3rd on, pause the host, longer each time."""
        if not _timed_out(result):
            state.timeouts, state.backoff_until = 0, None
            return
        state.timeouts += 1
        if state.timeouts >= TIMEOUTS_BEFORE_BACKOFF:
            schedule = svc.settings.host_backoff_schedule
            step = schedule[min(state.timeouts - TIMEOUTS_BEFORE_BACKOFF, len(schedule) - 1)]
            state.backoff_until = svc.clock() + step

    async def _check_one(self, svc: Services, case_id: int, url: str, host: str) -> None:
        state = self._host(svc, host)
        state.busy += 1
        try:
            async with state.gate:
                paused = state.backoff_until
                if paused is not None and paused > svc.clock():
                    self._done.append(Outcome(case_id, None, defer_until=paused))
                    return
                result = await svc.checker.check(url)
            self.note(svc, state, result)
            self._done.append(Outcome(case_id, result))
        finally:
            state.busy -= 1

    async def _claim(self, svc: Services, room: int) -> int:
        now = svc.clock()
        where = [Case.status.in_([s.value for s in CHECKED_STATUSES]), Case.next_check_at <= now]
        paused = self.backing_off(now)[:MAX_EXCLUDED_HOSTS]
        if paused:
            where.append(Case.host.not_in(paused))
        async with svc.sessions() as session, session.begin():
            ids = await claim(session, Case, where=where, order_by=Case.next_check_at,
                              limit=room, owner=svc.worker_id, now=now,
                              lease_until=now + svc.settings.lease_duration)
            jobs = (await session.execute(
                select(Case.id, Case.canonical_url, Case.host).where(Case.id.in_(ids)))).all()
        for case_id, url, host in jobs:
            task = asyncio.create_task(self._check_one(svc, case_id, url, host))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    async def _write(self, svc: Services) -> int:
        outcomes, self._done = self._done, []
        if outcomes:
            await record_outcomes(svc, outcomes, rng=self.rng)
        self.hosts = {h: s for h, s in self.hosts.items()
                      if s.busy or s.timeouts or s.backoff_until is not None}
        return len(outcomes)

    async def step(self, svc: Services) -> int:
        """One round: top up the checks in flight, wait briefly, write what finished."""
        room = svc.settings.check_concurrency - len(self._tasks)
        claimed = await self._claim(svc, room) if room > 0 else 0
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.round_seconds)
        written = await self._write(svc)
        return claimed + written  # 0: idle wait (checks in flight go on meanwhile)

    async def drain(self, svc: Services) -> None:
        """Let the checks in flight finish (30 s at most) and write them (on shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)
        for task in list(self._tasks):
            task.cancel()  # their leases expire; another round checks them
        with contextlib.suppress(Exception):
            await self._write(svc)


@dataclass
class Every:
    """Run `step` at most once per `interval` (e.g. pruning history)."""

    step: Step
    interval: timedelta
    last: datetime | None = None

    async def __call__(self, svc: Services) -> int:
        now = svc.clock()
        if self.last is not None and now - self.last < self.interval:
            return 0
        self.last = now
        return await self.step(svc)


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
        log.warning("SQLite database: run a single nttd worker (or serve) on it; "
                    "use PostgreSQL to share the work between several")
    checks = CheckScheduler()
    steps: dict[str, Step] = dict(STEPS)
    steps["check"] = checks.step
    steps["prune"] = Every(prune_check_history, PRUNE_EVERY)
    steps["prune-facts"] = Every(prune_fact_cache, PRUNE_EVERY)  # expired cached facts
    try:
        await asyncio.gather(
            *(run_step_forever(svc, name, step, stop) for name, step in steps.items())
        )
    finally:
        await checks.drain(svc)
