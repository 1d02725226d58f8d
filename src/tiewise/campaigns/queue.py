"""The response queue: open conversations ranked by what is at stake, with the reason in words.

It lives in ``campaigns`` because it is a list to act on that needs what every earlier stage
found: the speaker's true value (value), their reach and shown influence (graph, influence),
their churn risk (churn), and what they said (ingest).  ``campaigns`` is the first stage that
may import all of them (``pyproject.toml``'s import-linter layers); the pipeline builds the
queue after the churn stage, so the table and the report always show the current one, and
``tiewise campaign response`` turns it into a list with a control arm, so that the effect of
answering first can be measured with ``tiewise responses``.

**Open**: not answered (the input's ``answered``), said by a current customer (prospects are
kept apart; customers who already left are not in it), in the last ``[conversations]
open_days`` before the newest conversation.

**Score** of an open conversation, every factor 1 when unknown (and the reason says so)::

    score = (negativity + floor) x recency x value x risk x reach
    negativity = max(0, -sentiment)            0 for neutral or positive posts
    floor      = 0.05, or 0.01 for a positive post (praise needs no answer first)
    recency    = 1 - age / (2 x open_days)     a fresh complaint before a stale one (1 to 0.5)
    value      = true value / mean true value  (customer_value; clv without it)
    risk       = P(churn) / mean P(churn)      (churn_scores)
    reach      = (1 + influence weight)        influence weight 0 to 1: Ambassadors, Influencers
                 x audience                    and community leaders 1, others their influence
                                               percentile; audience = ln(1 + contacts) / its
                                               mean over customers (who hears it: Rapleaf's
                                               friend count, with diminishing returns)

**Value at stake** = P(churn) x true value: what losing the speaker is expected to cost.
**Expected value protected** = value at stake x ``[conversations] response_effect`` (default
0.25): an *assumption* about how much an answer lowers the risk, until ``tiewise responses``
measures the effect on the control arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tiewise.campaigns.lists import influencer_sql
from tiewise.config import Config
from tiewise.store import RunContext, frame_query, scalar

__all__ = ["QueueSummary", "build_response_queue"]

_FLOOR = 0.05  # a neutral (or unscored) post of an important customer still ranks, below complaints
_POSITIVE_FLOOR = 0.01  # praise needs no answer first
_ARTICLE = {"Ambassador": "an Ambassador", "Influencer": "an Influencer"}
_SAID = {
    "social": "social post",
    "forum": "forum post",
    "review": "review",
    "support": "support ticket",
    "email": "e-mail",
    "chat": "chat",
}


@dataclass(frozen=True)
class QueueSummary:
    """What the queue holds."""

    open_conversations: int
    listed: int
    basis: str


def _open(ctx: RunContext, config: Config) -> pd.DataFrame:
    days = config.conversations.open_days
    gone = (
        "AND c.customer_id NOT IN (SELECT customer_id FROM churn_events)"
        if ctx.has_table("churn_events")
        else ""
    )
    return ctx.con.execute(
        f"""
        WITH newest AS (SELECT max(timestamp) AS as_of FROM conversations)
        SELECT c.customer_id, c.speaker, c.message_id, c.timestamp, c.channel, c.sentiment,
               c.sentiment_source,
               (epoch(n.as_of) - epoch(c.timestamp)) / 86400.0 AS age_days
        FROM conversations c, newest n
        WHERE c.customer_id IS NOT NULL AND NOT c.answered
          AND c.timestamp > n.as_of - to_microseconds(CAST({days * 86400e6!r} AS BIGINT))
          {gone}
        """
    ).df()


def _followers(ctx: RunContext, config: Config, speakers: list[str]) -> pd.Series:
    """Contacts who adopted the item of each speaker's last adoption within the window after."""
    if not (ctx.has_table("adoptions") and ctx.has_table("links")) or not speakers:
        return pd.Series(dtype=float)
    days = config.influence.window_days or 30.0
    rows = frame_query(
        ctx.con,
        "_queue_speakers",
        pd.DataFrame({"customer_id": speakers}),
        f"""
        WITH last AS (
            SELECT customer_id, arg_max(item, timestamp) AS item, max(timestamp) AS ts
            FROM adoptions WHERE customer_id IN (SELECT customer_id FROM _queue_speakers)
            GROUP BY customer_id
        ), contacts AS (
            SELECT l.customer_id, k.b AS contact, l.item, l.ts FROM last l
            JOIN links k ON k.a = l.customer_id
            UNION ALL
            SELECT l.customer_id, k.a, l.item, l.ts FROM last l
            JOIN links k ON k.b = l.customer_id
        )
        SELECT c.customer_id, count(DISTINCT a.customer_id) AS followers
        FROM contacts c JOIN adoptions a
          ON a.customer_id = c.contact AND a.item = c.item AND a.timestamp > c.ts
         AND a.timestamp <= c.ts + to_microseconds(CAST({days * 86400e6!r} AS BIGINT))
        GROUP BY c.customer_id
        """,
    ).df()
    return rows.set_index("customer_id")["followers"].astype(float)


_MEAN = "avg({} ORDER BY customer_id)"
"""A mean over customers added up in one order: DuckDB's threads add a plain ``avg`` in the order
they finish, and its last bits (and every score divided by it) changed from run to run at 1M."""


def _lookup(ctx: RunContext, sql: str, ids: pd.Series) -> pd.DataFrame:
    """The rows of ``sql`` of the customers ``ids``, in that order (one per customer).

    Only the customers asked for leave DuckDB (``sql`` is computed whole first, so a window
    over it sees every row): reading the whole table into pandas took 10 s at 1M customers.
    """
    wanted = pd.DataFrame({"customer_id": pd.unique(ids.to_numpy())})
    frame = (
        frame_query(
            ctx.con,
            "_queue_ids",
            wanted,
            f"SELECT * FROM ({sql}) WHERE customer_id IN (SELECT customer_id FROM _queue_ids)",
        )
        .df()
        .drop_duplicates("customer_id")
        .set_index("customer_id")
    )
    return frame.reindex(ids.to_numpy())


def build_response_queue(ctx: RunContext, config: Config) -> QueueSummary:
    """Rank the open conversations by what is at stake; write ``response_queue``."""
    cfg = config.conversations
    conv = _open(ctx, config)
    ids = conv["customer_id"]
    parts: list[str] = []
    # value
    value_cols = ctx.columns("customer_value")
    if {"true_value", "segment"} <= value_cols:
        v = _lookup(ctx, "SELECT customer_id, true_value, segment FROM customer_value", ids)
        all_mean = scalar(ctx.con, f"SELECT {_MEAN.format('true_value')} FROM customer_value")
        true_value = v["true_value"].to_numpy(float)
        segment = v["segment"].to_numpy(object)
        parts.append("true value (customer_value)")
    else:
        true_value = np.full(len(conv), np.nan)
        segment = np.full(len(conv), None, dtype=object)
        all_mean = None
    mean_value = float(all_mean) if all_mean else float("nan")
    # churn risk
    if {"customer_id", "p_churn"} <= ctx.columns("churn_scores"):
        p = _lookup(ctx, "SELECT customer_id, p_churn FROM churn_scores", ids)
        p_churn = p["p_churn"].to_numpy(float)
        mean_p = scalar(ctx.con, f"SELECT {_MEAN.format('p_churn')} FROM churn_scores")
        mean_p = float(mean_p or np.nan)
        parts.append("P(churn) (churn_scores)")
    else:
        p_churn = np.full(len(conv), np.nan)
        mean_p = float("nan")
    # reach and shown influence
    if ctx.has_table("customer_scores"):
        sql, basis = influencer_sql(ctx, config)
        inf = _lookup(ctx, sql, ids)
        weight = inf["influencer_weight"].to_numpy(float)
        label = inf["influencer_label"].to_numpy(object)
        heard = _lookup(
            ctx,
            "SELECT customer_id, contacts, ln(1 + contacts) / (SELECT "
            f"{_MEAN.format('ln(1 + contacts)')} FROM customer_scores WHERE on_network AND NOT "
            "is_service) AS audience FROM customer_scores WHERE on_network AND NOT is_service",
            ids,
        )
        contacts = heard["contacts"].to_numpy(float)
        audience = heard["audience"].to_numpy(float)
        parts.append(basis + " x audience (contacts)")
    else:
        weight = np.full(len(conv), np.nan)
        label = np.full(len(conv), None, dtype=object)
        contacts = audience = np.full(len(conv), np.nan)
    followers = _followers(ctx, config, sorted(set(ids))).reindex(ids.to_numpy()).to_numpy(float)

    sentiment = conv["sentiment"].to_numpy(float)
    negativity = np.where(np.isnan(sentiment), 0.0, np.maximum(0.0, -sentiment))
    floor = np.where(sentiment >= 0.05, _POSITIVE_FLOOR, _FLOOR)
    recency = 1.0 - 0.5 * np.clip(conv["age_days"].to_numpy(float) / cfg.open_days, 0.0, 1.0)
    value_term = np.where(np.isfinite(true_value) & (mean_value > 0), true_value / mean_value, 1.0)
    value_term = np.maximum(value_term, 0.0)
    risk = np.where(np.isfinite(p_churn) & (mean_p > 0), p_churn / mean_p, 1.0)
    reach = (1.0 + np.nan_to_num(weight, nan=0.0)) * np.nan_to_num(audience, nan=1.0)
    score = (negativity + floor) * recency * value_term * risk * reach
    at_stake = np.where(
        np.isfinite(p_churn) & np.isfinite(true_value), p_churn * true_value, np.nan
    )
    out = pd.DataFrame(
        {
            "customer_id": ids.astype(str),
            "message_id": conv["message_id"],
            "timestamp": conv["timestamp"],
            "channel": conv["channel"],
            "sentiment": sentiment,
            "sentiment_source": conv["sentiment_source"],
            "segment": segment,
            "true_value": true_value,
            "p_churn": p_churn,
            "churn_risk_ratio": np.where(np.isfinite(p_churn), risk, np.nan),
            "influencer_label": label,
            "contacts": contacts,
            "followers_of_last_adoption": followers,
            "score": score,
            "value_at_stake": at_stake,
            "expected_value_protected": at_stake * cfg.response_effect,
        }
    )
    # the reasons of the listed rows only (there may be a hundred thousand open conversations)
    out["_age"] = conv["age_days"].to_numpy(float)
    out = out.sort_values(
        ["score", "timestamp", "customer_id"], ascending=[False, False, True], ignore_index=True
    ).head(cfg.queue_size)
    age = out.pop("_age").to_numpy(float)
    out["reason"] = [
        _reason(row, cfg.negative_threshold, a)
        for row, a in zip(out.to_dict("records"), age, strict=True)
    ]
    out.insert(0, "rank", np.arange(1, len(out) + 1, dtype=np.int64))
    basis = "score = (negativity + floor) x recency x " + ", ".join(parts or ["no other signal"])
    ctx.write_table(
        "response_queue",
        out,
        stage="campaigns",
        description="Open conversations ranked by what is at stake, with the reason in words.",
    )
    return QueueSummary(open_conversations=len(conv), listed=len(out), basis=basis)


def _reason(r: dict[Any, Any], threshold: float, age: float) -> str:
    """The reason of one queue row, in words."""
    sentiment = float(r["sentiment"])
    if np.isnan(sentiment):
        said = _SAID.get(r["channel"], f"{r['channel']} message")
        mood = f"{r['sentiment_source']}: sentiment unknown"
    else:
        word = (
            "negative" if sentiment <= threshold else "neutral" if sentiment < 0.05 else "positive"
        )
        said = f"{word} {_SAID.get(r['channel'], r['channel'] + ' message')}"
        mood = f"sentiment {sentiment:+.2f}"
    segment, label = r["segment"], r["influencer_label"]
    if isinstance(segment, str) and segment in _ARTICLE:
        who = _ARTICLE[segment]
    elif isinstance(label, str):
        who = f"a customer ({label})"
    else:
        who = "a customer"
    value, ratio = float(r["true_value"]), float(r["churn_risk_ratio"])
    heard = float(r["contacts"])
    audience = f", {heard:,.0f} contacts" if np.isfinite(heard) else ""
    bits = [
        f"{said} by {who} ({mood}, {_ago(age)}{audience})",
        f"true value {value:,.0f}" if np.isfinite(value) else "value unknown",
        f"churn risk {ratio:.1f}x average" if np.isfinite(ratio) else "churn risk unknown",
    ]
    text = ", ".join(bits)
    followers = float(r["followers_of_last_adoption"])
    if np.isfinite(followers) and followers > 0:
        text += f"; {followers:.0f} contacts followed their last adoption"
    protected = float(r["expected_value_protected"])
    if np.isfinite(protected):
        text += f"; answering protects about {protected:,.0f} (assumed effect)"
    return text


def _ago(days: float) -> str:
    """``days`` ago in words.

    >>> [_ago(0.3), _ago(1.5), _ago(4.0)]
    ['today', '1 day ago', '4 days ago']
    """
    whole = int(days)
    return "today" if whole < 1 else "1 day ago" if whole == 1 else f"{whole} days ago"
