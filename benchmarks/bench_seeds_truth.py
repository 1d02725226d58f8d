"""The seeds' claimed reach against the generator's TRUE cascade from those seeds (issue 15).

For each generated world whose pipeline already ran (``bench_influence_truth.py`` makes them in
``$TMPDIR/tiewise-bench-influence-truth/telco-N-SEED``; a world whose workspace is missing or
locked is generated again, with that script's child, in ``$TMPDIR/tiewise-bench-seeds-truth``),
per category the influence stage's claims are read (read-only) from the workspace:

* ``seed_sets``: the seeds in order, with ``expected_reach`` (``reach_low`` – ``reach_high``) and
  ``model_reach`` of the first k;
* ``spread_curve``: the same per k, and ``top_degree_reach``, the reach the stage claims for the
  k eligible customers with the most customer contacts.

Then the generator's own contagion (:mod:`tiewise.synth.adoption`: its rate constant, ``tie_pull``,
the 0.5 cap, its gamma delays; the world's hidden ``influence``, ``susceptibility`` and tie
strengths) is run from those seeds, and from the top-degree seeds, for a new SOCIAL product
(virality 1) of the category, with Monte Carlo (seeded; batches until the 95% interval of every
mean reached at k = 10 and 50 is within ±2%).  As in the stage, the category's existing adopters
are not targets: they neither adopt nor pass the product on.  Subscribers who churned in the data
stay targets, as in the stage (whose targets include them): this isolates the reach claim; how many
seeds had already left is reported (``churned_seeds``).  Seeds adopt at time 0 and are counted
as reached, as the stage's reach counts them (its RR sets are rooted at every target, seeds
included).  The stage calibrates one cascade per category on all its items' adoptions, and the
generator's categories each hold a social item (virality 1) and a mostly spontaneous one (0.15):
the mean true reach over the category's items is reported next to the social product's.

Which horizon is fair: the stage's cascade is calibrated on the adoptions that followed others
within the observed period, and its reach check compares it with chains observed after a cut of
that period, so its claim is "new adopters over a campaign as long as the data".  The primary
truth is the true cascade bounded by the generator's own delays at the data's horizon
(``params.days``, 90: an adoption after day 90 is not counted); the unbounded final size is
reported too (with 7-day mean delays the two hardly differ).

Per category and world: claimed reach at k = 10 and 50 with its interval vs the true reach, the
claimed ratio over top degree vs the true ratio (with its 95% interval), and whether the truth
falls in the claimed interval.  This is a measurement: it exits non-zero only on errors.

Usage::

    nice python benchmarks/bench_seeds_truth.py                 # 20k worlds, seeds 1 2 3
    nice python benchmarks/bench_seeds_truth.py --seeds 1 --size 20000

Prints a table and writes ``benchmarks/results/seeds_truth.json`` (``seeds_truth_SIZE.json`` for
another size), with the load average.
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

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from tiewise.ingest.pseudonym import pseudonymise
from tiewise.synth import adoption as generator
from tiewise.synth.churn import MAX_PROBABILITY, tie_pull

RESULTS = Path(__file__).resolve().parent / "results" / "seeds_truth.json"
BUILT = Path(tempfile.gettempdir()) / "tiewise-bench-influence-truth"
OWN = Path(tempfile.gettempdir()) / "tiewise-bench-seeds-truth"
KEY_HEX = "5a" * 32
KS = (1, 5, 10, 20, 50)
REPORTED = (10, 50)
BATCH, MIN_RUNS, MAX_RUNS = 200, 400, 3_000
TOLERANCE = 0.02  # 95% half-width of each mean reach, relative


def _workspace(folder: Path, n: int, seed: int) -> Path:
    """The world's workspace, or a fresh one generated in our own temp folder."""
    db = folder / "workspace" / "tiewise.duckdb"
    if db.exists():
        try:
            duckdb.connect(str(db), read_only=True).close()
            return folder
        except duckdb.Error as exc:  # locked by a running pipeline
            print(f"{db} cannot be opened ({exc}); generating the world again")
    own = OWN / f"telco-{n}-{seed}"
    if not (own / "workspace" / "tiewise.duckdb").exists():
        own.mkdir(parents=True, exist_ok=True)
        script = Path(__file__).resolve().parent / "bench_influence_truth.py"
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = [sys.executable, str(script), "--child", str(n), "--seed", str(seed),
                   "--folder", str(own), "--out", out.name]  # fmt: skip
            subprocess.run(cmd, check=True)
    return own


def _claims(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``seed_sets``, ``spread_curve``, the stage's contact counts and its tests."""
    with duckdb.connect(str(folder / "workspace" / "tiewise.duckdb"), read_only=True) as con:
        seeds = con.execute(
            "SELECT category, rank, customer_id, basis, expected_reach, reach_low, reach_high, "
            "model_reach FROM seed_sets ORDER BY category, rank"
        ).df()
        curve = con.execute("SELECT * FROM spread_curve ORDER BY category, k").df()
        # the stage's top degree: out-links of the cascade graph (links to customers, p > 0)
        degree = con.execute(
            "SELECT source AS customer_id, count(*) AS contacts FROM influence_links "
            "WHERE probability > 0 GROUP BY 1"
        ).df()
        tests = con.execute("SELECT category, influence_detected FROM influence_tests").df()
    return seeds, curve, degree, tests


class TrueWorld:
    """The generator's hidden subscriber network and its per-link transmission probability."""

    def __init__(self, data: Path) -> None:
        params = json.loads((data / "truth" / "params.json").read_text())["params"]
        self.days = float(params["days"])
        self.categories = list(params["categories"])
        nodes = pd.read_parquet(data / "truth" / "nodes.parquet")
        nodes = nodes[nodes["on_network"]].reset_index(drop=True)
        key = bytes.fromhex(KEY_HEX)
        self.ids = [pseudonymise(str(i), key) for i in nodes["id"]]
        self.index = {p: i for i, p in enumerate(self.ids)}
        self.n = len(nodes)
        local = pd.Series(np.arange(self.n), index=nodes["id"].astype(str))
        edges = pd.read_parquet(data / "truth" / "edges.parquet", columns=["a", "b", "strength"])
        a = edges["a"].astype(str).map(local)
        b = edges["b"].astype(str).map(local)
        both = a.notna() & b.notna()
        u, v = a[both].to_numpy(np.int64), b[both].to_numpy(np.int64)
        s = edges["strength"][both].to_numpy(np.float64)
        # as simulate_adoption: both directions, the generator's constants and functions
        self.src, self.dst = np.concatenate([u, v]), np.concatenate([v, u])
        strength = np.concatenate([s, s])
        infl = nodes["influence"].to_numpy(np.float64)
        susc = nodes["susceptibility"].to_numpy(np.float64)
        rate = (
            generator._CONTAGION
            * float(params["influence"])
            * infl[self.src]
            * susc[self.dst]
            * tie_pull(strength)
        )
        self.rate = rate  # at virality 1; a product's virality multiplies it
        sold = json.loads((data / "truth" / "params.json").read_text())["realised"]
        self.virality = {
            str(c): [float(p["virality"]) for name, p in sold["adoption_by_product"].items()
                     if name.endswith("_" + str(c))]
            for c in self.categories
        }  # fmt: skip
        self.churned = nodes["churn_time"].notna().to_numpy()
        ad = pd.read_parquet(data / "adoptions.parquet", columns=["customer_id", "category"])
        self.adopters = {
            str(c): np.isin(np.arange(self.n), ad.loc[ad["category"] == c, "customer_id"]
                            .astype(str).map(local).dropna().to_numpy(np.int64))
            for c in self.categories
        }  # fmt: skip

    def simulate(
        self, category: str, sets: dict[str, list[int]], seed: int, virality: float
    ) -> tuple[dict[str, dict[int, dict[str, float]]], int]:
        """Mean true reach (at the horizon and unbounded) of each set's first k, with errors."""
        blocked = self.adopters[category]
        for name, members in sets.items():
            if blocked[members].any():
                raise SystemExit(f"{category}: a {name} seed already adopted")
        keep = ~blocked[self.src] & ~blocked[self.dst]
        src, dst = self.src[keep], self.dst[keep]
        prob = np.minimum(MAX_PROBABILITY, -np.expm1(-virality * self.rate[keep]))
        rng = np.random.default_rng(seed)
        samples: dict[tuple[str, int, str], list[float]] = {}
        runs = 0
        while True:
            for _ in range(BATCH):
                live = rng.random(prob.shape[0]) < prob
                delay = np.maximum(
                    rng.gamma(generator._DELAY_SHAPE,
                              generator._DELAY_MEAN / generator._DELAY_SHAPE,
                              size=int(live.sum())),
                    generator._MIN_DELAY,
                )  # fmt: skip
                graph = sp.csr_matrix((delay, (src[live], dst[live])), shape=(self.n, self.n))
                for name, members in sets.items():
                    for k in KS:
                        dist = dijkstra(graph, directed=True, indices=members[:k], min_only=True)
                        samples.setdefault((name, k, "horizon"), []).append(
                            float((dist < self.days).sum())
                        )
                        samples.setdefault((name, k, "unbounded"), []).append(
                            float(np.isfinite(dist).sum())
                        )
            runs += BATCH
            worst = max(
                1.96 * np.std(x, ddof=1) / np.sqrt(len(x)) / max(np.mean(x), 1e-9)
                for (_, k, _), x in samples.items()
                if k in REPORTED
            )
            if runs >= MIN_RUNS and (worst <= TOLERANCE or runs >= MAX_RUNS):
                break
        out: dict[str, dict[int, dict[str, float]]] = {}
        for (name, k, horizon), x in samples.items():
            arr = np.asarray(x)
            out.setdefault(name, {}).setdefault(k, {})[horizon] = float(arr.mean())
            out[name][k][horizon + "_se"] = float(arr.std(ddof=1) / np.sqrt(len(arr)))
        for k in KS:  # the ratio seeds / top degree, paired runs (delta method)
            for horizon in ("horizon", "unbounded"):
                x = np.asarray(samples[("seeds", k, horizon)])
                y = np.asarray(samples[("top_degree", k, horizon)])
                r = x.mean() / y.mean()
                se = np.std(x - r * y, ddof=1) / np.sqrt(len(x)) / y.mean()
                out["ratio"] = out.get("ratio", {})
                out["ratio"].setdefault(k, {})[horizon] = float(r)
                out["ratio"][k][horizon + "_se"] = float(se)
        return out, runs


def measure(folder: Path, seed: int) -> list[dict[str, Any]]:
    """Per category: the claims next to the true simulated reach."""
    seeds, curve, degree, tests = _claims(folder)
    world = TrueWorld(folder / "data")
    shown = dict(zip(tests["category"], tests["influence_detected"], strict=True))
    rows = []
    for c, category in enumerate(world.categories):
        mine = seeds[seeds["category"] == category]
        row: dict[str, Any] = {"category": category, "influence_shown": bool(shown.get(category))}
        if mine.empty or (mine["basis"] != "influence cascade").any():
            row["note"] = "no influence-cascade seeds (structural fallback): no reach claimed"
            rows.append(row)
            continue
        order = [world.index[i] for i in mine["customer_id"]]
        eligible = ~world.adopters[category]
        deg = pd.Series(0, index=world.ids, dtype=np.int64)
        deg.update(degree.set_index("customer_id")["contacts"])
        count = np.where(eligible, deg.to_numpy(), -1)
        top = [int(i) for i in np.lexsort((np.array(world.ids), -count))[: len(order)]]
        start = time.perf_counter()
        sets = {"seeds": order, "top_degree": top}
        sims = {  # the category's items: a social one (virality 1) and a mostly spontaneous one
            v: world.simulate(category, sets, 1000 * seed + 10 * c + i, v)
            for i, v in enumerate(sorted(set(world.virality[category]), reverse=True))
        }
        social = sims[max(sims)][0]
        items = world.virality[category]  # the mean over the category's items, as calibrated
        mean_item = {
            k: float(np.mean([sims[v][0]["seeds"][k]["horizon"] for v in items])) for k in KS
        }
        cur = curve[curve["category"] == category].set_index("k")
        row.update(
            churned_seeds=int(world.churned[order].sum()),
            runs={str(v): r for v, (_, r) in sims.items()},
            seconds=round(time.perf_counter() - start, 1),
            truth={str(v): t for v, (t, _) in sims.items()},
            truth_item_mean=mean_item,
            claims={},
        )
        for k in REPORTED:
            claim = cur.loc[k]
            true = social["seeds"][k]["horizon"]
            low, high = float(claim["reach_low"]), float(claim["reach_high"])
            row["claims"][k] = {
                "expected_reach": float(claim["expected_reach"]),
                "reach_low": low,
                "reach_high": high,
                "model_reach": float(claim["model_reach"]),
                "top_degree_reach": float(claim["top_degree_reach"]),
                "ratio": float(claim["expected_reach"] / claim["top_degree_reach"]),
                "reach_check": float(claim["reach_check"]),
                "true_social": true,
                "true_social_unbounded": social["seeds"][k]["unbounded"],
                "true_item_mean": mean_item[k],
                "true_ratio_social": social["ratio"][k]["horizon"],
                "true_ratio_social_ci95": 1.96 * social["ratio"][k]["horizon_se"],
                "truth_in_interval": bool(low <= true <= high),
                "item_mean_in_interval": bool(low <= mean_item[k] <= high),
                "truth_over_claim": float(true / claim["expected_reach"]),
                "truth_over_model": float(true / claim["model_reach"]),
                "item_mean_over_claim": float(mean_item[k] / claim["expected_reach"]),
            }
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    load_before = os.getloadavg()
    worlds = {}
    print(f"{'world':<9} {'category':<10} {'k':>3} {'claimed (interval)':>24} {'model':>7} "
          f"{'true social':>11} {'unbounded':>9} {'in?':>4} {'item mean':>9} {'in?':>4} "
          f"{'ratio claimed':>13} {'true (social)':>14}")  # fmt: skip
    for seed in args.seeds:
        folder = _workspace(BUILT / f"telco-{args.size}-{seed}", args.size, seed)
        rows = measure(folder, seed)
        worlds[f"telco-{args.size}-{seed}"] = {"folder": str(folder), "categories": rows}
        for row in rows:
            if "claims" not in row:
                print(f"telco-{seed:<3} {row['category']:<10} {row['note']}")
                continue
            for k, cl in row["claims"].items():
                print(f"telco-{seed:<3} {row['category']:<10} {k:>3} "
                      f"{cl['expected_reach']:>8.1f} ({cl['reach_low']:>5.1f}-"
                      f"{cl['reach_high']:>6.1f}) {cl['model_reach']:>7.1f} "
                      f"{cl['true_social']:>11.1f} {cl['true_social_unbounded']:>9.1f} "
                      f"{'yes' if cl['truth_in_interval'] else 'NO':>4} "
                      f"{cl['true_item_mean']:>9.1f} "
                      f"{'yes' if cl['item_mean_in_interval'] else 'NO':>4} "
                      f"{cl['ratio']:>13.2f} {cl['true_ratio_social']:>8.2f}"
                      f"±{cl['true_ratio_social_ci95']:.2f}")  # fmt: skip
            print(f"{'':<9} {row['category']:<10} seeds who had churned in the data: "
                  f"{row['churned_seeds']}; runs {row['runs']}, {row['seconds']} s")  # fmt: skip
    pooled: dict[str, Any] = {}
    cells = [r for w in worlds.values() for r in w["categories"] if "claims" in r]
    for k in REPORTED:
        cl = [r["claims"][k] for r in cells]
        pooled[str(k)] = {
            "cells": len(cl),
            "truth_in_interval": sum(c["truth_in_interval"] for c in cl),
            "item_mean_in_interval": sum(c["item_mean_in_interval"] for c in cl),
            "mean_truth_over_claim": float(np.mean([c["truth_over_claim"] for c in cl])),
            "mean_truth_over_model": float(np.mean([c["truth_over_model"] for c in cl])),
            "mean_item_mean_over_claim": float(np.mean([c["item_mean_over_claim"] for c in cl])),
            "mean_claimed_ratio": float(np.mean([c["ratio"] for c in cl])),
            "mean_true_ratio_social": float(np.mean([c["true_ratio_social"] for c in cl])),
        }
        p = pooled[str(k)]
        print(f"k = {k}: social product's true reach in the claimed interval in "
              f"{p['truth_in_interval']} of {p['cells']} (item mean: "
              f"{p['item_mean_in_interval']}); true / claimed {p['mean_truth_over_claim']:.2f}, "
              f"true / model {p['mean_truth_over_model']:.2f}, item mean / claimed "
              f"{p['mean_item_mean_over_claim']:.2f}; ratio over top degree claimed "
              f"{p['mean_claimed_ratio']:.2f}, true {p['mean_true_ratio_social']:.2f}")  # fmt: skip
    out = RESULTS if args.size == 20_000 else RESULTS.with_name(f"seeds_truth_{args.size}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": "python benchmarks/bench_seeds_truth.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "horizon": "true reach counted at the generator's horizon (params.days) from seeds at "
                   "day 0; 'unbounded' is the cascade's final size",
        "tolerance": TOLERANCE,
        "pooled": pooled,
        "worlds": worlds,
    }, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
