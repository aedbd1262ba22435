"""Run every benchmark in bench/ and print ONE JSON summary (not a timed test).

    python -m bench.run_all --quick                  # small sizes, a few minutes
    python -m bench.run_all                          # the sizes of bench/README.md
    python -m bench.run_all --only intake,recheck    # some of them
    python -m bench.run_all --args recheck="--urls 20000 --no-sqlite"

Run from the repository root. Each benchmark runs as its own process with `--json`
and prints one JSON line of figures after its text; each figure carries its
in-run baseline and the ratio to it (`better` says which way is good). The summary
adds the machine's load average before and after each benchmark (the machine is
shared: absolute figures move with the load, ratios much less) and the benchmarks'
text output goes to standard error, so standard output is the JSON alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHES = ("resolve", "intake", "recheck", "stats", "survival")
# Arguments per benchmark: the full sizes are each benchmark's own defaults.
FULL: dict[str, list[str]] = {name: [] for name in BENCHES}
QUICK: dict[str, list[str]] = {
    "resolve": ["--urls", "2000", "--hosts", "100", "--networks", "10"],
    "intake": ["--urls", "1000", "--hosts", "100"],
    "recheck": ["--urls", "5000", "--no-sqlite"],
    "stats": ["--pg-cases", "20000", "--sqlite-cases", "10000", "--runs", "5"],
    "survival": ["--samples", "100000"],
}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_one(name: str, args: list[str], timeout: float) -> dict[str, Any]:
    command = [sys.executable, "-m", f"bench.{name}", *args, "--json"]
    print(f"== {' '.join(shlex.quote(c) for c in command[1:])}", file=sys.stderr, flush=True)
    before, started = load(), time.monotonic()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"bench": name, "error": f"timed out after {timeout:.0f} s", "args": args}
    seconds = round(time.monotonic() - started, 1)
    sys.stderr.write(done.stdout + done.stderr[-4000:])
    result: dict[str, Any] | None = None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
                break
            except ValueError:
                continue
    if done.returncode != 0 or result is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"bench": name, "error": f"exit status {done.returncode}: {' | '.join(tail)}",
                "args": args, "seconds": seconds}
    result.update(args=args, seconds=seconds, load_before=before, load_after=load())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", help=f"comma list of {', '.join(BENCHES)}")
    parser.add_argument("--args", action="append", default=[], metavar='NAME="ARGS"',
                        help="arguments for one benchmark instead of the preset's")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds per benchmark before it is stopped")
    options = parser.parse_args()
    chosen = BENCHES if not options.only else tuple(
        n.strip() for n in options.only.split(",") if n.strip())
    unknown = [n for n in chosen if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    preset = dict(QUICK if options.quick else FULL)
    for item in options.args:
        name, sep, text = item.partition("=")
        if not sep or name not in BENCHES:
            parser.error(f"--args wants NAME=\"ARGS\" with NAME one of {', '.join(BENCHES)}")
        preset[name] = shlex.split(text)
    started = datetime.now(UTC)
    results = [run_one(name, preset[name], options.timeout) for name in chosen]
    summary = {
        "started": started.isoformat(timespec="seconds"),
        "mode": "quick" if options.quick else "full",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "benchmarks": results,
        "figures": [dict(figure, bench=result["bench"]) for result in results
                    for figure in result.get("figures", [])],
        "failed": [result["bench"] for result in results if "error" in result],
    }
    print(json.dumps(summary, indent=2))
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
