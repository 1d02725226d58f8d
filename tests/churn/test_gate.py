"""The held-out gates that decide which feature sets today's model uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tiewise.churn import stage
from tiewise.churn.stage import feature_gate
from tiewise.config import ChurnConfig


def _data(n: int = 6000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({f: rng.normal(size=n) for f in ("a", "b", "c", "noise")})
    logit = -2.5 + frame["a"] + 0.8 * frame["b"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return frame, y, np.arange(n) // 2  # two rows per customer


def test_gates_share_the_model_they_have_in_common(monkeypatch: pytest.MonkeyPatch) -> None:
    frame, y, who = _data()
    cfg = ChurnConfig(max_iter=20)
    fitted: list[tuple[str, ...]] = []
    real = stage.fit_predict

    def counting(models, *args, **kwargs):  # type: ignore[no-untyped-def]
        fitted.extend(tuple(m.features) for m in models)
        return real(models, *args, **kwargs)

    monkeypatch.setattr(stage, "fit_predict", counting)
    alone = [
        feature_gate(frame, y, who, cfg, 3, ["a"], ["b"]),
        feature_gate(frame, y, who, cfg, 3, ["a", "b"], ["noise"]),
    ]
    assert len(fitted) == 4
    fitted.clear()
    held_out: dict[tuple[str, ...], np.ndarray] = {}
    shared = [
        feature_gate(frame, y, who, cfg, 3, ["a"], ["b"], held_out=held_out),
        feature_gate(frame, y, who, cfg, 3, ["a", "b"], ["noise"], held_out=held_out),
    ]
    # the second gate starts from the first one's larger model: three fits, not four
    assert fitted == [("a",), ("a", "b"), ("a", "b", "noise")]
    assert shared == alone
    assert alone[0][0] and alone[0][1] > 1.645  # b carries signal
    assert not alone[1][0]  # noise does not
