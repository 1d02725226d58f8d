"""End to end on generated telco data: the influence stage against the generator's hidden truth."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tiewise.config import Config, load_config, template
from tiewise.influence.scores import naive_follow_counts
from tiewise.ingest.pseudonym import pseudonymise
from tiewise.pipeline import RunResult, choose_seeds, run_influence, run_pipeline, skipped_stages
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco
from tiewise.synth.truth import adoption_descendants

KEY_HEX = "5a" * 32


def _world(folder: Path, seed: int) -> tuple[Path, Config, RunResult]:
    # 24 products (8 per category): enough adoptions per customer to see who converts whom
    generate_telco(TelcoParams(customers=4_000, days=90, seed=seed, products=24), folder / "data")
    path = folder / "tiewise.toml"
    path.write_text(template(folder / "data", config_dir=folder))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIEWISE_KEY", KEY_HEX)
        config = load_config(path)
        result = run_pipeline(config)
    return folder, config, result


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Config, RunResult]:
    return _world(tmp_path_factory.mktemp("influence"), 5)


def _table(config: Config, name: str, where: str = "") -> pd.DataFrame:
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        return ws.con.execute(f"SELECT * FROM {name} {where}").df()


def _truth(folder: Path) -> pd.DataFrame:
    truth = pd.read_parquet(folder / "data" / "truth" / "nodes.parquet")
    key = bytes.fromhex(KEY_HEX)
    truth["customer_id"] = [pseudonymise(i, key) for i in truth["id"]]
    return truth[truth["on_network"]]


def precision_at_top(frame: pd.DataFrame, score: str, truth: str, share: float) -> float:
    top = max(1, round(len(frame) * share))
    wanted = set(frame.sort_values([truth, "customer_id"], ascending=[False, True]).head(top)[
        "customer_id"])  # fmt: skip
    ranked = frame.sort_values([score, "customer_id"], ascending=[False, True]).head(top)
    return len(wanted & set(ranked["customer_id"])) / top


def caused_truth(folder: Path) -> pd.DataFrame:
    """Per customer and category: adoptions the generator says this customer caused directly."""
    causes = pd.read_parquet(folder / "data" / "truth" / "adoption_causes.parquet")
    items = pd.read_parquet(folder / "data" / "adoptions.parquet").drop_duplicates("item")
    causes = causes[causes["cause"] == "influence"]
    causes = causes.assign(category=causes["item"].map(items.set_index("item")["category"]))
    key = bytes.fromhex(KEY_HEX)
    causes = causes.assign(customer_id=[pseudonymise(i, key) for i in causes["infector"]])
    return causes.groupby(["customer_id", "category"]).size().rename("caused").reset_index()


def caused_truth_value(folder: Path) -> float:
    """The value of every adoption the generator's customers caused, chains included."""
    return float(adoption_descendants(folder / "data")["descendant_value"].sum())


def naive_count(config: Config, days: float = 30.0) -> pd.DataFrame:
    """The one-line heuristic: contacts who adopted the same item within 30 days after me."""
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        return naive_follow_counts(ws.con, days)


def caused_precisions(folder: Path, config: Config) -> pd.DataFrame:
    """Top-1% and top-5% precision per category against the true adoptions caused."""
    scores = _table(config, "influence_scores", "WHERE category <> 'all'")
    frame = scores.merge(caused_truth(folder), on=["customer_id", "category"], how="left")
    frame = frame.merge(naive_count(config), on=["customer_id", "category"], how="left")
    frame[["caused", "naive"]] = frame[["caused", "naive"]].fillna(0)
    rows = []
    for category, group in frame.groupby("category"):
        for share in (0.01, 0.05):
            rows.append(
                {
                    "category": category,
                    "share": share,
                    **{
                        name: precision_at_top(group, name, "caused", share)
                        for name in ("influence_score", "naive", "followers", "contacts")
                    },
                }
            )
    table = pd.DataFrame(rows)
    print(table.round(3).to_string())
    return table


def _trait_precisions(folder: Path, config: Config) -> tuple[float, float, float]:
    scores = _table(config, "influence_scores", "WHERE category = 'all'")
    graph = _table(config, "customer_scores", "WHERE on_network AND NOT is_service")
    frame = scores.merge(graph[["customer_id", "pagerank"]], on="customer_id").merge(
        _truth(folder)[["customer_id", "influence"]], on="customer_id"
    )
    assert len(frame) == len(scores) == 4_000
    ours = precision_at_top(frame, "conversion_rate", "influence", 0.01)
    contacts = precision_at_top(frame, "contacts", "influence", 0.01)
    pr = precision_at_top(frame, "pagerank", "influence", 0.01)
    print(f"precision@1%: conversion rate {ours:.3f}, contacts {contacts:.3f}, PageRank {pr:.3f}")
    return ours, contacts, pr


def test_adoptions_caused_rank_the_true_causers_above_the_naive_count(
    project: tuple[Path, Config, RunResult],
) -> None:
    """The headline against the generator's true adoptions caused, per category.

    Top 1% of 4,000 is 40 customers (noisy); the bars of the issue (+0.05 at the top 1%) are
    held at 20k and 100k by the slow test and the benchmark.
    """
    folder, config, _ = project
    table = caused_precisions(folder, config)
    top5 = table[table["share"] == 0.05]
    assert (top5["influence_score"] >= top5["naive"]).all()
    assert top5["influence_score"].mean() >= top5["naive"].mean() + 0.03
    assert (top5["influence_score"] > top5["contacts"]).all()


@pytest.mark.slow
@pytest.mark.parametrize("customers", [20_000])
def test_adoptions_caused_beat_the_naive_count_by_the_issues_bars(
    tmp_path: Path, customers: int
) -> None:
    """Issue 15's bars on the team's generator, several seeds: top 1% >= naive + 0.05 and top 5%
    >= naive, in every category (the mean over seeds; 100k in `make bench`)."""
    tables = []
    for seed in (1, 2, 3):
        folder = tmp_path / str(seed)
        generate_telco(TelcoParams(customers=customers, days=90, seed=seed), folder / "data")
        path = folder / "tiewise.toml"
        path.write_text(template(folder / "data", config_dir=folder))
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("TIEWISE_KEY", KEY_HEX)
            config = load_config(path)
            run_pipeline(config)
        tables.append(caused_precisions(folder, config))
        truth = caused_truth_value(folder)
        value = _table(config, "network_value_categories")["caused_value"].sum()
        print(f"seed {seed}: caused value / truth {value / truth:.2f}")
        assert 0.75 <= value / truth <= 1.25
    mean = pd.concat(tables).groupby(["category", "share"]).mean().reset_index()
    print(mean.round(3).to_string())
    top1, top5 = mean[mean["share"] == 0.01], mean[mean["share"] == 0.05]
    assert (top1["influence_score"] >= top1["naive"] + 0.05).all()
    assert (top5["influence_score"] >= top5["naive"]).all()


def test_conversion_rate_finds_the_most_persuasive_better_than_contacts_or_pagerank(
    project: tuple[Path, Config, RunResult],
) -> None:
    """The per-contact rate against the generator's hidden influence trait."""
    folder, config, _ = project
    ours, contacts, pr = _trait_precisions(folder, config)
    assert ours >= 2 * max(contacts, pr) and ours - max(contacts, pr) >= 0.09


def test_population_shuffle_test_detects_the_generators_influence(
    project: tuple[Path, Config, RunResult],
) -> None:
    _, config, result = project
    tests = _table(config, "influence_tests")
    assert result.influence is not None
    assert sorted(tests["category"]) == ["devices", "roaming", "streaming"]
    assert tests["influence_detected"].all(), tests[["category", "p_value"]]
    assert (tests["follows"] > tests["follows_expected"]).all()
    assert tests["reason"].str.contains("shuffled adoption times").all()
    assert result.influence.influence_detected == ["devices", "roaming", "streaming"]
    # enough shuffles to tell p < 0.01 apart, and the test of order agrees at any lag
    assert (tests["shuffles"] >= 999).all() and (tests["order_p_value"] < 0.01).all()
    assert (tests["order_statistic"] > tests["order_expected"]).all()
    assert tests["time_resolution"].eq("continuous (to the second)").all()
    assert tests["warning"].isna().all()


def test_followers_match_a_count_in_sql_and_reasons_give_the_evidence(
    project: tuple[Path, Config, RunResult],
) -> None:
    _, config, _ = project
    s = _table(config, "influence_scores")
    assert set(s["category"]) == {"devices", "roaming", "streaming", "all"}
    # the shuffle test's observed follows, counted again from the tables by a plain join
    window = float(_table(config, "influence_tests")["window_days"].iloc[0])
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        by_sql = naive_follow_counts(ws.con, window)
    mine = s[s["category"] != "all"].merge(by_sql, on=["customer_id", "category"], how="left")
    assert mine["followers"].sum() > 1_000
    np.testing.assert_array_equal(mine["followers"], mine["naive"].fillna(0))
    adopters = s[s["adoptions"] > 0]
    assert adopters["reason"].str.contains("expected from shuffled timing").all()
    assert adopters["reason"].str.contains("beyond homophily").all()
    assert s.loc[s["adoptions"] == 0, "basis"].str.startswith("structural fallback").all()
    assert s.loc[s["adoptions"] == 0, "influence_score"].eq(0).all()
    assert (s["influence_low"] <= s["influence_score"] + 1e-9).all()
    assert (s["influence_score"] <= s["influence_high"] + 1e-9).all()
    # nobody caused more adoptions than they exposed contacts to
    assert (s["influence_score"] <= s["adoptions"] * s["customer_contacts"] + 1e-9).all()
    assert ((s["p_value"] > 0) & (s["p_value"] <= 1) | s["p_value"].isna()).all()
    # the 'all' row sums the categories' follows
    per = s[s["category"] != "all"].groupby("customer_id")["followers"].sum()
    total = s[s["category"] == "all"].set_index("customer_id")["followers"]
    np.testing.assert_allclose(per.sort_index(), total.loc[per.index].sort_index())


def test_link_models_are_validated_out_of_period(project: tuple[Path, Config, RunResult]) -> None:
    _, config, _ = project
    val = _table(config, "influence_validation").set_index("model")["roc_auc"]
    print(val.round(3).to_dict())
    assert set(val.index) == {"contacts", "bernoulli", "jaccard", "partial_credit", "time_decayed"}
    assert val.between(0.0, 1.0).all()
    # learned per-link influence predicts who adopts next better than counting adopting contacts
    for model in ("bernoulli", "jaccard", "partial_credit"):
        assert val[model] > val["contacts"] + 0.01, model
    links = _table(config, "influence_links")
    assert links["probability"].between(0.0, 1.0).all()
    assert (links["propagations"] <= links["source_adoptions"]).all()


def test_seeds_skip_adopters_and_beat_top_degree(project: tuple[Path, Config, RunResult]) -> None:
    _, config, _ = project
    seeds = _table(config, "seed_sets")
    curve = _table(config, "spread_curve")
    adoptions = _table(config, "adoptions")
    for category, group in seeds.groupby("category"):
        assert len(group) == config.influence.seeds
        adopted = set(adoptions.loc[adoptions["category"] == category, "customer_id"])
        assert not adopted & set(group["customer_id"])
        c = curve[curve["category"] == category].sort_values("k")
        assert (np.diff(c["expected_reach"]) >= 0).all()
        # on a fresh sample: the whole set beats the K best-connected (prefixes are noisier)
        assert c["expected_reach"].iloc[-1] > c["top_degree_reach"].iloc[-1]
        assert c["expected_reach"].sum() > c["top_degree_reach"].sum()
    nv = _table(config, "network_value")
    assert list(nv.columns[:2]) == ["customer_id", "network_value"]
    assert len(nv) == 4_000 and (nv["network_value"] >= 0).all()


def test_seeds_command_is_deterministic_and_respects_budget_and_exclusions(
    project: tuple[Path, Config, RunResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, config, _ = project
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    stage = _table(config, "seed_sets", "WHERE category = 'devices' ORDER BY rank")
    checked = _table(config, "influence_tests", "WHERE category = 'devices'")
    first = choose_seeds(config, category="devices", k=10)
    again = choose_seeds(config, category="devices", k=10)
    pd.testing.assert_frame_equal(first, again)
    # the command reads the stage's tests and reach check back: the stage's claims, not new ones
    assert first["customer_id"].tolist() == stage["customer_id"].head(10).tolist()
    np.testing.assert_allclose(first["expected_reach"], stage["expected_reach"].head(10))
    ratio = first["expected_reach"] / first["model_reach"]
    np.testing.assert_allclose(ratio, checked["reach_check"].iloc[0])
    assert checked["reach_check_low"].iloc[0] < checked["reach_check"].iloc[0]
    assert checked["reach_check"].iloc[0] < checked["reach_check_high"].iloc[0]
    costly = config.model_copy(
        update={
            "influence": config.influence.model_copy(
                update={
                    "cost": "CASE WHEN monthly_fee > 30 THEN 3.0 ELSE 1.0 END",
                    "exclude_where": "plan LIKE 'prepaid%'",
                }
            )
        }
    )
    budgeted = choose_seeds(costly, category="devices", k=10, budget=12.0)
    assert budgeted["cost"].sum() <= 12.0
    customers = _table(config, "customers")
    prepaid = set(customers.loc[customers["plan"].str.startswith("prepaid"), "customer_id"])
    assert not prepaid & set(budgeted["customer_id"])
    stored = _table(config, "seed_sets", "WHERE category = 'devices'")
    assert len(stored) == len(budgeted)


def test_cli_influence_and_seeds(
    project: tuple[Path, Config, RunResult],
    cli: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, config, _ = project
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    cfg = str(folder / "tiewise.toml")
    r = cli("seeds", "--k", "3", "--category", "roaming", "--config", cfg)
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    assert "seed 1 for roaming" in r.out  # type: ignore[attr-defined]
    r = cli("seeds", "--k", "3", "--category", "cars", "--config", cfg)
    assert r.code == 2 and "known categories" in r.err  # type: ignore[attr-defined]
    r = cli("influence", "--config", cfg)
    assert r.code == 0 and "influence beyond homophily" in r.out  # type: ignore[attr-defined]
    out = " ".join(r.out.split())  # type: ignore[attr-defined]
    claimed = re.search(r"conservative\): devices (\d+) \((\d+)-(\d+)\)", out)
    assert claimed is not None, out
    assert int(claimed[2]) <= int(claimed[1]) <= int(claimed[3])
    order = "ORDER BY customer_id, category"
    before = _table(config, "influence_scores", order)
    value = _table(config, "network_value", "ORDER BY customer_id")
    summary = run_influence(config)  # same data and seed: the same tables, bit for bit
    assert summary.categories == ["devices", "roaming", "streaming"]
    pd.testing.assert_frame_equal(before, _table(config, "influence_scores", order))
    pd.testing.assert_frame_equal(value, _table(config, "network_value", "ORDER BY customer_id"))


def test_influence_on_a_missing_workspace_says_run_first(
    tmp_path: Path, cli: Callable[..., object]
) -> None:
    (tmp_path / "t.toml").write_text('workspace = "nowhere"\n')
    r = cli("influence", "--config", str(tmp_path / "t.toml"))
    assert r.code == 2 and "tiewise run" in r.err  # type: ignore[attr-defined]


def test_network_value_matches_the_generators_caused_value(
    project: tuple[Path, Config, RunResult],
) -> None:
    """The value a customer's adoptions caused (chains included) against the true cascades:
    the total near the truth and the ranking at least as good as the headline's.

    On this small world (8 products per category, about 440 adoptions each) the total is 1.48x
    the truth: the direct causes are right, the chains overshoot (a limitation docs/influence.md
    states).  The issue's 25% bar is held on the default worlds at 20k
    and 100k (the slow test, `make bench`) and on a survey-style study
    (`test_measure.py::test_chains_of_credited_follows_recover_the_true_descendants`)."""
    folder, config, _ = project
    truth = adoption_descendants(folder / "data")
    key = bytes.fromhex(KEY_HEX)
    truth["customer_id"] = [pseudonymise(i, key) for i in truth["customer_id"]]
    true_value = truth.groupby("customer_id")["descendant_value"].sum()
    estimate = _table(config, "network_value_categories")
    ratio = estimate["caused_value"].sum() / true_value.sum()
    per = estimate.groupby("customer_id")[["caused_value", "network_value"]].sum()
    headline = _table(config, "influence_scores", "WHERE category = 'all'")
    frame = (
        per.join(headline.set_index("customer_id")["influence_score"])
        .join(true_value.rename("truth"))
        .fillna(0.0)
        .reset_index()
    )
    ours = precision_at_top(frame, "caused_value", "truth", 0.05)
    head = precision_at_top(frame, "influence_score", "truth", 0.05)
    print(f"caused value total / true: {ratio:.2f}; top-5% precision {ours:.3f} vs {head:.3f}")
    assert 0.6 <= ratio <= 1.6
    assert ours >= head - 0.02
    # the per-customer figure is the per-category ones summed, and the reason shows it
    nv = _table(config, "network_value").set_index("customer_id")
    summed = estimate.groupby("customer_id")["network_value"].sum()
    np.testing.assert_allclose(nv.loc[summed.index, "network_value"], summed, rtol=1e-9)
    top = nv.sort_values("network_value").iloc[-1]
    assert f"{top['network_value']:,.2f}" in top["reason"] and "pull" in top["reason"]
    tests = _table(config, "influence_tests")
    assert (tests["caused_per_adoption"] > 0).all() and (tests["link_scale"] > 0).all()


def test_network_value_is_near_zero_where_friends_adopt_alike_without_influence(
    project: tuple[Path, Config, RunResult], tmp_path: Path
) -> None:
    """Homophily alone makes friends adopt the same items; none of that is caused."""
    generate_telco(
        TelcoParams(customers=2_000, days=90, seed=5, products=12, influence=0.0),
        tmp_path / "data",
    )
    path = tmp_path / "tiewise.toml"
    path.write_text(template(tmp_path / "data", config_dir=tmp_path))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIEWISE_KEY", KEY_HEX)
        config = load_config(path)
        run_pipeline(config)

    def share(config: Config) -> float:
        value = _table(config, "customer_value")
        return float(value["network_value"].sum() / value["clv"].sum())

    with_influence, without = share(project[1]), share(config)
    print(f"network value / clv: with influence {with_influence:.3f}, without {without:.3f}")
    assert without <= 0.1 * with_influence
    # and nothing is presented as influence: no caused adoptions, structural fallback seeds
    tests = _table(config, "influence_tests")
    print(tests[["category", "window_p_value", "order_p_value", "p_value"]])
    assert not tests["influence_detected"].any()
    scores = _table(config, "influence_scores")
    assert scores["influence_score"].eq(0).all()
    assert scores["basis"].str.startswith("structural fallback").all()
    assert scores["reason"].str.startswith("structural fallback, not evidence").all()
    seeds = _table(config, "seed_sets")
    assert seeds["basis"].eq("structural fallback").all()
    assert seeds["expected_reach"].isna().all()
    assert len(_table(config, "spread_curve")) == 0


def test_a_binding_rr_set_cap_is_reported_with_the_epsilon_reached(
    project: tuple[Path, Config, RunResult],
    cli: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # last in this module: it rewrites the workspace's seed sets with a small cap
    folder, config, result = project
    assert result.influence is not None and not result.influence.imm_shortfall
    assert not [s for s in result.skipped if "guarantee" in s.stage]
    tight = config.influence.model_copy(update={"max_rr_sets": 10_000, "epsilon": 0.02})
    capped = config.model_copy(update={"influence": tight})
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    summary = run_influence(capped)
    seeds = _table(config, "seed_sets")
    imm = seeds[seeds["rr_sets"].notna()]
    assert len(imm) and summary.imm_shortfall
    for category, group in imm.groupby("category"):
        reached, drawn = summary.imm_shortfall[category]
        assert drawn == group["rr_sets"].max() <= 10_000
        assert reached == pytest.approx(group["epsilon"].max()) and reached > 0.02
    (line,) = [s for s in skipped_stages(capped, summary, None, None) if "guarantee" in s.stage]
    sentence = line.sentence()
    assert "max_rr_sets" in sentence and "epsilon 0.02" in sentence
    assert f"{max(r for r, _ in summary.imm_shortfall.values()):.2f}" in sentence
    # `tiewise influence` says so too, as `tiewise run` does
    text = (folder / "tiewise.toml").read_text()
    assert "max_rr_sets = 10000000" in text and "epsilon = 0.1 " in text
    text = text.replace("max_rr_sets = 10000000", "max_rr_sets = 10000")
    (folder / "capped.toml").write_text(text.replace("epsilon = 0.1 ", "epsilon = 0.02 "))
    r = cli("influence", "--config", str(folder / "capped.toml"))
    assert r.code == 0, r.err  # type: ignore[attr-defined]
    err = " ".join(r.err.split())  # type: ignore[attr-defined]
    assert "Warning:" in err and "max_rr_sets" in err and "epsilon 0.02" in err, err
