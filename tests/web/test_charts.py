"""nttd.web.charts: valid SVG, no style attribute or script, labels escaped, and the
drawn steps, band, bars and lines are the numbers given (scaled)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from nttd.web.charts import (
    DAY,
    HOUR,
    MINUTE,
    Curve,
    Interval,
    ShareScale,
    TimeScale,
    Trend,
    band_points,
    median_chart,
    step_points,
    survival_chart,
    trend_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
POINTS = [[10 * MINUTE, 0.8, 0.6, 0.9], [2 * HOUR, 0.5, 0.3, 0.7], [3 * DAY, 0.2, 0.05, 0.4]]
NASTY = '<script>alert(1)</script> & "x"'


def parsed(svg: str) -> ET.Element:
    assert "style=" not in svg
    assert "<script" not in svg.lower()
    assert "href" not in svg
    return ET.fromstring(svg)  # noqa: S314 - our own output


def pairs(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in text.split())]


def test_step_line_and_band_in_data_coordinates() -> None:
    assert step_points(POINTS, 10 * DAY) == [
        (0.0, 1.0), (600.0, 1.0), (600.0, 0.8), (7200.0, 0.8), (7200.0, 0.5),
        (259200.0, 0.5), (259200.0, 0.2), (864000.0, 0.2)]
    band = band_points(POINTS, 10 * DAY)
    upper = [(0.0, 1.0), (600.0, 1.0), (600.0, 0.9), (7200.0, 0.9), (7200.0, 0.7),
             (259200.0, 0.7), (259200.0, 0.4), (864000.0, 0.4)]
    lower = [(0.0, 1.0), (600.0, 1.0), (600.0, 0.6), (7200.0, 0.6), (7200.0, 0.3),
             (259200.0, 0.3), (259200.0, 0.05), (864000.0, 0.05)]
    assert band == upper + lower[::-1]
    assert step_points([], None) == [(0.0, 1.0), (0.0, 1.0)]


def test_survival_chart_draws_the_given_steps_and_band() -> None:
    curves = [Curve("NL", POINTS, 10 * DAY), Curve(NASTY, POINTS[:1], HOUR)]
    svg = str(survival_chart(curves, title="Still online"))
    root = parsed(svg)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == "Still online"  # type: ignore[union-attr]
    xs, ys = TimeScale(10 * DAY), ShareScale()
    groups = root.findall(f"{SVG}g[@class='series s0']") + root.findall(
        f"{SVG}g[@class='series s1']")
    assert len(groups) == 2
    for group, curve in zip(groups, curves, strict=True):
        line = pairs(group.find(f"{SVG}polyline").get("points", ""))  # type: ignore[union-attr]
        assert line == [(xs.x(t), ys.y(s)) for t, s in step_points(curve.points,
                                                                     curve.last_time)]
        band = pairs(group.find(f"{SVG}polygon").get("points", ""))  # type: ignore[union-attr]
        assert band == [(xs.x(t), ys.y(s)) for t, s in band_points(curve.points,
                                                                     curve.last_time)]
        assert group.find(f"{SVG}title").text == curve.label  # type: ignore[union-attr]
        tips = [c.find(f"{SVG}title").text for c in group.findall(f"{SVG}circle")]  # type: ignore[union-attr]
        assert len(tips) == len(curve.points)
    assert "50.0% still online at 2h 0m (95% CI 30.0%\u201370.0%)" in svg
    assert "&lt;script&gt;" in svg  # the label, escaped


def test_time_scale_is_logarithmic_from_a_minute() -> None:
    xs = TimeScale(1000 * MINUTE, left=0, right=300)
    assert xs.x(0) == xs.x(MINUTE) == 0
    assert xs.x(10 * MINUTE) == 100
    assert xs.x(100 * MINUTE) == 200
    assert xs.x(10_000 * MINUTE) == 300  # beyond the end: at the edge


def test_median_chart_bars_and_whiskers() -> None:
    rows = [Interval("DE", HOUR, 30 * MINUTE, 2 * HOUR),
            Interval("NL", 5 * HOUR, HOUR, None),       # no upper limit: to the edge
            Interval(NASTY, None, 2 * DAY, None)]       # not reached
    svg = str(median_chart(rows, title="Medians"))
    root = parsed(svg)
    xs = TimeScale(2 * DAY, left=160)
    bars = root.findall(f".//{SVG}rect[@class='bar']")
    assert [float(b.get("width", "")) for b in bars] == [
        round(xs.x(HOUR) - xs.left, 2), round(xs.x(5 * HOUR) - xs.left, 2)]
    whiskers = root.findall(f".//{SVG}line[@class='whisker']")
    spans = [(float(w.get("x1", "")), float(w.get("x2", ""))) for w in whiskers
             if w.get("y1") == w.get("y2")]
    assert spans == [(xs.x(30 * MINUTE), xs.x(2 * HOUR))]
    open_ = root.findall(f".//{SVG}line[@class='whisker open']")
    assert [(float(w.get("x1", "")), float(w.get("x2", ""))) for w in open_] == [
        (xs.x(HOUR), xs.right), (xs.x(2 * DAY), xs.right)]
    assert "not reached" in svg
    assert "median 1h 0m (95% CI 30m\u20132h 0m)" in svg
    assert "\u221e" in svg  # the open upper limit, in the tooltip
    assert "&lt;script&gt;" in svg


def test_trend_chart_breaks_the_line_where_a_period_has_no_estimate() -> None:
    periods = ["2026-05-04", "2026-05-11", "2026-05-18", "2026-05-25"]
    svg = str(trend_chart(periods, [Trend("median", [HOUR, 2 * HOUR, None, 3 * HOUR]),
                                    Trend("p90", [DAY, None, None, None])], title="Weekly"))
    root = parsed(svg)
    lines = [[pairs(p.get("points", "")) for p in g.findall(f"{SVG}polyline")]
             for g in root.findall(f"{SVG}g") if "series" in (g.get("class") or "")]
    ys = TimeScale(DAY, left=280, right=16)
    step = (720 - 16 - 64) / 3
    assert lines[0] == [[(64.0, ys.x(HOUR)), (round(64 + step, 2), ys.x(2 * HOUR))],
                        [(round(64 + 3 * step, 2), ys.x(3 * HOUR))]]
    assert lines[1] == [[(64.0, ys.x(DAY))]]
    assert len(root.findall(f".//{SVG}circle")) == 4
    assert ys.x(DAY) < ys.x(HOUR)  # longer times higher up
    assert not math.isnan(ys.x(0))
