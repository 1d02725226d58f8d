"""Benchmark of the Spark engine against DuckDB: the same records, the same link_state.

Both engines read the same Parquet file of call records (``bench_ingest.py``'s generator: about
rows/3.4 pairs, 0.5% exact duplicates, 0.1% bad rows) and build ``link_state`` with the same key:

* ``duckdb``: :func:`tiewise.ingest.load.ingest` with ``engine = "duckdb"`` into a new workspace
  (``engine.memory_limit`` 4GB), as ``tiewise run`` does.
* ``spark``: the same call with ``engine = "spark"`` in ``local[2]`` (driver memory 3g,
  ``spark.sql.shuffle.partitions`` 8): Spark checks, deduplicates, aggregates and
  pseudonymises, writes Parquet, and the workspace imports it.  The session is started first
  and timed apart (``session_seconds``); a warm-up run on 100k records compiles the queries.

Then the links stage (:func:`tiewise.links.strength.build_links`) runs on the same engine and is
timed apart: on DuckDB ``links`` is a view and the other tables are written by DuckDB; on Spark
``links``, ``service_numbers``, ``nodes``, ``customer_activity`` and ``customer_weeks`` are
computed by Spark over its ``link_state`` Parquet and imported.

The two workspaces' tables are then compared row by row (``EXCEPT ALL`` both ways, on every
column, in DuckDB): ``identical`` is true when no row of any of them differs.  Each engine runs
in this one process (Spark's JVM is a child: its memory is not in this process's peak), timed
with ``perf_counter``.  The machine is shared: the load average is recorded.

Usage::

    nice python benchmarks/bench_spark.py                  # 10M records
    python benchmarks/bench_spark.py --rows 1000000

Writes ``benchmarks/results/spark.json`` (10M records; ``spark_<rows>.json`` for other sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import WORKDIR, ensure_data

RESULTS = Path(__file__).resolve().parent / "results" / "spark.json"
SPARK_CONF = {
    "spark.driver.memory": "3g",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
}


def run(engine: str, file: Path, folder: Path, key: bytes) -> tuple[float, float, Path]:
    from tiewise.config import load_config
    from tiewise.ingest.load import ingest
    from tiewise.links.strength import build_links
    from tiewise.store import Workspace

    workspace = folder / f"ws-{engine}"
    shutil.rmtree(workspace, ignore_errors=True)
    settings: dict[str, Any] = {"engine": engine, "memory_limit": "4GB"}
    if engine == "spark":
        settings |= {
            "spark_master": "local[2]",
            "spark_conf": SPARK_CONF,
            "spark_output": str(folder / "spark-output"),
        }
    config = load_config(
        None,
        workspace=str(workspace),
        inputs={"interactions": {"path": str(file)}},
        engine=settings,
    )
    t0 = time.perf_counter()
    with (
        Workspace.open(workspace, create=True, memory_limit="4GB") as ws,
        ws.run(command="bench") as r,
    ):
        ingest(r, config, key)
        t1 = time.perf_counter()
        build_links(r, config)
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, workspace


TABLES = ("link_state", "links", "service_numbers", "nodes", "customer_activity", "customer_weeks")


def compare(duck: Path, spark: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{duck / 'tiewise.duckdb'}' AS d (READ_ONLY)")
    con.execute(f"ATTACH '{spark / 'tiewise.duckdb'}' AS s (READ_ONLY)")
    out: dict[str, Any] = {}
    for t in TABLES:
        rows = [int(con.execute(f"SELECT count(*) FROM {x}.{t}").fetchall()[0][0]) for x in "ds"]
        only = [
            int(
                con.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {x}.{t} EXCEPT ALL SELECT * FROM {y}.{t})"
                ).fetchall()[0][0]
            )
            for x, y in ("ds", "sd")
        ]
        out[t] = {
            "rows_duckdb": rows[0],
            "rows_spark": rows[1],
            "rows_only_duckdb": only[0],
            "rows_only_spark": only[1],
        }
    meta = [con.execute(f"SELECT * FROM {x}.link_meta").fetchall() for x in "ds"]
    con.close()
    out["link_meta_equal"] = meta[0] == meta[1]
    out["identical"] = meta[0] == meta[1] and all(
        out[t]["rows_only_duckdb"] == 0 and out[t]["rows_only_spark"] == 0 for t in TABLES
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from tiewise.config import EngineConfig
    from tiewise.ingest.spark import spark_session

    load = [os.getloadavg()]
    file, stats = ensure_data(args.workdir, args.rows, 1)
    small, _ = ensure_data(args.workdir, 100_000, 1)
    key = os.urandom(32)
    folder = Path(tempfile.mkdtemp(prefix="bench-spark-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        spark = spark_session(
            EngineConfig(engine="spark", spark_master="local[2]", spark_conf=SPARK_CONF)
        )
        session_seconds = time.perf_counter() - t0
        warm, _, _ = run("spark", small, folder, key)
        duck_s, duck_links_s, duck_ws = run("duckdb", file, folder, key)
        load.append(os.getloadavg())
        spark_s, spark_links_s, spark_ws = run("spark", file, folder, key)
        load.append(os.getloadavg())
        equal = compare(duck_ws, spark_ws)
        spark.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "meta": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "load_average": load,
            "spark_conf": SPARK_CONF,
        },
        "data": stats,
        "rows": args.rows,
        "session_seconds": session_seconds,
        "spark_warmup_100k_seconds": warm,
        "duckdb_seconds": duck_s,
        "spark_seconds": spark_s,
        "spark_over_duckdb": spark_s / duck_s,
        "links_stage_duckdb_seconds": duck_links_s,
        "links_stage_spark_seconds": spark_links_s,
        "equality": equal,
    }
    print(json.dumps(result, indent=2, default=str))
    path = RESULTS if args.rows == 10_000_000 else RESULTS.with_name(f"spark_{args.rows}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0 if equal["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
