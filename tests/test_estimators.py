"""One contract test over every model class: scikit-learn's estimator conventions.

``get_params``/``set_params``, ``clone`` (an unfitted copy with the same settings), scikit-learn's
``NotFittedError`` before ``fit``, ``fit`` returning ``self`` and learning only attributes that
end in ``_``; classifiers also ``predict_proba`` (rows summing to 1) and ``predict`` (labels).
scikit-learn's own ``check_estimator`` needs estimators of a numeric ``X`` alone; these models
take purchase summaries, lifetimes or named feature columns, so the checks are written out here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from tiewise.churn.model import ChurnModel
from tiewise.datasets import cdnow_summary
from tiewise.value.bgnbd import BetaGeoModel, GammaGammaModel
from tiewise.value.sbg import ShiftedBetaGeometric


@dataclass
class Case:
    """A model, a setting to change, the data to fit it on, and a method that scores."""

    make: Callable[[], BaseEstimator]
    setting: tuple[str, Any]
    fit_args: Callable[[], tuple[Any, ...]]
    score: Callable[[Any], Any]


def _summary() -> tuple[Any, ...]:
    s = cdnow_summary()
    return tuple(s[c].to_numpy(float) for c in ("x", "t_x", "T"))


def _spend() -> tuple[Any, ...]:
    s = cdnow_summary()
    return s["x"].to_numpy(float), s["zbar"].to_numpy(float)


def _lifetimes() -> tuple[Any, ...]:
    # Fader & Hardie (2007), regular customers: still subscribed after each year
    alive = np.array([1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173], float)
    counts = np.concatenate([-np.diff(alive), alive[-1:]]).astype(np.int64)
    last = np.repeat(np.concatenate([np.arange(1, alive.size), [alive.size - 1]]), counts)
    churned = np.repeat(np.arange(alive.size) < alive.size - 1, counts)
    return np.zeros(last.size), last, churned


def _churn_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=3000), "plan": rng.integers(0, 3, 3000)})


def _churn() -> tuple[Any, ...]:
    frame = _churn_frame()
    y = (np.random.default_rng(1).random(len(frame)) < 1 / (1 + np.exp(2 - frame["x"]))) * 1.0
    return frame, y


CASES = {
    "BetaGeoModel": Case(
        BetaGeoModel,
        ("start", (0.5, 1.0, 1.0, 1.0)),
        _summary,
        lambda m: m.p_alive(*_summary()),
    ),
    "GammaGammaModel": Case(
        GammaGammaModel,
        ("start", (2.0, 2.0, 1.0)),
        _spend,
        lambda m: m.expected_spend(*_spend()),
    ),
    "ShiftedBetaGeometric": Case(
        ShiftedBetaGeometric,
        ("start", (0.5, 0.5)),
        _lifetimes,
        lambda m: m.survival(np.arange(5)),
    ),
    "ChurnModel": Case(
        lambda: ChurnModel(features=["x", "plan"], categorical=["plan"], min_samples_leaf=50),
        ("learning_rate", 0.05),
        _churn,
        lambda m: m.predict_proba(_churn_frame()),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_model_follows_the_scikit_learn_estimator_contract(name: str) -> None:
    case = CASES[name]
    model = case.make()
    assert isinstance(model, BaseEstimator)
    params = model.get_params()
    assert params, "the settings are the constructor's keyword arguments"
    key, value = case.setting
    assert model.set_params(**{key: value}) is model
    assert model.get_params()[key] == value

    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert repr(copy).startswith(type(model).__name__)

    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    with pytest.raises(NotFittedError):
        case.score(model)

    before = set(vars(model))
    assert model.fit(*case.fit_args()) is model
    learned = set(vars(model)) - before
    assert learned and all(a.endswith("_") and not a.startswith("_") for a in learned), learned
    check_is_fitted(model)
    scored = case.score(model)
    assert np.all(np.isfinite(np.asarray(scored, dtype=float)))
    assert model.get_params() == {**params, key: value}  # fitting leaves the settings alone

    refit = clone(model)  # unfitted, and refits to the same answer (every step is seeded)
    with pytest.raises(NotFittedError):
        check_is_fitted(refit)
    np.testing.assert_array_equal(case.score(refit.fit(*case.fit_args())), scored)

    if is_classifier(model):
        x = case.fit_args()[0]
        proba = model.predict_proba(x)
        assert proba.shape == (len(x), len(model.classes_))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        labels = model.predict(x)
        assert set(np.unique(labels)) <= set(model.classes_)
        np.testing.assert_array_equal(labels, model.classes_[np.argmax(proba, axis=1)])
