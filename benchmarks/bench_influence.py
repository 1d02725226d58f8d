"""Benchmark of tiewise's IMM (numba) against the C++ IMM of ``pynetim`` on the same graphs.

What is measured: seed selection by IMM (Tang, Shi & Xiao 2015) under the independent cascade
with weighted-cascade probabilities ``p(v → w) = 1 / in-degree(w)``, at ε = 0.1, ℓ = 1, k = 50.

* ``tiewise``: :func:`tiewise.influence.imm.imm` after a warm-up call on a tiny graph (so numba's
  compile or cache load is not timed); ``build`` is :func:`tiewise.influence.imm.in_graph`.
* ``pynetim``: ``pynetim.IMMAlgorithm(graph, "IC", epsilon=0.1, l=1, random_seed=1).run(50)``
  (C++ through pybind11); ``build`` is ``pynetim.IMGraph(edges, weights, directed=True)``.

Both seed sets are then scored by the same estimator, in the parent: the share of 1,000,000 fresh
RR sets (tiewise's sampler, another seed) they cover, times n — an unbiased estimate of the
expected spread with a standard error printed beside it.

Graphs (seeded, rebuilt identically in every child): NetworKit's Barabási-Albert generator with
``m`` links per new node (default 5: mean degree 10, 1M directed links per 100k nodes), every link
in both directions.  Each engine runs in its own child process; the parent reads its peak resident
memory and total CPU seconds (the whole child: imports, graph loading, build and IMM) from
``os.wait4``.  Seconds are wall-clock inside the child.  The machine is shared: the load average
is recorded; run with ``nice``.

Usage::

    python benchmarks/bench_influence.py                       # 100k nodes
    python benchmarks/bench_influence.py --sizes 100000 1000000

Prints a table and writes ``benchmarks/results/influence.json``.  Needs the ``bench`` extra
(``pip install -c constraints.txt -e '.[bench]'``) for pynetim.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

RESULTS = Path(__file__).resolve().parent / "results" / "influence.json"
EPSILON, K, SEED = 0.1, 50, 1


WORKDIR = Path(tempfile.gettempdir()) / "tiewise-bench-influence"


def make_graph(n: int, m: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Directed links (both directions of a Barabási-Albert graph), cached in an ``.npz``."""
    path = WORKDIR / f"ba-{n}-{m}-{SEED}.npz"
    if path.exists():
        data = np.load(path)
        return data["src"], data["dst"]
    src, dst = _generate(n, m)
    WORKDIR.mkdir(exist_ok=True)
    np.savez(path, src=src, dst=dst)
    return src, dst


def _generate(n: int, m: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    import networkit as nk

    nk.setSeed(SEED, False)
    nk.setNumberOfThreads(1)
    g = nk.generators.BarabasiAlbertGenerator(m, n, n0=m + 1).generate()
    g.removeMultiEdges()
    g.removeSelfLoops()
    e = np.asarray(list(g.iterEdges()), dtype=np.int64) if n < 50_000 else _edges(g)
    return np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]]


def _edges(g: Any) -> npt.NDArray[np.int64]:
    import networkit as nk

    csr = nk.algebraic.adjacencyMatrix(g, matrixType="sparse").tocoo()
    keep = csr.row < csr.col
    return np.c_[csr.row[keep], csr.col[keep]].astype(np.int64)


def wc(n: int, dst: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    indeg = np.bincount(dst, minlength=n)
    return 1.0 / indeg[dst]


def child_tiewise(n: int, m: int) -> dict[str, Any]:
    from tiewise.influence.imm import imm, in_graph

    tiny = in_graph(3, np.array([0, 1]), np.array([1, 2]), np.array([0.5, 0.5]))
    imm(tiny, 1, seed=0)  # compile / load numba's cache outside the timing
    src, dst = make_graph(n, m)
    t0 = time.perf_counter()
    g = in_graph(n, src, dst, wc(n, dst))
    t1 = time.perf_counter()
    chosen = imm(g, K, epsilon=EPSILON, seed=SEED)
    t2 = time.perf_counter()
    return {
        "build_s": t1 - t0,
        "imm_s": t2 - t1,
        "rr_sets": chosen.rr_sets,
        "own_estimate": float(chosen.spread[-1]),
        "seeds": chosen.seeds.tolist(),
        "links": len(src),
    }


def child_pynetim(n: int, m: int) -> dict[str, Any]:
    from pynetim import IMGraph
    from pynetim.algorithms import IMMAlgorithm

    src, dst = make_graph(n, m)
    prob = wc(n, dst)
    t0 = time.perf_counter()
    graph = IMGraph(list(zip(src.tolist(), dst.tolist(), strict=True)), weights=prob.tolist(),
                    directed=True, renumber=False)  # fmt: skip
    t1 = time.perf_counter()
    seeds = IMMAlgorithm(graph, "IC", epsilon=EPSILON, l=1, random_seed=SEED).run(K)
    t2 = time.perf_counter()
    return {"build_s": t1 - t0, "imm_s": t2 - t1, "seeds": sorted(int(s) for s in seeds)}


def spawn(args: list[str]) -> tuple[dict[str, Any], float, float]:
    """Run this script as a child; its JSON result, peak resident MB and CPU seconds."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.Popen([sys.executable, __file__, *args, "--out", out.name])
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"child {args} failed")
        cpu = usage.ru_utime + usage.ru_stime
        return json.loads(Path(out.name).read_text()), usage.ru_maxrss / 1024.0, cpu


def score(n: int, m: int, seeds: dict[str, list[int]]) -> dict[str, tuple[float, float]]:
    """Expected spread of each seed set on one fresh sample of RR sets (same for all)."""
    from tiewise.influence.imm import in_graph, sample_rr_sets

    src, dst = make_graph(n, m)
    g = in_graph(n, src, dst, wc(n, dst))
    sets = sample_rr_sets(g, 1_000_000, seed=12345)
    member = np.repeat(np.arange(sets.count), np.diff(sets.offsets))
    out = {}
    for name, s in seeds.items():
        mark = np.zeros(n, dtype=bool)
        mark[s] = True
        covered = np.zeros(sets.count, dtype=bool)
        covered[member[mark[sets.nodes]]] = True
        share = covered.mean()
        out[name] = (n * share, n * np.sqrt(share * (1 - share) / sets.count))
    return out


def save(by_size: dict[int, dict[str, Any]]) -> None:
    """Write the results, keeping earlier runs' results for sizes not measured this time."""
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    sizes = old.get("sizes", {}) if isinstance(old.get("sizes"), dict) else {}
    sizes.update({str(n): v for n, v in by_size.items()})
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "epsilon": EPSILON,
                "k": K,
                "probabilities": "weighted cascade (1 / in-degree)",
                "graph": "Barabasi-Albert (NetworKit), both directions of every link",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "sizes": dict(sorted(sizes.items(), key=lambda kv: int(kv[0]))),
            },
            indent=2,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--m", type=int, default=5)
    parser.add_argument("--engines", nargs="+", default=["tiewise", "pynetim"])
    parser.add_argument("--child", choices=["tiewise", "pynetim"])
    parser.add_argument("--n", type=int)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        fn = child_tiewise if args.child == "tiewise" else child_pynetim
        Path(args.out).write_text(json.dumps(fn(args.n, args.m)))
        return
    load_before = os.getloadavg()
    rows = []
    for n in args.sizes:
        make_graph(n, args.m)  # once, before the children read it
        results: dict[str, dict[str, Any]] = {}
        for engine in args.engines:
            print(f"[{time.strftime('%H:%M:%S')}] {engine} n={n:,}", file=sys.stderr, flush=True)
            result, peak, cpu = spawn(["--child", engine, "--n", str(n), "--m", str(args.m)])
            result["peak_mb"] = peak
            result["child_cpu_s"] = cpu
            results[engine] = result
        spreads = score(n, args.m, {e: r["seeds"] for e, r in results.items()})
        for engine, r in results.items():
            rows.append(
                {
                    "nodes": n,
                    "links": results.get("tiewise", r).get("links"),
                    "engine": engine,
                    "build_s": round(r["build_s"], 3),
                    "imm_s": round(r["imm_s"], 3),
                    "rr_sets": r.get("rr_sets"),
                    "spread": round(spreads[engine][0], 1),
                    "spread_se": round(spreads[engine][1], 1),
                    "peak_mb": round(r["peak_mb"], 1),
                    "child_cpu_s": round(r["child_cpu_s"], 1),
                }
            )
    print(f"{'nodes':>9} {'engine':>8} {'build s':>8} {'IMM s':>8} {'spread':>9} {'± se':>6} "
          f"{'peak MB':>8}")  # fmt: skip
    for r in rows:
        print(f"{r['nodes']:>9,} {r['engine']:>8} {r['build_s']:>8.2f} {r['imm_s']:>8.2f} "
              f"{r['spread']:>9.1f} {r['spread_se']:>6.1f} {r['peak_mb']:>8.0f}")  # fmt: skip
    ratios = {}
    for n in args.sizes:
        by = {r["engine"]: r for r in rows if r["nodes"] == n}
        if "tiewise" in by and "pynetim" in by:
            ratios[n] = {
                "time_pynetim_over_tiewise": by["pynetim"]["imm_s"] / by["tiewise"]["imm_s"],
                "spread_tiewise_over_pynetim": by["tiewise"]["spread"] / by["pynetim"]["spread"],
            }
            print(f"n={n:,}: pynetim/tiewise time {ratios[n]['time_pynetim_over_tiewise']:.2f}, "
                  f"tiewise/pynetim spread {ratios[n]['spread_tiewise_over_pynetim']:.4f} "
                  "(goal: time ratio >= 0.5, spread ratio >= 0.99)")  # fmt: skip
    run = {
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "m": args.m,
    }
    save({n: {"rows": [r for r in rows if r["nodes"] == n], "ratios": ratios.get(n), **run}
          for n in args.sizes})  # fmt: skip
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
