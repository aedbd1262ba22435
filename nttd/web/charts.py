"""Charts as SVG drawn on the server: survival curves with their bands, medians with
interval whiskers, trend lines. No chart library, nothing loaded from elsewhere.

Clean under the strict Content-Security-Policy: no script, no `style` attribute (every
look comes from a class, styled in static/style.css). A chart shows numbers and group
labels only, every label escaped; each mark has a `<title>` (the browser's tooltip) and
every chart sits beside a table with the same numbers (the template's job).

Time runs on a log scale (one minute to the longest time shown): removal times span
minutes to months. A time under a minute is drawn at the left edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import count

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40
SERIES_CLASSES = 8  # .s0 .. .s7 in the stylesheet
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
TICKS = ((MINUTE, "1m"), (10 * MINUTE, "10m"), (HOUR, "1h"), (6 * HOUR, "6h"), (DAY, "1d"),
         (3 * DAY, "3d"), (7 * DAY, "7d"), (30 * DAY, "30d"), (90 * DAY, "90d"),
         (365 * DAY, "1y"))

_ids = count(1)


def duration_text(seconds: float | None) -> str:
    """A duration for a tooltip: 45m, 5h 10m, 3d 4h; None: not reached."""
    if seconds is None:
        return "not reached"
    if math.isinf(seconds):
        return "\u221e"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


@dataclass(frozen=True)
class TimeScale:
    """Seconds to x on a log scale between one minute and `end` seconds."""

    end: float
    left: float = LEFT
    right: float = WIDTH - RIGHT

    def __post_init__(self) -> None:
        object.__setattr__(self, "end", max(self.end, 10 * MINUTE))

    def x(self, seconds: float) -> float:
        t = min(max(seconds, MINUTE), self.end)
        share = math.log(t / MINUTE) / math.log(self.end / MINUTE)
        return round(self.left + share * (self.right - self.left), 2)

    def ticks(self) -> list[tuple[float, str]]:
        return [(self.x(t), label) for t, label in TICKS if t <= self.end]


@dataclass(frozen=True)
class ShareScale:
    """A share (0..1) to y: 1 at the top."""

    top: float = TOP
    bottom: float = HEIGHT - BOTTOM

    def y(self, share: float) -> float:
        return round(self.bottom - min(max(share, 0.0), 1.0) * (self.bottom - self.top), 2)


# The curves.

Point = Sequence[float]  # [time, survival, lower, upper], as nttd.stats gives them


def step_points(points: Sequence[Point], last_time: float | None) -> list[tuple[float, float]]:
    """The step line of S(t) in data coordinates: 1 from 0 until the first event, each
    level held until the next event time, the last held until `last_time`."""
    line = [(0.0, 1.0)]
    level = 1.0
    for time, survival, *_ in points:
        line.append((time, level))
        line.append((time, survival))
        level = survival
    end = max(last_time or 0.0, points[-1][0] if points else 0.0)
    line.append((end, level))
    return line


def band_points(points: Sequence[Point], last_time: float | None) -> list[tuple[float, float]]:
    """The band's polygon in data coordinates: the upper limit's steps left to right,
    then the lower limit's steps right to left."""
    upper = step_points([(p[0], p[3]) for p in points], last_time)
    lower = step_points([(p[0], p[2]) for p in points], last_time)
    return upper + lower[::-1]


def _poly(points: Sequence[tuple[float, float]], xs: TimeScale, ys: ShareScale) -> str:
    return " ".join(f"{xs.x(t)},{ys.y(s)}" for t, s in points)


def _svg(title: str, body: list[str], height: int = HEIGHT) -> str:
    ident = f"chart-{next(_ids)}"
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} '
            f'{height}" role="img" aria-labelledby="{ident}">'
            f'<title id="{ident}">{escape(title)}</title>')
    # Every text in `body` went through escape(); the rest is numbers and fixed markup:
    # the templates may mark it safe.
    return head + "".join(body) + "</svg>"


def _time_axis(xs: TimeScale, y: float) -> list[str]:
    parts = [f'<line class="axis" x1="{xs.left}" y1="{y}" x2="{xs.right}" y2="{y}"/>']
    for x, label in xs.ticks():
        parts.append(f'<line class="grid" x1="{x}" y1="{TOP}" x2="{x}" y2="{y}"/>')
        parts.append(f'<text class="tick" x="{x}" y="{y + 16}" text-anchor="middle">'
                     f'{label}</text>')
    return parts


@dataclass(frozen=True)
class Curve:
    label: str
    points: Sequence[Point]
    last_time: float | None


def survival_chart(curves: Sequence[Curve], *, title: str) -> str:
    """S(t), the share still online, per group: a step line over its band."""
    end = max([*(c.last_time or 0.0 for c in curves),
               *(p[0] for c in curves for p in c.points), MINUTE])
    xs, ys = TimeScale(end), ShareScale()
    body = _time_axis(xs, ys.bottom)
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = ys.y(share)
        body.append(f'<line class="grid" x1="{xs.left}" y1="{y}" x2="{xs.right}" y2="{y}"/>')
        body.append(f'<text class="tick" x="{xs.left - 6}" y="{y + 4}" text-anchor="end">'
                    f'{int(share * 100)}%</text>')
    for i, curve in enumerate(curves):
        css = f"s{i % SERIES_CLASSES}"
        label = escape(curve.label)
        body.append(f'<g class="series {css}"><title>{label}</title>')
        band = _poly(band_points(curve.points, curve.last_time), xs, ys)
        line = _poly(step_points(curve.points, curve.last_time), xs, ys)
        body.append(f'<polygon class="band" points="{band}"/>')
        body.append(f'<polyline class="line" points="{line}"/>')
        for time, survival, lower, upper in curve.points:
            body.append(f'<circle class="dot" cx="{xs.x(time)}" cy="{ys.y(survival)}" r="2">'
                        f'<title>{label}: {percent(survival)} still online at '
                        f'{duration_text(time)} (95% CI {percent(lower)}\u2013{percent(upper)})'
                        '</title></circle>')
        body.append("</g>")
    body += _legend([c.label for c in curves])
    return _svg(title, body)


def _legend(labels: Sequence[str]) -> list[str]:
    parts = ['<g class="legend">']
    for i, label in enumerate(labels):
        x = LEFT + 8 + (i % 4) * 160
        y = TOP + 8 + (i // 4) * 16
        parts.append(f'<rect class="key s{i % SERIES_CLASSES}" x="{x}" y="{y - 8}" '
                     f'width="10" height="10"/><text class="label" x="{x + 14}" y="{y + 1}">'
                     f'{escape(label[:24])}</text>')
    parts.append("</g>")
    return parts


# The medians.

@dataclass(frozen=True)
class Interval:
    label: str
    estimate: float | None  # None: not reached
    lower: float | None     # None: not reached
    upper: float | None     # None: infinity


BAR, GAP = 18, 8


def median_chart(rows: Sequence[Interval], *, title: str) -> str:
    """Medians as horizontal bars from the left edge, whiskers over the interval; an
    upper limit of infinity runs to the right edge (class `open`)."""
    values = [v for r in rows for v in (r.estimate, r.lower, r.upper) if v is not None]
    xs = TimeScale(max([*values, DAY]), left=160)
    height = TOP + len(rows) * (BAR + GAP) + BOTTOM
    axis_y = height - BOTTOM + 4
    body = _time_axis(xs, axis_y)
    for i, row in enumerate(rows):
        y = TOP + i * (BAR + GAP)
        mid = y + BAR / 2
        label = escape(row.label)
        upper = math.inf if row.upper is None else row.upper
        tip = (f"{label}: median {duration_text(row.estimate)} (95% CI "
               f"{duration_text(row.lower)}\u2013{duration_text(upper)})")
        body.append(f'<g class="bar-row"><title>{tip}</title>')
        body.append(f'<text class="label" x="{xs.left - 6}" y="{mid + 4}" '
                    f'text-anchor="end">{escape(row.label[:22])}</text>')
        if row.estimate is not None:
            body.append(f'<rect class="bar" x="{xs.left}" y="{y}" '
                        f'width="{round(xs.x(row.estimate) - xs.left, 2)}" height="{BAR}"/>')
        else:
            body.append(f'<text class="missing" x="{xs.left + 4}" y="{mid + 4}">'
                        'not reached</text>')
        if row.lower is not None:
            x1 = xs.x(row.lower)
            x2 = xs.right if row.upper is None else xs.x(row.upper)
            css = "whisker open" if row.upper is None else "whisker"
            body.append(f'<line class="{css}" x1="{x1}" y1="{mid}" x2="{x2}" y2="{mid}"/>')
            body.append(f'<line class="whisker" x1="{x1}" y1="{mid - 5}" x2="{x1}" '
                        f'y2="{mid + 5}"/>')
            if row.upper is not None:
                body.append(f'<line class="whisker" x1="{x2}" y1="{mid - 5}" x2="{x2}" '
                            f'y2="{mid + 5}"/>')
        body.append("</g>")
    return _svg(title, body, height)


# Shares (the chase steps).

@dataclass(frozen=True)
class Share:
    label: str
    estimate: float | None  # 0..1; None: nothing to show
    lower: float | None
    upper: float | None
    note: str = ""          # the counts behind it, for the tooltip


def share_chart(rows: Sequence[Share], *, title: str) -> str:
    """Shares as horizontal bars on a linear 0-100% axis, whiskers over the interval."""
    left, right = 160.0, WIDTH - RIGHT
    height = TOP + len(rows) * (BAR + GAP) + BOTTOM
    axis_y = height - BOTTOM + 4

    def x(share: float) -> float:
        return round(left + min(max(share, 0.0), 1.0) * (right - left), 2)

    body = [f'<line class="axis" x1="{left}" y1="{axis_y}" x2="{right}" y2="{axis_y}"/>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(f'<line class="grid" x1="{x(tick)}" y1="{TOP}" x2="{x(tick)}" '
                    f'y2="{axis_y}"/>')
        body.append(f'<text class="tick" x="{x(tick)}" y="{axis_y + 16}" '
                    f'text-anchor="middle">{tick * 100:.0f}%</text>')
    for i, row in enumerate(rows):
        y = TOP + i * (BAR + GAP)
        mid = y + BAR / 2
        tip = (f"{escape(row.label)}: {percent(row.estimate)} (95% CI {percent(row.lower)}"
               f"\u2013{percent(row.upper)}){' ' + escape(row.note) if row.note else ''}")
        body.append(f'<g class="bar-row"><title>{tip}</title>')
        body.append(f'<text class="label" x="{left - 6}" y="{mid + 4}" '
                    f'text-anchor="end">{escape(row.label[:22])}</text>')
        if row.estimate is not None:
            body.append(f'<rect class="bar" x="{left}" y="{y}" '
                        f'width="{round(x(row.estimate) - left, 2)}" height="{BAR}"/>')
        if row.lower is not None and row.upper is not None:
            x1, x2 = x(row.lower), x(row.upper)
            body.append(f'<line class="whisker" x1="{x1}" y1="{mid}" x2="{x2}" y2="{mid}"/>')
            for edge in (x1, x2):
                body.append(f'<line class="whisker" x1="{edge}" y1="{mid - 5}" x2="{edge}" '
                            f'y2="{mid + 5}"/>')
        body.append("</g>")
    return _svg(title, body, height)


# The trends.

@dataclass(frozen=True)
class Trend:
    label: str
    values: Sequence[float | None]  # one per period; None: no estimate (a gap)


def trend_chart(periods: Sequence[str], trends: Sequence[Trend], *, title: str) -> str:
    """A line per trend over the periods (evenly spaced), time on the log scale upwards;
    a period without an estimate breaks the line."""
    values = [v for t in trends for v in t.values if v is not None]
    end = max([*values, DAY])
    ys = TimeScale(end, left=HEIGHT - BOTTOM, right=TOP)  # the log scale, upwards
    left, right = LEFT, WIDTH - RIGHT
    step = (right - left) / max(len(periods) - 1, 1)

    def x(i: int) -> float:
        return round(left + i * step, 2)

    body = [f'<line class="axis" x1="{left}" y1="{HEIGHT - BOTTOM}" x2="{right}" '
            f'y2="{HEIGHT - BOTTOM}"/>']
    for y, label in ys.ticks():
        body.append(f'<line class="grid" x1="{left}" y1="{y}" x2="{right}" y2="{y}"/>')
        body.append(f'<text class="tick" x="{left - 6}" y="{y + 4}" text-anchor="end">'
                    f'{label}</text>')
    every = max(1, math.ceil(len(periods) / 10))
    for i, period in enumerate(periods):
        if i % every == 0:
            body.append(f'<text class="tick" x="{x(i)}" y="{HEIGHT - BOTTOM + 16}" '
                        f'text-anchor="middle">{escape(period)}</text>')
    for k, trend in enumerate(trends):
        css = f"s{k % SERIES_CLASSES}"
        label = escape(trend.label)
        body.append(f'<g class="series {css}"><title>{label}</title>')
        for segment in _segments(trend.values):
            points = " ".join(f"{x(i)},{ys.x(v)}" for i, v in segment)
            body.append(f'<polyline class="line" points="{points}"/>')
        for i, v in enumerate(trend.values):
            if v is not None:
                body.append(f'<circle class="dot" cx="{x(i)}" cy="{ys.x(v)}" r="3"><title>'
                            f'{label}, {escape(periods[i])}: {duration_text(v)}</title>'
                            '</circle>')
        body.append("</g>")
    body += _legend([t.label for t in trends])
    return _svg(title, body)


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    segments: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((i, v))
    return [s for s in segments if s]
