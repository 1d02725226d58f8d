"""Benchmark of the command line's start-up: ``tiewise --help`` next to the interpreter's floor.

What is measured, each in a fresh interpreter, ``--repeat`` times (median and max wall time, median
CPU time; peak resident memory, ``ru_maxrss`` of the child):

Wall time depends on what else the machine runs; CPU time (user + system of the child) much
less, so both are reported.

* ``python -c pass``: the floor, what any Python program costs to start;
* ``python -c "import typer"``: the command-line library alone (Typer, Click, Rich);
* ``tiewise --help``, ``tiewise run --help``, ``tiewise export --help``, ``tiewise --version``:
  what a user waits for before typing the real command;
* ``python -c "import tiewise.pipeline"``: every stage imported, what ``--help`` cost before the
  command line imported lazily (about 9 s and 465 MB at the time of issue #22).

Usage::

    python benchmarks/bench_cli_startup.py
    python benchmarks/bench_cli_startup.py --repeat 10 --out benchmarks/results/cli_startup.json

Prints a table and writes ``benchmarks/results/cli_startup.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs one command and prints its wall time and the peak RSS of that command alone.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps({"seconds": seconds, "cpu_s": cpu, "rss_mb": usage.ru_maxrss / 1024,
                  "code": done.returncode}))
"""

CASES: dict[str, list[str]] = {
    "python -c pass (floor)": ["-c", "pass"],
    "import typer (the CLI library)": ["-c", "import typer.main, rich.console"],
    "tiewise --help": ["-m", "tiewise", "--help"],
    "tiewise run --help": ["-m", "tiewise", "run", "--help"],
    "tiewise export --help": ["-m", "tiewise", "export", "--help"],
    "tiewise --version": ["-m", "tiewise", "--version"],
    "import tiewise.pipeline (every stage)": ["-c", "import tiewise.pipeline"],
}


def measure(args: list[str], repeat: int) -> dict[str, float]:
    """Median and max seconds, peak RSS (MB) of ``python ARGS`` over ``repeat`` fresh starts."""
    runs = []
    for _ in range(repeat):
        probe = subprocess.run(
            [sys.executable, "-c", _MEASURE, sys.executable, *args],
            capture_output=True,
            text=True,
            check=True,
        )
        run = json.loads(probe.stdout)
        if run["code"] != 0:
            raise SystemExit(f"python {' '.join(args)} exited with {run['code']}")
        runs.append(run)
    seconds = [r["seconds"] for r in runs]
    return {
        "median_s": statistics.median(seconds),
        "max_s": max(seconds),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "rss_mb": statistics.median(r["rss_mb"] for r in runs),
    }


def main() -> None:
    """Measure every case, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Fresh starts per case.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/cli_startup.json")
    args = parser.parse_args()
    measure(CASES["tiewise --help"], 1)  # warm the file cache and the bytecode
    results = {name: measure(case, args.repeat) for name, case in CASES.items()}
    floor = results["python -c pass (floor)"]
    print(f"{'case':40} {'median s':>9} {'max s':>7} {'CPU s':>6} {'RSS MB':>7} {'over floor':>11}")
    for name, r in results.items():
        over = r["median_s"] - floor["median_s"]
        print(
            f"{name:40} {r['median_s']:9.3f} {r['max_s']:7.3f} {r['cpu_s']:6.2f} "
            f"{r['rss_mb']:7.1f} {over:+10.3f}s"
        )
    report = {
        "benchmark": "cli_startup",
        "repeat": args.repeat,
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
