"""Peak memory per pipeline step against the number of customers, and what 10M and 45M would need.

Reads the per-step peaks (``runs.stages``: the process's resident memory during each step) that
``bench_pipeline.py`` saved for several sizes, fits each step's peak by least squares to
``peak = base + a * customers`` and prints the fit, every residual and the extrapolation to 10M
and 45M customers.  In the generated worlds the links and records grow in proportion to the
customers (about 9 links and 50 records a customer over 90 days), so a second term for links
could not be told apart from the first: one slope per step, in bytes a customer, stands for
both; an operator with more links or records per subscriber should scale it by their ratio.

Usage::

    python benchmarks/fit_pipeline_memory.py benchmarks/results/pipeline_sizes.json \
        benchmarks/results/pipeline_1000000.json

Writes ``benchmarks/results/pipeline_memory_fit.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline_memory_fit.json"
GIB = 2**30
TARGETS = (10_000_000, 45_000_000)


def _points(files: list[Path]) -> dict[str, list[tuple[int, int, float]]]:
    """Per step: (customers, links, peak bytes) of every size that completed."""
    out: dict[str, list[tuple[int, int, float]]] = {}
    for file in files:
        for size, record in json.loads(file.read_text(encoding="utf-8"))["sizes"].items():
            if record.get("run", {}).get("exit_code") != 0 or not record.get("stages"):
                continue
            links = int(record["sizes"]["links"])
            whole = float(record["run"]["peak_rss_bytes"])
            out.setdefault("whole run (child's peak)", []).append((int(size), links, whole))
            for step in record["stages"]:
                if step["peak_rss_bytes"]:
                    out.setdefault(step["stage"], []).append(
                        (int(size), links, float(step["peak_rss_bytes"]))
                    )
    return out


def _fit(points: list[tuple[int, int, float]]) -> dict[str, Any]:
    points = sorted(points)
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[2] for p in points], dtype=float)
    design = np.column_stack([np.ones_like(x), x])
    (base, slope), *_ = np.linalg.lstsq(design, y, rcond=None)
    fitted = design @ np.array([base, slope])
    return {
        "base_gib": round(base / GIB, 3),
        "bytes_per_customer": round(slope, 1),
        "points": [
            {
                "customers": int(c),
                "links": int(n),
                "peak_gib": round(p / GIB, 3),
                "fitted_gib": round(f / GIB, 3),
                "residual_gib": round((p - f) / GIB, 3),
            }
            for (c, n, p), f in zip(points, fitted, strict=True)
        ],
        "extrapolated_gib": {str(t): round((base + slope * t) / GIB, 1) for t in TARGETS},
        "degrees_of_freedom": len(points) - 2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+", help="bench_pipeline.py results")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    fits = {step: _fit(points) for step, points in _points(args.files).items() if points}
    for step, fit in fits.items():
        print(f"{step}: {fit['base_gib']:.2f} GiB + {fit['bytes_per_customer']:,.0f} B a customer"
              f" ({fit['degrees_of_freedom']} degrees of freedom)")  # fmt: skip
        for p in fit["points"]:
            print(f"  {p['customers']:>10,} customers {p['links']:>11,} links: "
                  f"{p['peak_gib']:6.2f} GiB, fitted {p['fitted_gib']:6.2f}, "
                  f"residual {p['residual_gib']:+.2f}")  # fmt: skip
        print("  at " + ", ".join(f"{int(t):,}: {g:,.1f} GiB"
                                  for t, g in fit["extrapolated_gib"].items()))  # fmt: skip
    out = {
        "benchmark": "pipeline memory fit",
        "model": "peak = base + a * customers, per step (least squares)",
        "inputs": [str(f) for f in args.files],
        "steps": fits,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
