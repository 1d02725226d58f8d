"""Social CRM on real Twitter data: are the response queue's top speakers the ones amplified next?

Data: the SNAP Higgs Twitter activity (De Domenico et al., Sci. Rep. 2013; see
``bench_higgs.py`` for where it is looked for), 563,069 retweets, mentions and replies of 1-7
July 2012.  It has no text (so no sentiment), no customers, no spend and no churn: what the queue
can use here is who speaks and their place in the network.

Per split (a cut time), the rows before the cut go through the whole ``tiewise run`` as a
customer's data would (Python API, a workspace in a temporary folder):

* ``interactions``: the retweets (from the retweeter to the retweeted, channel ``retweet``);
* ``conversations``: the mentions and replies, as posts on the ``social`` channel by the author,
  with the user replied to (``reply_to``) or mentioned (``mentions``) -- which also become links
  of the network (``[conversations] reply_weight``, ``mention_weight``, the defaults);
* no customers input: the network's parties are the customers; the influence stage is off (its
  figures on this data are ``bench_higgs.py``'s; it takes 40 minutes here), so a speaker's reach
  is their PageRank percentile (community leaders count as influencers); value and churn have
  no input and are skipped; every conversation before the cut is open (``open_days = 7``).

The queue's ranking of a speaker is the score of their most pressing open conversation.  With no
sentiment, value or churn risk that is recency x reach: the test is of the reach and recency
part of the score only, and the report says so.

Target (from the rows after the cut only): per speaker in the queue, the **amplification** in
the following 3 days: retweets and replies they receive.  Rankings of the same speakers compared:
the queue; degree (distinct contacts before the cut, any channel); message count (rows they
authored before the cut); received so far (retweets and replies received before the cut); random
(seeded).  Metrics: precision of the top 1% and 5% against the true top sets of the same size
(ties counted as expected under a random order), the mean amplification of the top 1%, and
Spearman's correlation.

Usage::

    python benchmarks/bench_social_higgs.py [--data FOLDER] [--splits before 4days]

Prints a table per split; writes ``benchmarks/results/social_higgs.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from bench_higgs import _commit, find_data, higgs_settings, precision_at
from tiewise.config import load_config
from tiewise.datasets.higgs import read_higgs_activity
from tiewise.pipeline import run_pipeline
from tiewise.store import Workspace

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "social_higgs.json"
SPLITS = {
    "before": pd.Timestamp("2012-07-04 00:00:00"),  # before the announcement day
    "4days": pd.Timestamp("2012-07-05 00:00:00"),  # after the peak: three days of decay
}
FOLLOWING = pd.Timedelta(days=3)
TOP = (0.01, 0.05)


def write_inputs(train: pd.DataFrame, folder: Path) -> Path:
    """The retweets as interactions, the mentions and replies as conversations; the config."""
    rt = train[train["channel"] == "retweet"]
    pd.DataFrame(
        {"from_id": rt["actor"], "to_id": rt["target"], "timestamp": rt["timestamp"],
         "channel": "retweet"}
    ).to_parquet(folder / "interactions.parquet", index=False)  # fmt: skip
    talk = train[train["channel"] != "retweet"]
    reply = talk["channel"] == "reply"
    pd.DataFrame(
        {
            "speaker": talk["actor"],
            "timestamp": talk["timestamp"],
            "channel": "social",
            "reply_to": talk["target"].where(reply),
            "mentions": talk["target"].where(~reply),
        }
    ).to_parquet(folder / "conversations.parquet", index=False)
    path = folder / "tiewise.toml"
    path.write_text(
        higgs_settings(folder, "conversations")
        + f"""
[graph]
levels = []
betweenness_samples = 0

[influence]
enabled = false

[value]
model = "none"

[conversations]
open_days = 7.0
queue_size = 10000000

[report]
path = "{(folder / "report.html").as_posix()}"
"""
    )
    return path


def baselines(train: pd.DataFrame, speakers: pd.Index, seed: int = 0) -> pd.DataFrame:
    """Scores a user can compute from the rows before the cut, for the queue's speakers."""
    pairs = train[["actor", "target"]]
    both = pd.concat([pairs, pairs[["target", "actor"]].set_axis(["actor", "target"], axis=1)])
    degree = both.drop_duplicates().groupby("actor").size()
    messages = train.groupby("actor").size()
    received = train[train["channel"] != "mention"].groupby("target").size()
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "degree": degree.reindex(speakers, fill_value=0).to_numpy(float),
            "messages": messages.reindex(speakers, fill_value=0).to_numpy(float),
            "received_so_far": received.reindex(speakers, fill_value=0).to_numpy(float),
            "random": rng.random(len(speakers)),
        },
        index=speakers,
    )


def evaluate(scores: pd.DataFrame, truth: pd.Series) -> list[dict[str, Any]]:
    """Precision at the top shares, mean amplification of the top 1%, Spearman, per ranking."""
    y = truth.to_numpy(float)
    n = len(y)
    rows = []
    for column in scores.columns:
        s = scores[column].reindex(truth.index).to_numpy(float)
        row: dict[str, Any] = {"ranking": column}
        for share in TOP:
            row[f"p@{100 * share:g}%"] = round(precision_at(s, y, max(1, round(share * n))), 4)
        k = max(1, round(0.01 * n))
        order = np.lexsort((np.random.default_rng(1).random(n), -s))  # ties in seeded order
        row["mean_top1%"] = round(float(y[order[:k]].mean()), 2)
        row["spearman"] = round(float(spearmanr(s, y).statistic), 4)
        rows.append(row)
    return rows


def run_split(activity: pd.DataFrame, cut: pd.Timestamp, folder: Path) -> dict[str, Any]:
    """Run tiewise before ``cut``; compare the queue's speakers' amplification after it."""
    train = activity[activity["timestamp"] < cut]
    test = activity[(activity["timestamp"] >= cut) & (activity["timestamp"] < cut + FOLLOWING)]
    config = load_config(write_inputs(train, folder))
    start = time.perf_counter()
    result = run_pipeline(config, keep_raw_ids=True)
    seconds = round(time.perf_counter() - start, 1)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        queue = ws.con.execute(
            "SELECT customer_id, max(score) AS queue FROM response_queue GROUP BY customer_id "
            "ORDER BY customer_id"
        ).df()
        matched = ws.con.execute(
            "SELECT count(*) FILTER (WHERE customer_id IS NOT NULL), count(*), "
            "(SELECT count(*) FROM conversation_prospects), "
            "(SELECT count(*) FROM conversation_links) FROM conversations"
        ).fetchall()[0]
        basis = result.queue.basis if result.queue else ""
    speakers = pd.Index(queue["customer_id"].astype(str))
    amplified = test[test["channel"] != "mention"].groupby("target").size()
    truth = amplified.reindex(speakers, fill_value=0).astype(float)
    scores = baselines(train, speakers).join(
        queue.set_index("customer_id")["queue"].rename(index=str)
    )[["queue", "degree", "messages", "received_so_far", "random"]]
    return {
        "cut": str(cut),
        "train_rows": len(train),
        "following_rows": len(test),
        "conversations_by_customers": int(matched[0]),
        "conversations": int(matched[1]),
        "prospect_speakers": int(matched[2]),
        "conversation_link_pairs": int(matched[3]),
        "queue_speakers": len(speakers),
        "speakers_amplified": int((truth > 0).sum()),
        "amplification_max": int(truth.max()),
        "queue_basis": basis,
        "pipeline_seconds": seconds,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0),
        "rows": evaluate(scores, truth),
    }


def print_split(name: str, r: dict[str, Any]) -> None:
    print(
        f"\n== split {name}: before {r['cut']} UTC ({r['train_rows']:,} rows; "
        f"{r['conversations']:,} mentions/replies, {r['conversations_by_customers']:,} by network "
        f"parties, {r['prospect_speakers']:,} prospect speakers); {r['queue_speakers']:,} "
        f"speakers in the queue, {r['speakers_amplified']:,} amplified in the next 3 days "
        f"(max {r['amplification_max']:,}); pipeline {r['pipeline_seconds']} s, peak "
        f"{r['peak_rss_mb']:,} MB"
    )
    print(f"queue basis: {r['queue_basis']}")
    keys = [f"p@{100 * s:g}%" for s in TOP] + ["mean_top1%", "spearman"]
    print(f"{'ranking':<16} " + " ".join(f"{k:>11}" for k in keys))
    for row in r["rows"]:
        print(f"{row['ranking']:<16} " + " ".join(f"{row[k]:>11}" for k in keys))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of the SNAP files (default: as bench_higgs.py)")
    parser.add_argument("--splits", nargs="+", choices=list(SPLITS), default=list(SPLITS))
    args = parser.parse_args()
    folder, explicit = find_data(args.data)
    if folder is None or not folder.is_dir():
        message = f"bench_social_higgs: the SNAP Higgs Twitter data is not at {folder}"
        if explicit:
            print(f"{message}: name the folder holding higgs-activity_time.txt.gz.",
                  file=sys.stderr)  # fmt: skip
            return 2
        print(f"{message}; skipped (pass --data to run it).")
        return 0
    activity = read_higgs_activity(folder)
    results = {}
    for name in args.splits:
        with tempfile.TemporaryDirectory(prefix="tiewise-social-higgs-") as tmp:
            results[name] = run_split(activity, SPLITS[name], Path(tmp))
        print_split(name, results[name])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "data": "SNAP Higgs Twitter, higgs-activity_time.txt.gz",
                "commit": _commit(),
                "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "splits": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
