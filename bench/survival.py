"""Benchmark: Kaplan-Meier summary of 1,000,000 removal times (not a timed test).

    python bench/survival.py [--samples 1000000] [--minutes 50000]

Durations are whole minutes drawn from an exponential distribution (mean ~ two weeks)
and capped at --minutes, about a third of them censored. It times grouping the plain
samples in Python (``group_samples``; the database does this step with GROUP BY in
production) and, separately, ``summarise`` over the grouped steps.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from datetime import timedelta

from nttd.stats.survival import group_samples, kaplan_meier, summarise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=int, default=50_000)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    rng = random.Random(1)
    samples = [
        (float(min(int(rng.expovariate(1 / 20_000)), args.minutes)), rng.random() > 0.33)
        for _ in range(args.samples)
    ]
    started = started_at = time.perf_counter()
    steps = group_samples(samples)
    grouped = time.perf_counter()
    summary = summarise(steps, unit=timedelta(minutes=1))
    done = time.perf_counter()
    curve = kaplan_meier(steps)
    print(f"{args.samples:,} samples -> {len(steps):,} distinct minutes, "
          f"{len(curve.steps):,} event times")
    print(f"group_samples: {grouped - started:.3f} s")
    print(f"summarise (estimate, 3 quantiles, 3 shares): {done - grouped:.3f} s")
    print("median:", summary["median"], "removed by 24h:", summary["removed_by_24h"])

    # Baseline: counting the same samples with a bare Counter (what GROUP BY does).
    started = time.perf_counter()
    Counter(samples)
    bare = time.perf_counter() - started
    print(f"bare Counter over the samples (baseline): {bare:.3f} s")
    if args.json:  # one line for bench/run_all.py
        print(json.dumps({"bench": "survival", "params": {"samples": args.samples,
                                                          "minutes": args.minutes},
                          "figures": [
            {"name": "group_samples", "unit": "s", "value": round(grouped - started_at, 4),
             "baseline": "bare Counter", "baseline_value": round(bare, 4),
             "ratio": round((grouped - started_at) / bare, 2), "better": "lower"},
            {"name": "summarise", "unit": "s", "value": round(done - grouped, 4),
             "baseline": "bare Counter", "baseline_value": round(bare, 4),
             "ratio": round((done - grouped) / bare, 3), "better": "lower"}]}))


if __name__ == "__main__":
    main()
