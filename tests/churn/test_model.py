import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tiewise.churn.model import ChurnModel, evaluate, lift_curve, top_decile_lift


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


def test_model_learns_a_planted_risk_and_is_calibrated() -> None:
    # churn probability rises with x (a logistic); plan 1 doubles the odds; noise is ignored
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
    model = ChurnModel(features=["x", "plan", "noise"], categorical=["plan"], seed=1)
    pred = model.fit(frame[train], y[train]).predict_proba(frame[test])[:, 1]
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
