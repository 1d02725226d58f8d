"""The value stage's CLV on a DataFrame: CDNOW's published figures, and bad input named."""

import pandas as pd
import pytest

from tiewise.datasets import cdnow_transactions
from tiewise.exceptions import InputError
from tiewise.value.clv import clv_from_transactions


def test_cdnow_transactions_give_the_published_fit_and_lifetimes_clv() -> None:
    fit = clv_from_transactions(
        cdnow_transactions(), calibration_end="1997-09-30", months=12, monthly_discount=0.01
    )
    customers = fit.customers
    assert len(customers) == 2357 and fit.spend is not None
    for name, published in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert fit.purchases.params_[name] == pytest.approx(published, rel=0.01)
    for name, published in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert fit.spend.params_[name] == pytest.approx(published, rel=0.01)
    assert customers["p_alive"].mean() == pytest.approx(0.8134, rel=0.01)
    # lifetimes' documented 61.26 uses 4.345 weeks a month; ours 30.4375 / 7 = 4.348
    repeat = customers.loc[customers["frequency"] > 0, "clv"].mean()
    assert repeat == pytest.approx(61.26, rel=0.01)


def test_too_few_repeat_buyers_use_the_mean_spend_and_say_so_by_spend_none() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(30)] + ["c0", "c1"],
            "timestamp": pd.to_datetime(["2024-01-01"] * 30 + ["2024-02-01", "2024-03-01"]),
            "amount": [10.0] * 30 + [30.0, 50.0],
        }
    )
    fit = clv_from_transactions(frame, calibration_end=None)
    assert fit.spend is None
    assert (fit.customers["expected_spend"] == fit.customers["spend"].mean()).all()


def test_missing_columns_are_named() -> None:
    with pytest.raises(InputError, match="no column 'amount'"):
        clv_from_transactions(pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"]}))
