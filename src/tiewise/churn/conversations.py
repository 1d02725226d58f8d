"""What customers say as churn signals: negative posts, bursts of complaints, a changed rhythm.

A customer about to leave often says so in public first: a negative review, a burst of
complaints to support (Novo: the warning a phone call would never have shown).  From the
``conversations`` table, for every customer at a cut-off (only what was said before it):

``negative_posts_recent``  negative conversations (sentiment at most ``[conversations]
                           negative_threshold``) in the last ``recent_days``
``posts_recent``           conversations in the last ``recent_days``
``posts_usual``            the customer's own usual number in ``recent_days``, from the
                           ``lookback_days`` before (their rhythm)
``posts_ratio``            (posts_recent + 1) / (posts_usual + 1): above 1 when they talk more
                           than they usually do
``sentiment_recent``       mean sentiment of the recent conversations with one (NaN: none)

They enter the churn model only when they lower its held-out log-loss significantly, like the
social features (:func:`tiewise.churn.stage.feature_gate`).  Two triggers are dated from them
(:func:`conversation_triggers`): ``negative_post`` and ``complaint_burst`` (at least
``BURST`` negative conversations within 7 days).
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

from tiewise.churn.data import ChurnData, IntArray
from tiewise.store import RunContext, frame_query

__all__ = [
    "BURST",
    "CONVERSATION_FEATURES",
    "conversation_days",
    "conversation_features",
    "conversation_triggers",
]

CONVERSATION_FEATURES = [
    "negative_posts_recent",
    "posts_recent",
    "posts_usual",
    "posts_ratio",
    "sentiment_recent",
]
BURST = 2
_DAY_S = 86_400.0


def conversation_days(ctx: RunContext, data: ChurnData, threshold: float) -> pd.DataFrame | None:
    """Customers' conversations as (idx, day relative to as-of, sentiment, negative), sorted.

    None without a conversations table.
    """
    if not ctx.has_table("conversations"):
        return None
    as_of = data.as_of.replace(tzinfo=datetime.UTC) if not data.as_of.tzinfo else data.as_of
    frame = pd.DataFrame({"customer_id": data.ids, "idx": np.arange(data.n, dtype=np.int64)})
    return frame_query(
        ctx.con,
        "_churn_talk_ids",
        frame,
        f"""
        SELECT i.idx, (epoch(c.timestamp) - {as_of.timestamp()!r}) / {_DAY_S!r} AS day,
               c.sentiment, coalesce(c.sentiment <= {threshold!r}, false) AS negative
        FROM conversations c JOIN _churn_talk_ids i USING (customer_id)
        ORDER BY i.idx, day
        """,
    ).df()


def conversation_features(
    talk: pd.DataFrame, index: IntArray, cut: float, *, recent_days: float, lookback_days: float
) -> pd.DataFrame:
    """The conversation features of the customers ``index`` at ``cut`` (one row each).

    Examples
    --------
    >>> talk = pd.DataFrame({"idx": [0, 0, 0, 1], "day": [-30.0, -5.0, -2.0, -1.0],
    ...                      "sentiment": [0.5, -0.6, -0.4, 0.2],
    ...                      "negative": [False, True, True, False]})
    >>> f = conversation_features(talk, np.array([0, 1, 2]), 0.0, recent_days=14,
    ...                           lookback_days=56)
    >>> f["negative_posts_recent"].tolist(), f["posts_usual"].tolist()
    ([2.0, 0.0, 0.0], [0.25, 0.0, 0.0])
    """
    n = int(max(index.max(initial=-1), talk["idx"].max() if len(talk) else -1)) + 1
    day = talk["day"].to_numpy(float)
    idx = talk["idx"].to_numpy(np.int64)
    recent = (day <= cut) & (day > cut - recent_days)
    before = (day <= cut - recent_days) & (day > cut - recent_days - lookback_days)
    negative = talk["negative"].to_numpy(bool)
    sentiment = talk["sentiment"].to_numpy(float)
    scored = recent & np.isfinite(sentiment)
    posts = np.bincount(idx[recent], minlength=n).astype(float)
    usual = np.bincount(idx[before], minlength=n) * (recent_days / lookback_days)
    sums = np.bincount(idx[scored], weights=sentiment[scored], minlength=n)
    counts = np.bincount(idx[scored], minlength=n)
    negatives = np.bincount(idx[recent & negative], minlength=n).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return pd.DataFrame(
        {
            "negative_posts_recent": negatives[index],
            "posts_recent": posts[index],
            "posts_usual": usual[index],
            "posts_ratio": ((posts + 1.0) / (usual + 1.0))[index],
            "sentiment_recent": mean[index],
        }
    )


def conversation_triggers(
    talk: pd.DataFrame,
    data: ChurnData,
    index: IntArray,
    cut: float,
    *,
    recent_days: float,
) -> pd.DataFrame:
    """Triggers from the negative conversations of customers ``index`` in the recent days.

    ``negative_post`` is dated at the latest negative conversation; ``complaint_burst`` at the
    first of ``BURST`` or more negative conversations within 7 days.
    """
    mine = np.zeros(data.n, dtype=bool)
    mine[index] = True
    day = talk["day"].to_numpy(float)
    idx = talk["idx"].to_numpy(np.int64)
    keep = mine[idx] & (day <= cut) & (day > cut - recent_days) & talk["negative"].to_numpy(bool)
    neg = talk[keep]
    rows = []
    as_of = pd.Timestamp(data.as_of)
    for i, group in neg.groupby("idx", sort=True):
        days = group["day"].to_numpy(float)
        last = float(days.max())
        worst = float(group["sentiment"].min())
        when = (as_of + pd.to_timedelta(last, unit="D")).floor("D")
        rows.append(
            (data.ids[i], "negative_post", when, worst, np.nan, np.nan,
             f"{len(days)} negative conversation{'s' if len(days) > 1 else ''} in the last "
             f"{recent_days:.0f} days (most negative: sentiment {worst:+.2f})")
        )  # fmt: skip
        days = np.sort(days)
        if len(days) >= BURST:
            span = days[BURST - 1 :] - days[: len(days) - BURST + 1]
            hit = np.flatnonzero(span <= 7.0)
            if len(hit):
                start = (as_of + pd.to_timedelta(days[hit[0]], unit="D")).floor("D")
                rows.append(
                    (data.ids[i], "complaint_burst", start, float(len(days)), np.nan, np.nan,
                     f"{len(days)} negative conversations in {days[-1] - days[0]:.0f} days")
                )  # fmt: skip
    columns = ["customer_id", "trigger", "trigger_date", "observed", "usual", "change", "evidence"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = pd.DataFrame(rows, columns=columns)
    out["customer_id"] = out["customer_id"].astype(str)
    out["trigger_date"] = pd.to_datetime(out["trigger_date"]).astype("datetime64[us]")
    return out
