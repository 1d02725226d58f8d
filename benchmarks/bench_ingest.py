"""Benchmark of ingest at operator scale: tiewise against a bare DuckDB group-by (and pandas).

The question is what tiewise's one validated pass costs on top of the aggregation any tool would
do anyway.  :func:`tiewise.ingest.load.ingest` types every column, checks the validation rules,
drops duplicates, aggregates per pair of parties and day into ``link_days`` and pseudonymises the
distinct parties with HMAC-SHA256; :func:`tiewise.links.strength.build_links` then computes every
link-strength component per pair.  The baseline is the least any analysis does with the same
records: group them into unordered pairs with a count, total duration and first and last time.

Data: synthetic call records (default 10M and 100M rows), generated with numpy and written to
Parquet in chunks of 10M rows (row groups of 1M rows, pyarrow's default, so that DuckDB can scan
a file with several threads).  About rows/15 people with heavy-tailed activity; about rows/3.4
distinct pairs (the issue's 100M records gave ~29M pairs) with 1 + a negative binomial mixture
of records each (mean 3.4); ids are 12-digit numbers ("4479" + 8 digits); 90 days of records,
time-ordered within each chunk; 60% voice (lognormal durations in whole seconds) and 40% SMS
(null duration), the share varying per pair; the direction is random with a per-pair bias; 0.5%
exact duplicate rows next to their originals; 0.1% bad rows (self-interactions and an unknown
channel) for validation to set aside.  The file depends only on the row count and the seed;
an existing file in ``--workdir`` is reused.

Each measurement runs in a fresh child process (``--run ENGINE FILE``); the parent reads the
child's peak resident memory from ``os.wait4`` (``ru_maxrss``) and its wall time.  The figure in
``seconds`` is timed inside the child around the work itself (Python start-up and imports excluded):

* ``tiewise``: open a new workspace, ``ingest`` (pseudonymisation on, a random key) and
  ``build_links``, commit, with ``engine.memory_limit`` = ``--memory-limit`` (6GB); the time of
  each step is kept, and the peak size of the workspace's spill folder.
* ``duckdb_groupby``: ``CREATE TABLE ... GROUP BY least(from_id, to_id), greatest(...)`` over
  the Parquet file in a fresh in-memory DuckDB connection (default settings).
* ``pandas``: the same aggregation in plain pandas (``--pandas-max``, default 10M rows only).
* ``tiewise_spill``: tiewise at the largest size with ``--spill-limit`` (2GB), far below the
  working set, so DuckDB must spill to the workspace's tmp folder.

Goals (from the issue), checked at 100M rows: tiewise < 60 s, at most 3x the bare group-by, and
peak memory < 6 GB.  Timings are wall-clock on a shared machine: expect noise.

Usage::

    python benchmarks/bench_ingest.py                      # 10M and 100M rows
    python benchmarks/bench_ingest.py --sizes 10000000 --workdir /data/bench

Prints a table and writes ``benchmarks/results/ingest.json``; exits with status 1 when a
measurement failed (its error is in the table and the JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
WORKDIR = Path(tempfile.gettempdir()) / "tiewise-bench-ingest"
ENGINES = ("duckdb_groupby", "tiewise", "pandas", "tiewise_spill")

GENERATOR_VERSION = 1  # bump when the data changes, so that old files are not reused
CHUNK_ROWS = 10_000_000
ROW_GROUP_ROWS = 1 << 20
START = np.datetime64("2024-03-04T00:00:00", "s")  # a Monday
DAYS = 90
RECORDS_PER_PERSON = 15
RECORDS_PER_PAIR = 3.4
DUPLICATE_SHARE = 0.005
BAD_SHARE = 0.001
SUBSCRIBER_SPACE = 10**8  # the 8 digits after "4479"
NUMBER_BASE = 4479 * SUBSCRIBER_SPACE

GOAL_ROWS = 100_000_000
GOAL_SECONDS = 60.0
GOAL_RATIO = 3.0
GOAL_PEAK_MB = 6 * 1024  # ru_maxrss is in KiB; "MB" here means MiB throughout

GROUPBY_SQL = (
    "CREATE TABLE t AS SELECT least(from_id, to_id) a, greatest(from_id, to_id) b, count(*) n, "
    "sum(duration_s) d, min(timestamp) f, max(timestamp) l FROM read_parquet('{file}') "
    "GROUP BY 1, 2"
)


# -- data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Everything about the records that is decided before they are written."""

    numbers: Any  # pyarrow StringArray: the phone number of each person
    lo: np.ndarray  # per pair: the two persons (lo < hi)
    hi: np.ndarray
    forward: np.ndarray  # per pair: probability that a record goes lo -> hi
    voice: np.ndarray  # per pair: share of voice calls
    record_pair: np.ndarray  # per record (before duplicates): its pair, in file order
    day_ends: np.ndarray  # records [day_ends[d-1], day_ends[d]) fall on day d


@dataclass
class DataStats:
    """What the generated file holds."""

    rows: int
    seed: int
    persons: int
    pairs: int
    duplicates: int
    self_interactions: int
    unknown_channel: int
    bytes: int = 0
    generate_seconds: float = 0.0
    generator_version: int = GENERATOR_VERSION


def data_path(workdir: Path, rows: int, seed: int) -> Path:
    return workdir / f"calls_{rows}_seed{seed}_v{GENERATOR_VERSION}.parquet"


def ensure_data(workdir: Path, rows: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The data file for ``rows`` and ``seed``: reused when it exists with that many rows."""
    import pyarrow.parquet as pq

    path = data_path(workdir, rows, seed)
    sidecar = path.with_suffix(".json")
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        stats = json.loads(sidecar.read_text()) if sidecar.exists() else {"rows": rows}
        return path, {**stats, "reused": True}
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    stats = write_records(path, rows, seed)
    stats.generate_seconds = time.perf_counter() - t0
    stats.bytes = path.stat().st_size
    sidecar.write_text(json.dumps(asdict(stats), indent=2) + "\n")
    return path, {**asdict(stats), "reused": False}


def pair_counts(records: int, rng: np.random.Generator) -> np.ndarray:
    """Records per pair, 1 + a mixture of negative binomials (mean 3.4), summing to ``records``."""
    n = int(records / RECORDS_PER_PAIR * 1.1) + 1000
    light = rng.negative_binomial(0.5, 0.5 / (0.5 + 1.2), n)  # 80% of pairs: 1 + mean 1.2
    heavy = rng.negative_binomial(0.3, 0.3 / (0.3 + 7.2), n)  # 20% of pairs: 1 + mean 7.2
    counts = (1 + np.where(rng.random(n) < 0.8, light, heavy)).astype(np.int64)
    ends = np.cumsum(counts)
    if ends[-1] < records:
        raise RuntimeError("too few pairs drawn; raise the margin in pair_counts")
    k = int(np.searchsorted(ends, records)) + 1
    counts = counts[:k]
    counts[-1] -= int(ends[k - 1]) - records
    return counts


def distinct_pairs(k: int, persons: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``k`` distinct unordered pairs of persons, whose activity is lognormal (heavy-tailed)."""
    cdf = np.cumsum(rng.lognormal(0.0, 1.0, persons))
    cdf /= cdf[-1]
    found = np.empty(0, dtype=np.int64)
    while found.size < k:
        need = int((k - found.size) * 1.05) + 1000
        u = np.searchsorted(cdf, rng.random(need)).astype(np.int64)
        v = np.searchsorted(cdf, rng.random(need)).astype(np.int64)
        keep = u != v
        codes = np.minimum(u, v)[keep] * persons + np.maximum(u, v)[keep]
        found = np.unique(np.concatenate([found, codes]))
    chosen = rng.permutation(found)[:k]
    return (chosen // persons).astype(np.int32), (chosen % persons).astype(np.int32)


def phone_numbers(persons: int, rng: np.random.Generator) -> Any:
    """Distinct 12-digit numbers "4479" + 8 digits: an affine bijection of the 8 digits."""
    import pyarrow as pa
    import pyarrow.compute as pc

    step = 48_271_093  # odd and not a multiple of 5: coprime with 10^8
    offset = int(rng.integers(SUBSCRIBER_SPACE))
    digits = (np.arange(persons, dtype=np.int64) * step + offset) % SUBSCRIBER_SPACE
    return pc.cast(pa.array(NUMBER_BASE + digits), pa.string())


def build_world(records: int, rows: int, rng: np.random.Generator) -> World:
    persons = max(100, rows // RECORDS_PER_PERSON)
    counts = pair_counts(records, rng)
    lo, hi = distinct_pairs(counts.size, persons, rng)
    record_pair = np.repeat(np.arange(counts.size, dtype=np.int32), counts)
    rng.shuffle(record_pair)
    busy = np.where(np.arange(DAYS) % 7 < 5, 1.0, 0.75)  # weekends are quieter
    days = rng.multinomial(records, busy / busy.sum())
    return World(
        numbers=phone_numbers(persons, rng),
        lo=lo,
        hi=hi,
        forward=rng.beta(2.0, 2.0, counts.size).astype(np.float32),
        voice=rng.beta(1.5, 1.0, counts.size).astype(np.float32),
        record_pair=record_pair,
        day_ends=np.cumsum(days),
    )


def chunk_table(world: World, start: int, stop: int, copies: int, rng: np.random.Generator) -> Any:
    """Records ``start:stop`` of the world, ``copies`` of them duplicated, 0.1% made bad."""
    import pyarrow as pa

    m = stop - start
    day = np.searchsorted(world.day_ends, np.arange(start, stop), side="right")
    time_of_day = np.mod(rng.normal(14.5 * 3600, 4.5 * 3600, m), 86400).astype(np.int64)
    seconds = day.astype(np.int64) * 86400 + time_of_day
    order = np.argsort(seconds, kind="stable")
    pair, seconds = world.record_pair[start:stop][order], seconds[order]
    forward = rng.random(m) < world.forward[pair]
    src = np.where(forward, world.lo[pair], world.hi[pair])
    dst = np.where(forward, world.hi[pair], world.lo[pair])
    channel = np.where(rng.random(m) < world.voice[pair], 0, 1).astype(np.int8)
    duration = np.rint(rng.lognormal(np.log(70.0), 1.1, m))
    repeats = np.ones(m, dtype=np.int64)
    repeats[rng.choice(m, copies, replace=False)] = 2  # exact copies, next to their originals
    src, dst, seconds, channel, duration = (
        np.repeat(x, repeats) for x in (src, dst, seconds, channel, duration)
    )
    n = m + copies
    bad = rng.choice(n, round(n * BAD_SHARE), replace=False)
    dst[bad[: bad.size // 2]] = src[bad[: bad.size // 2]]  # self-interactions
    channel[bad[bad.size // 2 :]] = 2  # an unknown channel
    return pa.table(
        {
            "from_id": world.numbers.take(pa.array(src)),
            "to_id": world.numbers.take(pa.array(dst)),
            "timestamp": pa.array((START + seconds).astype("datetime64[us]")),
            "channel": pa.array(["voice", "sms", "mms"]).take(pa.array(channel)),
            "duration_s": pa.array(duration, mask=channel != 0),
        }
    )


def write_records(path: Path, rows: int, seed: int) -> DataStats:
    """Write ``rows`` records to ``path`` (atomically), chunk by chunk."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    records = round(rows / (1 + DUPLICATE_SHARE))  # distinct records; the rest are copies
    world = build_world(records, rows, rng)
    chunks = -(-rows // CHUNK_ROWS)
    bounds = [records * i // chunks for i in range(chunks + 1)]
    copies = [round((rows - records) * b / records) for b in bounds]
    tmp = path.with_suffix(".tmp")
    writer = None
    bad = [0, 0]
    try:
        for i in range(chunks):
            table = chunk_table(world, bounds[i], bounds[i + 1], copies[i + 1] - copies[i], rng)
            n_bad = round(table.num_rows * BAD_SHARE)
            bad = [bad[0] + n_bad // 2, bad[1] + n_bad - n_bad // 2]
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return DataStats(
        rows=rows,
        seed=seed,
        persons=len(world.numbers),
        pairs=world.lo.size,
        duplicates=rows - records,
        self_interactions=bad[0],
        unknown_channel=bad[1],
    )


# -- measurements (in the child) -----------------------------------------------------------------


class SpillWatcher(threading.Thread):
    """Samples the size of a folder (DuckDB's spill files) and keeps the largest."""

    def __init__(self, folder: Path, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.folder, self.every = folder, every
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            self.peak = max(self.peak, _folder_bytes(self.folder))

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def _folder_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # DuckDB removed it meanwhile
                total += os.stat(os.path.join(dirpath, name)).st_size
    return total


def run_tiewise(file: Path, workspace: Path, memory_limit: str) -> dict[str, Any]:
    from tiewise.config import load_config
    from tiewise.ingest.load import ingest
    from tiewise.links.strength import build_links
    from tiewise.store import Workspace

    config = load_config(
        None,
        workspace=str(workspace),
        inputs={"interactions": {"path": str(file)}},
        engine={"memory_limit": memory_limit},
    )
    key = os.urandom(32)
    watcher = SpillWatcher(config.workspace_path / "tmp")
    watcher.start()
    t0 = time.perf_counter()
    with (
        Workspace.open(
            config.workspace_path,
            create=True,
            memory_limit=config.engine.memory_limit,
            threads=config.engine.threads,
        ) as ws,
        ws.run(command="bench") as run,
    ):
        t1 = time.perf_counter()
        summary = ingest(run, config, key)
        t2 = time.perf_counter()
        links = build_links(run, config)
        t3 = time.perf_counter()
    t4 = time.perf_counter()  # the run committed and checkpointed, the workspace closed
    spill = watcher.stop()
    duplicates = sum(line.rows for line in summary.lines if line.rule == "duplicate_record")
    return {
        "seconds": t4 - t0,
        "steps": {"open": t1 - t0, "ingest": t2 - t1, "build_links": t3 - t2, "commit": t4 - t3},
        "pairs": links.links,
        "nodes": links.nodes,
        "loaded": summary.loaded.get("interactions", 0),
        "rejected": summary.rejected.get("interactions", 0),
        "duplicates": duplicates,
        "spill_mb": spill / 2**20,
        "memory_limit": memory_limit,
    }


def run_duckdb_groupby(file: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    con.execute(GROUPBY_SQL.format(file=file.as_posix()))
    seconds = time.perf_counter() - t0
    row = con.execute("SELECT count(*) FROM t").fetchone()
    con.close()
    return {"seconds": seconds, "pairs": int(row[0]) if row else 0}


def run_pandas(file: Path) -> dict[str, Any]:
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_parquet(file)
    a = np.minimum(df["from_id"].to_numpy(), df["to_id"].to_numpy())
    b = np.maximum(df["from_id"].to_numpy(), df["to_id"].to_numpy())
    pairs = (
        df.assign(a=a, b=b)
        .groupby(["a", "b"], sort=False)
        .agg(
            n=("timestamp", "size"),
            d=("duration_s", "sum"),
            f=("timestamp", "min"),
            l=("timestamp", "max"),
        )
    )
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "pairs": len(pairs)}


def run_child(engine: str, file: Path, workspace: Path, memory_limit: str) -> dict[str, Any]:
    if engine in ("tiewise", "tiewise_spill"):
        return run_tiewise(file, workspace, memory_limit)
    if engine == "duckdb_groupby":
        return run_duckdb_groupby(file)
    if engine == "pandas":
        return run_pandas(file)
    raise ValueError(f"unknown engine {engine!r}")


# -- measurements (in the parent) ----------------------------------------------------------------


def measure(
    engine: str, file: Path, rows: int, workdir: Path, memory_limit: str, timeout: float
) -> dict[str, Any]:
    """Run one measurement in a fresh child; its peak memory comes from ``os.wait4``."""
    workspace = Path(tempfile.mkdtemp(prefix=f"ws-{engine}-", dir=workdir))
    cmd = [sys.executable, __file__, "--run", engine, str(file), "--workspace", str(workspace)]
    cmd += ["--memory-limit", memory_limit]
    try:
        with tempfile.TemporaryFile(mode="w+") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            out = proc.stdout.read() if proc.stdout else ""
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
            timer.cancel()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.stdout:
                proc.stdout.close()
            err.seek(0)
            stderr = err.read()
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    result: dict[str, Any] = {"engine": engine, "rows": rows, "wall_seconds": wall}
    result["peak_mb"] = usage.ru_maxrss / 1024.0
    if proc.returncode != 0:
        why = f"killed after {timeout:.0f} s" if wall >= timeout else "failed"
        result.update(error=f"{why} (exit {proc.returncode}): {error_line(stderr)}", seconds=wall)
        result["stderr_tail"] = stderr.strip().splitlines()[-20:]
        return result
    result.update(json.loads(out.strip().splitlines()[-1]))
    result["rows_per_s"] = rows / result["seconds"]
    return result


def error_line(stderr: str) -> str:
    """The exception line of a traceback (DuckDB appends hints after it), else the last line."""
    lines = stderr.strip().splitlines()
    raised = [x for x in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", x)]
    return (raised or lines or [""])[-1]


def warm_page_cache(path: Path) -> None:
    """Read the file once so that the first measurement does not pay for a cold disk."""
    with path.open("rb") as fh:
        while fh.read(64 << 20):
            pass


def plan(sizes: list[int], engines: list[str], pandas_max: int) -> list[tuple[int, str]]:
    runs = []
    for size in sizes:
        for engine in ("duckdb_groupby", "tiewise", "pandas"):
            if engine in engines and (engine != "pandas" or size <= pandas_max):
                runs.append((size, engine))
    if "tiewise_spill" in engines:
        runs.append((max(sizes), "tiewise_spill"))
    return runs


# -- report --------------------------------------------------------------------------------------

HEAD = (
    f"{'rows':>11} {'engine':<15} {'limit':>5} {'seconds':>8} {'rows/s':>11} {'peak MB':>8} "
    f"{'pairs':>11} {'spill MB':>8}"
)


def row_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['rows']:>11,} {r['engine']:<15} {'':>5} FAILED: {r['error'].splitlines()[0]}"
    limit = r.get("memory_limit", "")
    spill = f"{r['spill_mb']:>8,.0f}" if "spill_mb" in r else f"{'':>8}"
    return (
        f"{r['rows']:>11,} {r['engine']:<15} {limit:>5} {r['seconds']:>8.1f} "
        f"{r['rows_per_s']:>11,.0f} {r['peak_mb']:>8,.0f} {r['pairs']:>11,} {spill}"
    )


def steps_line(r: dict[str, Any]) -> str:
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in r.get("steps", {}).items())
    extra = (
        f"loaded {r['loaded']:,}, rejected {r['rejected']:,}, duplicates {r['duplicates']:,}"
        if "loaded" in r
        else ""
    )
    return f"{r['rows']:>11,} {r['engine']:<15} {steps}; {extra}"


def ratios(runs: list[dict[str, Any]]) -> dict[int, float]:
    """tiewise seconds / bare group-by seconds, per size measured with both."""
    ok = {(r["rows"], r["engine"]): r for r in runs if "error" not in r}
    return {
        rows: ok[(rows, "tiewise")]["seconds"] / ok[(rows, "duckdb_groupby")]["seconds"]
        for rows, engine in ok
        if engine == "tiewise" and (rows, "duckdb_groupby") in ok
    }


def goals(runs: list[dict[str, Any]], ratio: dict[int, float]) -> dict[str, Any]:
    """The issue's goals at 100M rows: None when not measured."""
    tw = next((r for r in runs if r["engine"] == "tiewise" and r["rows"] == GOAL_ROWS), None)
    if tw is None or "error" in tw:
        return {"seconds": None, "ratio": None, "peak_mb": None}
    ratio_value = ratio.get(GOAL_ROWS)
    return {
        "seconds": _goal(tw["seconds"], GOAL_SECONDS),
        "ratio": None if ratio_value is None else _goal(ratio_value, GOAL_RATIO),
        "peak_mb": _goal(tw["peak_mb"], GOAL_PEAK_MB),
    }


def _goal(value: float, limit: float) -> dict[str, Any]:
    return {"value": value, "goal": limit, "met": value <= limit}


def report(runs: list[dict[str, Any]], ratio: dict[int, float], met: dict[str, Any]) -> str:
    """What follows the table: tiewise's steps, the ratios and the goals."""
    lines = ["tiewise steps (seconds):", *(steps_line(r) for r in runs if "steps" in r), ""]
    for rows, value in sorted(ratio.items()):
        lines.append(f"tiewise / duckdb_groupby at {rows:,} rows: {value:.2f}x")
    lines.append("")
    lines.append(f"Goals at {GOAL_ROWS:,} rows (tiewise, memory_limit as above):")
    labels = {
        "seconds": f"time < {GOAL_SECONDS:.0f} s",
        "ratio": f"within {GOAL_RATIO:.0f}x of the bare group-by",
        "peak_mb": f"peak < {GOAL_PEAK_MB:,} MB",
    }
    for name, label in labels.items():
        g = met[name]
        if g is None:
            lines.append(f"  {label:<38} not measured")
        else:
            fmt = ".2f" if name == "ratio" else ",.1f"
            verdict = "met" if g["met"] else "NOT met"
            lines.append(f"  {label:<38} {g['value']:{fmt}}  {verdict}")
    return "\n".join(lines)


def source_version() -> tuple[str | None, bool | None]:
    """The repository's commit and whether ``src`` differs from it (the children import it)."""
    git = ["git", "-C", str(Path(__file__).resolve().parent.parent)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True)
    if commit.returncode != 0:
        return None, None
    return commit.stdout.strip(), bool(dirty.stdout.strip())


def meta() -> dict[str, Any]:
    import duckdb
    import pandas
    import pyarrow

    commit, modified = source_version()
    return {
        "tiewise_commit": commit,
        "tiewise_src_modified": modified,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "date": time.strftime("%Y-%m-%d"),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000, 100_000_000])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--workdir", type=Path, default=WORKDIR, help="data files and workspaces")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-limit", default="6GB", help="tiewise's engine.memory_limit")
    parser.add_argument("--spill-limit", default="2GB", help="memory_limit for tiewise_spill")
    parser.add_argument("--pandas-max", type=int, default=10_000_000, help="largest pandas size")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per measurement")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--run", nargs=2, metavar=("ENGINE", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        engine, file = args.run
        print(json.dumps(run_child(engine, Path(file), args.workspace, args.memory_limit)))
        return 0

    about = meta()
    data: dict[int, dict[str, Any]] = {}
    files: dict[int, Path] = {}
    for size in sorted(set(args.sizes)):
        t0 = time.perf_counter()
        files[size], data[size] = ensure_data(args.workdir, size, args.seed)
        how = "reused" if data[size]["reused"] else f"generated in {time.perf_counter() - t0:.0f} s"
        print(f"data: {files[size]} ({size:,} rows, {how})", flush=True)

    print(f"\n{HEAD}\n{'-' * len(HEAD)}", flush=True)
    runs: list[dict[str, Any]] = []
    warmed: set[int] = set()
    for size, engine in plan(sorted(set(args.sizes)), args.engines, args.pandas_max):
        if size not in warmed:
            warm_page_cache(files[size])
            warmed.add(size)
        limit = args.spill_limit if engine == "tiewise_spill" else args.memory_limit
        runs.append(measure(engine, files[size], size, args.workdir, limit, args.timeout))
        print(row_line(runs[-1]), flush=True)

    if source_version() != (about["tiewise_commit"], about["tiewise_src_modified"]):
        about["tiewise_changed_during_run"] = True
        print("\nWARNING: tiewise's source changed during the run; the runs may mix versions.")
    ratio = ratios(runs)
    met = goals(runs, ratio)
    print()
    print(report(runs, ratio, met))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "meta": about,
        "settings": {
            "memory_limit": args.memory_limit,
            "spill_limit": args.spill_limit,
            "seed": args.seed,
        },
        "data": {str(size): stats for size, stats in data.items()},
        "runs": runs,
        "ratio_tiewise_to_duckdb_groupby": {str(k): v for k, v in ratio.items()},
        "goals": met,
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nSaved {args.output}")
    return 1 if any("error" in r for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
