"""The statistics as CSV (one row per group) and as a table for a terminal."""

from __future__ import annotations

import csv
import io
from typing import Any

from nttd.stats.survival import HORIZONS, QUANTILES

_METRICS = ("time_to_removal", "notice_to_removal", "time_to_acknowledgement")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula is quoted (names of
    networks and registrars come from outside)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def csv_columns() -> list[str]:
    columns = ["group", "name", "cases", "removed", "open", "too_few", "reappeared",
               "reappeared_cases", "reappearance_rate", "reappearance_rate_lower",
               "reappearance_rate_upper"]
    for metric in _METRICS:
        columns += [f"{metric}_n", f"{metric}_events"]
        for q in QUANTILES:
            columns += [f"{metric}_{q}_seconds", f"{metric}_{q}_lower", f"{metric}_{q}_upper"]
        for h in HORIZONS:
            columns += [f"{metric}_by_{h}", f"{metric}_by_{h}_lower", f"{metric}_by_{h}_upper"]
    return columns


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    flat = {k: row[k] for k in ("group", "name", "cases", "removed", "open", "too_few",
                                "reappeared", "reappeared_cases")}
    rate = row["reappearance_rate"] or {}
    flat["reappearance_rate"] = rate.get("estimate")
    flat["reappearance_rate_lower"] = rate.get("lower")
    flat["reappearance_rate_upper"] = rate.get("upper")
    for metric in _METRICS:
        summary = row[metric]
        flat[f"{metric}_n"], flat[f"{metric}_events"] = summary["n"], summary["events"]
        for q in QUANTILES:
            part = summary[q] or {}
            flat[f"{metric}_{q}_seconds"] = part.get("estimate")
            flat[f"{metric}_{q}_lower"] = part.get("lower")
            flat[f"{metric}_{q}_upper"] = part.get("upper")
        for h in HORIZONS:
            part = summary[f"removed_by_{h}"] or {}
            flat[f"{metric}_by_{h}"] = part.get("estimate")
            flat[f"{metric}_by_{h}_lower"] = part.get("lower")
            flat[f"{metric}_by_{h}_upper"] = part.get("upper")
    return flat


def stats_csv(result: dict[str, Any]) -> str:
    """One row per group; times in seconds, shares as fractions; empty: none."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csv_columns(), lineterminator="\r\n")
    writer.writeheader()
    for row in result["groups"]:
        writer.writerow({k: _cell(v) for k, v in _flat(row).items()})
    return out.getvalue()


def duration(seconds: float | None) -> str:
    """A duration for people: 45m, 3.5h, 2.1d ("-": not reached / infinity)."""
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _interval(part: dict[str, Any] | None) -> str:
    if part is None:
        return ""
    return (f"{duration(part['estimate'])} [{duration(part['lower'])}, "
            f"{duration(part['upper'])}]")


def _share(part: dict[str, Any] | None) -> str:
    if part is None or part["estimate"] is None:
        return "-"
    return f"{100 * part['estimate']:.0f}%"


def stats_table(result: dict[str, Any]) -> str:
    """The groups as an aligned text table: time to removal (median and p90 with
    their 95% intervals; "-" is not reached, or infinity as an upper limit)."""
    header = [result["group_by"], "cases", "removed", "open", "median [95% CI]",
              "p90 [95% CI]", "by 24h", "by 7d", "reappeared"]
    lines = [header]
    for row in [*result["groups"], {**result["overall"], "group": "(all)"}]:
        label = str(row["group"]) if row["group"] is not None else "(unknown)"
        if row.get("name"):
            label += f" {row['name']}"
        removal = row["time_to_removal"]
        estimates = (["too few cases", "", "", ""] if row["too_few"] else [
            _interval(removal["median"]), _interval(removal["p90"]),
            _share(removal["removed_by_24h"]), _share(removal["removed_by_7d"])])
        lines.append([label[:40], str(row["cases"]), str(row["removed"]), str(row["open"]),
                      *estimates, str(row["reappeared"])])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i == 0 or i in (4, 5) else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip()
            for line in lines]
    filters = ", ".join(f"{k}={v}" for k, v in result["filters"].items())
    text.append(f"time to removal; groups under {result['min_group']} cases show no "
                f"estimates{'; ' + filters if filters else ''}")
    return "\n".join(text)
