"""Discounted customer lifetime value over a horizon, from a purchase model and a spend model.

The convention is the one of lifetimes' ``customer_lifetime_value`` (and pymc-marketing's): the
horizon is cut into months; month ``i``'s expected purchases are the difference of the cumulative
conditional expectation at the month's end and start, valued at the Gamma-Gamma expected spend
per purchase, and discounted by ``(1 + d) ** i``::

    CLV = margin * sum_{i=1..H} E[spend] * (E[X(i m)] - E[X((i-1) m)]) / (1 + d) ** i

with ``m`` a month's length in the model's time unit (lifetimes' ``freq="W"`` uses 4.345 weeks;
the value stage uses ``30.4375 / unit_days``). On CDNOW (weeks, 12 months, d = 1 % a month,
4.345 weeks a month) the mean over the 946 customers with a repeat purchase -- the customers the
Gamma-Gamma model is fitted on, as in lifetimes' documented example -- is 61.26 (30.34 over all
2,357; lifetimes' default ``freq="D"`` on weekly data would silently use 30 weeks a month and
give 218.38).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from tiewise.exceptions import InputError
from tiewise.shared import DAYS_PER_MONTH, FloatArray
from tiewise.value.bgnbd import BetaGeoModel, GammaGammaModel, collapse
from tiewise.value.rfm import rfm_summary

__all__ = [
    "ClvFit",
    "RfmScores",
    "clv_from_summary",
    "clv_from_transactions",
    "discounted_clv",
    "score_customers",
]


@dataclass(frozen=True)
class RfmScores:
    """Per-customer forecasts of a BG/NBD model (see :func:`score_customers`)."""

    p_alive: FloatArray
    expected_purchases: FloatArray
    discounted_purchases: FloatArray


def score_customers(
    model: BetaGeoModel,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    units_per_month: float = DAYS_PER_MONTH / 7.0,
) -> RfmScores:
    """P(alive), expected purchases over ``months`` and their discounted count, per customer.

    Computed once per distinct ``(frequency, recency, T)`` and spread back to the customers, so
    that scoring millions costs as much as scoring their distinct summaries. ``clv = margin *
    spend_per_purchase * discounted_purchases`` (the same as :func:`discounted_clv`).
    """
    (x, t_x, age), _, inverse = collapse(
        *(np.asarray(c, dtype=np.float64) for c in (frequency, recency, T))
    )
    alive = model.p_alive(x, t_x, age)
    before = np.zeros(len(x))
    discounted = np.zeros(len(x))
    for i in range(1, months + 1):
        cumulative = model.conditional_expected_purchases(i * units_per_month, x, t_x, age)
        discounted += (cumulative - before) / (1.0 + monthly_discount) ** i
        before = cumulative
    inverse = inverse.ravel()
    return RfmScores(
        p_alive=alive[inverse],
        expected_purchases=before[inverse],
        discounted_purchases=discounted[inverse],
    )


def discounted_clv(
    model: BetaGeoModel,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,
    spend_per_purchase: FloatArray,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    units_per_month: float = DAYS_PER_MONTH / 7.0,
    margin: float = 1.0,
) -> FloatArray:
    """Expected discounted value of each customer's purchases over the next ``months``.

    Examples
    --------
    >>> import numpy as np
    >>> m = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> one = np.array([1.0]), np.array([20.0]), np.array([38.0]), np.array([30.0])
    >>> round(float(discounted_clv(m, *one, units_per_month=4.345)[0]), 2)
    21.38
    """
    before = np.zeros(np.shape(frequency))
    value = np.zeros(np.shape(frequency))
    for i in range(1, months + 1):
        cumulative = model.conditional_expected_purchases(
            i * units_per_month, frequency, recency, T
        )
        value += spend_per_purchase * (cumulative - before) / (1.0 + monthly_discount) ** i
        before = cumulative
    result: FloatArray = margin * value
    return result


@dataclass(frozen=True)
class ClvFit:
    """The value stage's BG/NBD + Gamma-Gamma forecast (see :func:`clv_from_summary`)."""

    customers: pd.DataFrame
    purchases: BetaGeoModel
    spend: GammaGammaModel | None  # None: fewer than 3 repeat buyers, everyone's mean spend


def clv_from_summary(
    summary: pd.DataFrame,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    unit_days: float = 7.0,
    margin: float = 1.0,
) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma to an RFM summary and forecast each customer, as the value stage.

    Parameters
    ----------
    summary
        One row per customer with ``frequency``, ``recency``, ``T`` (in units of ``unit_days``),
        ``monetary`` and ``spend``, as :func:`~tiewise.value.rfm.rfm_summary` returns.
    months, monthly_discount, margin
        The horizon, the discount rate per month and the share of spend that is value.
    unit_days
        Days per time unit of the summary (7: weeks).

    Returns
    -------
    ClvFit
        ``customers``: the summary with ``p_alive``, ``expected_purchases`` (over ``months``),
        ``expected_spend`` (per purchase) and ``clv``; the fitted models.  With fewer than
        three repeat buyers the spend model is not fitted: every customer's expected spend is
        the mean total spend (``spend`` is None).
    """
    x, t_x, T = (summary[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))
    m = summary["monetary"].to_numpy(np.float64)
    bg = BetaGeoModel().fit(x, t_x, T)
    gg: GammaGammaModel | None = None
    if int((x > 0).sum()) >= 3:
        gg = GammaGammaModel().fit(x, m)
        spend = gg.expected_spend(x, m)
    else:  # too few repeat buyers for the spend model: everyone's mean first spend
        spend = np.full(len(x), float(summary["spend"].mean()))
    scores = score_customers(
        bg,
        x,
        t_x,
        T,
        months=months,
        monthly_discount=monthly_discount,
        units_per_month=DAYS_PER_MONTH / unit_days,
    )
    customers = summary.assign(
        p_alive=scores.p_alive,
        expected_purchases=scores.expected_purchases,
        expected_spend=spend,
        clv=margin * spend * scores.discounted_purchases,
    )
    return ClvFit(customers=customers, purchases=bg, spend=gg)


def clv_from_transactions(
    transactions: pd.DataFrame,
    *,
    calibration_end: dt.date | dt.datetime | str | None = None,
    months: int = 12,
    monthly_discount: float = 0.01,
    unit_days: float = 7.0,
    margin: float = 1.0,
) -> ClvFit:
    """The value stage's CLV on a transactions DataFrame, without a workspace.

    ``transactions`` has ``customer_id``, ``timestamp`` and ``amount`` (one row per purchase);
    purchases after ``calibration_end`` (default: the last purchase's day) are ignored.  The
    summary follows :func:`~tiewise.value.rfm.rfm_summary`; the forecast
    :func:`clv_from_summary`.

    Examples
    --------
    >>> from tiewise.datasets import cdnow_transactions
    >>> fit = clv_from_transactions(cdnow_transactions(), calibration_end="1997-09-30")
    >>> {k: round(v, 3) for k, v in fit.purchases.params_.items()}
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    >>> len(fit.customers), round(float(fit.customers["p_alive"].mean()), 3)
    (2357, 0.813)
    """
    missing = {"customer_id", "timestamp", "amount"} - set(transactions.columns)
    if missing:
        raise InputError(
            f"transactions: no column {', '.join(map(repr, sorted(missing)))} (it has "
            f"{', '.join(map(repr, transactions.columns))}); rename them to customer_id, "
            "timestamp and amount"
        )
    with duckdb.connect() as con:
        con.register("_transactions", transactions[["customer_id", "timestamp", "amount"]])
        end = calibration_end or pd.Timestamp(
            con.execute("SELECT max(timestamp) FROM _transactions").fetchall()[0][0]
        )
        summary = rfm_summary(
            con, "_transactions", calibration_end=pd.Timestamp(end), unit_days=unit_days
        )
    if summary.empty:
        raise InputError(f"transactions: no purchase up to {pd.Timestamp(end):%Y-%m-%d}")
    return clv_from_summary(
        summary,
        months=months,
        monthly_discount=monthly_discount,
        unit_days=unit_days,
        margin=margin,
    )
