"""Real cascades: who will be retweeted or mentioned by the most NEW users? (SNAP Higgs Twitter).

Data: the SNAP Higgs Twitter activity (De Domenico et al., Sci. Rep. 2013), 563,069 retweets,
mentions and replies posted 1-7 July 2012 about the Higgs boson announcement (4 July).  It is not
in the repository: the folder is ``--data``, else ``$TIEWISE_HIGGS_DIR``, else ``shared/data/
higgs-twitter`` next to (or two levels above) the repository.  When none exists the benchmark
says so and exits 0 (so ``make bench`` runs anywhere), unless the folder was named explicitly
(``--data`` or the variable): then it exits 2.

Per split (a cut time): the rows before the cut are fed to tiewise as a customer's data would be,
through its Python API, in a workspace in a temporary folder (ingest, links, graph, influence;
value, churn and campaigns are not run):

* ``interactions``: one record per row, from the author to the user retweeted, mentioned or
  replied to, with the channel ``retweet``, ``mention`` or ``reply`` (equal weights: nothing says
  one counts more);
* ``adoptions``: one item, "higgs": a user adopts it at their first appearance in the training
  rows, as author or as the user retweeted or mentioned (whoever is retweeted had posted about
  it by then).  Who retweeted whom in the test period -- the true parents -- is never given.

Settings are the template's, except: ids kept (they are anonymous numbers already);
``links.exclude_service_numbers = false`` (on Twitter the most retweeted accounts are one-way by
nature -- many retweet them, they retweet no one -- and the default would drop them from the graph
as call centres; how many of the true top 1% it would have dropped is reported); seeds, which are
not measured here, few and on at most 10,000 RR sets (where no influence is shown they use the
learned probabilities as they are: supercritical here, and 100,000 RR sets passed 4 GB); network
values from 200,000 RR sets instead of 20 per customer.

Target (truth, from the test period only): per training user, the number of distinct users who
retweet or mention them after the cut and had not interacted with them (either way) before it.

Rankings of the training users: tiewise's ``influence_scores`` columns (``influence_score``,
``conversion_rate`` where present, ``followers``, ``excess_followers``, ``structural_score`` and
any column whose name has "caused"), ``network_value``, and the graph stage's ``pagerank`` and
``weighted_degree``; and baselines a user can compute from the same rows: degree (distinct
contacts), in-degree (times retweeted or mentioned), out-degree (distinct users they retweeted,
mentioned or replied to), messages (rows they appear in), the naive count (contacts who adopted
within 30 days after them) and random.  Users a ranking has no score for come last.

Metrics: precision of the top 0.1%, 1% and 5% against the true top sets of the same size (ties
on either side count as expected under a random order: no seed), Spearman's correlation, and
NDCG@100 / @1000 with the target as gain (scikit-learn, ties averaged).

Splits: ``4days`` (the main one): train on 1-4 July (up to 5 July 00:00 UTC), test on 5-7 July --
training holds the whole rumour and announcement peak (4 July 05:00-08:00 UTC), the test is the
three days of decay, when audiences still grow.  ``announcement`` (robustness): train up to
4 July 08:00 UTC, during the peak, test on the rest.

Usage::

    python benchmarks/bench_higgs.py                         # both splits
    python benchmarks/bench_higgs.py --splits 4days --data /path/to/higgs-twitter

Prints a table per split with stage times and peak memory; writes
``benchmarks/results/higgs.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import ndcg_score

import tiewise
from tiewise.config import InfluenceConfig, load_config
from tiewise.datasets.higgs import read_higgs_activity
from tiewise.graph.stage import analyse_network
from tiewise.influence.stage import analyse_influence
from tiewise.ingest.load import ingest
from tiewise.links.strength import build_links
from tiewise.store import Workspace

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "higgs.json"
ENV = "TIEWISE_HIGGS_DIR"
SPLITS = {
    "4days": pd.Timestamp("2012-07-05 00:00:00"),
    "announcement": pd.Timestamp("2012-07-04 08:00:00"),
}
INFLUENCE = {"seeds": 10, "max_rr_sets": 10_000}
TOP = (0.001, 0.01, 0.05)
NDCG_AT = (100, 1000)
NAIVE_DAYS = 30.0
ITEM = "higgs"
TIEWISE_COLUMNS = (
    "influence_score",
    "conversion_rate",
    "followers",
    "excess_followers",
    "structural_score",
)


def find_data(explicit: str | None) -> tuple[Path | None, bool]:
    """The data folder, and whether it was asked for explicitly (``--data`` or the variable)."""
    named = explicit or os.environ.get(ENV)
    if named:
        return Path(named), True
    for parent in (ROOT.parent, ROOT.parent.parent):
        candidate = parent / "shared" / "data" / "higgs-twitter"
        if candidate.is_dir():
            return candidate, False
    return None, False


def adoption_times(rows: pd.DataFrame) -> pd.Series:
    """Each user's first appearance, as author or as the user retweeted/mentioned/replied to."""
    both = pd.concat(
        [rows[["actor", "timestamp"]].rename(columns={"actor": "user"}),
         rows[["target", "timestamp"]].rename(columns={"target": "user"})]
    )  # fmt: skip
    return both.groupby("user")["timestamp"].min()


def target(train: pd.DataFrame, test: pd.DataFrame, users: pd.Index) -> pd.Series:
    """Per training user: distinct users new to them who retweet or mention them in ``test``."""
    seen = set(zip(train["actor"], train["target"], strict=True))
    seen |= {(b, a) for a, b in seen}
    hits = test[test["channel"].isin(["retweet", "mention"]) & test["target"].isin(users)]
    hits = hits[hits["actor"] != hits["target"]]
    new = [(a, b) not in seen for a, b in zip(hits["actor"], hits["target"], strict=True)]
    counts = hits[new].groupby("target")["actor"].nunique()
    return counts.reindex(users, fill_value=0).astype(np.int64)


def baselines(train: pd.DataFrame, users: pd.Index, adopted: pd.Series) -> pd.DataFrame:
    """Scores a user can compute from the training rows, one column per baseline."""
    rows = train[train["actor"] != train["target"]]
    pairs = pd.concat(
        [rows[["actor", "target"]].set_axis(["u", "v"], axis=1),
         rows[["target", "actor"]].set_axis(["u", "v"], axis=1)]
    ).drop_duplicates()  # fmt: skip
    mentioned = rows[rows["channel"].isin(["retweet", "mention"])]
    lag = (pairs["v"].map(adopted) - pairs["u"].map(adopted)).dt.total_seconds() / 86400.0
    follows = pairs[(lag > 0) & (lag <= NAIVE_DAYS)]
    appear = pd.concat([train["actor"], train["target"]])
    out = pd.DataFrame(
        {
            "degree": pairs.groupby("u").size(),
            "in_degree": mentioned.groupby("target").size(),
            "out_degree": rows.groupby("actor")["target"].nunique(),
            "messages": appear.value_counts(),
            "naive_30d": follows.groupby("u").size(),
        }
    )
    out = out.reindex(users).fillna(0.0).astype(np.float64)
    out["random"] = np.random.default_rng(0).random(len(out))
    return out


def higgs_settings(folder: Path, second_input: str) -> str:
    """The settings every Higgs run shares, up to its channel weights (``retweet = 1.0``).

    Inputs: ``interactions.parquet`` and ``<second_input>.parquet`` in ``folder``, the
    workspace in it too.
    """
    return f"""seed = 42
workspace = "{(folder / "ws").as_posix()}"

[inputs.interactions]
path = "{(folder / "interactions.parquet").as_posix()}"

[inputs.{second_input}]
path = "{(folder / f"{second_input}.parquet").as_posix()}"

[privacy]
pseudonymise = false   # SNAP's ids are anonymous numbers already

[engine]
memory_limit = "2GB"

[links]
exclude_service_numbers = false   # the most retweeted accounts are one-way by nature

[links.channel_weights]
retweet = 1.0
"""


def tiewise_config(folder: Path) -> Path:
    """Write the configuration for the inputs in ``folder``; the workspace goes in it too."""
    path = folder / "tiewise.toml"
    known = InfluenceConfig.model_fields  # settings this version of tiewise has
    influence = "\n".join(f"{k} = {v}" for k, v in INFLUENCE.items() if k in known)
    path.write_text(
        higgs_settings(folder, "adoptions")
        + f"""mention = 1.0
reply = 1.0

[influence]
# Seeds are not measured here: few, on a bounded sample (the fewest allowed), so the run fits
# in memory and minutes; network values from 200,000 RR sets instead of 20 per customer.
{influence}

[value]
model = "none"
"""
    )
    return path


def run_tiewise(train: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Feed ``train`` to tiewise; its scores per user and the stage times, counts, flags."""
    pd.DataFrame(
        {
            "from_id": train["actor"],
            "to_id": train["target"],
            "timestamp": train["timestamp"],
            "channel": train["channel"],
        }
    ).to_parquet(folder / "interactions.parquet", index=False)
    adopted = adoption_times(train)
    pd.DataFrame(
        {"customer_id": adopted.index, "item": ITEM, "category": ITEM, "timestamp": adopted.values}
    ).to_parquet(folder / "adoptions.parquet", index=False)
    config = load_config(tiewise_config(folder))
    seconds: dict[str, float] = {}
    detected: list[str] = []
    with (
        Workspace.open(config.workspace_path, create=True, memory_limit="2GB") as ws,
        ws.run(command="bench_higgs") as run,
    ):
        for name, stage in (
            ("ingest", lambda: ingest(run, config, None)),
            ("links", lambda: build_links(run, config)),
            ("graph", lambda: analyse_network(run, config)),
            ("influence", lambda: analyse_influence(run, config)),
        ):
            print(f"[{time.strftime('%H:%M:%S')}] {name}", file=sys.stderr, flush=True)
            start = time.perf_counter()
            result = stage()
            seconds[name] = round(time.perf_counter() - start, 2)
            if name == "influence":
                detected = list(result.influence_detected)
        scores = run.con.execute("SELECT * FROM influence_scores WHERE category = ?", [ITEM]).df()
        extra = run.con.execute(
            "SELECT customer_id, pagerank, weighted_degree FROM customer_scores"
        ).df()
        nv = (
            run.con.execute("SELECT customer_id, network_value FROM network_value").df()
            if run.has_table("network_value")
            else None
        )
        service = (
            run.con.execute("SELECT customer_id FROM service_numbers").df()["customer_id"]
            if run.has_table("service_numbers")
            else pd.Series([], dtype=str)
        )
        tests = run.con.execute("SELECT * FROM influence_tests").df()
    columns = [c for c in scores.columns if c in TIEWISE_COLUMNS or "caused" in c]
    out = scores.set_index("customer_id")[columns].astype(np.float64)
    out = out.join(extra.set_index("customer_id").astype(np.float64), how="outer")
    if nv is not None:
        out = out.join(nv.set_index("customer_id").astype(np.float64), how="outer")
    out.index = out.index.astype(str)
    info = {
        "seconds": seconds,
        "influence_detected": detected,
        "influence_test": tests.drop(columns=["reason"], errors="ignore").to_dict("records"),
        "service_numbers": [str(s) for s in service],
    }
    return out, info


def _hit_weights(truth: np.ndarray, k: int) -> np.ndarray:
    """Chance each user is in the true top ``k`` when ties are ordered at random."""
    tau = np.sort(truth)[::-1][k - 1]
    above = truth > tau
    at = truth == tau
    weight = above.astype(np.float64)
    weight[at] = (k - above.sum()) / at.sum()
    return weight


def precision_at(score: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Expected share of the top ``k`` by ``score`` in the true top ``k`` (random tie order)."""
    hit = _hit_weights(truth, k)
    s = np.sort(score)[::-1][k - 1]
    above = score > s
    at = score == s
    return float((hit[above].sum() + (k - above.sum()) * hit[at].mean()) / k)


def evaluate(scores: pd.DataFrame, truth: pd.Series) -> list[dict[str, Any]]:
    """Precision at the top shares, Spearman and NDCG of every column of ``scores``."""
    y = truth.to_numpy(np.float64)
    n = len(y)
    rows = []
    for column in scores.columns:
        raw = scores[column].reindex(truth.index).to_numpy(np.float64)
        covered = int(np.isfinite(raw).sum())
        floor = np.nanmin(raw) - 1.0 if covered else 0.0
        s = np.where(np.isfinite(raw), raw, floor)
        row: dict[str, Any] = {"ranking": column, "scored": covered}
        for share in TOP:
            row[f"p@{100 * share:g}%"] = round(precision_at(s, y, max(1, round(share * n))), 4)
        constant = bool((s == s[0]).all()) or bool((y == y[0]).all())
        # a constant ranking has no correlation (None, not a warning)
        row["spearman"] = None if constant else round(float(spearmanr(s, y).statistic), 4)
        for k in NDCG_AT:
            row[f"ndcg@{k}"] = round(float(ndcg_score(y[None, :], s[None, :], k=k)), 4)
        rows.append(row)
    return rows


def run_split(activity: pd.DataFrame, cut: pd.Timestamp, folder: Path) -> dict[str, Any]:
    """Fit before ``cut``, score after it; the figures of every ranking and the run's costs."""
    start = time.perf_counter()
    train = activity[activity["timestamp"] < cut]
    test = activity[activity["timestamp"] >= cut]
    adopted = adoption_times(train)
    users = adopted.index
    truth = target(train, test, users)
    base = baselines(train, users, adopted)
    prepare = time.perf_counter() - start
    tw, info = run_tiewise(train, folder)
    start = time.perf_counter()
    rows = [{**r, "source": "tiewise"} for r in evaluate(tw.reindex(users), truth)] + [
        {**r, "source": "baseline"} for r in evaluate(base, truth)
    ]
    top = max(1, round(0.01 * len(users)))
    top_users = truth.sort_values(ascending=False, kind="stable").index[:top]
    info["seconds"] = {"prepare": round(prepare, 2), **info["seconds"],
                       "evaluate": round(time.perf_counter() - start, 2)}  # fmt: skip
    return {
        "cut": str(cut),
        "train_rows": len(train),
        "test_rows": len(test),
        "users": len(users),
        "users_with_target": int((truth > 0).sum()),
        "target_max": int(truth.max()),
        "true_top1pct_flagged_as_service": int(top_users.isin(info.pop("service_numbers")).sum()),
        **info,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0),
        "rows": rows,
    }


def print_split(name: str, r: dict[str, Any]) -> None:
    print(f"\n== split {name}: train before {r['cut']} UTC ({r['train_rows']:,} rows, "
          f"{r['users']:,} users), test {r['test_rows']:,} rows; {r['users_with_target']:,} users "
          f"gain new retweeters/mentioners (max {r['target_max']:,})")  # fmt: skip
    print(
        f"stage seconds: {r['seconds']}; peak memory {r['peak_rss_mb']:,} MB; influence "
        f"detected: {r['influence_detected'] or 'none'}; default settings would drop "
        f"{r['true_top1pct_flagged_as_service']} of the true top 1% as service numbers"
    )
    keys = [f"p@{100 * s:g}%" for s in TOP] + ["spearman"] + [f"ndcg@{k}" for k in NDCG_AT]
    print(f"{'ranking':<20} {'source':<9} {'scored':>8} " + " ".join(f"{k:>9}" for k in keys))
    for row in r["rows"]:
        cells = " ".join("n/a".rjust(9) if row[k] is None else f"{row[k]:>9.4f}" for k in keys)
        print(f"{row['ranking']:<20} {row['source']:<9} {row['scored']:>8,} {cells}")


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=f"folder of the SNAP files (default: ${ENV}, shared/)")
    parser.add_argument("--splits", nargs="+", choices=list(SPLITS), default=list(SPLITS))
    args = parser.parse_args()
    folder, explicit = find_data(args.data)
    if folder is None or not folder.is_dir():
        where = folder or f"${ENV} or shared/data/higgs-twitter"
        message = f"bench_higgs: the SNAP Higgs Twitter data is not at {where}"
        if explicit:
            print(f"{message}: name the folder holding higgs-activity_time.txt.gz.",
                  file=sys.stderr)  # fmt: skip
            return 2
        print(f"{message}; skipped (pass --data to run it).")
        return 0
    start = time.perf_counter()
    activity = read_higgs_activity(folder)
    print(f"read {len(activity):,} rows in {time.perf_counter() - start:.1f} s from {folder}")
    results = {}
    for name in args.splits:
        with tempfile.TemporaryDirectory(prefix="tiewise-higgs-") as tmp:
            results[name] = run_split(activity, SPLITS[name], Path(tmp))
        print_split(name, results[name])
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    splits = {**old.get("splits", {}), **results}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "data": "SNAP Higgs Twitter, higgs-activity_time.txt.gz",
                "rows": len(activity),
                "commit": _commit(),
                "tiewise_code": str(Path(tiewise.__file__).parent),
                "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "splits": splits,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
