"""Sizing model: peak memory of ingest per record, and of the graph stage per node and per link.

An operator with 45M customers and 1B links needs to know the machine for the graph stage (which
runs on one machine) and, with ``engine = "duckdb"``, for ingest.  This script measures peak
resident memory (``ru_maxrss`` of a fresh child process, read with ``os.wait4``; it includes
Python, the imports and DuckDB's buffers) and fits a linear model by least squares:

* ingest (DuckDB engine): ``tiewise.ingest.load.ingest`` + ``build_links`` on the call records of
  ``bench_ingest.py`` (the same generator and files) at 1M, 5M and 10M records, with
  ``engine.memory_limit = 4GB``:  peak = c0 + c_record x records.  Above the slicing threshold
  (memory_limit / 320 bytes a record) ingest works slice by slice, so its peak stays near
  memory_limit whatever the input size: the per-record figure applies below that threshold.
* graph stage: ``build_links`` + ``analyse_network`` (default configuration: communities at three
  resolutions, every centrality, roles) on a workspace whose ``link_state`` is generated directly
  (n nodes in planted communities of 50, 85% of links inside; ids 20 hex characters like the
  pseudonyms), at sizes chosen so that nodes and links vary independently:
  peak = c0 + c_node x nodes + c_link x links.

Usage::

    nice python benchmarks/bench_sizing.py                 # everything (about 10 minutes)
    python benchmarks/bench_sizing.py --ingest 1000000 --graph 100000:1000000
    nice python benchmarks/bench_sizing.py --ingest --graph 50000:500000 100000:1000000 \
        100000:2000000 200000:1000000 200000:2000000 --out benchmarks/results/sizing_graph.json

Prints the measurements, the fitted coefficients and the machine they imply for 45M customers
and 1B links, and writes ``benchmarks/results/sizing.json`` or ``--out`` (with the load average,
and for the graph fit each point's residual: with more than three points the fit is
over-determined and the residuals show how well a straight line holds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import WORKDIR, ensure_data

RESULTS = Path(__file__).resolve().parent / "results" / "sizing.json"
MEMORY_LIMIT = "4GB"
INGEST_SIZES = [1_000_000, 5_000_000, 10_000_000]
GRAPH_SIZES = [
    (100_000, 1_000_000),
    (300_000, 3_000_000),
    (300_000, 9_000_000),
    (1_000_000, 5_000_000),
]
TARGET_CUSTOMERS, TARGET_LINKS, TARGET_RECORDS = 45_000_000, 1_000_000_000, 3_000_000_000


# -- children ----------------------------------------------------------------------------------


def child_ingest(file: str, workspace: str) -> dict[str, Any]:
    from tiewise.config import load_config
    from tiewise.ingest.load import ingest
    from tiewise.links.strength import build_links
    from tiewise.store import Workspace

    config = load_config(
        None,
        workspace=workspace,
        inputs={"interactions": {"path": file}},
        engine={"memory_limit": MEMORY_LIMIT},
    )
    t0 = time.perf_counter()
    with (
        Workspace.open(config.workspace_path, create=True, memory_limit=MEMORY_LIMIT) as ws,
        ws.run(command="bench") as run,
    ):
        summary = ingest(run, config, os.urandom(32))
        links = build_links(run, config)
    return {
        "seconds": time.perf_counter() - t0,
        "records": summary.loaded.get("interactions", 0) + summary.rejected.get("interactions", 0),
        "links": links.links,
        "nodes": links.nodes,
    }


def make_link_state(con: Any, nodes: int, links: int, seed: int = 1) -> None:
    """A ``link_state`` of ``links`` distinct pairs among ``nodes`` parties in communities of 50."""
    rng = np.random.default_rng(seed)
    draws = int(links * 1.1)
    a = rng.integers(0, nodes, draws)
    inside = rng.random(draws) < 0.85
    b = np.where(inside, (a // 50) * 50 + rng.integers(0, 50, draws), rng.integers(0, nodes, draws))
    b = np.minimum(b, nodes - 1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys = np.unique((lo * nodes + hi)[lo != hi])
    keys = rng.permutation(keys)[:links]
    lo, hi = keys // nodes, keys % nodes
    n = len(keys)
    import pyarrow as pa

    frame = pa.table(
        {
            "ia": lo,
            "ib": hi,
            "n_ab": rng.integers(0, 20, n),
            "n_ba": rng.integers(1, 20, n),
            "mask": rng.integers(1, 2**40, n),
        }
    )
    con.register("gen", frame)
    con.execute(
        """
        CREATE TABLE link_state AS
        SELECT left(md5(CAST(ia AS VARCHAR)), 20) AS a, left(md5(CAST(ib AS VARCHAR)), 20) AS b,
               n_ab AS n_voice_ab, n_ba AS n_voice_ba, n_ab // 2 AS n_sms_ab, n_ba // 2 AS n_sms_ba,
               CAST(0 AS BIGINT) AS n_other_ab, CAST(0 AS BIGINT) AS n_other_ba,
               60.0 * n_ab AS voice_seconds_ab, 60.0 * n_ba AS voice_seconds_ba,
               CAST((n_ab + n_ba) * 4294967296 AS HUGEINT) AS weight_fp,
               CAST(mask AS HUGEINT) << 60 AS week_mask,
               TIMESTAMP '2025-01-01' AS first_ts, TIMESTAMP '2026-03-01' AS last_ts,
               CAST(0 AS BIGINT) AS duplicates, CAST(0 AS BIGINT) AS two_sided,
               CAST(0 AS BIGINT) AS missed, n_ab // 3 AS n_off_hours
        FROM gen
        """
    )
    con.execute(
        "CREATE TABLE link_meta AS SELECT DATE '2023-11-06' AS origin, "
        "TIMESTAMP '2026-03-01' AS as_of, TIMESTAMP '2025-01-01' AS first_ts, "
        "30.0 AS half_life_days"
    )
    con.unregister("gen")


def child_graph_setup(nodes: int, links: int, workspace: str) -> dict[str, Any]:
    """Write the generated link_state (a separate child: its memory is not the stage's)."""
    from tiewise.store import Workspace

    with Workspace.open(Path(workspace), create=True) as ws, ws.run(command="bench-setup") as run:
        make_link_state(run.con, nodes, links)
    return {}


def child_graph_run(workspace: str) -> dict[str, Any]:
    from tiewise.config import load_config
    from tiewise.graph.stage import analyse_network
    from tiewise.links.strength import build_links
    from tiewise.store import Workspace

    config = load_config(None, workspace=workspace, engine={"memory_limit": MEMORY_LIMIT})
    t0 = time.perf_counter()
    with (
        Workspace.open(config.workspace_path, memory_limit=MEMORY_LIMIT) as ws,
        ws.run(command="bench") as run,
    ):
        links = build_links(run, config)
        graph = analyse_network(run, config)
    return {
        "seconds": time.perf_counter() - t0,
        "nodes": links.nodes,
        "links": links.links,
        "summary": {k: v for k, v in vars(graph).items() if isinstance(v, int | float)},
    }


CHILDREN = {"ingest": child_ingest, "graph-setup": child_graph_setup, "graph": child_graph_run}


# -- the parent --------------------------------------------------------------------------------


def measured(kind: str, *args: Any) -> dict[str, Any]:
    """Run a child and read its peak memory from ``os.wait4`` (ru_maxrss, KiB)."""
    cmd = [sys.executable, __file__, "--child", kind, *map(str, args)]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        if proc.stdout:
            proc.stdout.close()
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise RuntimeError(f"{kind} {args} failed: {err.read().strip().splitlines()[-3:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - t0
    result["peak_mb"] = usage.ru_maxrss / 1024.0
    return result


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of y = x @ c (x has a column of ones first)."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return np.asarray(coef)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--ingest", type=int, nargs="*", default=INGEST_SIZES)
    parser.add_argument(
        "--graph", nargs="*", default=[f"{n}:{m}" for n, m in GRAPH_SIZES], help="NODES:LINKS"
    )
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        fn = CHILDREN[kind]
        typed = [int(x) if x.isdigit() else x for x in rest]
        print(json.dumps(fn(*typed)))  # type: ignore[operator]
        return 0
    load = [os.getloadavg()]
    ingest_rows = []
    for size in args.ingest:
        path, _ = ensure_data(args.workdir, size, 1)
        ws = tempfile.mkdtemp(prefix="sizing-ingest-", dir=args.workdir)
        try:
            row = measured("ingest", str(path), ws)
        finally:
            shutil.rmtree(ws, ignore_errors=True)
        row["size"] = size
        ingest_rows.append(row)
        load.append(os.getloadavg())
        print(
            f"ingest {size:>11,} records: peak {row['peak_mb']:7.0f} MiB, "
            f"{row['seconds']:6.1f} s, {row['links']:,} links",
            flush=True,
        )
    graph_rows = []
    for spec in args.graph:
        nodes, links = (int(x) for x in spec.split(":"))
        ws = tempfile.mkdtemp(prefix="sizing-graph-", dir=args.workdir)
        try:
            measured("graph-setup", nodes, links, ws)
            row = measured("graph", ws)
        finally:
            shutil.rmtree(ws, ignore_errors=True)
        graph_rows.append(row)
        load.append(os.getloadavg())
        print(
            f"graph {row['nodes']:>9,} nodes {row['links']:>11,} links: peak "
            f"{row['peak_mb']:7.0f} MiB, {row['seconds']:6.1f} s",
            flush=True,
        )
    model: dict[str, Any] = {}
    if len(ingest_rows) >= 2:
        x = np.array([[1.0, r["records"]] for r in ingest_rows])
        c = fit(x, np.array([r["peak_mb"] for r in ingest_rows]))
        model["ingest"] = {
            "base_mb": c[0],
            "bytes_per_record": c[1] * 2**20,
            "note": f"DuckDB engine, memory_limit {MEMORY_LIMIT}; above memory_limit / 320 B a "
            "record ingest works in slices and its peak stays near memory_limit",
        }
    if len(graph_rows) >= 3:
        x = np.array([[1.0, r["nodes"], r["links"]] for r in graph_rows])
        y = np.array([r["peak_mb"] for r in graph_rows])
        c = fit(x, y)
        need = c[0] + c[1] * TARGET_CUSTOMERS + c[2] * TARGET_LINKS
        residuals = y - x @ c
        model["graph"] = {
            "base_mb": c[0],
            "bytes_per_node": c[1] * 2**20,
            "bytes_per_link": c[2] * 2**20,
            "target": {"nodes": TARGET_CUSTOMERS, "links": TARGET_LINKS, "peak_gb": need / 1024},
            # measured minus fitted, per point (MiB): zero by construction with three points
            "residuals_mb": residuals.tolist(),
            "rms_residual_mb": float(np.sqrt(np.mean(residuals**2))),
            "degrees_of_freedom": len(graph_rows) - 3,
        }
    for name, m in model.items():
        print(name, json.dumps(m, default=float))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "meta": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "memory_gb": round(
                        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
                    ),
                    "date": time.strftime("%Y-%m-%d %H:%M"),
                    "load_average": load,
                    "memory_limit": MEMORY_LIMIT,
                },
                "ingest": ingest_rows,
                "graph": graph_rows,
                "model": model,
            },
            indent=2,
            default=float,
        )
        + "\n"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
