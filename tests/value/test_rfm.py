"""The RFM summary follows Fader, Hardie & Lee's protocol, on records checked by hand."""

import duckdb
import pandas as pd
import pytest

from tiewise.value.rfm import rfm_summary


def test_same_day_purchases_count_once_and_the_first_is_left_out_of_monetary() -> None:
    records = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "c"],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 18:00",
                    "2024-01-15",
                    "2024-01-29",
                    "2024-01-08",
                    "2024-03-01",
                ],
                format="ISO8601",
            ),
            "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 99.0],
        }
    )
    con = duckdb.connect()
    con.register("records", records)
    summary = rfm_summary(con, "records", calibration_end=pd.Timestamp("2024-02-12"))
    a, b = summary.set_index("customer_id").loc[["a", "b"]].itertuples()
    # a: purchase days Jan 1 (15), Jan 15 (20), Jan 29 (40); 6 weeks to Feb 12
    assert (a.frequency, a.recency, a.T) == (2, 4.0, 6.0)
    assert a.monetary == pytest.approx(30.0) and a.spend == pytest.approx(75.0)
    # b: one purchase, one week after a's first: no repeat, recency 0, monetary 0
    assert (b.frequency, b.recency, b.T, b.monetary) == (0, 0.0, 5.0, 0.0)
    # c bought after the calibration period: not in it
    assert summary["customer_id"].tolist() == ["a", "b"]
    days = rfm_summary(con, "records", calibration_end=pd.Timestamp("2024-02-12"), unit_days=1)
    assert days.loc[days["customer_id"] == "a", ["recency", "T"]].values.tolist() == [[28, 42]]
