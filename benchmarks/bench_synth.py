"""Benchmark of the synthetic telecom generator against a NetworKit LFR graph baseline.

Each measurement runs in a fresh process (``--measure KIND SIZE``) that starts the worker as
its only child and reads the child's peak memory with
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``.

* ``telco``: :func:`tiewise.synth.generate_telco` with default parameters except ``customers``
  (all files, Parquet, including ground truth).
* ``lfr``: NetworKit's ``LFRGenerator`` producing only a graph with the same number of persons
  as the telco world (subscribers and other operators' customers), mean degree 14, degree
  exponent 2.4, mixing 0.2 and the telco world's community size law (8..5000, exponent 2).

Usage::

    python benchmarks/bench_synth.py --sizes 100000 1000000

Prints a table and writes ``benchmarks/results/synth.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "synth.json"

TELCO_WORKER = """
import json, sys, time
from pathlib import Path
from tiewise.synth import TelcoParams, generate_telco
size, out = int(sys.argv[1]), Path(sys.argv[2])
t0 = time.perf_counter()
result = generate_telco(TelcoParams(customers=size), out)
seconds = time.perf_counter() - t0
stats = json.loads(result.truth_files["params"].read_text())["realised"]
print(json.dumps({"seconds": seconds, "records": result.counts["interactions"],
                  "persons": stats["persons_total"], "edges": stats["social_edges"],
                  "bytes": sum(p.stat().st_size for p in result.files.values())}))
"""

LFR_WORKER = """
import json, sys, time
import networkit as nk
import numpy as np
from tiewise.synth.population import community_sizes
size, persons = int(sys.argv[1]), int(sys.argv[3])
nk.setSeed(1, False)
t0 = time.perf_counter()
gen = nk.generators.LFRGenerator(persons)
# the same community size law as the telco world; LFR needs every internal degree to fit
sizes = community_sizes(np.random.default_rng(1), persons)
k_max = int(min(0.06 * persons, 0.95 * sizes.max() / 0.8))
gen.generatePowerlawDegreeSequence(14, k_max, -2.4)
gen.setCommunitySizeSequence([int(x) for x in sizes])
gen.setMu(0.2)
gen.run()
graph = gen.getGraph()
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "records": 0, "persons": persons,
                  "edges": graph.numberOfEdges(), "bytes": 0}))
"""


def measure(kind: str, size: int, persons: int) -> dict[str, Any]:
    """Run one worker as the only child of this process; return its figures and peak memory."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        code = TELCO_WORKER if kind == "telco" else LFR_WORKER
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code, str(size), tmp, str(persons)],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} {size} failed:\n{proc.stderr}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures.update(kind=kind, size=size, wall_seconds=wall, peak_mb=peak_kb / 1024.0)
    figures["records_per_s"] = figures["records"] / figures["seconds"] if figures["records"] else 0
    return figures


def run_isolated(kind: str, size: int, persons: int) -> dict[str, Any]:
    """Measure in a fresh process so that the children's peak memory is this run's alone."""
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", kind, str(size), str(persons)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'kind':<6} {'size':>9} {'persons':>9} {'edges':>10} {'records':>11} "
        f"{'seconds':>8} {'records/s':>11} {'peak MB':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['kind']:<6} {r['size']:>9,} {r['persons']:>9,} {r['edges']:>10,} "
            f"{r['records']:>11,} {r['seconds']:>8.1f} {r['records_per_s']:>11,.0f} "
            f"{r['peak_mb']:>8,.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-baseline", action="store_true", help="skip the LFR baseline")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        kind, size, persons = args.measure
        print(json.dumps(measure(kind, int(size), int(persons))))
        return 0
    rows = []
    for size in args.sizes:
        telco = run_isolated("telco", size, 0)
        rows.append(telco)
        print(table(rows[-1:]).splitlines()[-1], flush=True)
        if not args.no_baseline:  # same number of persons as the telco world
            rows.append(run_isolated("lfr", size, telco["persons"]))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.output.write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n")
    print(f"\nSaved {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
