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
