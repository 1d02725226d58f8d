"""The churn stage end to end on generated telco data, against the generator's hidden truth.

At the fast tests' size (20,000 subscribers over 180 days) the top-decile lift of one 30-day
window moves by 10-20% from seed to seed, so the fast tests assert what is stable there: the
social features pass the held-out gate and raise the AUC when churn spreads, are rejected when it
does not, and spreading activation alone carries signal only when churn spreads.  The bars of
issue 7 on the lift itself (+15% with contagion, at most +2% for the model in use without) are
asserted at 100,000 subscribers in the slow test, and measured at 1M in
``benchmarks/bench_churn.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from tiewise.churn.data import load_churn_data
from tiewise.churn.features import behaviour, social, weekly_usage_from_bits
from tiewise.churn.model import HELD_OUT_CHURNERS
from tiewise.churn.stage import _calibration_rows
from tiewise.config import ChurnConfig, load_config
from tiewise.ingest.pseudonym import pseudonymise
from tiewise.pipeline import RunResult, run_pipeline
from tiewise.store import Workspace

if TYPE_CHECKING:
    from conftest import RunTelco

KEY_HEX = "6b" * 32


@pytest.fixture(scope="module")
def independent(
    tmp_path_factory: pytest.TempPathFactory, run_telco: RunTelco
) -> tuple[Path, RunResult]:
    root = tmp_path_factory.mktemp("independent")
    with pytest.MonkeyPatch.context() as mp:
        return root, run_telco(root, 0.0, mp)


def _lifts(result: RunResult) -> dict[str, float]:
    assert result.churn is not None and result.churn.skipped is None
    return {k: float(v["lift"] or 0) for k, v in result.churn.evaluation.items()}


def test_social_features_help_when_churn_spreads(contagious: tuple[Path, RunResult]) -> None:
    _, result = contagious
    assert result.churn is not None and result.churn.skipped is None
    ev = result.churn.evaluation
    assert result.churn.social_used  # held-out z > 1.645
    talk = " + conversations" if result.churn.conversations_used else ""
    assert ev["selected"] == ev["behaviour + social" + talk]
    assert float(ev["behaviour + social"]["auc"] or 0) > float(ev["behaviour"]["auc"] or 0) + 0.01
    assert float(ev["spreading activation alone"]["auc"] or 0) > 0.53  # a signal by itself


def test_no_spurious_social_signal_without_contagion(
    independent: tuple[Path, RunResult],
) -> None:
    _, result = independent
    assert result.churn is not None and result.churn.skipped is None
    ev = result.churn.evaluation
    assert not result.churn.social_used
    talk = " + conversations" if result.churn.conversations_used else ""
    assert ev["selected"] == ev["behaviour" + talk]  # the model gains nothing spurious
    spread_auc = float(ev["spreading activation alone"]["auc"] or 0)
    assert abs(spread_auc - 0.5) < 0.04


@pytest.mark.slow
@pytest.mark.parametrize("contagion", [1.0, 0.0])
def test_lift_bars_at_100k(
    contagion: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_telco: RunTelco
) -> None:
    """Issue 7's bars on the generator's default 90 days at 100,000 subscribers."""
    result = run_telco(
        tmp_path, contagion, monkeypatch, customers=100_000, days=90, records=50.0, seed=3
    )
    lift = _lifts(result)
    assert result.churn is not None
    print(f"contagion {contagion}: lifts {lift}, social z {result.churn.social_z:.2f}")
    talk = " + conversations" if result.churn.conversations_used else ""
    if contagion:
        assert lift["behaviour + social"] >= 1.15 * lift["behaviour"], lift
        assert lift["selected"] == lift["behaviour + social" + talk]
    else:  # no spurious social gain (the generator's warnings are real signal)
        assert lift["selected"] <= 1.02 * lift["behaviour" + talk], lift


def test_tables_scores_and_reasons(contagious: tuple[Path, RunResult]) -> None:
    root, result = contagious
    cfg = load_config(root / "tiewise.toml")
    with Workspace.open(cfg.workspace_path, read_only=True) as ws:
        scores = ws.table("churn_scores").df()
        priority = ws.table("retention_priority").df()
        triggers = ws.table("churn_triggers").df()
        churned = set(ws.table("churn_events").df()["customer_id"])
        value = ws.table("customer_value").df()[["customer_id", "clv", "network_value"]]
        as_of = ws.con.execute("SELECT as_of FROM link_meta").fetchall()[0][0]
        evaluated = "SELECT model, calibration FROM churn_evaluation"
        calibrated = dict(ws.con.execute(evaluated).fetchall())
    # far fewer than 10,000 churners in the training rows: three folds, said for each model
    assert calibrated.pop("spreading activation alone") is None
    assert set(calibrated.values()) == {"sigmoid on 3 folds (3 boosters averaged)"}
    # every current customer once, nobody who already churned
    assert scores["customer_id"].is_unique
    assert not set(scores["customer_id"]) & churned
    assert scores["p_churn"].between(0, 1).all()
    # calibrated: the mean probability is near the churn rate of the last horizon
    assert result.churn is not None
    assert scores["p_churn"].mean() == pytest.approx(result.churn.churn_rate, rel=0.35)
    # ranked by expected loss, which is p x value
    assert priority["expected_loss"].is_monotonic_decreasing
    assert priority["rank"].tolist() == list(range(1, len(priority) + 1))
    # ... with the value stage's figures, not the churn stage's own: its customer_value table
    # (a customer the value stage did not value costs nothing)
    valued = scores.merge(value, on="customer_id", how="left", suffixes=("", "_v"), validate="1:1")
    worth = valued["clv_v"].fillna(0.0) + valued["network_value_v"].fillna(0.0)
    assert (worth > 0).mean() > 0.5
    np.testing.assert_allclose(valued["expected_loss"], valued["p_churn"] * worth)
    assert priority["reason"].str.contains("(customer_value)", regex=False).all()  # value stage ran
    social = scores[scores["strong_churned_recent"] > 0]
    assert social["reason"].str.contains("strong contacts churned in 30 days").all()
    assert social["p_churn"].mean() > 1.5 * scores["p_churn"].mean()
    # triggers are dated inside the data and carry their evidence
    said = {"negative_post", "complaint_burst"}  # the generator's conversations
    assert set(triggers["trigger"]) <= {"usage_drop", "silent", "purchase_overdue", *said}
    assert (pd.to_datetime(triggers["trigger_date"]) <= pd.Timestamp(as_of)).all()
    drops = triggers[triggers["trigger"] == "usage_drop"]
    assert (drops["observed"] <= 0.5 * drops["usual"]).all()
    assert drops["evidence"].str.startswith("usage down").all()


def test_contacts_who_churned_match_the_generators_truth(
    contagious: tuple[Path, RunResult],
) -> None:
    """Current customers whose true contact churned in the last 30 days are the ones flagged."""
    root, _ = contagious
    key = bytes.fromhex(KEY_HEX)
    truth = pd.read_parquet(root / "data" / "truth" / "nodes.parquet")
    edges = pd.read_parquet(root / "data" / "truth" / "edges.parquet")
    cfg = load_config(root / "tiewise.toml")
    with Workspace.open(cfg.workspace_path, read_only=True) as ws:
        scores = ws.table("churn_scores").df().set_index("customer_id")
        as_of = ws.con.execute("SELECT as_of FROM link_meta").fetchall()[0][0]
    recent = truth[
        (truth["churn_time"] > pd.Timestamp(as_of) - pd.Timedelta(days=30))
        & (truth["churn_time"] <= pd.Timestamp(as_of))
    ]["id"]
    a, b = edges.columns[:2]
    hit = pd.concat([edges[edges[a].isin(recent)][b], edges[edges[b].isin(recent)][a]])
    flagged = {pseudonymise(str(x), key) for x in hit.unique()} & set(scores.index)
    assert len(flagged) > 50
    seen = scores.loc[sorted(flagged), "churned_contacts_recent"] > 0
    assert seen.mean() > 0.6  # most true ties are observed (some never call in the window)
    others = scores.drop(index=sorted(flagged))["churned_contacts_recent"] > 0
    assert others.mean() < 0.02


def test_churn_command_with_customer_value_and_report(
    contagious: tuple[Path, RunResult], cli: Callable[..., Any]
) -> None:
    """`tiewise churn` re-runs the stage; with customer_value, loss uses clv + network value."""
    root, _ = contagious
    cfg = load_config(root / "tiewise.toml")
    with Workspace.open(cfg.workspace_path) as ws:
        ws.con.execute(  # the value stage's table, with values the test can check
            "UPDATE customer_value SET clv = 100.0, "
            "network_value = CASE WHEN customer_id IN "
            "(SELECT customer_id FROM churn_scores WHERE is_leader) THEN 50.0 ELSE 0.0 END, "
            "p_alive = CASE WHEN customer_id IN (SELECT customer_id FROM churn_scores "
            "ORDER BY customer_id LIMIT 10) THEN 0.2 ELSE 0.9 END"
        )
    result = cli("churn", "--config", str(root / "tiewise.toml"))
    assert result.code == 0, result.err
    assert "Social features used" in result.out
    assert "customer_value" in result.out
    with Workspace.open(cfg.workspace_path, read_only=True) as ws:
        scores = ws.table("churn_scores").df()
        triggers = ws.table("churn_triggers").df()
    np.testing.assert_allclose(
        scores["expected_loss"],
        scores["p_churn"] * np.where(scores["is_leader"], 150.0, 100.0),
    )
    assert scores["reason"].str.contains("+ network value", regex=False).all()
    assert scores["reason"].str.contains("(customer_value)", regex=False).all()
    assert (triggers["trigger"] == "p_alive").sum() == 10
    html = (root / "report.html").read_text(encoding="utf-8")
    assert "Churn and retention" in html
    assert "with and without social features" in html


def test_churn_command_needs_a_workspace(tmp_path: Path, cli: Callable[..., Any]) -> None:
    (tmp_path / "t.toml").write_text('workspace = "nowhere"\n')
    result = cli("churn", "--config", str(tmp_path / "t.toml"))
    assert result.code == 2
    assert "tiewise run" in result.err


def test_skipped_with_the_reason_without_churn_input(project: Path) -> None:
    result = run_pipeline(load_config(project / "tiewise.toml"))
    assert result.churn is not None
    assert result.churn.skipped is not None and "no churn input" in result.churn.skipped
    with Workspace.open(load_config(project / "tiewise.toml").workspace_path) as ws:
        assert "churn_scores" not in {t.name for t in ws.tables()}


def test_weekly_usage_from_customer_weeks_equals_the_count_from_week_bits(
    contagious: tuple[Path, RunResult], tmp_path: Path
) -> None:
    """The links stage's customer_weeks (SQL) gives the churn stage the counts of its pairs."""
    root, _ = contagious
    cfg = load_config(root / "tiewise.toml")
    shutil.copytree(cfg.workspace_path, tmp_path / "ws")
    with Workspace.open(tmp_path / "ws") as ws, ws.run(command="test") as run:
        data = load_churn_data(run)
    assert data.weekly_contacts is not None
    weeks = np.arange(data.weekly_contacts.shape[1])
    assert len(weeks) >= 20
    np.testing.assert_array_equal(data.weekly_contacts, weekly_usage_from_bits(data, weeks))
    assert data.weekly_contacts.sum() > 5 * data.n


def test_exposure_points_at_the_generators_contagious_churners(
    contagious: tuple[Path, RunResult], tmp_path: Path
) -> None:
    """At a cut-off, those the generator will pull out next (their infector already gone) carry
    several times the churn exposure of customers who stay, and more than spontaneous churners."""
    root, _ = contagious
    cfg = load_config(root / "tiewise.toml")
    shutil.copytree(cfg.workspace_path, tmp_path / "ws")
    with Workspace.open(tmp_path / "ws") as ws, ws.run(command="test") as run:
        data = load_churn_data(run)
    cut = -60.0
    feats = behaviour(data, None, cut, recent_weeks=2, lookback_weeks=8)
    soc = social(
        data,
        feats,
        data.community,
        data.is_leader,
        social_days=60,
        community_days=60,
        spread_factor=0.5,
        spread_iterations=3,
    )
    truth = pd.read_parquet(root / "data" / "truth" / "nodes.parquet")
    key = bytes.fromhex(KEY_HEX)
    as_of = pd.Timestamp(data.as_of)
    day = (truth["churn_time"] - as_of) / pd.Timedelta(days=1)
    infector_day = truth["churn_infector"].map(dict(zip(truth["id"], day, strict=True)))
    truth = truth.assign(day=day, infector_day=infector_day)
    truth.index = [pseudonymise(str(x), key) for x in truth["id"]]
    rows = truth.reindex(data.ids[feats.index])
    later = (rows["day"] > cut) & (rows["day"] <= cut + 30)
    gone_first = rows["infector_day"] <= cut
    pulled = (later & (rows["churn_cause"] == "contagion") & gone_first).to_numpy()
    alone = (later & (rows["churn_cause"] == "spontaneous")).to_numpy()
    stay = rows["day"].isna().to_numpy()
    exposure = soc["churn_exposure"].to_numpy()
    assert pulled.sum() >= 30
    assert exposure[pulled].mean() > 3 * exposure[stay].mean()
    assert exposure[pulled].mean() > 2 * exposure[alone].mean()
    assert (exposure[pulled] > 0).mean() > 0.5  # most of them have an observed tie to the one gone


def test_calibration_rows_are_decided_once_from_the_evaluations_training_rows() -> None:
    # today's model, trained on more rows, must be calibrated as the evaluation measured
    cfg = ChurnConfig()
    few, many = np.zeros(50_000), np.zeros(50_000)
    few[: HELD_OUT_CHURNERS - 1] = 1
    many[:HELD_OUT_CHURNERS] = 1
    assert _calibration_rows(cfg, few).calibration_rows == "folds"
    assert _calibration_rows(cfg, many).calibration_rows == "held_out"
    chosen = cfg.model_copy(update={"calibration_rows": "folds"})
    assert _calibration_rows(chosen, many).calibration_rows == "folds"
