"""The service's clock: a seam, like the DNS resolver and the HTTP session.

Everything that asks "what time is it" asks `Services.clock`, so tests (and the
demo) can run the service on a clock they move forward themselves:

    clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    svc = await Services.start(settings, clock=clock)
    ...
    clock.advance(timedelta(hours=24))
    await run_until_idle(svc)      # every step due by then runs, in-process
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until it is moved (aware UTC)."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start if start is not None else utcnow()
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time does not go backwards")
        self.now += delta
        return self.now

    def set(self, when: datetime) -> datetime:
        """Move to `when` (never backwards)."""
        return self.advance(when.astimezone(UTC) - self.now)

    def __repr__(self) -> str:
        return f"ManualClock({self.now.isoformat()})"
