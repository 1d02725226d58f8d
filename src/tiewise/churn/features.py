"""Features of every customer at a cut-off day: their own rhythm, and the churn around them.

Everything is computed from data strictly before the cut-off (``cut``, in days relative to
as-of), so that a model trained at one cut-off and scored at a later one never sees the future:
weekly usage from the complete weeks before the cut, tie weights from the same weeks, churn
events up to the cut.

Behavioural features (:func:`behaviour`): tenure, plan, segment, monthly fee; weekly usage (active
contacts per week, from the links stage's ``customer_weeks``: one SQL definition that runs on
DuckDB or Spark) — recent, own baseline and their ratio, weeks since the last active week; from
transactions, the usual interval between purchases, the days since the last one and their ratio.

Social features (:func:`social`): contacts who churned in the last ``social_days`` (count, count
of strong ones, tie-weighted share), their recency-weighted exposure (:func:`churn_exposure`), in
the last ``community_days``, the community's churn rate,
whether a leader of the community churned — communities and leaders as they were at the cut
(:func:`tiewise.churn.communities.communities_at`), not the graph stage's of the whole window —
and spreading activation from recent churners (:func:`tiewise.churn.spread.spreading_activation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tiewise.churn.data import BoolArray, ChurnData, FloatArray, IntArray
from tiewise.churn.spread import spreading_activation

__all__ = [
    "BEHAVIOUR_FEATURES",
    "CATEGORICAL",
    "SOCIAL_FEATURES",
    "CutFeatures",
    "behaviour",
    "churn_exposure",
    "population",
    "social",
    "tie_pull",
    "tie_weeks",
    "weekly_usage_from_bits",
    "weeks_before",
]

BEHAVIOUR_FEATURES = [
    "tenure_days",
    "plan",
    "segment",
    "monthly_fee",
    "contacts_active",
    "usage_recent",
    "usage_baseline",
    "usage_ratio",
    "weeks_since_active",
    "active_week_share",
    "purchases",
    "purchase_interval",
    "days_since_purchase",
    "purchase_overdue",
    "spend_recent",
]
"""Features of the customer's own behaviour (``longest_gap`` is kept for the triggers only)."""
SOCIAL_FEATURES = [
    "churned_contacts_recent",
    "strong_contacts",
    "strong_churned_recent",
    "churned_share_recent",
    "churn_exposure",
    "churned_contacts_longer",
    "churned_share_longer",
    "community_churn_rate",
    "leader_churned",
    "spreading_activation",
]
CATEGORICAL = ["plan", "segment"]


@dataclass(frozen=True)
class CutFeatures:
    """Features of the customers alive at one cut-off.

    Attributes
    ----------
    cut
        The cut-off, in days relative to as-of.
    index
        Party indices (into :class:`ChurnData` arrays) of the customers in the frame.
    frame
        One row per customer of ``index``; behavioural and social columns.
    weeks
        Number of complete weeks of history before the cut.
    """

    cut: float
    index: IntArray
    frame: pd.DataFrame
    weeks: int


def population(data: ChurnData, cut: float) -> IntArray:
    """Customers who had not churned by ``cut`` (and had signed up before it, when known)."""
    alive = data.is_customer & (data.churn_day > cut)
    signed = np.isnan(data.signup_day) | (data.signup_day <= cut)
    return np.flatnonzero(alive & signed)


def weeks_before(data: ChurnData, cut: float, limit: int | None = None) -> IntArray:
    """Week numbers fully inside the data and fully before the cut (the last ``limit``)."""
    start = data.week_start
    ok = (start >= data.data_start - 1e-9) & (start + 7.0 <= cut + 1e-9)
    weeks = np.flatnonzero(ok)
    return weeks[-limit:] if limit is not None and limit > 0 else weeks


def _weekly_usage(data: ChurnData, weeks: IntArray) -> FloatArray:
    """Active contacts per party and week (columns in the order of ``weeks``).

    Read from ``customer_weeks`` (computed in the links stage, on DuckDB or Spark) when the data
    carries it; else counted from the pairs' week bits (:func:`weekly_usage_from_bits`).
    """
    if data.weekly_contacts is not None:
        return data.weekly_contacts[:, weeks].astype(np.float64)
    return weekly_usage_from_bits(data, weeks)


def weekly_usage_from_bits(data: ChurnData, weeks: IntArray) -> FloatArray:
    """Active contacts per party and week, counted from the pairs' week bits (the reference)."""
    out = np.zeros((data.n, len(weeks)), dtype=np.float64)
    for j, week in enumerate(weeks.tolist()):
        bit = ((data.week_bits >> week) & 1).astype(np.float64)
        out[:, j] = np.bincount(data.u, bit, minlength=data.n) + np.bincount(
            data.v, bit, minlength=data.n
        )
    return out


def tie_weeks(data: ChurnData, weeks: IntArray) -> IntArray:
    """Per pair: the number of the given weeks with contact (the tie weight before the cut)."""
    mask = np.int64(0)
    for week in weeks.tolist():
        mask |= np.int64(1) << np.int64(week)
    return np.bitwise_count(data.week_bits & mask).astype(np.int64)


def _purchases(
    tx: pd.DataFrame | None, n: int, cut: float, recent_days: float, lookback_days: float
) -> dict[str, FloatArray]:
    nan = np.full(n, np.nan)
    out = {
        "purchases": np.zeros(n),
        "purchase_interval": nan.copy(),
        "days_since_purchase": nan.copy(),
        "purchase_overdue": nan.copy(),
        "spend_recent": np.zeros(n),
        "longest_gap": nan.copy(),
    }
    if tx is None or tx.empty:
        return out
    before = tx[(tx["day"] < cut) & (tx["day"] >= cut - lookback_days)]
    idx = before["idx"].to_numpy(np.int64)
    day = before["day"].to_numpy(np.float64)
    amount = before["amount"].to_numpy(np.float64)
    out["purchases"] = np.bincount(idx, minlength=n).astype(np.float64)
    recent = day >= cut - recent_days
    out["spend_recent"] = np.bincount(idx[recent], amount[recent], minlength=n)
    if len(idx) == 0:
        return out
    last = np.full(n, np.nan)
    last[idx] = day  # sorted by (idx, day): the last write is the newest
    out["days_since_purchase"] = cut - last
    # the usual interval: the mean gap between distinct purchase days (needs three of them)
    days = np.floor(day)
    first = np.full(n, np.nan)
    first[idx[::-1]] = day[::-1]  # the first write wins from the end: the oldest
    new_day = np.ones(len(idx), dtype=bool)
    new_day[1:] = (idx[1:] != idx[:-1]) | (days[1:] != days[:-1])
    distinct = np.bincount(idx[new_day], minlength=n)
    # the longest gap between purchases so far: a customer is overdue only beyond it too
    step = np.diff(day)
    same = idx[1:] == idx[:-1]
    longest = np.zeros(n)
    np.maximum.at(longest, idx[1:][same], step[same])
    out["longest_gap"] = longest
    with np.errstate(divide="ignore", invalid="ignore"):
        interval = np.where(distinct >= 3, (last - first) / (distinct - 1), np.nan)
        out["purchase_interval"] = interval
        out["purchase_overdue"] = out["days_since_purchase"] / np.maximum(interval, 1.0)
    return out


def behaviour(
    data: ChurnData,
    tx: pd.DataFrame | None,
    cut: float,
    *,
    recent_weeks: int,
    lookback_weeks: int,
) -> CutFeatures:
    """Behavioural features of the customers alive at ``cut`` (see the module docstring).

    Only the last ``lookback_weeks`` complete weeks count, so that features at an early cut-off
    (used to train) and at a later one (scored) describe the same length of history.
    """
    index = population(data, cut)
    weeks = weeks_before(data, cut, lookback_weeks)
    usage = _weekly_usage(data, weeks)[index]
    k = len(weeks)
    recent = usage[:, max(0, k - recent_weeks) :]
    base = usage[:, : max(0, k - recent_weeks)]
    usage_recent = recent.mean(axis=1) if recent.shape[1] else np.full(len(index), np.nan)
    usage_base = base.mean(axis=1) if base.shape[1] else np.full(len(index), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(usage_base > 0, usage_recent / usage_base, np.nan)
    active = usage > 0
    any_active = active.any(axis=1)
    last_active = np.where(any_active, k - 1 - np.argmax(active[:, ::-1], axis=1), -1)
    tie = tie_weeks(data, weeks)
    has_tie = tie > 0
    contacts = np.bincount(data.u[has_tie], minlength=data.n) + np.bincount(
        data.v[has_tie], minlength=data.n
    )
    buys = _purchases(tx, data.n, cut, 7.0 * recent_weeks, 7.0 * max(k, 1))
    tenure = cut - data.signup_day[index]
    frame = pd.DataFrame(
        {
            "tenure_days": tenure,
            "plan": data.plan[index],
            "segment": data.segment[index],
            "monthly_fee": data.monthly_fee[index],
            "contacts_active": contacts[index].astype(np.float64),
            "usage_recent": usage_recent,
            "usage_baseline": usage_base,
            "usage_ratio": ratio,
            "weeks_since_active": np.where(any_active, k - 1 - last_active, k).astype(np.float64),
            "active_week_share": active.mean(axis=1) if k else np.full(len(index), np.nan),
            **{name: values[index] for name, values in buys.items()},
        }
    )
    return CutFeatures(cut=cut, index=index, frame=frame, weeks=k)


def _churned(data: ChurnData, cut: float, days: float) -> BoolArray:
    return (data.churn_day <= cut) & (data.churn_day > cut - days)


def _contact_sums(
    data: ChurnData, weight: FloatArray, flag: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Per party: Σ weight over its pairs, and Σ weight over pairs whose other end is flagged."""
    total = np.bincount(data.u, weight, minlength=data.n) + np.bincount(
        data.v, weight, minlength=data.n
    )
    hit = np.bincount(data.u, weight * flag[data.v], minlength=data.n) + np.bincount(
        data.v, weight * flag[data.u], minlength=data.n
    )
    return total.astype(np.float64), hit.astype(np.float64)


def tie_pull(data: ChurnData, weeks: FloatArray, cut: float, gone: BoolArray) -> FloatArray:
    """How hard each pair's tie pulls at ``cut``: ``s / (s + 1)``, saturating in its strength.

    For a tie of a party who has left (``gone``), whose records all came before the cut, ``s``
    is its records over those of the average such tie; for the others, and without record
    counts, ``s`` is the weeks in contact before the cut.  Nothing after the cut is read: the
    records of a pair still in contact after the cut are not used.

    Examples
    --------
    Without record counts, weeks in contact: 0, 1 and 3 weeks pull 0, 1/2 and 3/4.

    >>> import datetime
    >>> d = ChurnData(ids=np.array(["a", "b"], dtype=object), is_customer=np.ones(2, bool),
    ...     churn_day=np.full(2, np.inf), u=np.zeros(3, np.int64), v=np.ones(3, np.int64),
    ...     week_bits=np.zeros(3, np.int64), week_start=np.zeros(1), data_start=-7.0,
    ...     as_of=datetime.datetime(2026, 1, 1), community=np.zeros(2, np.int64),
    ...     is_leader=np.zeros(2, bool), plan=np.zeros(2, np.int64), plan_names=["p"],
    ...     segment=np.zeros(2, np.int64), segment_names=["s"], monthly_fee=np.zeros(2),
    ...     signup_day=np.zeros(2))
    >>> tie_pull(d, np.array([0.0, 1.0, 3.0]), 0.0, np.zeros(2, bool)).tolist()
    [0.0, 0.5, 0.75]
    """
    strength = weeks.astype(np.float64)
    if data.records is not None and data.last_day is not None:
        done = (gone[data.u] | gone[data.v]) & (data.last_day <= cut) & (weeks > 0)
        if done.any():
            mean = float(data.records[done].mean())
            strength = np.where(done, data.records / max(mean, 1e-9), strength)
    return strength / (strength + 1.0)


def churn_exposure(
    u: IntArray, v: IntArray, pull: FloatArray, age: FloatArray, *, decay_days: float
) -> tuple[FloatArray, FloatArray]:
    """Per party: exposure to contacts who churned recently, and days since the latest one.

    A contact who left ``d`` days ago, over a tie pulling ``w`` (:func:`tie_pull`), adds
    ``w * exp(-d / decay_days)``: a follower leaves some days after the one they follow, so
    last week's churn presses harder than last month's, and a strong tie harder than a weak one.

    Parameters
    ----------
    u, v, pull
        Pairs and the pull of their tie (pairs with ``pull == 0`` are not known contacts).
    age
        Per party: days since it churned; NaN when it did not churn in the window looked at.
    decay_days
        Time constant of the decay.

    Returns
    -------
    tuple of numpy.ndarray
        The exposure, and the days since the most recent churn of a contact (NaN: none).

    Examples
    --------
    Party 0's contact 1 left 7 days ago (a tie pulling 0.75), contact 2 14 days ago (0.5):

    >>> age = np.array([np.nan, 7.0, 14.0])
    >>> exposure, latest = churn_exposure(
    ...     np.array([0, 0]), np.array([1, 2]), np.array([0.75, 0.5]), age, decay_days=7.0
    ... )
    >>> bool(np.isclose(exposure[0], 0.75 * np.exp(-1) + 0.5 * np.exp(-2))), latest.tolist()
    (True, [7.0, nan, nan])
    """
    n = len(age)
    exposure = np.zeros(n)
    latest = np.full(n, np.inf)
    gone = ~np.isnan(age)
    for here, there in ((u, v), (v, u)):
        hit = gone[there] & (pull > 0)
        d = age[there[hit]]
        exposure += np.bincount(here[hit], pull[hit] * np.exp(-d / decay_days), minlength=n)
        np.minimum.at(latest, here[hit], d)
    return exposure, np.where(np.isfinite(latest), latest, np.nan)


def social(
    data: ChurnData,
    feats: CutFeatures,
    community: IntArray,
    is_leader: BoolArray,
    *,
    social_days: float,
    community_days: float,
    spread_factor: float,
    spread_iterations: int,
    exposure_days: float = 14.0,
) -> pd.DataFrame:
    """Social churn features of the customers of ``feats`` at the same cut-off.

    ``community`` and ``is_leader`` (per party, -1 = none) must describe the network as it was
    before the cut (:func:`tiewise.churn.communities.communities_at`), not the whole window.
    """
    cut, index = feats.cut, feats.index
    weeks = weeks_before(data, cut)  # every week: a churner's ties went quiet when they left
    tie = tie_weeks(data, weeks).astype(np.float64)
    known = tie > 0
    ones = known.astype(np.float64)
    recent = _churned(data, cut, social_days)
    longer = _churned(data, cut, community_days)
    n_contacts, n_recent = _contact_sums(data, ones, recent)
    _, n_longer = _contact_sums(data, ones, longer)
    w_total, w_recent = _contact_sums(data, tie, recent)
    _, w_longer = _contact_sums(data, tie, longer)
    strong_tie = (tie >= max(2.0, 0.5 * len(weeks))).astype(np.float64)
    n_strong, strong_recent = _contact_sums(data, strong_tie, recent)
    age = np.where(recent, cut - data.churn_day, np.nan)
    pull = tie_pull(data, tie, cut, recent)
    exposure, latest = churn_exposure(data.u, data.v, pull, age, decay_days=exposure_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        share_recent = np.where(w_total > 0, w_recent / w_total, 0.0)
        share_longer = np.where(w_total > 0, w_longer / w_total, 0.0)

    # community churn rate and churned leaders over community_days
    comm = community
    has = comm >= 0
    dense = np.full(data.n, -1, dtype=np.int64)
    _, dense[has] = np.unique(comm[has], return_inverse=True)
    k = int(dense.max()) + 1 if has.any() else 0
    base = data.is_customer & has & (data.churn_day > cut - community_days)
    members = np.bincount(dense[base], minlength=k).astype(np.float64)
    churners = np.bincount(dense[base & longer], minlength=k).astype(np.float64)
    lead = np.bincount(dense[base & longer & is_leader], minlength=k) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(members > 0, churners / members, 0.0)
    comm_rate = np.where(has, rate[np.maximum(dense, 0)], 0.0) if k else np.zeros(data.n)
    leader = np.where(has, lead[np.maximum(dense, 0)], False) if k else np.zeros(data.n, bool)

    activation = spreading_activation(
        data.n,
        data.u[known],
        data.v[known],
        tie[known],
        recent,
        factor=spread_factor,
        iterations=spread_iterations,
    )
    return pd.DataFrame(
        {
            "churned_contacts_recent": n_recent[index],
            "strong_contacts": n_strong[index],
            "strong_churned_recent": strong_recent[index],
            "churned_share_recent": share_recent[index],
            "churn_exposure": exposure[index],
            "churned_contacts_longer": n_longer[index],
            "churned_share_longer": share_longer[index],
            "community_churn_rate": comm_rate[index],
            "leader_churned": leader[index].astype(np.float64),
            "spreading_activation": activation[index],
            "contacts_known": n_contacts[index],
            "days_since_contact_churn": latest[index],
        }
    )
