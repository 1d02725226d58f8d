"""The value stage end to end on both generated scenarios, against the generator's hidden truth."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from tiewise.config import load_config, template
from tiewise.exceptions import InputError
from tiewise.ingest.pseudonym import pseudonymise
from tiewise.pipeline import RunResult, run_pipeline, run_value
from tiewise.store import Workspace
from tiewise.synth import B2BParams, TelcoParams, generate_b2b, generate_telco

KEY_HEX = "3c" * 32
CONTRACT = [
    "customer_id",
    "historical_spend",
    "clv",
    "p_alive",
    "network_value",
    "true_value",
    "social_value",
    "financial_percentile",
    "social_percentile",
    "segment",
    "reason",
]


def _run(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[RunResult, Path]:
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    config_path = folder / "tiewise.toml"
    config_path.write_text(template(folder / "data", config_dir=folder))
    return run_pipeline(load_config(config_path)), config_path


def _tables(config_path: Path) -> dict[str, pd.DataFrame]:
    with Workspace.open(load_config(config_path).workspace_path, read_only=True) as ws:
        names = {t.name for t in ws.tables()}
        return {
            n: ws.table(n).df()
            for n in (
                "customer_value",
                "value_segments",
                "value_models",
                "engagement_weights",
                "retention_cohorts",
                "churn_events",
            )
            if n in names
        }


def _truth(folder: Path) -> pd.DataFrame:
    truth = pd.read_parquet(folder / "data" / "truth" / "nodes.parquet")
    key = bytes.fromhex(KEY_HEX)
    truth["customer_id"] = [pseudonymise(i, key) for i in truth["id"]]
    return truth


def _check_contract(
    tables: dict[str, pd.DataFrame], cutoff_f: float = 80.0, cutoff_s: float = 80.0
) -> pd.DataFrame:
    cv = tables["customer_value"]
    assert set(CONTRACT) <= set(cv.columns)
    assert cv["customer_id"].is_unique
    np.testing.assert_allclose(cv["true_value"], cv["clv"] + cv["network_value"])
    assert (cv["clv"] >= 0).all() and (cv["historical_spend"] >= 0).all()
    high_f = cv["financial_percentile"] >= cutoff_f
    high_s = cv["social_percentile"] >= cutoff_s
    expected = np.select(
        [high_f & high_s, high_s, high_f], ["Ambassador", "Influencer", "High spender"], "Other"
    )
    assert (cv["segment"] == expected).all()
    assert cv["reason"].str.contains(f"p{cutoff_f:g}; social").all()
    assert cv["reason"].str.contains(f" p{cutoff_s:g}. ").all()
    seg = tables["value_segments"].set_index("segment")
    assert seg["customers"].sum() == len(cv)
    for name, part in cv.groupby("segment"):
        assert seg.loc[name, "customers"] == len(part)
        assert seg.loc[name, "total_true_value"] == pytest.approx(part["true_value"].sum())
    # percentiles: the top 20% by value are at or above the 80th percentile (ties aside)
    assert high_f.mean() <= 1 - cutoff_f / 100 + 1e-9
    assert high_s.mean() <= 1 - cutoff_s / 100 + 1e-9
    return cv


@pytest.fixture(scope="module")
def telco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vtelco")
    generate_telco(TelcoParams(customers=3_000, days=90, seed=5), out / "data")
    return out


@pytest.fixture(scope="module")
def telco_run(telco: Path) -> tuple[RunResult, Path]:
    """The whole pipeline once on the telco data (tests that change it work on a copy)."""
    with pytest.MonkeyPatch.context() as mp:
        return _run(telco, mp)


def test_telco_subscriptions_are_valued_with_the_sbg_model(
    telco: Path, telco_run: tuple[RunResult, Path]
) -> None:
    result, config_path = telco_run
    assert result.value is not None and result.value.model == "sbg"
    tables = _tables(config_path)
    cv = _check_contract(tables)
    churned = cv["customer_id"].isin(set(tables["churn_events"]["customer_id"]))
    assert churned.any()
    assert (cv.loc[churned, "clv"] == 0).all() and (cv.loc[churned, "p_alive"] == 0).all()
    alive = cv[~churned]
    assert (alive["clv"] > 0).all()
    # a subscriber cannot be worth more than a full undiscounted horizon at her monthly revenue
    assert (alive["clv"] <= 12 * alive["monthly_revenue"] + 1e-9).all()
    # the fitted retention reproduces the churn seen in the window, cohort by cohort in total
    cohorts = tables["retention_cohorts"]
    expected = ((1 - cohorts["fitted_monthly_retention"]) * cohorts["subscriber_months"]).sum()
    assert cohorts["churned"].sum() == pytest.approx(expected, rel=0.15)
    # one retention model per plan, each matching its plan's churn in the 90-day window
    assert {"sBG", "sBG (plan=prepaid_s)", "sBG (plan=postpaid_m)"} <= set(
        tables["value_models"]["model"]
    )
    for name, part in cv.groupby("sbg_model"):
        observed = part["churned"].mean() / (90 / 30.4375)  # monthly
        fitted = 1 - part.loc[~part["churned"], "p_renew_next"].mean()
        assert fitted == pytest.approx(observed, rel=0.35), name
    # social reach follows the hidden number of contacts
    merged = cv.merge(_truth(telco), on="customer_id")
    rho = spearmanr(merged["social_reach"], merged["true_degree"]).statistic
    assert rho > 0.6, rho
    assert alive["reason"].str.contains(r"sBG \(plan=\w+\): subscribed \d+ months").all()
    html = result.report_path.read_text()
    assert "Customer value and the Ambassadors" in html and "Retention by signup cohort" in html


def test_value_command_reruns_deterministically_and_reads_network_value(
    telco: Path, telco_run: tuple[RunResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    shutil.copytree(telco, tmp_path / "telco")  # this test writes to the workspace
    config_path = tmp_path / "telco" / "tiewise.toml"
    config = load_config(config_path)
    first = run_value(config)
    before = _tables(config_path)["customer_value"]
    # a rerun is a run: where it spent its time and memory is in the runs table too
    with Workspace.open(config.workspace_path) as ws:
        newest = ws.runs()[0]
    assert newest["run_id"] == first.run_id
    stages = json.loads(newest["stages"])
    assert (
        [s["stage"] for s in stages]
        == list(first.seconds)
        == [
            "Valuing customers: lifetime, social, segments",
            "Writing the report",
        ]
    )
    assert all(s["seconds"] > 0 for s in stages)
    run_value(config)
    again = _tables(config_path)["customer_value"]
    pd.testing.assert_frame_equal(before, again)
    # an influence stage's network_value flows into true value
    with Workspace.open(config.workspace_path) as ws, ws.run(command="test") as run:
        ids = before["customer_id"].iloc[:10].tolist()
        run.write_table(
            "network_value",
            pd.DataFrame({"customer_id": ids, "network_value": np.arange(10, dtype=float) * 100}),
            stage="influence",
            description="test",
            check=False,
        )
    run_value(config)
    after = _tables(config_path)["customer_value"].set_index("customer_id")
    np.testing.assert_allclose(after.loc[ids, "network_value"], np.arange(10) * 100.0)
    np.testing.assert_allclose(after["true_value"], after["clv"] + after["network_value"])
    assert first.value.customers == len(after)


@pytest.fixture(scope="module")
def b2b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vb2b")
    generate_b2b(B2BParams(accounts=80, days=300, seed=4), out / "data")
    return out


@pytest.fixture(scope="module")
def b2b_run(b2b: Path) -> Path:
    """The whole pipeline once on the B2B data; each test reruns the value stage its own way."""
    with pytest.MonkeyPatch.context() as mp:
        return _run(b2b, mp)[1]


def test_b2b_contacts_get_bgnbd_values_engagement_and_reach(
    b2b: Path, b2b_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    config_path = b2b_run
    result = run_value(load_config(config_path, value={"learn_weights_from": "reference"}))
    assert result.value is not None and result.value.model == "bgnbd"
    tables = _tables(config_path)
    cv = _check_contract(tables)
    buyers = cv["purchases"] > 0
    assert cv.loc[buyers, "p_alive"].between(0, 1).all()
    assert cv.loc[~buyers, "p_alive"].isna().all() and (cv.loc[~buyers, "clv"] == 0).all()
    assert cv.loc[~buyers, "reason"].str.contains("no purchase yet").all()
    models = tables["value_models"]
    assert set(models["model"]) == {"BG/NBD", "Gamma-Gamma"}
    # email flags: about the top 10% of openers (ties at the boundary aside)
    assert 0.05 <= cv["top_opens"].mean() <= 0.11
    assert (cv["email_opens_pct"][cv["top_opens"]] >= 90).all()
    # reach inside the account: colleagues moved are among colleagues linked
    assert (cv["colleagues_linked"] > 0).mean() > 0.5
    assert (cv["colleagues_moved"] <= cv["colleagues_linked"]).all()
    assert cv["colleagues_moved"].sum() > 0
    # learned weights: reported with a hold-out AUC better than chance
    weights = tables["engagement_weights"]
    auc = weights["holdout_auc"].iloc[0]
    assert auc > 0.6, auc
    assert weights["source"].str.startswith("learned from reference").all()
    # the engagement score follows the hidden advocacy trait
    merged = cv.merge(_truth(b2b), on="customer_id")
    rho = spearmanr(merged["engagement_score"], merged["advocacy"]).statistic
    assert rho > 0.3, rho
    html = result.report_path.read_text()
    assert "Engagement weights (learned from reference)" in html


def test_configured_engagement_weights_follow_advocacy(
    b2b: Path, b2b_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = b2b_run
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    run_value(load_config(config_path, value={"social_cutoff": 70.0}))
    tables = _tables(config_path)
    assert (tables["engagement_weights"]["source"] == "config").all()
    _check_contract(tables, cutoff_f=80.0, cutoff_s=70.0)
    merged = tables["customer_value"].merge(_truth(b2b), on="customer_id")
    assert spearmanr(merged["engagement_score"], merged["advocacy"]).statistic > 0.3


def test_weights_learned_from_expansion_and_bad_outcomes(
    b2b: Path, b2b_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = b2b_run
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    # expansion revenue as the outcome: learned, reported with its hold-out AUC
    run_value(load_config(config_path, value={"learn_weights_from": "transactions:expansion"}))
    weights = _tables(config_path)["engagement_weights"]
    assert (weights["source"] == "learned from transactions:expansion").all()
    assert 0.0 <= weights["holdout_auc"].iloc[0] <= 1.0
    config = load_config(config_path, value={"learn_weights_from": "transactions:refund"})
    with pytest.raises(InputError, match="at least 10 with and 10 without"):
        run_value(config)
    config = load_config(config_path, value={"learn_weights_from": "no_such_event"})
    with pytest.raises(InputError, match="no such event_type"):
        run_value(config)
