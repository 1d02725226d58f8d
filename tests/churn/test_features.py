"""Features on a hand-made network whose answers can be counted by hand."""

import datetime
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tiewise.churn.data import ChurnData
from tiewise.churn.features import behaviour, population, social, weeks_before


def bits(*weeks: int) -> int:
    return sum(1 << w for w in weeks)


def toy() -> ChurnData:
    """Six customers and one off-network contact over 10 weeks (as-of = end of week 9).

    0 - 1 strong (every week), 0 - 2 weak (weeks 0, 5), 0 - 3 (every week), 3 - 4, 4 - 5,
    0 - 6 (off-network).  Customer 1 churned at day -20 (in week 7), 4 at day -50.
    Customer 0 is active in weeks 0..9 with 1 (until it churned), 3 and 6; 2 only twice.
    """
    every = bits(*range(10))
    until_1 = bits(*range(7))
    n = 7
    return ChurnData(
        ids=np.array([f"c{i}" for i in range(n)], dtype=object),
        is_customer=np.array([True] * 6 + [False]),
        churn_day=np.array([np.inf, -20.0, np.inf, np.inf, -50.0, np.inf, np.inf]),
        u=np.array([0, 0, 0, 3, 4, 0]),
        v=np.array([1, 2, 3, 4, 5, 6]),
        week_bits=np.array([until_1, bits(0, 5), every, bits(0, 1, 2), bits(0, 1, 2), every]),
        week_start=-70.0 + 7.0 * np.arange(10),
        data_start=-70.0,
        as_of=datetime.datetime(2026, 3, 31),
        community=np.array([0, 0, 0, 1, 1, 1, 0]),
        is_leader=np.array([False, True, False, False, True, False, False]),
        plan=np.zeros(n, dtype=np.int64),
        plan_names=["p"],
        segment=np.zeros(n, dtype=np.int64),
        segment_names=["s"],
        monthly_fee=np.full(n, 10.0),
        signup_day=np.full(n, -400.0),
        records=np.array([12, 2, 40, 6, 3, 40]),
        last_day=np.array([-20.5, -30.0, -1.0, -55.0, -52.0, -1.0]),
    )


def test_population_and_weeks() -> None:
    data = toy()
    assert population(data, 0.0).tolist() == [0, 2, 3, 5]
    assert population(data, -30.0).tolist() == [0, 1, 2, 3, 5]
    assert weeks_before(data, 0.0).tolist() == list(range(10))
    assert weeks_before(data, -21.0).tolist() == list(range(7))
    assert weeks_before(data, -21.0, 3).tolist() == [4, 5, 6]


def test_usage_features_by_hand() -> None:
    data = toy()
    f = behaviour(data, None, 0.0, recent_weeks=2, lookback_weeks=10)
    row = dict(zip(f.index.tolist(), f.frame.to_dict("records"), strict=True))
    # customer 0: weeks 0..6 four contacts (1, 3, 6 and in weeks 0, 5 also 2), weeks 7..9 two
    weekly = [4, 3, 3, 3, 3, 4, 3, 2, 2, 2]
    assert row[0]["usage_recent"] == pytest.approx(2.0)
    assert row[0]["usage_baseline"] == pytest.approx(np.mean(weekly[:8]))
    assert row[0]["contacts_active"] == 4
    # customer 2: active in weeks 0 and 5 only -> silent for 4 weeks
    assert row[2]["weeks_since_active"] == 4
    assert row[2]["active_week_share"] == pytest.approx(0.2)
    assert row[5]["usage_recent"] == 0 and row[5]["weeks_since_active"] == 7


def test_social_features_by_hand() -> None:
    data = toy()
    f = behaviour(data, None, 0.0, recent_weeks=2, lookback_weeks=10)
    s = social(
        data,
        f,
        data.community,
        data.is_leader,
        social_days=30,
        community_days=60,
        spread_factor=0.5,
        spread_iterations=3,
    )
    row = dict(zip(f.index.tolist(), s.to_dict("records"), strict=True))
    # customer 0: contacts 1 (churned at -20, 7 active weeks), 2 (2 weeks), 3 (10), 6 (10)
    assert row[0]["churned_contacts_recent"] == 1
    assert row[0]["churned_share_recent"] == pytest.approx(7 / (7 + 2 + 10 + 10))
    assert row[0]["strong_contacts"] == 3  # at least half of the 10 weeks
    assert row[0]["strong_churned_recent"] == 1
    # exposure: contact 1 left 20 days ago, decayed over 14 days; the only tie of a recent
    # churner, so its strength is its records over their average: 1, pulling 1 / 2
    assert row[0]["churn_exposure"] == pytest.approx(0.5 * np.exp(-20 / 14))
    assert row[0]["days_since_contact_churn"] == pytest.approx(20.0)
    assert row[2]["churn_exposure"] == 0 and np.isnan(row[2]["days_since_contact_churn"])
    # community 0: customers 0, 1, 2 (6 is off-network); 1 churned, and it was a leader
    assert row[0]["community_churn_rate"] == pytest.approx(1 / 3)
    assert row[0]["leader_churned"] == 1
    assert row[2]["leader_churned"] == 1
    # customer 5: its contact 4 churned at -50: not recent, but within 60 days
    assert row[5]["churned_contacts_recent"] == 0
    assert row[5]["churned_contacts_longer"] == 1
    assert row[5]["spreading_activation"] == 0  # customer 4 is not a recent churner
    assert row[0]["spreading_activation"] > row[3]["spreading_activation"] > 0
    # customer 3: community 1 = 3, 4, 5; 4 churned within 60 days and was a leader
    assert row[3]["community_churn_rate"] == pytest.approx(1 / 3)


def test_features_ignore_everything_after_the_cut() -> None:
    """Changing what happens after the cut-off changes no feature (no leakage)."""
    data = toy()
    later = replace(
        data,
        churn_day=np.where(np.arange(7) == 2, -5.0, data.churn_day),  # 2 churns after the cut
        week_bits=data.week_bits & bits(*range(6)),  # and nobody calls after week 5
        # so pairs in contact after the cut have fewer records, the last of them before it
        records=np.array([9, 2, 30, 6, 3, 30]),
        last_day=np.array([-29.0, -30.0, -29.0, -55.0, -52.0, -29.0]),
    )
    for d in (data, later):
        f = behaviour(d, None, -28.0, recent_weeks=2, lookback_weeks=6)
        s = social(
            d,
            f,
            d.community,
            d.is_leader,
            social_days=30,
            community_days=60,
            spread_factor=0.5,
            spread_iterations=3,
        )
        frame = f.frame.join(s)
        if d is data:
            first = frame
    pd.testing.assert_frame_equal(first, frame)


def test_purchase_rhythm() -> None:
    data = toy()
    tx = pd.DataFrame(
        {
            "idx": [0, 0, 0, 0, 2, 2],
            "day": [-70.0, -60.0, -50.0, -49.5, -65.0, -5.0],
            "amount": [10.0, 10.0, 10.0, 5.0, 20.0, 20.0],
        }
    )
    f = behaviour(data, tx, 0.0, recent_weeks=2, lookback_weeks=10)
    row = dict(zip(f.index.tolist(), f.frame.to_dict("records"), strict=True))
    # customer 0: three distinct purchase days over 20.5 days -> every 10.25; 49.5 days since
    assert row[0]["purchase_interval"] == pytest.approx(20.5 / 2)
    assert row[0]["days_since_purchase"] == pytest.approx(49.5)
    assert row[0]["purchases"] == 4
    assert np.isnan(row[2]["purchase_interval"])  # only two purchase days
    assert row[2]["spend_recent"] == 20.0
