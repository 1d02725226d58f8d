from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tiewise.churn.model import (
    ChurnModel,
    evaluate,
    fit_predict,
    lift_curve,
    top_decile_lift,
)


def test_top_decile_lift_by_hand() -> None:
    y = np.zeros(100)
    y[[0, 1, 2, 50, 60, 70, 80, 90]] = 1  # 8% churn; 3 of the 10 top scores churn
    score = -np.arange(100.0)
    assert top_decile_lift(y, score) == pytest.approx(0.3 / 0.08)
    # a perfect score puts all 8 churners in the top 10
    assert top_decile_lift(y, y) == pytest.approx(0.8 / 0.08)


def test_lift_curve_ends_at_one_and_captures_everyone() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.1).astype(float)
    curve = lift_curve(y, rng.random(1000))
    assert curve["lift"].iloc[-1] == pytest.approx(1.0)
    assert curve["churners_captured"].iloc[-1] == pytest.approx(1.0)
    assert curve["churners_captured"].is_monotonic_increasing


@pytest.mark.parametrize("rows", ["folds", "held_out"])
def test_model_learns_a_planted_risk_and_is_calibrated(rows: str) -> None:
    # churn probability rises with x (a logistic); plan 1 doubles the odds; noise is ignored;
    # calibrated on three folds or on a held-out fifth alike
    rng = np.random.default_rng(3)
    n = 20_000
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "plan": rng.integers(0, 3, n),
            "noise": rng.normal(size=n),
        }
    )
    logit = -3.0 + 1.0 * frame["x"] + np.log(2.0) * (frame["plan"] == 1)
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p).astype(float)
    train, test = slice(0, n // 2), slice(n // 2, n)
    model = ChurnModel(
        features=["x", "plan", "noise"], categorical=["plan"], seed=1, calibration_rows=rows
    )
    pred = model.fit(frame[train], y[train]).predict_proba(frame[test])[:, 1]
    assert len(model.model_.calibrated_classifiers_) == (3 if rows == "folds" else 1)
    truth_auc = roc_auc_score(y[test], p[test])
    assert roc_auc_score(y[test], pred) > truth_auc - 0.02
    # calibrated: mean prediction matches the churn rate per quintile of the prediction
    bins = pd.qcut(pred, 5, labels=False)
    for b in range(5):
        sel = bins == b
        assert pred[sel].mean() == pytest.approx(y[test][sel].mean(), abs=0.02)
    scores = evaluate(y[test], pred)
    assert scores.brier is not None and scores.brier < np.mean((y[test] - y[test].mean()) ** 2)


def test_model_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=3000), "plan": rng.integers(0, 2, 3000)})
    y = (rng.random(3000) < 1 / (1 + np.exp(2 - frame["x"]))).astype(float)
    a = ChurnModel(features=["x", "plan"], categorical=["plan"], seed=4).fit(frame, y)
    b = ChurnModel(features=["x", "plan"], categorical=["plan"], seed=4).fit(frame, y)
    np.testing.assert_array_equal(a.predict_proba(frame), b.predict_proba(frame))
    # the calibration folds fitted at once, on threads: the same model
    c = ChurnModel(features=["x", "plan"], categorical=["plan"], seed=4, jobs=3).fit(frame, y)
    np.testing.assert_array_equal(a.predict_proba(frame), c.predict_proba(frame))


def test_auto_calibration_holds_a_fifth_out_from_enough_churners(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame, y = _planted()
    churners = int(y.sum())
    model = ChurnModel(features=["x", "z", "plan"], categorical=["plan"], seed=4)
    monkeypatch.setattr("tiewise.churn.model.HELD_OUT_CHURNERS", churners + 1)
    assert len(model.fit(frame, y).model_.calibrated_classifiers_) == 3
    assert model.calibrated_by_ == "sigmoid on 3 folds (3 boosters averaged)"
    monkeypatch.setattr("tiewise.churn.model.HELD_OUT_CHURNERS", churners)
    assert len(model.fit(frame, y).model_.calibrated_classifiers_) == 1
    assert model.calibrated_by_ == "sigmoid on a held-out fifth (one booster fitted on the rest)"


def _planted(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "z": rng.normal(size=n), "plan": rng.integers(0, 2, n)}
    )
    y = (rng.random(n) < 1 / (1 + np.exp(2 - frame["x"] - frame["z"]))).astype(float)
    return frame, y


def test_fit_predict_gives_each_model_its_own_probabilities_whatever_the_jobs() -> None:
    frame, y = _planted()
    test, _ = _planted(seed=1)
    sets = [["x", "plan"], ["x", "z", "plan"], ["z"]]

    def models() -> list[ChurnModel]:
        return [ChurnModel(features=s, categorical=["plan"], seed=4) for s in sets]

    alone = [
        ChurnModel(features=s, categorical=["plan"], seed=4).fit(frame, y).predict_proba(test)[:, 1]
        for s in sets
    ]
    for jobs in (1, 2, 3):
        together = fit_predict(models(), frame, y, test, jobs)
        assert len(together) == len(sets)
        for a, b in zip(alone, together, strict=True):
            np.testing.assert_array_equal(a, b)
    # the models are different ones (the order is kept)
    assert not np.array_equal(together[0], together[2])


def _splits(node: dict[str, Any]) -> list[tuple[int, str]]:
    """(feature, decision type) of every split in a tree dumped by LightGBM."""
    if "split_feature" not in node:
        return []
    here = [(int(node["split_feature"]), str(node["decision_type"]))]
    return here + _splits(node["left_child"]) + _splits(node["right_child"])


def test_every_calibration_fold_gets_the_category_columns_and_the_thread_count() -> None:
    # LightGBM takes its category columns as an argument of fit, which the calibration does not
    # pass on to its folds, and sets OpenMP's thread count from n_jobs in the thread that fits:
    # each fold, fitted on its own thread, must have both
    rng = np.random.default_rng(5)
    n = 6000
    plan = rng.integers(0, 6, n)
    frame = pd.DataFrame({"x": rng.normal(size=n), "plan": plan})
    # plans 1 and 4 churn more: no single threshold on the code separates them from the others
    y = (rng.random(n) < np.where(np.isin(plan, [1, 4]), 0.3, 0.05)).astype(float)
    model = ChurnModel(features=["x", "plan"], categorical=["plan"], seed=4, jobs=3)
    model.set_params(threads=1).fit(frame, y)
    folds = model.model_.calibrated_classifiers_
    assert len(folds) == 3
    for fold in folds:
        booster = fold.estimator.estimator_.booster_
        assert booster.params["num_threads"] == 1
        splits = {
            s for tree in booster.dump_model()["tree_info"] for s in _splits(tree["tree_structure"])
        }
        assert (1, "==") in splits  # plan split as a category
        assert (1, "<=") not in splits
