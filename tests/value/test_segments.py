"""Social value and the financial x social segments on four customers checked by hand."""

import numpy as np
import pandas as pd
import pytest

from tiewise.config import ValueConfig
from tiewise.value.segments import assign_segments, social_value


@pytest.fixture
def four() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "tie_strength": [4.0, 3.0, 2.0, 1.0],  # percentiles 75, 50, 25, 0
            "contacts_voice": [0, 9, 1, 3],  # one channel: reach follows these counts
            "clv": [10.0, 400.0, 300.0, 20.0],
            "model_reason": ["m"] * 4,
            "historical_spend": [1.0] * 4,
            "network_value": [0.0] * 4,
            "true_value": [10.0, 400.0, 300.0, 20.0],
        }
    )


def test_missing_parts_are_left_out_and_the_weights_renormalised(four: pd.DataFrame) -> None:
    cfg = ValueConfig(social_weights={"knowledge": 5.0, "connections": 1.0, "reach": 3.0})
    out = social_value(four, cfg)
    assert out["social_connections"].tolist() == [75.0, 50.0, 25.0, 0.0]
    assert out["social_reach"].tolist() == [0.0, 75.0, 25.0, 50.0]
    # no knowledge column: its weight 5 is dropped, (1 x connections + 3 x reach) / 4
    np.testing.assert_allclose(out["social_value"], [18.75, 68.75, 25.0, 37.5])
    assert out["social_percentile"].tolist() == [0.0, 75.0, 25.0, 50.0]


def test_segments_follow_the_two_cutoffs_and_the_reason_names_them(four: pd.DataFrame) -> None:
    cfg = ValueConfig(financial_cutoff=50.0, social_cutoff=50.0)
    out = assign_segments(social_value(four, cfg), cfg, basis="clv", network_note="n")
    # financial percentiles of clv: a 0, b 75, c 50, d 25; social (equal weights, no knowledge):
    # connections 75/50/25/0 and reach 0/75/25/50 -> 37.5, 62.5, 25, 25 -> a 50, b 75, c 0, d 0
    assert out["financial_percentile"].tolist() == [0.0, 75.0, 50.0, 25.0]
    assert out["social_percentile"].tolist() == [50.0, 75.0, 0.0, 0.0]
    assert out["segment"].tolist() == ["Influencer", "Ambassador", "High spender", "Other"]
    assert out.loc[1, "reason"].startswith("Ambassador: financial p75 (clv 400.00) >= p50; social")
    assert "knowledge n/a" in out.loc[0, "reason"]


def _python_reason(row: pd.Series, cfg: ValueConfig, label: str, note: str) -> str:
    """The reason as Python's f-strings word it: the reference for DuckDB's wording."""

    def fmt(value: float) -> str:
        return "n/a" if np.isnan(value) else f"{value:.0f}"

    why = row["model_reason"] if isinstance(row["model_reason"], str) else None
    return (
        f"{row['segment']}: financial p{row['financial_percentile']:.0f} ({label} "
        f"{row['clv']:,.2f}) {'>=' if row['financial_percentile'] >= cfg.financial_cutoff else '<'}"
        f" p{cfg.financial_cutoff:g}; social p{row['social_percentile']:.0f} (value "
        f"{row['social_value']:.1f} = knowledge {fmt(row['social_knowledge'])}, connections "
        f"{fmt(row['social_connections'])}, reach {fmt(row['social_reach'])}) "
        f"{'>=' if row['social_percentile'] >= cfg.social_cutoff else '<'} "
        f"p{cfg.social_cutoff:g}. {why or 'no financial model result'}; spent "
        f"{row['historical_spend']:,.2f} to date; network value {row['network_value']:,.2f} "
        f"({note}); true value {row['true_value']:,.2f}"
        + (f"; moves {row['colleagues_moved']} of {row['colleagues_linked']} linked colleagues"
           if row["colleagues_linked"] else "")
    )  # fmt: skip


def test_duckdb_words_the_reasons_as_pythons_format_specs_do() -> None:
    """Random values, NaN, -0, halves and large sums, braces and quotes in the texts."""
    rng = np.random.default_rng(7)
    n = 3000

    def values(scale: float) -> np.ndarray:
        x = rng.normal(0, scale, n) * rng.choice([1e-3, 1.0, 1e3, 1e7], n)
        x[rng.random(n) < 0.05] = np.nan
        x[rng.random(n) < 0.03] = -0.0
        near = rng.random(n) < 0.05  # at the cent's rounding boundary (not exact in binary)
        x[near] = np.round(x[near], 2) + 0.005
        halves = rng.random(n) < 0.05  # exact halves: ties, rounded to even
        x[halves] = np.round(x[halves]) + 0.5
        return x

    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "tie_strength": rng.random(n),
            "contacts_voice": rng.integers(0, 9, n),
            "clv": values(50.0),
            "model_reason": rng.choice(["sBG {plan} 'a'", "no transactions", None], n),
            "historical_spend": values(100.0),
            "network_value": values(10.0),
            "true_value": values(100.0),
            "social_knowledge": np.where(
                rng.random(n) < 0.2, np.nan, np.round(rng.random(n) * 8) / 2
            ),
            "colleagues_linked": rng.integers(0, 3, n),
            "colleagues_moved": rng.integers(0, 2, n),
        }
    )
    cfg = ValueConfig(financial_cutoff=80.0, social_cutoff=72.5)
    note = "from {the} influence stage 'x'"
    out = assign_segments(social_value(frame, cfg), cfg, basis="clv", network_note=note)
    expected = [_python_reason(row, cfg, "clv", note) for _, row in out.iterrows()]
    assert out["reason"].tolist() == expected
