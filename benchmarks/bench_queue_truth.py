"""Does the response queue catch the customers who warned in public and will leave soon?

Generated data with hidden truth (``tiewise synth``): 60% of the subscribers who leave post one to
three negative warnings 2 to 21 days before leaving -- including those who leave in the three
weeks *after* the last day of the data.  Their churn is in no input file; only their warnings
are.  Those are the customers the queue exists to catch: current customers whose public warning
precedes a defection that has not happened yet.

Per world (``--customers``, ``--days``, ``--records`` per customer, one generator seed per
``--seeds``; seed 1 is the churn tests' contagious world, ``tests/conftest.py``), ``tiewise run``
on the generated files (the churn tests' settings: no influence stage, one evaluation cut-off;
the whole queue kept: ``queue_size`` unlimited), then, over the **open pool** (the queue's own
candidates: unanswered conversations of the last ``open_days`` by current matched customers):

* **target**: the customers of the pool with a planted future-churn warning in it (a warning that
  was answered, is older than ``open_days`` or whose handle the company cannot match cannot be
  in any queue; those are counted apart as *out of reach*);
* **rankings** of the pool's customers (each at their first row):  the queue; the queue's score
  without its value and reach factors (negativity x recency x risk: what they cost the catch);
  *most negative
  recent post* (a user's first idea: lowest sentiment first, then newest); *negative posts*
  (count of negative open posts, then the lowest sentiment); *message count* (all their
  conversations); *P(churn)* alone (tiewise's churn model, for information); *random* (its
  expected precision is the target's share of the pool);
* **precision at N** of each ranking, N = the number of targets (then precision = recall) and
  N = 50; and the mean over the seeds.

Usage::

    python benchmarks/bench_queue_truth.py [--customers 20000] [--days 180] [--records 25]
                                           [--seeds 1 2 3 4 5]

Prints a table per seed and the means; writes ``benchmarks/results/queue_truth.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench_higgs import _commit
from tiewise.config import load_config, template
from tiewise.pipeline import run_pipeline
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "queue_truth.json"
RANKINGS = ("queue", "queue without value and reach", "most negative recent post",
            "negative posts", "message count", "P(churn) alone", "random")  # fmt: skip


def configure(data: Path, folder: Path) -> Path:
    """The churn tests' settings (``tests/conftest.py``), with the whole queue kept."""
    text = template(data, config_dir=folder)
    text = text.replace("levels = [1.0, 4.0]", "levels = []")
    text = text.replace("betweenness_samples = 16", "betweenness_samples = 0")
    text = text.replace("eval_cuts = 3", "eval_cuts = 1")
    text = text.replace("[influence]\nenabled = true", "[influence]\nenabled = false")
    text = text.replace("queue_size = 200", "queue_size = 100000000")
    path = folder / "tiewise.toml"
    path.write_text(text)
    return path


def rankings(ws: Workspace, open_days: float, seed: int) -> dict[str, list[str]]:
    """The pool's customers in the order of each ranking (best first)."""
    con = ws.con
    pool = con.execute(
        f"""
        WITH newest AS (SELECT max(timestamp) AS as_of FROM conversations)
        SELECT c.customer_id, c.message_id, c.timestamp, c.sentiment
        FROM conversations c, newest n
        WHERE c.customer_id IS NOT NULL AND NOT c.answered
          AND c.timestamp > n.as_of - INTERVAL {open_days * 86400:.0f} SECOND
          AND c.customer_id NOT IN (SELECT customer_id FROM churn_events)
        """
    ).df()
    queue = con.execute(
        "SELECT customer_id, timestamp, sentiment, churn_risk_ratio FROM response_queue "
        "ORDER BY rank"
    ).df()
    count = con.execute(
        "SELECT customer_id, count(*) AS n FROM conversations GROUP BY customer_id"
    ).df()
    risk = con.execute("SELECT customer_id, p_churn FROM churn_scores").df()
    rng = np.random.default_rng(seed)
    ids = pool["customer_id"].drop_duplicates().to_numpy()
    tie = pd.Series(rng.random(len(ids)), index=ids)  # ties in a user's order broken at random
    pool["tie"] = pool["customer_id"].map(tie)
    pool["s"] = pool["sentiment"].fillna(0.0)
    per = pool.groupby("customer_id").agg(
        low=("s", "min"), newest=("timestamp", "max"), tie=("tie", "first"),
        negative=("s", lambda s: int((s <= -0.05).sum())),
    )  # fmt: skip
    per["messages"] = count.set_index("customer_id")["n"].reindex(per.index)
    per["p_churn"] = risk.set_index("customer_id")["p_churn"].reindex(per.index).fillna(0.0)
    newest_first = pool.sort_values(["s", "timestamp", "tie"], ascending=[True, False, True])

    def by(*cols: str) -> list[str]:
        return list(per.sort_values([*cols, "tie"], ascending=[False] * len(cols) + [True]).index)

    per["neg_low"] = -per["low"]
    # the queue's score without its value and reach factors (tiewise.campaigns.queue)
    sentiment = queue["sentiment"].to_numpy(float)
    as_of = con.execute("SELECT max(timestamp) FROM conversations").fetchone()[0]
    age = (pd.Timestamp(as_of) - queue["timestamp"]).dt.total_seconds() / 86400
    bare = (
        (np.where(np.isnan(sentiment), 0.0, np.maximum(0.0, -sentiment))
         + np.where(sentiment >= 0.05, 0.01, 0.05))
        * (1.0 - 0.5 * np.clip(age.to_numpy() / open_days, 0.0, 1.0))
        * queue["churn_risk_ratio"].fillna(1.0).to_numpy()
    )  # fmt: skip
    stripped = queue.assign(bare=bare).sort_values("bare", ascending=False, kind="stable")
    return {
        "queue": list(queue["customer_id"].drop_duplicates()),
        "queue without value and reach": list(stripped["customer_id"].drop_duplicates()),
        "most negative recent post": list(newest_first["customer_id"].drop_duplicates()),
        "negative posts": by("negative", "neg_low"),
        "message count": by("messages"),
        "P(churn) alone": by("p_churn"),
        "random": list(tie.sort_values().index),
    }


def planted(ws: Workspace, data: Path, open_days: float) -> tuple[set[str], int, int]:
    """Future-churn warners in the open pool; all future-churn warners; their open warnings."""
    posts = pd.read_parquet(data / "conversations.parquet", columns=["message_id"])
    truth = pd.read_parquet(data / "truth" / "conversation_truth.parquet")
    truth = truth.merge(posts, on="message_id")
    future = truth[truth["warning"] & truth["churn_after_window"]]
    ws.con.register("_future", future[["message_id"]])
    try:
        reach = ws.con.execute(
            f"""
            WITH newest AS (SELECT max(timestamp) AS as_of FROM conversations)
            SELECT c.customer_id, c.message_id FROM conversations c, newest n
            WHERE c.message_id IN (SELECT message_id FROM _future)
              AND c.customer_id IS NOT NULL AND NOT c.answered
              AND c.timestamp > n.as_of - INTERVAL {open_days * 86400:.0f} SECOND
            """
        ).df()
    finally:
        ws.con.unregister("_future")
    return set(reach["customer_id"]), int(future["speaker_id"].nunique()), len(reach)


def precision(order: list[str], target: set[str], n: int) -> float:
    """Share of the first ``n`` customers of ``order`` that are targets."""
    return sum(c in target for c in order[:n]) / n if n else float("nan")


def one_world(customers: int, days: int, records: float, seed: int) -> dict[str, Any]:
    """Generate, run and score one world."""
    with tempfile.TemporaryDirectory(prefix="tiewise-queue-truth-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        params = TelcoParams(
            customers=customers, days=days, seed=seed, records_per_customer=records
        )
        generate_telco(params, folder / "data")
        config = load_config(configure(folder / "data", folder))
        run_pipeline(config, keep_raw_ids=True)
        seconds = time.perf_counter() - t
        open_days = config.conversations.open_days
        with Workspace.open(config.workspace_path, read_only=True) as ws:
            target, warners, open_warnings = planted(ws, folder / "data", open_days)
            orders = rankings(ws, open_days, seed)
    pool = len(orders["random"])
    row: dict[str, Any] = {
        "seed": seed, "seconds": round(seconds, 1), "future_warners": warners,
        "in_reach": len(target), "open_warnings": open_warnings, "pool_customers": pool,
        "base_rate": len(target) / pool if pool else float("nan"),
    }  # fmt: skip
    n = len(target)
    for name in RANKINGS:
        row[f"precision_at_targets/{name}"] = precision(orders[name], target, n)
        row[f"precision_at_50/{name}"] = precision(orders[name], target, min(50, pool))
    return row


def main() -> None:
    """Run the benchmark; print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--records", type=float, default=25.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        row = one_world(args.customers, args.days, args.records, seed)
        rows.append(row)
        print(
            f"seed {seed}: {row['future_warners']} future-churn warners, {row['in_reach']} in "
            f"the open pool of {row['pool_customers']} customers (base rate "
            f"{row['base_rate']:.3f}), {row['seconds']:.0f} s"
        )
        for name in RANKINGS:
            print(
                f"  {name:30s} precision at {row['in_reach']:3d}: "
                f"{row[f'precision_at_targets/{name}']:.3f}   at 50: "
                f"{row[f'precision_at_50/{name}']:.3f}"
            )
    mean = {
        key: float(np.mean([r[key] for r in rows]))
        for key in rows[0]
        if key.startswith("precision_at") or key == "base_rate"
    }
    print("mean over seeds " + ", ".join(map(str, args.seeds)))
    for name in RANKINGS:
        print(
            f"  {name:30s} precision at targets {mean[f'precision_at_targets/{name}']:.3f}, "
            f"at 50 {mean[f'precision_at_50/{name}']:.3f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "queue_truth",
                "command": "python " + " ".join(sys.argv),
                "commit": _commit(),
                "customers": args.customers,
                "days": args.days,
                "records_per_customer": args.records,
                "rows": rows,
                "mean": mean,
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
