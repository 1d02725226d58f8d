"""The influence scores' reasons: built column-wise, worded as the row-by-row reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tiewise.influence import scores
from tiewise.influence.scores import ALL, BASIS, _reason, reasons


def _grid(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shown = rng.random(n) < 0.5
    adoptions = np.where(rng.random(n) < 0.3, rng.integers(1, 4, n), 0)
    basis = np.where(
        ~shown,
        np.where(rng.random(n) < 0.5, BASIS["not_shown"], BASIS["no_adoptions"]),
        np.where(adoptions > 0, BASIS["timing"], BASIS["no_adoptions"]),
    )
    return pd.DataFrame(
        {
            "category": rng.choice(["devices", "roaming", ALL], n),
            "influence_shown": shown,
            "adoptions": adoptions.astype(np.int64),
            "basis": basis,
            "structural_top_pct": rng.random(n) * 100,
            "contacts": rng.integers(0, 400, n),
            "customer_contacts": rng.integers(0, 300, n),
            "followers": rng.integers(0, 9, n).astype(np.float64),
            "followers_expected": rng.random(n) * 5,
            "influence_score": rng.random(n) * 20,
            "influence_low": rng.random(n),
            "influence_high": rng.random(n) * 30,
            "p_value": rng.random(n),
            "influence_multiplier": rng.random(n) * 3,
            "lead_days": np.where(rng.random(n) < 0.5, "0.1, 0.4", None),
        },
        index=rng.permutation(n),  # reasons keep the frame's own index
    )


@pytest.mark.parametrize(("window", "method"), [(14.0, "collective_influence"), (0.0, "pagerank")])
@pytest.mark.parametrize("at_once", [100_000, 97])
def test_reasons_match_the_row_by_row_wording(
    window: float, method: str, at_once: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scores, "_ROWS_AT_ONCE", at_once)
    grid = _grid(3000, seed=int(window))
    expected = [_reason(r, window, method) for r in grid.itertuples(index=False)]
    got = reasons(grid, window, method)
    assert list(got.index) == list(grid.index)
    assert got.tolist() == expected
    assert len(set(got.str.split(" ").str[0])) >= 3  # every kind of sentence was there
    assert reasons(grid.iloc[:0], window, method).empty
