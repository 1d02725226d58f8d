"""Network value against the generator's true cascades, and what the influence stage costs.

For each size, the telco generator writes a world (90 days, default products, seed 3) and the
whole pipeline runs on it in a child process (its peak memory read from ``os.wait4``).  Then,
per adoption in the first half of the window (whose cascades had time to grow), the influence
stage's estimated value of the adoptions it causes (``network_value_categories``) is compared
with the value below it in the generator's true cascade tree
(:func:`tiewise.synth.truth.adoption_descendants`):

* ``ratio``: mean estimate over mean truth (1 = calibrated);
* ``spearman``: rank correlation per category, for tiewise and for two baselines that rank
  customers by NetworKit's PageRank and by their number of contacts (from ``customer_scores``)
  — the usual stand-ins for "network value" in CRM practice.

Usage::

    nice python benchmarks/bench_network_value.py --sizes 20000 100000

Prints a table and writes ``benchmarks/results/network_value.json``.  The machine is shared:
the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from scipy.stats import spearmanr

RESULTS = Path(__file__).resolve().parent / "results" / "network_value.json"
WORKDIR = Path(tempfile.gettempdir()) / "tiewise-bench-network-value"
KEY_HEX = "5a" * 32
SEED = 3
STAGE = "Measuring influence, choosing seeds"


def child(n: int, folder: Path, out: Path) -> None:
    """Generate the world and run the pipeline; write the stage seconds to ``out``."""
    from tiewise.config import load_config, template
    from tiewise.pipeline import run_pipeline
    from tiewise.synth import TelcoParams, generate_telco

    if not (folder / "data" / "truth").exists():
        generate_telco(TelcoParams(customers=n, days=90, seed=SEED), folder / "data")
    path = folder / "tiewise.toml"
    path.write_text(template(folder / "data", config_dir=folder))
    os.environ["TIEWISE_KEY"] = KEY_HEX
    result = run_pipeline(load_config(path))
    out.write_text(json.dumps(result.seconds))


def compare(folder: Path) -> dict[str, Any]:
    """Estimate against truth per early adoption, with the two structural baselines."""
    from tiewise.ingest.pseudonym import pseudonymise
    from tiewise.synth.truth import adoption_descendants

    truth = adoption_descendants(folder / "data")
    key = bytes.fromhex(KEY_HEX)
    truth["customer_id"] = [pseudonymise(i, key) for i in truth["customer_id"]]
    db = next((folder / "workspace").glob("*.duckdb"))
    with duckdb.connect(str(db), read_only=True) as con:
        estimate = con.execute("SELECT * FROM network_value_categories").df()
        graph = con.execute("SELECT customer_id, pagerank, contacts FROM customer_scores").df()
        totals = con.execute("SELECT sum(clv), sum(network_value) FROM customer_value").fetchall()
    early = truth[truth["day"] < 45].merge(estimate, on=["customer_id", "category"])
    early = early.merge(graph, on="customer_id")
    rho: dict[str, dict[str, float]] = {}
    for name, column in (("tiewise", "value_per_adoption"), ("pagerank", "pagerank"),
                         ("contacts", "contacts")):  # fmt: skip
        rho[name] = {
            str(c): float(spearmanr(g[column], g["descendant_value"]).statistic)
            for c, g in early.groupby("category")
        }
    return {
        "early_adoptions": len(early),
        "ratio": float(early["value_per_adoption"].mean() / early["descendant_value"].mean()),
        "estimate_mean": float(early["value_per_adoption"].mean()),
        "truth_mean": float(early["descendant_value"].mean()),
        "spearman": rho,
        "clv_total": float(totals[0][0]),
        "network_value_total": float(totals[0][1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.folder), Path(args.out))
        return
    load_before = os.getloadavg()
    runs: dict[str, Any] = {}
    for n in args.sizes:
        folder = WORKDIR / f"telco-{n}-{SEED}"
        for stale in (folder / "workspace", folder / "report.html"):
            subprocess.run(["rm", "-rf", str(stale)], check=True)
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = [sys.executable, __file__, "--child", str(n), "--folder", str(folder),
                   "--out", out.name]  # fmt: skip
            proc = subprocess.Popen(cmd)
            _, status, usage = os.wait4(proc.pid, 0)
            if status:
                raise SystemExit(f"child for {n} failed with status {status}")
            seconds = json.loads(Path(out.name).read_text())
        row = compare(folder)
        row.update(seconds=seconds, peak_mb=usage.ru_maxrss / 1024.0)
        runs[str(n)] = row
        print(
            f"{n:>9,} customers: estimate/truth {row['ratio']:.2f} "
            f"({row['estimate_mean']:.1f} vs {row['truth_mean']:.1f} per early adoption); "
            "Spearman per category "
            + "; ".join(
                f"{k} " + ", ".join(f"{v:.2f}" for v in r.values())
                for k, r in row["spearman"].items()
            )
            + f"; network value / clv {row['network_value_total'] / row['clv_total']:.2f}; "
            f"influence stage {seconds.get(STAGE, float('nan')):.1f} s; "
            f"peak {row['peak_mb']:,.0f} MB"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
