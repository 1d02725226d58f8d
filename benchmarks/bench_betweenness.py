"""Betweenness at a million customers: tiewise's estimator against NetworKit's, speed and accuracy.

The graph stage estimates betweenness in hops from ``graph.betweenness_samples`` (16) source
nodes with Geisberger, Sanders & Schultes' linear scaling: the estimator of NetworKit's
``EstimateBetweenness``, which the stage used until session 18 and which took 3.6 s a source on
the 1M network (predecessor lists, arbitrary-precision path counts).  tiewise's
:func:`tiewise.graph.centrality.approximate_betweenness` does the same in one numba pass a
source.  Both are measured on the workspace's own network (the graph stage's: ``load_network``
with the configured service-number exclusion), one thread each:

* seconds, for NetworKit with 16 sources and for tiewise with 16 (two seeds), 32 and 64;
* accuracy against a reference of ``--reference-samples`` sources (256 by default; with
  ``--exact`` every node is a source: Brandes' exact betweenness, which
  ``tests/graph/test_centrality.py`` checks against networkx), drawn from another seed:
  Pearson's correlation, Spearman's among the nodes the reference puts on any path, the share
  of the reference's top 1% each estimate puts in its top 1%, and the ratio of the sums;
* beside them the simplest heuristic a user could compute: the number of contacts (degree),
  read as a betweenness score (its correlations and top 1%; no sum ratio: it is another unit).

Two estimates from different sources differ by the sampling alone; the questions are whether
tiewise's, at the same number of sources, is as close to the reference as NetworKit's, and
whether either says more than counting contacts does.

Usage::

    python benchmarks/bench_betweenness.py --config PROJECT/tiewise.toml

Prints a table and writes ``benchmarks/results/betweenness.json`` (with the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import networkit as nk
import numpy as np
import numpy.typing as npt
from scipy.stats import spearmanr

from tiewise.config import load_config
from tiewise.graph.centrality import _dependencies, approximate_betweenness
from tiewise.graph.network import adjacency, graph_from_edges, load_network
from tiewise.store import Workspace

RESULTS = Path(__file__).resolve().parent / "results" / "betweenness.json"
REFERENCE_SEED = 1000


def networkit_estimate(n: int, u: Any, v: Any, samples: int, seed: int) -> npt.NDArray[np.float64]:
    """NetworKit's ``EstimateBetweenness`` on the unweighted network, one thread, seeded."""
    hops = nk.graphtools.toUnweighted(graph_from_edges(n, u, v, np.ones(len(u))))
    nk.setNumberOfThreads(1)
    nk.setSeed(seed, False)
    algo = nk.centrality.EstimateBetweenness(hops, samples, True, False)
    algo.run()
    return np.asarray(algo.scores(), dtype=np.float64)


def exact(n: int, u: Any, v: Any) -> npt.NDArray[np.float64]:
    """Brandes' betweenness from every source, normalised as the estimates are."""
    indptr, nbr = adjacency(n, np.asarray(u, np.int64), np.asarray(v, np.int64))
    out = np.zeros(n)
    _dependencies(indptr, nbr, np.arange(n), out)
    return out * 2.0 / ((n - 1.0) * (n - 2.0))


def accuracy(
    reference: npt.NDArray[np.float64], estimate: npt.NDArray[np.float64], *, same_unit: bool = True
) -> dict[str, float | None]:
    """How close ``estimate`` is to ``reference`` (``same_unit``: also the ratio of the sums)."""
    top = reference >= np.quantile(reference, 0.99)
    mine = estimate >= np.quantile(estimate, 0.99)
    on_paths = reference > 0
    return {
        "pearson": float(np.corrcoef(reference, estimate)[0, 1]),
        "spearman_on_paths": float(spearmanr(reference[on_paths], estimate[on_paths]).statistic),
        "top_1pct_overlap": float((top & mine).sum() / max(top.sum(), 1)),
        "sum_ratio": float(estimate.sum() / reference.sum()) if same_unit else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="a project's tiewise.toml")
    parser.add_argument("--reference-samples", type=int, default=256)
    parser.add_argument("--exact", action="store_true", help="every node a source (small graphs)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    with Workspace.open(config.workspace_path) as ws, ws.run(command="bench-betweenness") as run:
        net = load_network(run, exclude_service=config.links.exclude_service_numbers)
    n, u, v = net.n, net.u, net.v
    load_before = os.getloadavg()
    start = time.perf_counter()
    if args.exact:
        reference, basis = exact(n, u, v), "exact (every node a source)"
    else:
        samples = args.reference_samples
        reference = approximate_betweenness(n, u, v, samples=samples, seed=REFERENCE_SEED)
        basis = f"{samples} sources (seed {REFERENCE_SEED})"
    rows: list[dict[str, Any]] = [{"estimate": "reference", "basis": basis,
                                   "seconds": round(time.perf_counter() - start, 2)}]  # fmt: skip
    start = time.perf_counter()
    degree = net.degree().astype(np.float64)
    rows.append({"estimate": "degree (contacts), the heuristic",
                 "seconds": round(time.perf_counter() - start, 2),
                 **accuracy(reference, degree, same_unit=False)})  # fmt: skip
    print(rows[-1], flush=True)
    runs = [("networkit", 16, 42), ("tiewise", 16, 42), ("tiewise", 16, 43), ("tiewise", 32, 42),
            ("tiewise", 64, 42)]  # fmt: skip
    for engine, samples, seed in runs:
        start = time.perf_counter()
        if engine == "networkit":
            estimate = networkit_estimate(n, u, v, samples, seed)
        else:
            estimate = approximate_betweenness(n, u, v, samples=samples, seed=seed)
        seconds = time.perf_counter() - start
        rows.append({"estimate": f"{engine} {samples} sources, seed {seed}",
                     "seconds": round(seconds, 2), **accuracy(reference, estimate)})  # fmt: skip
        print(rows[-1], flush=True)
    report = {
        "benchmark": "betweenness",
        "command": "python benchmarks/bench_betweenness.py --config <project>/tiewise.toml",
        "nodes": n,
        "links": len(u),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "rows": rows,
    }
    print(f"{n:,} nodes, {len(u):,} links; reference: {basis}")
    print(
        f"{'estimate':32} {'s':>7} "
        + " ".join(f"{h:>8}" for h in ("pearson", "spearman", "top 1%", "sum"))
    )
    for r in rows[1:]:
        figures = (r["pearson"], r["spearman_on_paths"], r["top_1pct_overlap"], r["sum_ratio"])
        print(
            f"{r['estimate']:32} {r['seconds']:7.1f} "
            + " ".join("       -" if x is None else f"{x:8.3f}" for x in figures)
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
