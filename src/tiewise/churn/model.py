"""The churn model: calibrated gradient boosting, and the measures it is judged by.

LightGBM's ``LGBMClassifier`` (native categorical splits, missing values handled, deterministic
with a seed) wrapped in scikit-learn's ``CalibratedClassifierCV`` (isotonic or sigmoid), so that
``p_churn`` is a probability that expected losses can be computed from.  The calibration is
3-fold (three boosters, averaged) unless the rows hold enough churners for one held-out fifth to
calibrate alone (:data:`HELD_OUT_CHURNERS`): then one booster is fitted on the other four fifths,
two and a half times fewer rows boosted and a third of the trees walked to predict.  scikit-learn's
``HistGradientBoostingClassifier`` with the same trees ranks and calibrates as well and was the
model until issue 19; LightGBM fits and predicts faster (``benchmarks/bench_churn.py``; the
figures are in docs/churn.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from joblib import parallel_config
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

from tiewise.churn.data import FloatArray

__all__ = [
    "HELD_OUT_CHURNERS",
    "ChurnModel",
    "Scores",
    "calibration_rows",
    "evaluate",
    "fit_predict",
    "lift_curve",
    "top_decile_lift",
]


HELD_OUT_CHURNERS = 10_000
"""Churners in the training rows from which the calibration holds out one fifth, not 3 folds.

One booster on four fifths ranks as well as three on two thirds each only with many churners:
on generated worlds the selected model's out-of-time AUC moved by -0.007 with 2,000 churners,
-0.0015 with 6,300 and +0.0002 with about 21,000 (docs/churn.md).
"""
HELD_OUT_SHARE = 0.2
"""The share of the training rows held out to calibrate when :data:`HELD_OUT_CHURNERS` is met."""


def calibration_rows(
    setting: Literal["auto", "folds", "held_out"], y: FloatArray
) -> Literal["folds", "held_out"]:
    """How a model of labels ``y`` is calibrated: ``setting``, or for ``"auto"`` the rule.

    ``"held_out"`` when ``y`` holds at least :data:`HELD_OUT_CHURNERS` churners, else
    ``"folds"``.

    Examples
    --------
    >>> calibration_rows("auto", np.ones(10)), calibration_rows("held_out", np.ones(10))
    ('folds', 'held_out')
    """
    if setting != "auto":
        return setting
    return "held_out" if np.sum(y) >= HELD_OUT_CHURNERS else "folds"


def top_decile_lift(y: FloatArray, score: FloatArray, share: float = 0.1) -> float:
    """Churn rate among the ``share`` highest scores divided by the overall churn rate.

    Ties at the boundary are broken by position (a stable sort), so the top group has exactly
    ``ceil(share * n)`` members.

    Examples
    --------
    >>> top_decile_lift(np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1.0]), np.arange(10.0)[::-1])
    5.0
    """
    y = np.asarray(y, dtype=np.float64)
    if y.sum() == 0 or len(y) == 0:
        return float("nan")
    k = max(1, int(np.ceil(share * len(y))))
    top = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")[:k]
    return float(y[top].mean() / y.mean())


def lift_curve(y: FloatArray, score: FloatArray, points: int = 20) -> pd.DataFrame:
    """Cumulative lift and share of churners captured at ``points`` equal steps of targeting."""
    y = np.asarray(y, dtype=np.float64)
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    hits = np.cumsum(y[order])
    shares = np.arange(1, points + 1) / points
    k = np.maximum(1, np.ceil(shares * len(y)).astype(np.int64))
    rate = y.mean() if len(y) else np.nan
    return pd.DataFrame(
        {
            "targeted_share": shares,
            "lift": hits[k - 1] / k / rate if rate > 0 else np.nan,
            "churners_captured": hits[k - 1] / max(hits[-1], 1.0) if len(y) else np.nan,
        }
    )


@dataclass(frozen=True)
class Scores:
    """How well a score ranks churners: ROC AUC, top-decile lift, Brier score."""

    auc: float
    lift: float
    brier: float | None


def evaluate(y: FloatArray, score: FloatArray, *, probability: bool = True) -> Scores:
    """AUC, top-decile lift and (for probabilities) the Brier score."""
    both = len(np.unique(y)) == 2
    return Scores(
        auc=float(roc_auc_score(y, score)) if both else float("nan"),
        lift=top_decile_lift(y, score),
        brier=float(brier_score_loss(y, score)) if probability and both else None,
    )


@cache
def _pools() -> ThreadpoolController:
    """The thread pools loaded (found once: ``threadpool_limits`` looks for them at every call)."""
    return ThreadpoolController()


class _Booster(ClassifierMixin, BaseEstimator):
    """LightGBM's classifier, told which columns are category codes and with its own threads.

    LightGBM takes the categorical columns as an argument of ``fit``, which the calibration does
    not pass on to its folds; this wrapper holds them.  The booster's ``n_jobs`` sets OpenMP's
    thread count in whichever thread fits or predicts, so that a calibration fold fitted on one
    of joblib's threads does not start one OpenMP thread per core.
    """

    def __init__(self, estimator: LGBMClassifier, categorical: tuple[int, ...] = ()) -> None:
        self.estimator = estimator
        self.categorical = categorical

    def fit(self, x: FloatArray, y: npt.NDArray[np.int64]) -> _Booster:
        self.estimator_ = clone(self.estimator).fit(
            x, y, categorical_feature=list(self.categorical)
        )
        self.classes_ = self.estimator_.classes_
        return self

    def decision_function(self, x: FloatArray) -> FloatArray:
        """The boosted log-odds, which the sigmoid or isotonic calibration maps to P(churn)."""
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict(x, raw_score=True), dtype=np.float64)


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Calibrated gradient boosting (LightGBM) over a fixed list of features.

    A scikit-learn classifier: ``get_params``/``set_params``, ``clone``, ``predict_proba``
    (the calibrated probabilities of ``classes_``, no churn then churn), ``predict`` (the more
    likely label), ``NotFittedError`` before :meth:`fit`.

    Parameters
    ----------
    features
        Column names used, in order.
    categorical
        Those of ``features`` that are category codes (-1 = unknown).
    increasing
        Features whose effect on churn is constrained to be non-decreasing (the social ones:
        more churn around a customer never lowers their risk) — fewer ways to fit noise.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf
        Boosting settings (small trees and large leaves: churners are few, noise is plenty).
    calibration
        ``"isotonic"`` or ``"sigmoid"`` (scikit-learn's ``CalibratedClassifierCV``).
    calibration_rows
        ``"auto"``: one held-out fifth of the rows calibrates one booster fitted on the rest when
        the rows hold at least :data:`HELD_OUT_CHURNERS` churners, else three folds calibrate
        three boosters (averaged); ``"folds"`` or ``"held_out"`` always.
    seed
        Random seed.
    threads
        OpenMP threads for boosting (LightGBM's ``n_jobs``; 1 by default: on a busy machine more
        threads spin and are many times slower).
    jobs
        Calibration folds fitted at once, each on its own Python thread (LightGBM releases the
        GIL; threads wait without spinning).  The folds are independent and seeded, so the
        model is the same whatever the number.
    """

    def __init__(
        self,
        *,
        features: list[str],
        categorical: list[str],
        max_iter: int = 100,
        learning_rate: float = 0.1,
        calibration: Literal["isotonic", "sigmoid"] = "sigmoid",
        seed: int = 0,
        threads: int = 1,
        max_leaf_nodes: int = 4,
        min_samples_leaf: int = 400,
        increasing: list[str] | None = None,
        jobs: int = 1,
        calibration_rows: Literal["auto", "folds", "held_out"] = "auto",
    ) -> None:
        self.features = features
        self.categorical = categorical
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.calibration = calibration
        self.seed = seed
        self.threads = threads
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.increasing = increasing
        self.jobs = jobs
        self.calibration_rows = calibration_rows

    def _matrix(self, frame: pd.DataFrame, features: list[str]) -> FloatArray:
        x = frame[features].to_numpy(np.float64, copy=True)
        for j, name in enumerate(features):
            if name in self.categorical:
                x[x[:, j] < 0, j] = np.nan
        return x

    def _informative(self, frame: pd.DataFrame, name: str) -> bool:
        values = self._matrix(frame, [name])[:, 0]
        values = values[~np.isnan(values)]
        return len(values) >= 20 and len(np.unique(values)) >= 2

    def fit(self, frame: pd.DataFrame, y: FloatArray) -> ChurnModel:
        """Fit on one cut-off's features and the churn that followed; returns ``self``.

        A feature known for fewer than 20 training rows, or with one value only (e.g. a purchase
        interval when almost nobody bought twice), is left out: it carries no information, and
        a cross-validation fold without any value of it breaks the binning.
        """
        # one column at a time, so that the matrix copied is only that of the features used
        self.used_ = np.array([self._informative(frame, name) for name in self.features], bool)
        used = self._used()
        booster = LGBMClassifier(
            n_estimators=self.max_iter,
            learning_rate=self.learning_rate,
            num_leaves=self.max_leaf_nodes,
            min_child_samples=self.min_samples_leaf,
            reg_lambda=1.0,
            monotone_constraints=[int(name in (self.increasing or ())) for name in used],
            n_jobs=self.threads,
            random_state=self.seed,
            deterministic=True,
            force_col_wise=True,
            verbose=-1,
        )
        categorical = tuple(j for j, name in enumerate(used) if name in self.categorical)
        positives = int(np.sum(y))
        folds: int | StratifiedShuffleSplit = 3 if min(positives, len(y) - positives) >= 6 else 2
        held_out = calibration_rows(self.calibration_rows, y) == "held_out"
        if held_out and min(positives, len(y) - positives) >= 2:
            folds = StratifiedShuffleSplit(1, test_size=HELD_OUT_SHARE, random_state=self.seed)
        self.calibrated_by_ = f"{self.calibration} on " + (
            f"{folds} folds ({folds} boosters averaged)"
            if isinstance(folds, int)
            else "a held-out fifth (one booster fitted on the rest)"
        )
        jobs = max(1, min(self.jobs, folds if isinstance(folds, int) else 1))
        self.model_ = CalibratedClassifierCV(
            _Booster(booster, categorical), method=self.calibration, cv=folds, n_jobs=jobs
        )
        with _pools().limit(limits=self.threads), parallel_config(backend="threading"):
            self.model_.fit(self._matrix(frame, used), np.asarray(y, dtype=np.int64))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, frame: pd.DataFrame) -> FloatArray:
        """Calibrated probabilities of ``classes_`` (column 1: churn within the horizon)."""
        check_is_fitted(self, "model_")
        with _pools().limit(limits=self.threads):
            p = self.model_.predict_proba(self._matrix(frame, self._used()))
        return np.asarray(p, dtype=np.float64)

    def _used(self) -> list[str]:
        return [name for name, keep in zip(self.features, self.used_, strict=True) if keep]

    def predict(self, frame: pd.DataFrame) -> npt.NDArray[np.int64]:
        """The more likely label of each row: 1 churn, 0 not."""
        labels = self.classes_[np.argmax(self.predict_proba(frame), axis=1)]
        return np.asarray(labels, dtype=np.int64)


def fit_predict(
    models: Sequence[ChurnModel],
    frame: pd.DataFrame,
    y: FloatArray,
    test: pd.DataFrame,
    jobs: int = 1,
) -> list[FloatArray]:
    """Fit every model on ``frame`` and ``y``; P(churn) of each on ``test``, in order.

    ``jobs`` threads share the work.  With several models, each thread fits whole models (their
    calibration folds one after the other), the models with the most features first; a single
    model fits its folds ``jobs`` at a time.  Three folds on two threads leave one idle a third
    of the time; four models on two do not (the evaluation's four models on the 100k demo: 8.1 s
    of wall time with each model's folds in parallel, 5.3-6.0 s a model a thread, the same CPU
    time).  Every model is seeded and fitted alone, so the probabilities are the same whatever
    ``jobs`` is.
    """
    workers = max(1, min(jobs, len(models)))
    each = max(1, jobs // workers)

    def one(model: ChurnModel) -> FloatArray:
        fitted = model.set_params(jobs=each).fit(frame, y)
        return np.asarray(fitted.predict_proba(test)[:, 1])

    if workers == 1:
        return [one(model) for model in models]
    # the largest first, so that the last one to finish is a small one
    order = sorted(range(len(models)), key=lambda i: -len(models[i].features))
    # the thread limits set here once, not entered and restored by each thread in turn
    with _pools().limit(limits=models[0].threads), ThreadPoolExecutor(workers) as pool:
        done = dict(zip(order, pool.map(one, [models[i] for i in order]), strict=True))
    return [done[i] for i in range(len(models))]
