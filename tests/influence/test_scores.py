"""The influence scores' reasons: worded by DuckDB as the row-by-row reference here words them."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from tiewise.influence.scores import ALL, BASIS, reason_sql


def _structural(r: Any, method: str) -> str:
    return (
        f"ranked by {method.replace('_', ' ')} (top {r.structural_top_pct:.1f}%), "
        f"{r.contacts} contacts"
    )


def _reason(r: Any, window: float, method: str) -> str:
    """The reference wording, one row at a time."""
    where = "" if r.category == ALL else f" in {r.category}"
    if not r.influence_shown:
        why = (
            "no adoptions in the inputs"
            if r.basis == BASIS["no_adoptions"]
            else f"adoption timing shows no influence{where}"
        )
        seen = (
            f"; {r.followers:g} contacts adopted the same item within {window:g} days after "
            f"(chance gives {r.followers_expected:.1f})"
            if r.adoptions > 0 and window > 0
            else ""
        )
        return (
            f"structural fallback, not evidence of influence ({why}): "
            f"{_structural(r, method)}{seen}"
        )
    if r.adoptions == 0:
        return f"no adoptions{where} yet, so no adoptions caused; {_structural(r, method)}"
    leads = f"; lead times {r.lead_days} days" if isinstance(r.lead_days, str) else ""
    what = "any item" if r.category == ALL else f"the same {r.category} item"
    return (
        f"caused an estimated {r.influence_score:.1f} adoptions (90% interval "
        f"{r.influence_low:.1f}–{r.influence_high:.1f}) beyond homophily and the base rate: "
        f"{r.followers:g} of {r.customer_contacts} customer contacts adopted {what} within "
        f"{window:g} days after ({r.adoptions} adoption{'s' if r.adoptions != 1 else ''}; "
        f"{r.followers_expected:.1f} expected from shuffled timing, p={r.p_value:.3f}); "
        f"{r.influence_multiplier:.1f}x the pull of an average customer{leads}"
    )


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
            # a category with a quote and braces: names reach the text as data, not as format
            "category": rng.choice(["devices", "it's {x}", ALL], n),
            "influence_shown": shown,
            "adoptions": adoptions.astype(np.int64),
            "basis": basis,
            "structural_top_pct": rng.random(n) * 100,
            "contacts": rng.integers(0, 400, n),
            "customer_contacts": rng.integers(0, 300, n),
            "followers": np.where(
                rng.random(n) < 0.1, rng.random(n) * 1e7, rng.integers(0, 9, n)
            ).astype(np.float64),
            "followers_expected": rng.random(n) * 5,
            "influence_score": rng.random(n) * 20,
            "influence_low": rng.random(n),
            "influence_high": rng.random(n) * 30,
            "p_value": rng.random(n),
            "influence_multiplier": rng.random(n) * 3,
            "lead_days": np.where(rng.random(n) < 0.5, "0.1, 0.4", None),
        }
    )


@pytest.mark.parametrize(
    ("window", "method"), [(14.0, "collective_influence"), (0.0, "pagerank"), (0.5, "k_shell")]
)
def test_reasons_match_the_row_by_row_wording(window: float, method: str) -> None:
    grid = _grid(3000, seed=int(window * 10))
    expected = [_reason(r, window, method) for r in grid.itertuples(index=False)]
    con = duckdb.connect()
    con.register("grid", grid)
    got = [r[0] for r in con.execute(f"SELECT {reason_sql(window, method)} FROM grid").fetchall()]
    assert got == expected
    assert len({g.split(" ")[0] for g in got}) >= 3  # every kind of sentence was there
