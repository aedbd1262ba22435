"""Worker loops: resolve, deliver, re-resolve and check, each polling the database.

`nttd serve` runs them beside the web app; `nttd worker` runs them alone. On
PostgreSQL several worker processes share the work through claims with leases
(`nttd.db.claim`): a worker killed mid-batch loses nothing, its leases expire and
another worker takes the cases. On SQLite run one worker (SQLite has no SKIP
LOCKED and serialises writers); it says so when it starts.

The check step is a pipeline rather than a batch (`nttd.checks.CheckScheduler`).

`run_until_idle` runs every step in this process, round after round, until none
has anything due at the service's clock: with an injected clock, tests and the
demo move time forward themselves instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from nttd.cases import CHECKED_STATUSES, REROUTABLE, CaseStatus, anonymise_due, seal_events
from nttd.checks import CheckScheduler, prune_check_history
from nttd.db import is_sqlite
from nttd.exchange import exchange_statuses, flag_unacknowledged, next_deadline, next_report_due
from nttd.factcache import delete_expired_facts
from nttd.models import Case, CheckSchedule, Notice
from nttd.outbox import NoticeStatus, deliver_due_notices, queue_due_reminders
from nttd.routing import reresolve_due_cases, resolve_due_cases
from nttd.services import Services
from nttd.stats import REFRESH_EVERY, refresh_stats

log = logging.getLogger(__name__)

async def seal_audit_trail(svc: Services) -> int:
    """Seal the events written since the last round into the audit hash chain."""
    async with svc.sessions() as session, session.begin():
        return await seal_events(session)


Step = Callable[[Services], Awaitable[int]]
STEPS: dict[str, Step] = {
    "resolve": resolve_due_cases,
    "deliver": deliver_due_notices,
    "remind": queue_due_reminders,  # NTTD_REMINDER_SCHEDULE: chase providers
    "reresolve": reresolve_due_cases,
    # nttd.exchange: statuses of cases other nttd instances sent us flow back to them,
    # and partners that do not acknowledge in time (NTTD_PARTNER_ACK_DEADLINE) are flagged.
    "exchange": exchange_statuses,
    "seal": seal_audit_trail,
}
PRUNE_EVERY = timedelta(minutes=10)
ACK_DEADLINE_EVERY = timedelta(minutes=1)  # a look for partners past their deadline
MAX_FAILURE_PAUSE = 5.0  # seconds between retries of a step that keeps failing


async def apply_retention(svc: Services) -> int:
    """Anonymise the closed cases whose retention has passed (one batch)."""
    async with svc.sessions() as session, session.begin():
        return await anonymise_due(session, now=svc.clock(), retention=svc.settings.retention)


async def refresh_statistics(svc: Services) -> int:
    """Bin the statistics' narrow copies of cases written or due since the last round
    (nttd.stats.fresh): what keeps the statistics fast at a million cases."""
    async with svc.sessions() as session:
        return await refresh_stats(session, now=svc.clock())


async def prune_fact_cache(svc: Services) -> int:
    """Delete expired facts from the shared fact cache."""
    return await delete_expired_facts(svc.engine, now=svc.clock())

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
    """Run `step` until `stop`, pausing `NTTD_WORKER_POLL_INTERVAL` when it had nothing
    to do. A step that fails (the database restarting, say) is retried, the pause
    doubling while it keeps failing, up to MAX_FAILURE_PAUSE: the worker rides out
    an outage with one traceback and a line per retry, not thousands of tracebacks."""
    idle = svc.settings.worker_poll_interval.total_seconds()
    failures = 0
    while not stop.is_set():
        pause = idle
        try:
            done = await step(svc)
        except Exception as exc:
            failures += 1
            done = 0
            pause = min(idle * 2 ** (failures - 1), max(idle, MAX_FAILURE_PAUSE))
            if failures == 1:
                log.exception("%s step failed; retrying after %.1fs", name, pause)
            else:
                log.warning("%s step failed again (%d in a row: %s); retrying after %.1fs",
                            name, failures, type(exc).__name__, pause)
        else:
            if failures:
                log.info("%s step works again after %d failures", name, failures)
            failures = 0
        if done == 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
            except TimeoutError:
                pass


async def run_workers(svc: Services, stop: asyncio.Event) -> None:
    if is_sqlite(svc.settings.database_url):
        log.warning("SQLite database: run a single nttd worker (or serve) on it; "
                    "use PostgreSQL to share the work between several")
    checks = CheckScheduler()
    steps = worker_steps(checks)
    try:
        await asyncio.gather(
            *(run_step_forever(svc, name, step, stop) for name, step in steps.items())
        )
    finally:
        await checks.drain(svc)


def worker_steps(checks: CheckScheduler) -> dict[str, Step]:
    """Every step of a worker, in the order of the data flow."""
    steps: dict[str, Step] = dict(STEPS)
    steps["check"] = checks.step
    steps["prune"] = Every(prune_check_history, PRUNE_EVERY)
    steps["prune-facts"] = Every(prune_fact_cache, PRUNE_EVERY)
    steps["retention"] = Every(apply_retention, PRUNE_EVERY)  # expired cached facts
    steps["ack-deadline"] = Every(flag_unacknowledged, ACK_DEADLINE_EVERY)
    steps["stats"] = Every(refresh_statistics, REFRESH_EVERY)
    return steps


class StillBusy(RuntimeError):
    """run_until_idle gave up: work kept coming due (a loop in the pipeline?)."""


async def run_until_idle(svc: Services, checks: CheckScheduler | None = None, *,
                         max_rounds: int = 50) -> int:
    """Run every worker step in this process until none has anything due at the
    service's clock; checks in flight are waited for and written each round.
    Returns how much work was done. Pass the same `checks` across calls to keep
    what it learnt about hosts (timeouts, backoff)."""
    checks = checks if checks is not None else CheckScheduler()
    steps = worker_steps(checks)
    total = 0
    for _ in range(max_rounds):
        done = 0
        for step in steps.values():
            done += await step(svc)
        done += await checks.settle(svc)
        if done == 0:
            return total
        total += done
    raise StillBusy(f"still busy after {max_rounds} rounds ({total} pieces of work)")


async def next_due(svc: Services) -> datetime | None:
    """When the next piece of work falls due after the service's clock (None: nothing
    is waiting). With an injected clock, move it there and `run_until_idle` again."""
    now = svc.clock()
    checked = [s.value for s in CHECKED_STATUSES]
    queries = [
        select(func.min(Case.next_resolve_at)).where(
            Case.status.in_([CaseStatus.RECEIVED.value, CaseStatus.RESOLVING.value]),
            Case.next_resolve_at > now),
        select(func.min(CheckSchedule.next_check_at))
        .join(Case, Case.id == CheckSchedule.case_id)
        .where(Case.status.in_(checked), CheckSchedule.next_check_at > now),
        select(func.min(Case.next_reresolve_at)).where(
            Case.status.in_([s.value for s in REROUTABLE]), Case.next_reresolve_at > now),
        select(func.min(Notice.next_attempt_at)).where(
            Notice.status == NoticeStatus.QUEUED, Notice.next_attempt_at > now),
        select(func.min(Notice.next_reminder_at)).where(Notice.next_reminder_at > now),
    ]
    async with svc.read_sessions() as session:
        times = [await session.scalar(q) for q in queries]
    times += [await next_report_due(svc, now), await next_deadline(svc, now)]
    found = [t for t in times if t is not None]
    return min(found) if found else None
