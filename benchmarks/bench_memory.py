"""Peak memory of a whole ``tiewise run`` against ``[engine] memory_limit``: the overhead above it.

``memory_limit`` caps DuckDB's buffers only.  The process also holds Python and the imported
libraries (DuckDB, NetworKit, numba, scikit-learn, matplotlib), the graph in NetworKit, the numpy
arrays of the influence, value and churn stages, and DuckDB's allocations outside its buffer
manager.  This script generates one telco data set, then runs ``tiewise run`` in a fresh child
process per limit and reads the child's peak resident memory (``ru_maxrss`` via ``os.wait4``).

Usage::

    nice python benchmarks/bench_memory.py                         # 20,000 customers, 200MB and 1GB
    python benchmarks/bench_memory.py --customers 5000 --limits 200MB 1GB 4GB

Prints one line per limit and writes ``benchmarks/results/memory.json`` (with the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "memory.json"
TIEWISE = str(Path(sys.executable).with_name("tiewise"))
UNITS = {"KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def _bytes(limit: str) -> float:
    match = re.fullmatch(r"([\d.]+)\s*([KMG]i?B)", limit, flags=re.IGNORECASE)
    assert match, f"memory limit {limit!r}: expected e.g. 200MB or 1GiB"
    return float(match.group(1)) * UNITS[match.group(2).upper()]


def _run(config: Path) -> dict[str, Any]:
    """`tiewise run` in a child process: exit code, wall time, peak RSS (bytes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [TIEWISE, "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exit_code": proc.returncode,
        "seconds": round(time.perf_counter() - start, 1),
        "peak_rss_bytes": usage.ru_maxrss * 1024,  # Linux: KiB
        "error": err.strip().splitlines()[-1] if proc.returncode else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--limits", nargs="+", default=["200MB", "1GB"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="tiewise-bench-memory-"))
    try:
        from tiewise.config import template
        from tiewise.synth import TelcoParams, generate_telco

        data = root / "data"
        generate_telco(TelcoParams(customers=args.customers, days=args.days, seed=1), data)
        (root / "tiewise.key").write_text("4d" * 32 + "\n", encoding="utf-8")
        text = template(data, config_dir=root)
        runs = []
        for limit in args.limits:
            workspace = root / f"workspace-{limit}"
            config = root / f"tiewise-{limit}.toml"
            body = text.replace('workspace = "workspace"', f'workspace = "{workspace.name}"')
            body = body.replace(
                '# memory_limit = "6GB"', f'memory_limit = "{limit}"  # bench_memory', 1
            )
            assert f'memory_limit = "{limit}"' in body
            config.write_text(body, encoding="utf-8")
            run = {"memory_limit": limit, **_run(config)}
            peak = run["peak_rss_bytes"]
            run["overhead_bytes"] = peak - _bytes(limit)
            run["peak_over_limit"] = round(peak / _bytes(limit), 2)
            runs.append(run)
            print(
                f"memory_limit {limit:>6}: exit {run['exit_code']}, {run['seconds']:7.1f} s, "
                f"peak RSS {peak / 2**20:7.0f} MiB ({run['peak_over_limit']:.2f} x the limit, "
                f"{run['overhead_bytes'] / 2**20:+.0f} MiB)",
                flush=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "benchmark": "memory",
        "customers": args.customers,
        "days": args.days,
        "command": "tiewise run (default configuration, [engine] memory_limit set)",
        "runs": runs,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
