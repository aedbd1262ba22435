"""The check step of a worker: a pipeline of headers-only checks, polite per host.

It keeps up to `NTTD_CHECK_CONCURRENCY` checks in flight in this process, at most
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
import random
from dataclasses import dataclass, field
from datetime import datetime

from nttd.cases import CHECKED_STATUSES
from nttd.checks.probe import CheckResult, Verdict
from nttd.checks.removal import Outcome, record_outcomes
from nttd.db import claim_rows
from nttd.models import Case
from nttd.services import Services

TIMEOUTS_BEFORE_BACKOFF = 3
MAX_EXCLUDED_HOSTS = 500  # hosts in backoff left out of the claim query (the rest are deferred)
ROUND = 0.05  # seconds a check round waits for in-flight checks before writing results


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
            jobs = await claim_rows(session, Case, where=where, order_by=Case.next_check_at,
                                    limit=room, owner=svc.worker_id, now=now,
                                    lease_until=now + svc.settings.lease_duration,
                                    columns=[Case.id, Case.canonical_url, Case.host])
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

    async def settle(self, svc: Services) -> int:
        """Wait for every check in flight (each is bounded by the checker's own
        time limit) and write the results (run_until_idle)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        return await self._write(svc)

    async def drain(self, svc: Services) -> None:
        """Let the checks in flight finish (30 s at most) and write them (on shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)
        for task in list(self._tasks):
            task.cancel()  # their leases expire; another round checks them
        with contextlib.suppress(Exception):
            await self._write(svc)
