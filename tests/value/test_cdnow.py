"""The BG/NBD and Gamma-Gamma fits on CDNOW against Fader, Hardie & Lee (2005)."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from tiewise.datasets import cdnow_summary, cdnow_transactions
from tiewise.value.bgnbd import BetaGeoModel, GammaGammaModel, bgnbd_log_likelihood
from tiewise.value.clv import discounted_clv
from tiewise.value.rfm import rfm_summary


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    con = duckdb.connect()
    con.register("raw", cdnow_transactions())
    # the paper's protocol: 39 weeks from 1997-01-01, i.e. up to 1997-09-30 inclusive, in weeks
    return rfm_summary(con, "raw", calibration_end=pd.Timestamp("1997-09-30"), unit_days=7.0)


@pytest.fixture(scope="module")
def fitted(summary: pd.DataFrame) -> tuple[BetaGeoModel, GammaGammaModel]:
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    bg = BetaGeoModel().fit(x, t_x, T)
    gg = GammaGammaModel().fit(x, summary["monetary"].to_numpy(float))
    return bg, gg


def test_summary_built_from_raw_records_matches_the_shipped_one(summary: pd.DataFrame) -> None:
    shipped = cdnow_summary()
    assert len(summary) == len(shipped) == 2357
    merged = summary.merge(shipped, on="customer_id", validate="one_to_one")
    assert (merged["frequency"] == merged["x"]).all()
    assert (merged["frequency"] == 0).sum() == 1411
    # the shipped file rounds to 2 decimals
    np.testing.assert_allclose(merged["recency"], merged["t_x"], atol=0.0051)
    np.testing.assert_allclose(merged["T_x"], merged["T_y"], atol=0.0051)
    np.testing.assert_allclose(merged["monetary"], merged["zbar"], atol=0.0051)


def close(value: float, published: float) -> None:
    assert value == pytest.approx(published, rel=0.01), f"{value} vs published {published}"


def test_bgnbd_reproduces_the_published_estimates(fitted: tuple[BetaGeoModel, GammaGammaModel]):
    bg, _ = fitted
    for name, published in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        close(bg.params_[name], published)
    close(bg.log_likelihood_, -9582.4)
    assert bg.n_customers_ == 2357 and bg.n_distinct_ < 2357


def test_gamma_gamma_reproduces_the_published_estimates(
    fitted: tuple[BetaGeoModel, GammaGammaModel],
) -> None:
    _, gg = fitted
    for name, published in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        close(gg.params_[name], published)
    assert gg.n_customers_ == 946


def test_cross_checks_p_alive_forecast_and_clv(
    summary: pd.DataFrame, fitted: tuple[BetaGeoModel, GammaGammaModel]
) -> None:
    bg, gg = fitted
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    close(float(bg.p_alive(x, t_x, T).mean()), 0.8134)
    close(float(bg.conditional_expected_purchases(39.0, x, t_x, T).sum()), 1653.4)
    spend = gg.expected_spend(x, summary["monetary"].to_numpy(float))
    clv = discounted_clv(
        bg, x, t_x, T, spend, months=12, monthly_discount=0.01, units_per_month=4.345
    )
    # lifetimes' convention (freq="W"), averaged over the customers with a repeat purchase
    close(float(clv[x > 0].mean()), 61.26)


def test_weighted_fit_equals_unweighted_and_the_optimum_is_a_maximum(
    summary: pd.DataFrame, fitted: tuple[BetaGeoModel, GammaGammaModel]
) -> None:
    bg, _ = fitted
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    plain = BetaGeoModel().fit(x, t_x, T, collapse_rows=False)
    for name in bg.params_:
        assert plain.params_[name] == pytest.approx(bg.params_[name], rel=1e-4)
    best = np.array(list(bg.params_.values()))
    at_best = bgnbd_log_likelihood(best, x, t_x, T).sum()
    assert at_best == pytest.approx(bg.log_likelihood_, rel=1e-9)
    for i in range(4):
        for step in (0.97, 1.03):
            moved = best.copy()
            moved[i] *= step
            assert bgnbd_log_likelihood(moved, x, t_x, T).sum() < at_best


def test_expected_purchases_agree_with_simulation() -> None:
    rng = np.random.default_rng(5)
    r, alpha, a, b = 0.5, 6.0, 1.4, 3.0
    n, horizon = 40_000, 52.0
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    counts = np.zeros(n)
    for i in range(n):  # purchases while alive; may drop out after each purchase
        t = rng.exponential(1 / lam[i])
        while t <= horizon:
            counts[i] += 1
            if rng.random() < p[i]:
                break
            t += rng.exponential(1 / lam[i])
    model = BetaGeoModel.from_params(r=r, alpha=alpha, a=a, b=b)
    expected = float(model.expected_purchases(horizon))
    assert counts.mean() == pytest.approx(expected, rel=0.03)


def test_analytic_gradients_match_finite_differences(summary: pd.DataFrame) -> None:
    from scipy.optimize import approx_fprime

    from tiewise.value.bgnbd import (
        bgnbd_gradient,
        gamma_gamma_gradient,
        gamma_gamma_log_likelihood,
    )

    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    point = np.array([0.3, 5.0, 0.9, 2.0])
    numeric = approx_fprime(point, lambda p: bgnbd_log_likelihood(p, x, t_x, T).sum(), 1e-7)
    np.testing.assert_allclose(bgnbd_gradient(point, x, t_x, T).sum(axis=1), numeric, rtol=1e-4)
    rep = x > 0
    m = summary["monetary"].to_numpy(float)[rep]
    point = np.array([5.0, 3.0, 14.0])
    numeric = approx_fprime(point, lambda p: gamma_gamma_log_likelihood(p, x[rep], m).sum(), 1e-7)
    np.testing.assert_allclose(
        gamma_gamma_gradient(point, x[rep], m).sum(axis=1), numeric, rtol=1e-4
    )


def test_scoring_distinct_summaries_equals_scoring_every_customer(
    summary: pd.DataFrame, fitted: tuple[BetaGeoModel, GammaGammaModel]
) -> None:
    from tiewise.value.clv import score_customers

    bg, gg = fitted
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    spend = gg.expected_spend(x, summary["monetary"].to_numpy(float))
    scores = score_customers(bg, x, t_x, T, months=12, monthly_discount=0.01)
    np.testing.assert_allclose(scores.p_alive, bg.p_alive(x, t_x, T))
    np.testing.assert_allclose(
        scores.expected_purchases,
        bg.conditional_expected_purchases(12 * 30.4375 / 7, x, t_x, T),
    )
    np.testing.assert_allclose(
        spend * scores.discounted_purchases, discounted_clv(bg, x, t_x, T, spend)
    )


def test_hypergeometric_series_fallback_matches_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.special

    import tiewise.value.bgnbd as bgnbd

    a = np.array([0.5, 3.0, 40.0, 250.0])
    b, c = np.array([2.0, 5.0, 12.0, 60.0]), np.array([2.5, 7.0, 30.0, 61.0])
    z = np.array([0.2, 0.6, 0.01, 0.002])
    expected = scipy.special.hyp2f1(a, b, c, z)
    monkeypatch.setattr(bgnbd, "hyp2f1", lambda *args: np.full(np.shape(args[3]), np.nan))
    np.testing.assert_allclose(bgnbd._hyp2f1(a, b, c, z), expected, rtol=1e-10)
