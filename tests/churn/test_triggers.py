import numpy as np
import pandas as pd
from test_features import toy

from tiewise.churn.features import behaviour
from tiewise.churn.triggers import find_triggers


def test_triggers_by_hand() -> None:
    data = toy()
    # customer 0 buys every 10 days until day -40; customer 2 monthly bills, last at -1
    tx = pd.DataFrame(
        {
            "idx": [0, 0, 0, 0, 2, 2, 2],
            "day": [-70.0, -60.0, -50.0, -40.0, -61.0, -31.0, -1.0],
            "amount": 1.0,
        }
    )
    feats = behaviour(data, tx, 0.0, recent_weeks=2, lookback_weeks=10)
    p_alive = pd.Series({"c3": 0.2, "c5": 0.9})
    t = find_triggers(
        data,
        feats,
        p_alive,
        recent_weeks=2,
        recency_factor=2.0,
        usage_drop=0.5,
        p_alive_threshold=0.5,
    )
    got = {(r.customer_id, r.trigger) for r in t.itertuples()}
    # 0: 40 days since the last purchase, usually every 10, never a gap over 10 -> overdue,
    #    dated when 20 days had passed (day -20)
    assert ("c0", "purchase_overdue") in got
    row = t[(t.customer_id == "c0") & (t.trigger == "purchase_overdue")].iloc[0]
    assert row.trigger_date == pd.Timestamp("2026-03-11")
    assert row.usual == 10.0 and row.observed == 40.0
    # 2: billed on time; active in 2 of 10 weeks (usual gap 35 days), silent 28 days: no trigger
    assert not {trig for c, trig in got if c == "c2"}
    # 5: active weeks 0..2 only, then silent for 7 weeks = 49 days > 2 x (7 / 0.3) days
    assert ("c5", "silent") in got
    assert ("c3", "p_alive") in got and ("c5", "p_alive") not in got
    assert t["evidence"].str.len().gt(10).all()


def test_usage_drop_needs_a_real_drop() -> None:
    data = toy()
    feats = behaviour(data, None, 0.0, recent_weeks=2, lookback_weeks=10)
    frame = feats.frame.copy()
    # a heavy user falling from 20 to 5 contacts a week is flagged; 2 -> 1 is noise
    frame.loc[0, ["usage_recent", "usage_baseline", "usage_ratio"]] = [5.0, 20.0, 0.25]
    frame.loc[1, ["usage_recent", "usage_baseline", "usage_ratio"]] = [1.0, 2.0, 0.5]
    feats = type(feats)(cut=feats.cut, index=feats.index, frame=frame, weeks=feats.weeks)
    t = find_triggers(
        data,
        feats,
        None,
        recent_weeks=2,
        recency_factor=2.0,
        usage_drop=0.5,
        p_alive_threshold=0.5,
    )
    drops = t[t.trigger == "usage_drop"]
    ids = data.ids[feats.index]
    assert drops["customer_id"].tolist() == [ids[0]]
    assert drops["trigger_date"].iloc[0] == pd.Timestamp("2026-03-17")
    assert np.isclose(drops["change"].iloc[0], -0.75)
