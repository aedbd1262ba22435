"""The check step of a worker: a pipeline of headers-only checks, polite per host.

It keeps up to `NTTD_CHECK_CONCURRENCY` checks in flight in this process, at most
`NTTD_CHECK_PER_HOST` of them against one host, and each round writes the results
that came in and claims as many checks as slots are free, in one transaction.
A host that times out 3 times in a row is left alone for the next step of
`NTTD_HOST_BACKOFF_SCHEDULE` (growing while it keeps timing out): its cases are not
claimed, and cases already claimed are deferred to the end of the pause without a
check. Host state lives in the process (each worker learns on its own); hosts are
keyed by name.
`NTTD_LEASE_DURATION` must exceed a check's worst case (twice the checker's
timeout) plus a round, or a slow check's case could be claimed a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, any_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nttd.cases import CHECKED_STATUSES
from nttd.checks.probe import CheckResult, Verdict
from nttd.checks.removal import Outcome, record_outcomes, write_outcomes
from nttd.models import Case, CheckSchedule
from nttd.services import Services

TIMEOUTS_BEFORE_BACKOFF = 3
MAX_EXCLUDED_HOSTS = 500  # hosts in backoff left out of the claim query (the rest are deferred)
ROUND = 0.05  # seconds a check round waits for in-flight checks before writing results


log = logging.getLogger(__name__)
_CASES = cast(Table, Case.__table__)
_SCHEDULE = cast(Table, CheckSchedule.__table__)
_CHECKED = [s.value for s in CHECKED_STATUSES]


async def claim_checks(
    session: AsyncSession, *, limit: int, owner: str, now: datetime, lease_until: datetime,
    excluded_hosts: Sequence[str] = (),
) -> list[tuple[int, str, str]]:
    """Lease up to `limit` due checks to `owner`: (case id, URL, host) of each.

    Due: a check_schedule row whose `next_check_at` has come and whose lease is free
    or expired, of a case in a checked status, on a host not excluded; earliest
    first. Only the check_schedule rows are written (the lease), not the cases.
    PostgreSQL, one statement (see `nttd.db.claim`):

        WITH picked AS MATERIALIZED (SELECT s.case_id, c.canonical_url, c.host
            FROM check_schedule s JOIN cases c ON c.id = s.case_id WHERE ...
            ORDER BY s.next_check_at LIMIT n FOR UPDATE OF s SKIP LOCKED)
        UPDATE check_schedule SET lease_owner=..., lease_until=... FROM picked
        WHERE check_schedule.case_id = picked.case_id
          AND check_schedule.case_id = ANY(ARRAY(SELECT case_id FROM picked))
        RETURNING picked.case_id, picked.canonical_url, picked.host

    SQLite (one writer at a time, no locking clause, and a RETURNING that cannot name
    another table): the same pick, then the UPDATE of the picked rows. The caller
    commits.
    """
    s, c = _SCHEDULE.c, _CASES.c
    pick = (select(s.case_id, c.canonical_url, c.host)
            .join_from(_SCHEDULE, _CASES, c.id == s.case_id)
            .where(s.next_check_at <= now, s.lease_until.is_(None) | (s.lease_until < now),
                   c.status.in_(_CHECKED))
            .order_by(s.next_check_at).limit(limit))
    if excluded_hosts:
        pick = pick.where(c.host.not_in(list(excluded_hosts)))
    lease = {"lease_owner": owner, "lease_until": lease_until}
    if session.get_bind().dialect.name == "postgresql":
        picked = (pick.with_for_update(of=_SCHEDULE, skip_locked=True).cte("picked")
                  .prefix_with("MATERIALIZED"))
        # The ANY(ARRAY(...)) repeats the join as an index condition, evaluated once:
        # the planner reaches the picked rows by primary key, never by scanning the table.
        ids = func.array(select(picked.c.case_id).scalar_subquery())
        statement = (update(_SCHEDULE)
                     .where(s.case_id == picked.c.case_id, s.case_id == any_(ids))
                     .values(lease)
                     .returning(picked.c.case_id, picked.c.canonical_url, picked.c.host))
        return [tuple(row) for row in (await session.execute(statement)).all()]
    jobs = [tuple(row) for row in (await session.execute(pick)).all()]
    if jobs:
        await session.execute(update(_SCHEDULE).where(s.case_id.in_([j[0] for j in jobs]))
                              .values(lease))
    return jobs


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
    _claimed: list[tuple[int, str, str]] = field(default_factory=list)

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

    async def _claim_in(self, session: AsyncSession, svc: Services, room: int) -> int:
        """Claim up to `room` checks in `session`'s transaction and start them once it
        commits (the caller's `async with`): a rolled-back claim starts nothing."""
        now = svc.clock()
        jobs = await claim_checks(session, limit=room, owner=svc.worker_id, now=now,
                                  lease_until=now + svc.settings.lease_duration,
                                  excluded_hosts=self.backing_off(now)[:MAX_EXCLUDED_HOSTS])
        self._claimed = jobs
        return len(jobs)

    def _start(self, svc: Services) -> None:
        jobs, self._claimed = self._claimed, []
        for case_id, url, host in jobs:
            task = asyncio.create_task(self._check_one(svc, case_id, url, host))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write_and_claim(self, svc: Services, outcomes: list[Outcome], room: int) -> int:
        """Write `outcomes` and claim up to `room` more checks in one transaction;
        returns the checks claimed. If that fails, the outcomes are written on their
        own (`record_outcomes`, which sets aside one that cannot be) and the claim is
        made apart."""
        if not outcomes and room <= 0:
            return 0
        claimed = 0
        try:
            async with svc.sessions() as session, session.begin():
                if outcomes:
                    await write_outcomes(session, svc, outcomes, rng=self.rng)
                if room > 0:
                    claimed = await self._claim_in(session, svc, room)
        except Exception:
            self._claimed = []
            if not outcomes:
                raise
            log.warning("could not write %d checks and claim more together; "
                        "writing them apart", len(outcomes), exc_info=True)
            await record_outcomes(svc, outcomes, rng=self.rng)
            if room <= 0:
                return 0
            async with svc.sessions() as session, session.begin():
                claimed = await self._claim_in(session, svc, room)
        self._start(svc)
        return claimed

    async def _write(self, svc: Services) -> int:
        outcomes, self._done = self._done, []
        if outcomes:
            await record_outcomes(svc, outcomes, rng=self.rng)
        self._forget_quiet_hosts()
        return len(outcomes)

    def _forget_quiet_hosts(self) -> None:
        self.hosts = {h: s for h, s in self.hosts.items()
                      if s.busy or s.timeouts or s.backoff_until is not None}

    async def step(self, svc: Services) -> int:
        """One round: write the results that came in since the last round and top up
        the checks in flight, both in one transaction; then wait briefly for checks
        to finish (their results are written next round, or by settle or drain).
        Returns the checks claimed, written and finished meanwhile: 0 means idle
        (the worker loop then pauses; checks in flight go on meanwhile)."""
        outcomes, self._done = self._done, []
        room = svc.settings.check_concurrency - len(self._tasks)
        claimed = await self._write_and_claim(svc, outcomes, room)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.round_seconds)
        self._forget_quiet_hosts()
        return claimed + len(outcomes) + len(self._done)

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
