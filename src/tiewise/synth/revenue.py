"""Monthly bills: plan fee, a usage-related part, and noise; none after churn.

A bill is dated the first of each month that starts inside the window and before the
subscriber's churn.  Its usage part is proportional to the records the subscriber initiated that
month (received records count a fifth), extrapolated to the whole month when the window or the
subscription covers only part of it, and saturates at four times the fee (spending caps).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tiewise.synth._types import FloatArray, IntArray

__all__ = ["Bills", "month_starts", "monthly_bills"]

_USAGE_PRICE = np.array([0.35, 0.15, 0.05])  # per billable record, by plan
_RECEIVED_WEIGHT = 0.2
_USAGE_CAP = 4.0  # the usage part saturates at this multiple of the fee


@dataclass(frozen=True)
class Bills:
    """Bills of the subscribers.

    Attributes
    ----------
    customer
        Local subscriber index.
    day
        Day offset of the bill (first of a month) from the window start.
    amount
        Billed amount (> 0).
    """

    customer: IntArray
    day: IntArray
    amount: FloatArray


def month_starts(start: dt.date, days: int) -> list[int]:
    """Day offsets of the firsts of months inside ``[start, start + days)``.

    Examples
    --------
    >>> month_starts(dt.date(2026, 1, 15), 60)
    [17, 45]
    """
    out: list[int] = []
    y, m = start.year, start.month
    first = dt.date(y, m, 1)
    if first < start:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    while True:
        off = (dt.date(y, m, 1) - start).days
        if off >= days:
            return out
        out.append(off)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def monthly_bills(
    rng: np.random.Generator,
    start: dt.date,
    days: int,
    plan: IntArray,
    fee: FloatArray,
    churn: FloatArray,
    rec_src: IntArray,
    rec_dst: IntArray,
    rec_day: IntArray,
) -> Bills:
    """Bills per subscriber and month.

    Parameters
    ----------
    rng
        Random generator.
    start, days
        The window.
    plan, fee, churn
        Plan index, monthly fee and churn time (days, ``inf`` if none) per subscriber.
    rec_src, rec_dst
        Local subscriber index of each record's initiator and receiver (``-1`` if not a
        subscriber).
    rec_day
        Day offset of each record.

    Returns
    -------
    Bills
        One bill per subscriber and month while they are customers.
    """
    n = plan.shape[0]
    firsts = month_starts(start, days)
    if not firsts:
        empty = np.zeros(0, dtype=np.int64)
        return Bills(customer=empty, day=empty, amount=np.zeros(0))
    bounds = [*firsts[1:], days]
    # month index of each record (-1 before the first month start)
    month = np.searchsorted(np.asarray(firsts), rec_day, side="right") - 1
    k = len(firsts)
    usage = np.zeros(n * k)
    for who, weight in ((rec_src, 1.0), (rec_dst, _RECEIVED_WEIGHT)):
        ok = (who >= 0) & (month >= 0)
        usage += weight * np.bincount(who[ok] * k + month[ok], minlength=n * k)
    usage = usage.reshape(n, k)
    first = np.asarray(firsts, dtype=np.float64)
    end = np.asarray(bounds, dtype=np.float64)
    length = np.array([_month_length(start, f) for f in firsts], dtype=np.float64)
    seen = np.clip(np.minimum(end[None, :], churn[:, None]) - first[None, :], 0.5, None)
    billable = usage * (length / seen)
    active = churn[:, None] > first[None, :]
    noise = np.exp(0.15 * rng.standard_normal((n, k)))
    usage_cost = _USAGE_PRICE[plan][:, None] * billable * noise
    cap = _USAGE_CAP * fee[:, None]  # spending caps and fair-use bundles saturate the usage part
    raw = fee[:, None] + cap * np.tanh(usage_cost / cap)
    raw = raw + rng.normal(0.0, 0.03, size=(n, k)) * fee[:, None]
    amount: FloatArray = np.round(np.maximum(raw, 0.5), 2)
    cust, mon = np.nonzero(active)
    return Bills(
        customer=cust.astype(np.int64),
        day=np.asarray(firsts, dtype=np.int64)[mon],
        amount=amount[cust, mon],
    )


def _month_length(start: dt.date, offset: int) -> int:
    d = start + dt.timedelta(days=offset)
    nxt = dt.date(d.year + 1, 1, 1) if d.month == 12 else dt.date(d.year, d.month + 1, 1)
    return (nxt - d).days
