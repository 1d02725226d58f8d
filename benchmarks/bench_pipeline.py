"""The whole pipeline at operator scale: per-stage seconds and peak memory, next to the raw floors.

For each size, this script generates a telco world (``tiewise synth telco``), writes its
configuration (``tiewise init --data``, the default settings, with ``[engine] memory_limit``
set), and runs ``tiewise run`` in a fresh child process (every stage on).  It reads the run's
per-stage seconds and peak resident memory from the workspace's ``runs`` table (``stages``) and
the child's overall peak from ``os.wait4`` (``ru_maxrss``: Python, every library, DuckDB).

Then, in the same run and on the same data, the raw floors -- what the libraries underneath take
for the core of each stage, with nothing of tiewise around them:

* ``group_by``: a bare DuckDB ``GROUP BY`` of the same interaction file into undirected pairs
  (count, total duration, first and last contact), same memory limit and threads: the floor of
  ingest and links;
* ``leiden`` and ``pagerank``: NetworKit's ParallelLeiden (the graph stage's resolution,
  iterations and threads) and PageRank on the run's own network (``links`` as the graph stage
  loads it): the floor of the graph stage (which runs three Leiden levels, every centrality and
  roles);
* ``rr_sets``: the throughput of tiewise's numba reverse-reachable sampler, as the influence
  stage calls it (sets that are their root alone counted, not stored), on the same network with
  weighted-cascade probabilities (sets per second); the influence stage's floor is the number of
  sets IMM drew for the run's seeds (``seed_sets.rr_sets``) at that rate.  The stage also draws
  sets to calibrate the cascades and for network values (the ratio overstates), but its
  calibrated cascades are sparser than the weighted cascade, with more sets that are their root
  alone, which are cheap (it understates): read it as an order of magnitude.

The ratio per stage is the stage's seconds over its floor's (value and churn have no single
library floor: their ratio is left empty).  The load average is recorded before and after each
step: other processes on the machine slow every figure alike, so the ratios are the figures to
compare across runs.

Usage::

    nice python benchmarks/bench_pipeline.py                  # 100k and 1M customers, 90 days
    nice python benchmarks/bench_pipeline.py --sizes 5000 100000 --memory-limit 4GB --max-rss 8

The first run after installing compiles the numba kernels (a minute or more): put a small size
first (``--sizes 5000 100000``) so that the sizes that matter run with the compiled cache.

Prints one table per size and writes ``benchmarks/results/pipeline.json`` (or ``--out``).
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

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"
TIEWISE = str(Path(sys.executable).with_name("tiewise"))

# The pipeline's steps (the names `tiewise run` records in runs.stages) and each one's floor.
FLOORS = {
    "Loading and validating inputs": ("group_by",),
    "Building links and their strengths": ("group_by",),
    "Finding communities, centrality and leaders": ("leiden", "pagerank"),
    "Measuring influence, choosing seeds": ("rr_sets",),
}


def _env() -> dict[str, str]:
    """This process's environment, with PYTHONPATH made absolute (children run elsewhere)."""
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        parts = env["PYTHONPATH"].split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in parts if p)
    return env


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _rss(pid: int) -> int:
    """A process's resident memory now (bytes; 0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _child(args: list[str], max_rss: float | None = None) -> dict[str, Any]:
    """A command in a child process: exit code, wall seconds, peak RSS (bytes), last error line.

    With ``max_rss`` (bytes) the child is stopped (SIGTERM) once its resident memory passes it:
    on a shared machine a run that outgrows its budget must not push others' processes out.
    """
    start = time.perf_counter()
    before = _load()
    stopped = None
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=err, text=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if max_rss and stopped is None and _rss(proc.pid) > max_rss:
                stopped = (
                    f"stopped by the benchmark: resident memory above {max_rss / 2**30:.1f} GiB"
                )
                proc.terminate()
            time.sleep(0.5)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().strip().splitlines()
    code = proc.returncode
    return {
        "exit_code": code,
        "seconds": round(time.perf_counter() - start, 2),
        "peak_rss_bytes": usage.ru_maxrss * 1024,  # Linux: KiB
        "load_average_before": before,
        "load_average_after": _load(),
        "error": stopped or (tail[-1] if code and tail else None),
    }


def _configure(data: Path, folder: Path, memory_limit: str, threads: int | None) -> Path:
    """``tiewise init --data`` (the default configuration) with the engine's memory limit set."""
    config = folder / "tiewise.toml"
    done = subprocess.run(
        [TIEWISE, "init", "--data", str(data), "--force", str(config)],
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    text = config.read_text(encoding="utf-8")
    line = f'memory_limit = "{memory_limit}"  # bench_pipeline'
    if threads:
        line += f"\nthreads = {threads}  # bench_pipeline"
    body = text.replace('# memory_limit = "6GB"', line, 1)
    assert line in body, "the template's [engine] memory_limit line has changed"
    config.write_text(body, encoding="utf-8")
    (folder / "tiewise.key").write_text("4d" * 32 + "\n", encoding="utf-8")
    return config


def _stages(workspace: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The last run's per-step seconds and peaks, and the sizes of what it built."""
    import duckdb

    con = duckdb.connect(str(workspace / "tiewise.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT stages FROM runs WHERE status = 'ok' ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        stages = json.loads(row[0]) if row and row[0] else []
        sizes = {
            "customers": con.execute("SELECT count(*) FROM nodes WHERE on_network").fetchone()[0],
            "parties": con.execute("SELECT count(*) FROM nodes").fetchone()[0],
            "links": con.execute("SELECT count(*) FROM links").fetchone()[0],
        }
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        if "seed_sets" in tables:  # IMM's sets: the largest count of each category's rows
            drawn, reached = con.execute(
                "SELECT sum(sets), max(eps) FROM (SELECT max(rr_sets) AS sets, "
                "max(epsilon) AS eps FROM seed_sets GROUP BY category)"
            ).fetchone()
            sizes["rr_sets_drawn"] = int(drawn or 0)
            sizes["epsilon_reached_max"] = reached
    finally:
        con.close()
    return stages, sizes


def _floor_group_by(interactions: Path, memory_limit: str, threads: int | None) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {threads}")
    folder = Path(tempfile.mkdtemp(prefix="tiewise-bench-floor-"))
    con.execute(f"SET temp_directory = '{folder}'")
    before = _load()
    start = time.perf_counter()
    pairs = con.execute(
        f"""
        CREATE TABLE pairs AS
        SELECT least(from_id, to_id) AS a, greatest(from_id, to_id) AS b, count(*) AS n,
               sum(duration_s) AS seconds, min(timestamp) AS first, max(timestamp) AS last
        FROM read_parquet('{interactions}') GROUP BY ALL
        """
    ).fetchone()
    seconds = time.perf_counter() - start
    records = con.execute(f"SELECT count(*) FROM read_parquet('{interactions}')").fetchone()[0]
    pairs = con.execute("SELECT count(*) FROM pairs").fetchone()[0]
    con.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "seconds": round(seconds, 2),
        "records": records,
        "pairs": pairs,
        "load_average_before": before,
        "load_average_after": _load(),
    }


def _network(workspace: Path) -> tuple[int, Any, Any, Any]:
    """The graph stage's network from the workspace: n, u, v, ln(1 + strength)."""
    import duckdb
    import numpy as np

    con = duckdb.connect(str(workspace / "tiewise.duckdb"), read_only=True)
    try:
        con.execute(
            "CREATE TEMP TABLE ix AS SELECT customer_id, is_service, "
            "CAST(row_number() OVER (ORDER BY customer_id) - 1 AS BIGINT) AS idx FROM nodes"
        )
        n = con.execute("SELECT count(*) FROM ix").fetchone()[0]
        edges = con.execute(
            "SELECT na.idx AS u, nb.idx AS v, ln(1 + l.strength) AS w FROM links l "
            "JOIN ix na ON na.customer_id = l.a JOIN ix nb ON nb.customer_id = l.b "
            "WHERE l.strength > 0 AND NOT na.is_service AND NOT nb.is_service"
        ).fetchnumpy()
    finally:
        con.close()
    return (
        int(n),
        np.asarray(edges["u"], np.int64),
        np.asarray(edges["v"], np.int64),
        np.asarray(edges["w"], np.float64),
    )


def _floor_graph(workspace: Path, resolution: float, iterations: int) -> dict[str, Any]:
    import networkit as nk
    import numpy as np

    from tiewise.graph.network import graph_from_edges
    from tiewise.influence.imm import in_graph, sample_rr_sets, weighted_cascade

    n, u, v, w = _network(workspace)
    graph = graph_from_edges(n, u, v, w)
    out: dict[str, Any] = {"nodes": n, "links": len(u)}
    before = _load()
    nk.setNumberOfThreads(1)  # the graph stage's Leiden runs on one thread (reproducible)
    nk.setSeed(1, False)
    start = time.perf_counter()
    leiden = nk.community.ParallelLeiden(
        graph, iterations=iterations, randomize=True, gamma=resolution
    )
    leiden.run()
    out["leiden"] = {"seconds": round(time.perf_counter() - start, 2), "threads": 1}
    nk.setNumberOfThreads(os.cpu_count() or 1)
    start = time.perf_counter()
    nk.centrality.PageRank(graph, damp=0.85).run()
    out["pagerank"] = {
        "seconds": round(time.perf_counter() - start, 2),
        "threads": os.cpu_count(),
    }
    del graph
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    cascade = in_graph(n, src, dst, weighted_cascade(n, src, dst))
    sample_rr_sets(cascade, 50_000, seed=0, singles=True)  # compiles the kernel
    count = max(200_000, min(2_000_000, 2 * n))
    start = time.perf_counter()
    sets = sample_rr_sets(cascade, count, seed=1, singles=True)  # as the influence stage draws
    spent = time.perf_counter() - start
    out["rr_sets"] = {
        "seconds": round(spent, 2),
        "sets": count,
        "sets_per_second": round(count / spent),
        "mean_set_size": round((len(sets.nodes) + int(sets.singles.sum())) / count, 2),
        "root_alone_share": round(int(sets.singles.sum()) / count, 3),
        "probabilities": "weighted cascade (1 / in-degree)",
    }
    out["load_average_before"] = before
    out["load_average_after"] = _load()
    return out


def _ratios(stages: list[dict[str, Any]], floors: dict[str, Any], sizes: dict[str, Any]) -> None:
    """Each stage's floor (seconds) and its ratio to it, in place."""
    rr = floors.get("rr_sets", {})
    for stage in stages:
        parts = FLOORS.get(stage["stage"])
        floor = None
        if parts == ("group_by",):
            floor = floors["group_by"]["seconds"]
        elif parts == ("leiden", "pagerank"):
            floor = floors["leiden"]["seconds"] + floors["pagerank"]["seconds"]
        elif parts == ("rr_sets",) and sizes.get("rr_sets_drawn") and rr.get("sets_per_second"):
            floor = sizes["rr_sets_drawn"] / rr["sets_per_second"]
        stage["floor_seconds"] = round(floor, 2) if floor else None
        stage["ratio_to_floor"] = round(stage["seconds"] / floor, 2) if floor else None


def _print(size: int, record: dict[str, Any]) -> None:
    run = record["run"]
    print(
        f"\n{size:,} customers: tiewise run {run['seconds']:.1f} s, peak RSS "
        f"{run['peak_rss_bytes'] / 2**30:.2f} GiB, exit {run['exit_code']}, load "
        f"{run['load_average_before'][0]} -> {run['load_average_after'][0]}"
    )
    print(f"  {'step':<48} {'seconds':>8} {'cores':>6} {'peak GiB':>9} {'floor s':>8} {'ratio':>6}")
    for s in record["stages"]:
        peak = f"{s['peak_rss_bytes'] / 2**30:.2f}" if s.get("peak_rss_bytes") else "-"
        floor = f"{s['floor_seconds']:.1f}" if s.get("floor_seconds") else "-"
        busy = s.get("cpu_seconds")
        cores = f"{busy / s['seconds']:.2f}" if busy is not None and s["seconds"] else "-"
        ratio = f"{s['ratio_to_floor']:.1f}" if s.get("ratio_to_floor") else "-"
        print(
            f"  {s['stage'][:48]:<48} {s['seconds']:>8.1f} {cores:>6} {peak:>9} {floor:>8}"
            f" {ratio:>6}"
        )
    f = record["floors"]
    if f:
        print(
            f"  floors: GROUP BY {f['group_by']['seconds']} s ({f['group_by']['records']:,} records"
            f" -> {f['group_by']['pairs']:,} pairs), Leiden {f['leiden']['seconds']} s, PageRank "
            f"{f['pagerank']['seconds']} s ({f['nodes']:,} nodes, {f['links']:,} links), RR sets "
            f"{f['rr_sets']['sets_per_second']:,}/s"
        )


def bench_size(size: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Generate, configure, run and measure one size."""
    from tiewise.config import load_config

    data = root / f"data-{size}"
    folder = root / f"project-{size}"
    folder.mkdir(parents=True, exist_ok=True)
    synth = _child(
        [TIEWISE, "synth", "telco", "--out", str(data), "--customers", str(size),
         "--days", str(args.days), "--seed", str(args.seed),
         "--records-per-customer", str(args.records_per_customer)]
    )  # fmt: skip
    assert synth["exit_code"] == 0, synth["error"]
    config = _configure(data, folder, args.memory_limit, args.threads)
    max_rss = args.max_rss * 2**30 if args.max_rss else None
    run = _child([TIEWISE, "run", "--config", str(config)], max_rss)
    record: dict[str, Any] = {"synth": synth, "run": run, "stages": [], "floors": {}}
    if run["exit_code"] != 0:
        print(f"{size:,} customers: tiewise run failed: {run['error']}", flush=True)
        return record
    cfg = load_config(config)
    stages, sizes = _stages(cfg.workspace_path)
    record["sizes"] = sizes
    floors = {
        "group_by": _floor_group_by(data / "interactions.parquet", args.memory_limit, args.threads)
    }
    graph = cfg.graph
    floors.update(_floor_graph(cfg.workspace_path, graph.resolution, graph.leiden_iterations))
    _ratios(stages, floors, sizes)
    record["stages"] = stages
    record["floors"] = floors
    record["stage_seconds_total"] = round(sum(s["seconds"] for s in stages), 2)
    _print(size, record)
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--records-per-customer", type=float, default=50.0,
        help="call and SMS records a subscriber over the days (100 at 1M: 100M records)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-limit", default="6GB", help="[engine] memory_limit")
    parser.add_argument("--threads", type=int, default=None, help="[engine] threads")
    parser.add_argument(
        "--max-rss", type=float, default=None, help="Stop a run above this many GiB resident"
    )
    parser.add_argument("--root", type=Path, default=None, help="Working folder (default: temp)")
    parser.add_argument("--keep", action="store_true", help="Keep each size's data and workspace")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    root = args.root or Path(tempfile.mkdtemp(prefix="tiewise-bench-pipeline-"))
    root.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    try:
        for size in args.sizes:
            results[str(size)] = bench_size(size, args, root)
    finally:
        if args.root is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    out = {
        "benchmark": "pipeline",
        "command": (
            "tiewise synth telco --customers N --days D --records-per-customer R; tiewise init "
            "--data; tiewise run "
            "(default configuration, [engine] memory_limit set)"
        ),
        "days": args.days,
        "records_per_customer": args.records_per_customer,
        "memory_limit": args.memory_limit,
        "threads": args.threads,
        "sizes": results,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": _load(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
