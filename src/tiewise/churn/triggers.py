"""Behaviour triggers: dated events when a customer departs from their own rhythm.

Three kinds, each against the customer's own history (Novo's "Drilling Down": a customer who
stops doing what they usually do is starting to leave):

``usage_drop``
    Active contacts per week over the last ``recent_weeks`` complete weeks below
    ``(1 - usage_drop)`` times the weeks before, and unlikely under Poisson noise around that
    baseline (p < 0.05).  Dated at the start of the recent weeks.
``silent``
    No contact for longer than ``recency_factor`` times the usual gap between active weeks
    (``7 / share of weeks active``).  Dated when the silence passed that length.
``purchase_overdue``
    No purchase for longer than ``recency_factor`` times the mean interval between the
    customer's distinct purchase days (at least three), and half as long again as any gap
    before (a monthly bill after a burst of purchases is not overdue).
    Dated when the purchase became overdue.
``p_alive``
    P(alive) from the value stage below ``p_alive_threshold`` (dated at the as-of time).
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
from scipy.stats import poisson

from tiewise.churn.data import ChurnData
from tiewise.churn.features import CutFeatures

__all__ = ["find_triggers"]


def _dates(as_of: datetime.datetime, days: np.ndarray) -> pd.Series:
    return pd.Series(pd.Timestamp(as_of) + pd.to_timedelta(days, unit="D")).dt.floor("D")


def find_triggers(
    data: ChurnData,
    feats: CutFeatures,
    p_alive: pd.Series | None,
    *,
    recent_weeks: int,
    recency_factor: float,
    usage_drop: float,
    p_alive_threshold: float,
) -> pd.DataFrame:
    """The triggers of the customers in ``feats`` (a cut at as-of), one row per trigger.

    Columns: ``customer_id``, ``trigger``, ``trigger_date``, ``observed``, ``usual``,
    ``change`` (observed / usual - 1), ``evidence`` (in words).
    """
    f = feats.frame
    ids = data.ids[feats.index]
    rows: list[pd.DataFrame] = []

    # a drop that Poisson noise around the baseline would rarely give (p < 0.05)
    expected = f["usage_baseline"].to_numpy() * recent_weeks
    seen = np.rint(f["usage_recent"].to_numpy() * recent_weeks)
    p_value = np.where(expected > 0, poisson.cdf(seen, np.where(expected > 0, expected, 1.0)), 1)
    drop = (f["usage_ratio"] <= 1.0 - usage_drop) & (p_value < 0.05)
    if drop.any():
        d = f[drop]
        p_drop = p_value[drop.to_numpy()]
        start = feats.cut - 7.0 * recent_weeks
        change = d["usage_ratio"] - 1.0
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": ids[drop.to_numpy()],
                    "trigger": "usage_drop",
                    "trigger_date": _dates(data.as_of, np.full(len(d), start)).to_numpy(),
                    "observed": d["usage_recent"].to_numpy(),
                    "usual": d["usage_baseline"].to_numpy(),
                    "change": change.to_numpy(),
                    "evidence": [
                        f"usage down {-100 * c:.0f}% vs own baseline: {r:.1f} active contacts a "
                        f"week in the last {recent_weeks} weeks, {b:.1f} before (p={p:.3f})"
                        for c, r, b, p in zip(
                            change, d["usage_recent"], d["usage_baseline"], p_drop, strict=True
                        )
                    ],
                }
            )
        )

    share = f["active_week_share"].to_numpy()
    usual_gap = np.where(share > 0, 7.0 / np.maximum(share, 1e-9), np.nan)
    silent_days = 7.0 * f["weeks_since_active"].to_numpy()
    silent = (share > 0) & (silent_days > recency_factor * usual_gap)
    if silent.any():
        rows.append(
            _overdue(
                ids[silent], "silent", usual_gap[silent], silent_days[silent], "contact",
                "active", data.as_of, feats.cut, recency_factor,
            )
        )  # fmt: skip

    interval = f["purchase_interval"].to_numpy()
    since = f["days_since_purchase"].to_numpy()
    longest = f["longest_gap"].to_numpy()
    overdue = (interval > 0) & (since > recency_factor * interval) & (since > 1.5 * longest)
    if overdue.any():
        rows.append(
            _overdue(
                ids[overdue], "purchase_overdue", interval[overdue], since[overdue], "purchase",
                "", data.as_of, feats.cut, recency_factor,
            )
        )  # fmt: skip

    if p_alive is not None:
        alive = p_alive.reindex(ids).to_numpy(np.float64)
        low = alive < p_alive_threshold
        if low.any():
            rows.append(
                pd.DataFrame(
                    {
                        "customer_id": ids[low],
                        "trigger": "p_alive",
                        "trigger_date": _dates(data.as_of, np.full(int(low.sum()), feats.cut)),
                        "observed": alive[low],
                        "usual": p_alive_threshold,
                        "change": alive[low] / p_alive_threshold - 1.0,
                        "evidence": [
                            f"P(alive) {a:.2f} below {p_alive_threshold:.2f}" for a in alive[low]
                        ],
                    }
                )
            )
    columns = ["customer_id", "trigger", "trigger_date", "observed", "usual", "change", "evidence"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = pd.concat(rows, ignore_index=True)[columns]
    out["customer_id"] = out["customer_id"].astype(str)
    return out.sort_values(["trigger_date", "customer_id", "trigger"], ignore_index=True)


def _overdue(
    ids: np.ndarray,
    trigger: str,
    gap: np.ndarray,
    days: np.ndarray,
    what: str,
    verb: str,
    as_of: datetime.datetime,
    cut: float,
    factor: float,
) -> pd.DataFrame:
    """Trigger rows for customers ``days`` without a ``what`` whose usual gap is ``gap`` days.

    The trigger date is when the silence passed ``factor`` times the usual gap.
    """
    usually = f"usually {verb + ' ' if verb else ''}every"
    return pd.DataFrame(
        {
            "customer_id": ids,
            "trigger": trigger,
            "trigger_date": _dates(as_of, cut - days + factor * gap).to_numpy(),
            "observed": days,
            "usual": gap,
            "change": days / gap - 1.0,
            "evidence": [
                f"no {what} for {s:.0f} days; {usually} {g:.0f} days"
                for s, g in zip(days, gap, strict=True)
            ],
        }
    )
