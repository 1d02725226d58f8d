"""Does the link strength earn its name?  Known relationships on two real data sets (issue 18).

Data (read at run time, never copied into the repository):

- the Copenhagen Networks Study calls and SMS, bundled (``tiewise.datasets``), Facebook
  friendships as labels;
- the SocioPatterns high-school 2013 face-to-face contacts (``--highschool``, default
  ``../shared/data/highschool-2013``; CC BY-NC-SA, read from there only), consecutive 20-second
  contacts of a pair merged into one encounter and loaded as a record with its duration; labels:
  a friendship named in the survey (either way) or a Facebook friendship.

Each goes through tiewise's own ingest and links stages; the scores are columns of ``links``.
Over the linked pairs of each data set, the ROC AUC of: the counts a user could compute (records
-- calls + SMS --, calls, call time), every strength component alone, the default strength, a
strength fitted on that data set (:func:`tiewise.links.calibrate.fit_strength`, 5-fold
stratified cross-validation, out of fold), and one fitted on the *other* data set and applied
here.  The issue's bar: the default strength beats the best single count by 0.03 on Copenhagen
out of sample, without losing to it on the high school.

Then every other strength tried for that bar (:data:`VARIANTS`, readable formulas over columns of
``links`` and a few per-pair figures computed here: each end's degree, the pair's share of each
end's records and its rank among them, Onnela's neighbourhood overlap, the persistence of the tie,
its distinct active days and hours), each with its gain over the best count on both data sets
and the bootstrap spread of that gain (resampled pairs, :data:`BOOTSTRAP` draws).  The formulas
marked as a *family* (a compressed volume times the components' factors) are the readable
defaults that were candidates: which one a rule picks is checked out of sample -- picked on the
training folds of both data sets (5-fold, 10 seeds), its gain measured on the held-out folds --
and across data sets (picked on one, applied to the other).  A random forest on every figure
shows what a model that is no formula reaches -- with a caveat: its folds split pairs, not
people, and the labels depend on the person (on the high school only 133 of the 327 students
answered the friendship survey), so figures that tell people apart (degrees, each end's share)
let it learn who answered rather than which ties are close.  Copenhagen is the development set,
the high school the validation set; every variant tried is listed.
Saves benchmarks/results/strength.json.  Run: ``python benchmarks/bench_strength.py``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from tiewise.config import load_config
from tiewise.datasets import copenhagen_config, copenhagen_dir, copenhagen_friends
from tiewise.ingest.load import ingest
from tiewise.links.calibrate import BASELINES, COMPONENTS, component_matrix, fit_strength
from tiewise.links.strength import build_links
from tiewise.store import Workspace

HIGHSCHOOL = next(  # ../shared beside the repository (or a worktree's parents)
    (
        p / "shared" / "data" / "highschool-2013"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "data" / "highschool-2013").is_dir()
    ),
    Path("../shared/data/highschool-2013"),
)
BAR = 0.03
BOOTSTRAP = 200  # resamples of the pairs for the spread of each gain
SEEDS = 10  # fold splits for the out-of-sample check of the picked formula


def links_of(config_text: str, folder: Path) -> pd.DataFrame:
    (folder / "tiewise.toml").write_text(config_text)
    config = load_config(folder / "tiewise.toml")
    with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="b") as run:
        ingest(run, config, None)
        build_links(run, config)
        links = ws.table("links").df()  # a view: its row order is not fixed
        return links.sort_values(["a", "b"]).reset_index(drop=True)


def copenhagen(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    links = links_of(copenhagen_config(folder / "ws"), folder)
    calls = pd.read_csv(copenhagen_dir() / "calls.csv")
    sms = pd.read_csv(copenhagen_dir() / "sms.csv")
    records = pd.concat(
        [
            calls.rename(columns={"caller": "i", "callee": "j"}),
            sms.rename(columns={"sender": "i", "recipient": "j"}),
        ]
    )[["timestamp", "i", "j"]].rename(columns={"timestamp": "t"})
    links = with_pair_figures(links, records)  # over every link, before keeping participants
    friends = set(copenhagen_friends())
    people = {p for pair in friends for p in pair}
    links = links[links["a"].isin(people) & links["b"].isin(people)].reset_index(drop=True)
    return links, np.array([(a, b) in friends for a, b in zip(links.a, links.b, strict=True)])


def highschool(data: Path, folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    contacts = pd.read_csv(
        data / "High-School_data_2013.csv.gz", sep=" ", header=None, names=["t", "i", "j", "x", "y"]
    )
    contacts["a"] = contacts[["i", "j"]].min(axis=1)
    contacts["b"] = contacts[["i", "j"]].max(axis=1)
    contacts = contacts.sort_values(["a", "b", "t"])
    starts = contacts.groupby(["a", "b"])["t"].diff().fillna(np.inf) > 20
    contacts["encounter"] = starts.cumsum()
    encounters = contacts.groupby("encounter").agg(
        from_id=("a", "first"), to_id=("b", "first"), start=("t", "first"), end=("t", "last")
    )
    encounters["timestamp"] = pd.to_datetime(encounters["start"], unit="s")
    encounters["duration_s"] = encounters["end"] - encounters["start"] + 20.0
    encounters["channel"] = "voice"  # a conversation with a duration
    encounters["from_id"] = encounters["from_id"].astype(str)
    encounters["to_id"] = encounters["to_id"].astype(str)
    path = folder / "encounters.parquet"
    encounters[["from_id", "to_id", "timestamp", "channel", "duration_s"]].to_parquet(path)
    text = (
        f'workspace = "{(folder / "ws").as_posix()}"\n'
        f'[inputs.interactions]\npath = "{path.as_posix()}"\n[privacy]\npseudonymise = false\n'
    )
    links = with_pair_figures(links_of(text, folder), contacts)
    survey = pd.read_csv(data / "Friendship-network_data_2013.csv", sep=" ", header=None)
    facebook = pd.read_csv(data / "Facebook-known-pairs_data_2013.csv", sep=" ", header=None)
    pairs = list(zip(survey[0], survey[1], strict=True))
    pairs += [(a, b) for a, b, f in zip(facebook[0], facebook[1], facebook[2], strict=True) if f]
    close = {(str(min(a, b)), str(max(a, b))) for a, b in pairs}
    # ids compare as text in the workspace: order each pair as the links table does
    close = {(min(a, b), max(a, b)) for a, b in close}
    return links, np.array([(a, b) in close for a, b in zip(links.a, links.b, strict=True)])


def with_pair_figures(links: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """``links`` with the per-pair figures the variants use, over all of the data set's links.

    ``records``: one row per raw record, ids ``i`` and ``j`` and a time ``t`` in seconds.
    """
    out = links.copy()
    ends = pd.concat(
        [
            pd.DataFrame({"id": out["a"], "records": out["records"]}),
            pd.DataFrame({"id": out["b"], "records": out["records"]}),
        ],
        ignore_index=True,
    )
    degree = ends.groupby("id").size()
    total = ends.groupby("id")["records"].sum()
    rank = ends.groupby("id")["records"].rank(ascending=False).to_numpy()  # 1: the top contact
    ka, kb = out["a"].map(degree).to_numpy(float), out["b"].map(degree).to_numpy(float)
    share_a = out["records"] / out["a"].map(total)
    share_b = out["records"] / out["b"].map(total)
    n = out["common_contacts"].to_numpy(float)
    rest = (ka - 1) + (kb - 1) - n
    out["degree_min"], out["degree_max"] = np.minimum(ka, kb), np.maximum(ka, kb)
    out["share_min"], out["share_gm"] = np.minimum(share_a, share_b), np.sqrt(share_a * share_b)
    out["inverse_rank"] = 1 / np.maximum(rank[: len(out)], rank[len(out) :])  # 1: top at both
    out["top3"] = (np.minimum(rank[: len(out)], rank[len(out) :]) <= 3).astype(float)
    out["overlap"] = np.where(rest > 0, n / np.where(rest > 0, rest, 1), 0.0)  # Onnela 2007
    span = (out["last_ts"].max() - out["first_ts"].min()).total_seconds()
    out["persistence"] = (out["last_ts"] - out["first_ts"]).dt.total_seconds() / span
    i, j = records["i"].astype(str), records["j"].astype(str)
    raw = pd.DataFrame({"a": np.minimum(i, j), "b": np.maximum(i, j), "t": records["t"]})
    raw = raw[raw["a"] != raw["b"]].sort_values(["a", "b", "t"])
    raw["day"], raw["hour"] = raw["t"] // 86400, raw["t"] // 3600
    raw["session"] = raw.groupby(["a", "b"])["t"].diff().fillna(np.inf) > 1800
    pairs = raw.groupby(["a", "b"]).agg(
        active_days=("day", "nunique"),
        active_hours=("hour", "nunique"),
        sessions=("session", "sum"),
    )
    return out.join(pairs, on=["a", "b"])


F3 = ("reciprocity", "regularity", "embeddedness")  # the shipped factors; F4 adds persistence


def _family() -> dict[str, tuple[str, object]]:
    """The readable candidates: a compressed volume times the components' factors (1 + c)."""
    bases = {
        "volume": lambda x: x["volume"],
        "records": lambda x: x["records"],
        "records + call minutes": lambda x: x["records"] + x["voice_seconds"] / 60,
    }
    compress = {"{}": lambda v: v, "sqrt({})": np.sqrt, "ln(1 + {})": np.log1p}
    factors = {
        "(1+rec)(1+reg)(1+emb)": F3,
        "F4": (*F3, "persistence"),
    }
    family: dict[str, tuple[str, object]] = {}
    for base_name, base in bases.items():
        for how, g in compress.items():
            for names, columns in factors.items():

                def score(x: pd.DataFrame, b=base, g=g, cols=columns) -> np.ndarray:  # type: ignore[no-untyped-def]
                    return np.asarray(g(b(x)) * np.prod([1 + x[c] for c in cols], axis=0))

                shown = f"({base_name})" if how == "{}" and " " in base_name else base_name
                family[f"{how.format(shown)} * {names}"] = ("family", score)
    return family


def _single(column: str) -> tuple[str, object]:
    return ("single", lambda x: x[column])


def _f4(x: pd.DataFrame) -> np.ndarray:
    return np.asarray(np.prod([1 + x[c] for c in (*F3, "persistence")], axis=0))


def _pct(v: pd.Series) -> np.ndarray:
    return np.asarray(pd.Series(np.asarray(v, float)).rank(pct=True))


VARIANTS: dict[str, tuple[str, object]] = {
    "default strength (shipped)": ("shipped", lambda x: x["strength"]),
    **{
        f"{c} alone": _single(c)
        for c in (
            "share_min",
            "share_gm",
            "inverse_rank",
            "top3",
            "overlap",
            "persistence",
            "active_days",
            "active_hours",
            "sessions",
        )
    },
    **_family(),
    "volume * (1+rec)(1+reg)(1+overlap)  [overlap for embeddedness]": (
        "other",
        lambda x: x["volume"] * (1 + x["reciprocity"]) * (1 + x["regularity"]) * (1 + x["overlap"]),
    ),
    "volume * sqrt(share_gm)": ("other", lambda x: x["volume"] * np.sqrt(x["share_gm"])),
    "share_gm * F4": ("other", lambda x: x["share_gm"] * _f4(x)),
    "ln(1 + records + call min) * F4 * (1 + share_min)": (
        "other",
        lambda x: np.log1p(x["records"] + x["voice_seconds"] / 60) * _f4(x) * (1 + x["share_min"]),
    ),
    "ln(1 + records + call min) * F4 * (1 + top3)": (
        "other",
        lambda x: np.log1p(x["records"] + x["voice_seconds"] / 60) * _f4(x) * (1 + x["top3"]),
    ),
    "ln(1 + records + call min) * F4 * (1 + channel_mix)": (
        "other",
        lambda x: (
            np.log1p(x["records"] + x["voice_seconds"] / 60) * _f4(x) * (1 + x["channel_mix"])
        ),
    ),
    "ln(1 + active_days) * F4": ("other", lambda x: np.log1p(x["active_days"]) * _f4(x)),
    "ln(1 + active_hours) * F4": ("other", lambda x: np.log1p(x["active_hours"]) * _f4(x)),
    "ln(1 + sessions) * F4": ("other", lambda x: np.log1p(x["sessions"]) * _f4(x)),
    "mean percentile of records, rec, reg, emb, persistence": (
        "other",
        lambda x: sum(
            _pct(x[c])
            for c in ("records", "reciprocity", "regularity", "embeddedness", "persistence")
        ),
    ),
}
"""Every strength tried for the bar; F4 = (1+rec)(1+reg)(1+emb)(1+persistence)."""
LEGEND = {
    "gain": "ROC AUC minus that of the best count (records, n_voice, voice_seconds) on the pairs",
    "gain_sd, gain_5_95": f"over {BOOTSTRAP} bootstrap resamples of the pairs",
    "rec, reg, emb": "the links columns reciprocity, regularity, embeddedness",
    "F4": "(1 + reciprocity)(1 + regularity)(1 + embeddedness)(1 + persistence)",
    "persistence": "(last - first contact of the pair) / the data set's span",
    "share_min, share_gm": "the pair's records over each end's records: the smaller, the "
    "geometric mean",
    "inverse_rank": "1 / the pair's worse rank among its two ends' contacts by records",
    "top3": "the pair is among the top 3 contacts of either end",
    "overlap": "Onnela's neighbourhood overlap n_ab / ((k_a - 1) + (k_b - 1) - n_ab)",
    "active_days, active_hours, sessions": "distinct days, distinct hours, runs of records "
    "less than 30 minutes apart (from the raw records)",
    "call minutes": "voice_seconds / 60 (the high school: time face to face)",
}
FOREST_FIGURES = (
    "records", "volume", "voice_seconds", "n_voice", *COMPONENTS, "overlap", "persistence",
    "active_days", "active_hours", "sessions", "share_min", "share_gm", "inverse_rank",
)  # fmt: skip


def gain_over_count(x: pd.DataFrame, y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of ``score`` minus that of the best count on the same pairs."""
    best = max(roc_auc_score(y, x[c]) for c in BASELINES)
    return float(roc_auc_score(y, score) - best)


def variants_table(data: dict[str, tuple[pd.DataFrame, np.ndarray]]) -> dict[str, dict]:
    """Per variant and data set: AUC, gain over the best count, its bootstrap SD and 5-95%."""
    scores = {
        name: {k: np.asarray(fn(x), dtype=float) for k, (x, _) in data.items()}  # type: ignore[operator]
        for name, (_, fn) in VARIANTS.items()
    }
    table: dict[str, dict] = {name: {"kind": VARIANTS[name][0]} for name in VARIANTS}
    for k, (x, y) in data.items():
        rng = np.random.default_rng(0)
        draws = [rng.integers(0, len(y), len(y)) for _ in range(BOOTSTRAP)]
        best_at = [max(roc_auc_score(y[d], x[c].to_numpy()[d]) for c in BASELINES) for d in draws]
        for name in VARIANTS:
            s = scores[name][k]
            spread = np.array(
                [roc_auc_score(y[d], s[d]) - b for d, b in zip(draws, best_at, strict=True)]
            )
            table[name][k] = {
                "auc": round(float(roc_auc_score(y, s)), 4),
                "gain": round(gain_over_count(x, y, s), 4),
                "gain_sd": round(float(spread.std()), 4),
                "gain_5_95": [round(float(v), 4) for v in np.percentile(spread, [5, 95])],
            }
    return table


RULES = {
    "the bar: best on Copenhagen among those not losing on the high school": "bar",
    "best on Copenhagen": "copenhagen",
    "best on the high school": "highschool",
}


def pick(gains: dict[str, dict[str, float]], rule: str) -> str:
    """The family member a rule (a value of :data:`RULES`) picks from gains per data set."""
    if rule != "bar":
        return max(gains, key=lambda n: gains[n][rule])
    safe = [n for n in gains if gains[n]["highschool"] >= 0] or list(gains)
    return max(safe, key=lambda n: gains[n]["copenhagen"])


def selection(data: dict[str, tuple[pd.DataFrame, np.ndarray]]) -> dict[str, object]:
    """The family's pick checked out of sample: picked on training folds, measured held out.

    Each of :data:`SEEDS` seeds splits both data sets into 5 stratified folds; for fold ``i``
    every rule of :data:`RULES` picks a member of the family from its gains on the other folds
    of both data sets, and the pick's gain on fold ``i`` of each is recorded.
    """
    family = {n: fn for n, (kind, fn) in VARIANTS.items() if kind == "family"}
    scores = {n: {k: np.asarray(fn(x)) for k, (x, _) in data.items()} for n, fn in family.items()}  # type: ignore[operator]

    def gains(idx: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
        """Per member, per data set: its gain over the best count on the pairs ``idx``."""
        per_set = {
            k: {n: gain_over_count(x.iloc[idx[k]], y[idx[k]], scores[n][k][idx[k]]) for n in family}
            for k, (x, y) in data.items()
        }
        return {n: {k: per_set[k][n] for k in data} for n in family}

    folds = []  # (gains on the training folds, gains on the held-out fold)
    for seed in range(SEEDS):
        splits = {
            k: list(StratifiedKFold(5, shuffle=True, random_state=seed).split(y, y))
            for k, (_, y) in data.items()
        }
        for i in range(5):
            folds.append(
                (gains({k: s[i][0] for k, s in splits.items()}),
                 gains({k: s[i][1] for k, s in splits.items()}))
            )  # fmt: skip
    on_all = gains({k: np.arange(len(y)) for k, (_, y) in data.items()})
    result: dict[str, object] = {}
    for rule, key in RULES.items():
        picks = [pick(train, key) for train, _ in folds]
        held_out = {
            k: [test[p][k] for p, (_, test) in zip(picks, folds, strict=True)] for k in data
        }
        chosen = pick(on_all, key)
        result[rule] = {
            "picked_on_all_pairs": chosen,
            "its_gain_on_all_pairs": {k: round(v, 4) for k, v in on_all[chosen].items()},
            "held_out_gain_mean": {k: round(float(np.mean(v)), 4) for k, v in held_out.items()},
            "held_out_gain_se": {
                k: round(float(np.std(v) / np.sqrt(len(v))), 4) for k, v in held_out.items()
            },
            "picks": pd.Series(picks).value_counts().to_dict(),
        }
    return result


def forest(x: pd.DataFrame, y: np.ndarray, columns: tuple[str, ...]) -> float:
    """Out-of-fold ROC AUC of a random forest on ``columns`` (5-fold, seeded): no formula."""
    features = x[list(columns)].astype(float).to_numpy()
    out = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(features, y):
        model = RandomForestClassifier(200, min_samples_leaf=5, random_state=0, n_jobs=1)
        out[test] = model.fit(features[train], y[train]).predict_proba(features[test])[:, 1]
    return float(roc_auc_score(y, out))


def variants_and_selection(data: dict[str, tuple[pd.DataFrame, np.ndarray]]) -> dict[str, object]:
    """Every variant's gain, the family's pick checked out of sample, and a random forest."""
    table = variants_table(data)
    print(f"\n{'variant: gain over the best count (bootstrap SD)':<66} {'Copenhagen':>15} "
          f"{'high school':>15}")  # fmt: skip
    for name, row in table.items():
        cells = [f"{row[k]['gain']:+.3f} ({row[k]['gain_sd']:.3f})" for k in data]
        print(f"{name[:66]:<66} {cells[0]:>15} {cells[1]:>15}")
    chosen = selection(data)
    for rule, found in chosen.items():
        print(f"\npicked by the rule '{rule}': {found['picked_on_all_pairs']}")
        print(
            f"  gain on all pairs {found['its_gain_on_all_pairs']}; held out (picked on the "
            f"other folds; 5 folds x {SEEDS} seeds): {found['held_out_gain_mean']} "
            f"+- {found['held_out_gain_se']}"
        )
    forests = {}
    for k, (x, y) in data.items():
        best = max(roc_auc_score(y, x[c]) for c in BASELINES)
        forests[k] = {
            "gain_out_of_fold": round(forest(x, y, FOREST_FIGURES) - best, 4),
            "gain_out_of_fold_with_degrees": round(
                forest(x, y, (*FOREST_FIGURES, "degree_min", "degree_max")) - best, 4
            ),
        }
    print(f"\nrandom forest on every figure (no formula), gain out of fold: {forests}")
    forests["note"] = (  # type: ignore[assignment]
        "not a formula; folds split pairs, not people, and the labels depend on the person, "
        "so figures that identify people (degrees, shares) can learn who has labels"
    )
    return {
        "legend": LEGEND,
        "variants": table,
        "selection": chosen,
        "random_forest": forests,
    }


def applied(links: pd.DataFrame, weights: dict[str, float]) -> np.ndarray:
    """ln of the strength ``volume * exp(sum w * component)`` (same ranking as the strength)."""
    x = component_matrix(links)
    return x["ln_volume"].to_numpy() + sum(w * x[c].to_numpy() for c, w in weights.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--highschool", type=Path, default=HIGHSCHOOL)
    args = parser.parse_args()
    data: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cph").mkdir()
        data["copenhagen"] = copenhagen(Path(tmp) / "cph")
        if (args.highschool / "High-School_data_2013.csv.gz").is_file():
            (Path(tmp) / "hs").mkdir()
            data["highschool"] = highschool(args.highschool, Path(tmp) / "hs")
        else:
            print(f"high-school data not found in {args.highschool}: Copenhagen only")
    fits = {name: fit_strength(links, y, seed=0) for name, (links, y) in data.items()}
    result: dict[str, object] = {"bar": BAR, "datasets": {}}
    for name, (links, y) in data.items():
        fit = fits[name]
        rows = dict(fit.single_auc_)
        rows["fitted here (5-fold, out of fold)"] = fit.fitted_auc_
        for other, other_fit in fits.items():
            if other != name and other_fit.weights_ is not None:
                rows[f"fitted on {other}"] = float(
                    roc_auc_score(y, applied(links, other_fit.weights_))
                )
        best = max(BASELINES, key=lambda k: rows[k])
        gain = rows["strength"] - rows[best]
        print(f"\n{name}: {len(links)} linked pairs, {int(y.sum())} known close ({y.mean():.0%})")
        print(f"{'score':<36} {'ROC AUC':>8}")
        for score, value in rows.items():
            marker = "  (count)" if score in BASELINES else ""
            print(f"{score:<36} {value:>8.3f}{marker}")
        print(f"default strength - best count ({best}): {gain:+.3f} (bar {BAR:+.2f})")
        print(f"fitted: {fit.note_}; weights {fit.weights_}")
        result["datasets"][name] = {  # type: ignore[index]
            "pairs": len(links),
            "positives": int(y.sum()),
            "auc": {k: round(v, 4) for k, v in rows.items()},
            "best_count": best,
            "default_minus_best_count": round(gain, 4),
            "fitted_weights": fit.weights_,
            "fitted_note": fit.note_,
            "components": COMPONENTS,
        }
    if len(data) == 2:
        result |= variants_and_selection(data)
    cph = result["datasets"]["copenhagen"]  # type: ignore[index]
    result["bar_met"] = bool(cph["default_minus_best_count"] >= BAR)
    out = Path(__file__).parent / "results" / "strength.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nbar met on Copenhagen: {result['bar_met']} (saved {out})")


if __name__ == "__main__":
    main()
