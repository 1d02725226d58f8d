"""Advocacy signals from engagement records.

A weighted, recency-decayed engagement score (SAS's "BFF" scoring), weights learned from a named
outcome, email signals, and reach inside an account.

Every function reads workspace tables through a DuckDB connection and returns one row per
customer who has the signal (customers without it are absent; the stage fills in zeros).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd

from tiewise.config import ValueConfig
from tiewise.exceptions import InputError
from tiewise.store import exact_sum, frame_table

__all__ = [
    "LearnedWeights",
    "account_reach",
    "email_signals",
    "engagement_features",
    "engagement_scores",
    "learn_weights",
    "learned_scores",
    "percentile",
]


def percentile(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Share of values strictly below each value, in percent (ties share the lower rank).

    Examples
    --------
    >>> percentile([3.0, 1.0, 1.0, 7.0]).tolist()
    [50.0, 0.0, 0.0, 75.0]
    """
    v = np.asarray(values, dtype=np.float64)
    order = np.sort(v)
    result: npt.NDArray[np.float64] = (
        100.0 * np.searchsorted(order, v, side="left") / max(1, len(v))
    )
    return result


def _decay(as_of: dt.datetime, half_life: float) -> str:
    stamp = f"TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}'"
    return (
        f"pow(2.0, -greatest(0, date_diff('second', e.timestamp, {stamp})) / 86400.0 / {half_life})"
    )


def _weights(mapping: dict[str, float]) -> pd.DataFrame:
    values = np.asarray(list(mapping.values()), dtype=float)
    return pd.DataFrame({"event_type": list(mapping), "x": values})


def engagement_scores(
    con: duckdb.DuckDBPyConnection,
    cfg: ValueConfig,
    as_of: dt.datetime,
    weights: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Points per customer: ``sum(weight(type) * scale(value) * 2^(-age / half_life))``.

    Returns ``customer_id``, ``engagement_points``, ``engagement_events`` and ``top_behaviour``
    (the event type that earned the most points, with its count).
    """
    weighted = _weights(weights if weights is not None else cfg.engagement_weights)
    scaled = _weights(cfg.engagement_value_scale)
    points = (
        "w.x * CASE WHEN s.x IS NOT NULL THEN coalesce(e.value, 0) / s.x ELSE 1 END * "
        + _decay(as_of, cfg.engagement_half_life_days)
    )
    with frame_table(con, "_eng_w", weighted), frame_table(con, "_eng_scale", scaled):
        frame = con.execute(
            f"""
            WITH per_type AS (
                SELECT e.customer_id, e.event_type, count(*) AS n,
                       {exact_sum(points)} AS points
                FROM engagement_events e JOIN _eng_w w USING (event_type)
                LEFT JOIN _eng_scale s USING (event_type)
                WHERE w.x <> 0
                GROUP BY ALL
            )
            SELECT customer_id, {exact_sum("points")} AS engagement_points,
                   sum(n) AS engagement_events,
                   arg_max(format('{{}} ({{}} events, {{}} points)', event_type, n,
                                  round(points, 1)), points) AS top_behaviour
            FROM per_type GROUP BY customer_id ORDER BY customer_id
            """
        ).df()
    return frame


def engagement_features(
    con: duckdb.DuckDBPyConnection,
    customers: pd.Series,
    types: list[str],
    until: dt.datetime,
    half_life: float,
) -> pd.DataFrame:
    """Decayed counts per customer (rows in ``customers`` order) and type before ``until``."""
    counts = con.execute(
        f"""
        SELECT e.customer_id, e.event_type, sum({_decay(until, half_life)}) AS n
        FROM engagement_events e
        WHERE e.timestamp <= TIMESTAMP '{until:%Y-%m-%d %H:%M:%S}'
          AND e.event_type IN (SELECT unnest(?))
        GROUP BY ALL
        """,
        [types],
    ).df()
    wide = counts.pivot_table(index="customer_id", columns="event_type", values="n", fill_value=0.0)
    return wide.reindex(index=customers, columns=types, fill_value=0.0).fillna(0.0)


@dataclass(frozen=True)
class LearnedWeights:
    """Engagement weights learned from an outcome by a regularised logistic regression."""

    outcome: str
    coefficients: dict[str, float]
    intercept: float
    feature_means: dict[str, float]
    feature_scales: dict[str, float]
    auc: float
    positives: int
    customers: int
    holdout: int


def _outcome(
    con: duckdb.DuckDBPyConnection, spec: str, cutoff: dt.datetime, as_of: dt.datetime
) -> tuple[set[str], str | None]:
    """The customers with the outcome after ``cutoff``, and the event type it excludes."""
    cut = f"TIMESTAMP '{cutoff:%Y-%m-%d %H:%M:%S}'"
    end = f"TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}'"
    if spec.startswith("transactions:"):
        category = spec.removeprefix("transactions:")
        rows = con.execute(
            f"SELECT DISTINCT customer_id FROM transactions WHERE category = ? "
            f"AND timestamp > {cut} AND timestamp <= {end}",
            [category],
        ).fetchall()
        return {r[0] for r in rows}, None
    rows = con.execute(
        f"SELECT DISTINCT customer_id FROM engagement_events WHERE event_type = ? "
        f"AND timestamp > {cut} AND timestamp <= {end}",
        [spec],
    ).fetchall()
    return {r[0] for r in rows}, spec


def learn_weights(
    con: duckdb.DuckDBPyConnection,
    customers: pd.Series,
    cfg: ValueConfig,
    as_of: dt.datetime,
    seed: int,
    *,
    has_transactions: bool,
) -> LearnedWeights:
    """Fit the outcome in the last ``outcome_window_days`` on the behaviour before it.

    Features are ``ln(1 + decayed count)`` per event type, standardised; the model is an
    L2-regularised logistic regression (scikit-learn); the AUC is measured on a stratified 30%
    hold-out. The outcome's own event type is not a feature.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    spec = cfg.learn_weights_from or ""
    if spec.startswith("transactions:") and not has_transactions:
        raise InputError(
            f"value.learn_weights_from = {spec!r} needs the transactions input; configure "
            "[inputs.transactions] or name an engagement event type."
        )
    cutoff = as_of - dt.timedelta(days=cfg.outcome_window_days)
    positives, excluded = _outcome(con, spec, cutoff, as_of)
    types = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT event_type FROM engagement_events ORDER BY 1"
        ).fetchall()
        if r[0] != excluded
    ]
    known = {
        r[0] for r in con.execute("SELECT DISTINCT event_type FROM engagement_events").fetchall()
    }
    if excluded is not None and excluded not in known:
        raise InputError(
            f"value.learn_weights_from = {spec!r}: no such event_type in the engagement input "
            f"(found: {', '.join(sorted(known))}); or use 'transactions:CATEGORY'."
        )
    features = engagement_features(con, customers, types, cutoff, cfg.engagement_half_life_days)
    x = np.log1p(features.to_numpy(dtype=np.float64))
    y = customers.isin(positives).to_numpy()
    if y.sum() < 10 or (~y).sum() < 10:
        raise InputError(
            f"value.learn_weights_from = {spec!r}: {int(y.sum())} of {len(y)} customers have the "
            f"outcome in the last {cfg.outcome_window_days:g} days; at least 10 with and 10 "
            "without are needed. Name a more common outcome or widen value.outcome_window_days."
        )
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    z_train, z_test, y_train, y_test = train_test_split(
        z, y, test_size=0.3, random_state=seed, stratify=y
    )
    model = LogisticRegression(C=cfg.regularisation_c, max_iter=1000)
    model.fit(z_train, y_train)
    auc = float(roc_auc_score(y_test, model.decision_function(z_test)))
    return LearnedWeights(
        outcome=spec,
        coefficients=dict(zip(types, map(float, model.coef_[0]), strict=True)),
        intercept=float(model.intercept_[0]),
        feature_means=dict(zip(types, map(float, mean), strict=True)),
        feature_scales=dict(zip(types, map(float, scale), strict=True)),
        auc=auc,
        positives=int(y.sum()),
        customers=len(y),
        holdout=len(y_test),
    )


def learned_scores(
    con: duckdb.DuckDBPyConnection,
    customers: pd.Series,
    learned: LearnedWeights,
    cfg: ValueConfig,
    as_of: dt.datetime,
) -> npt.NDArray[np.float64]:
    """The learned model's log-odds on the behaviour up to ``as_of`` (all history)."""
    types = list(learned.coefficients)
    x = np.log1p(
        engagement_features(con, customers, types, as_of, cfg.engagement_half_life_days).to_numpy(
            dtype=np.float64
        )
    )
    z = (x - np.array([learned.feature_means[t] for t in types])) / np.array(
        [learned.feature_scales[t] for t in types]
    )
    result: npt.NDArray[np.float64] = (
        z @ np.array([learned.coefficients[t] for t in types]) + learned.intercept
    )
    return result


def email_signals(
    con: duckdb.DuckDBPyConnection, customers: pd.Series, cfg: ValueConfig
) -> pd.DataFrame:
    """Counts and percentiles (over ``customers``) of each email signal, with top flags."""
    types = cfg.email_event_types
    counts = con.execute(
        "SELECT customer_id, event_type, count(*) AS n FROM engagement_events "
        "WHERE event_type IN (SELECT unnest(?)) GROUP BY ALL",
        [list(types.values())],
    ).df()
    wide = counts.pivot_table(index="customer_id", columns="event_type", values="n", fill_value=0)
    out = pd.DataFrame({"customer_id": customers.to_numpy()})
    for signal, event_type in types.items():
        n = (
            wide[event_type].reindex(customers, fill_value=0).fillna(0).to_numpy(np.float64)
            if event_type in wide.columns
            else np.zeros(len(customers))
        )
        pct = percentile(n)
        out[f"email_{signal}"] = n.astype(np.int64)
        out[f"email_{signal}_pct"] = pct
        out[f"top_{signal}"] = (pct >= cfg.email_top_percentile) & (n > 0)
    return out


def account_reach(con: duckdb.DuckDBPyConnection, cfg: ValueConfig) -> pd.DataFrame:
    """Per contact with an account: linked colleagues, and colleagues moved.

    A colleague is *moved* when, within ``reach_window_days`` after one of the contact's events of
    a type in ``reach_event_types``, the colleague has an event of the same type.
    """
    window = float(cfg.reach_window_days)
    has_events = bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'engagement_events'"
        ).fetchall()[0][0]
    )
    moved_sql = "SELECT NULL::VARCHAR AS src, NULL::VARCHAR AS dst WHERE false"
    if has_events:
        moved_sql = f"""
            SELECT DISTINCT s.src, s.dst
            FROM (SELECT p.src, p.dst, e.event_type, e.timestamp AS t
                  FROM _pairs p JOIN _ev e ON e.customer_id = p.src) s
            ASOF JOIN _ev d
              ON d.customer_id = s.dst AND d.event_type = s.event_type AND d.timestamp > s.t
            WHERE d.timestamp <= s.t + INTERVAL (CAST({window * 86400} AS BIGINT)) SECOND
        """
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _ev AS SELECT customer_id, event_type, timestamp "
            "FROM engagement_events WHERE event_type IN (SELECT unnest(?))",
            [cfg.reach_event_types],
        )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pairs AS
        WITH col AS (
            SELECT l.a, l.b FROM links l
            JOIN customers ca ON ca.customer_id = l.a
            JOIN customers cb ON cb.customer_id = l.b
            WHERE ca.account_id IS NOT NULL AND ca.account_id = cb.account_id
        )
        SELECT a AS src, b AS dst FROM col UNION ALL SELECT b, a FROM col
        """
    )
    frame = con.execute(
        f"""
        WITH moved AS ({moved_sql})
        SELECT p.src AS customer_id, count(DISTINCT p.dst) AS colleagues_linked,
               count(DISTINCT m.dst) AS colleagues_moved
        FROM _pairs p LEFT JOIN moved m ON m.src = p.src AND m.dst = p.dst
        GROUP BY p.src ORDER BY p.src
        """
    ).df()
    con.execute("DROP TABLE IF EXISTS _pairs")
    con.execute("DROP TABLE IF EXISTS _ev")
    return frame
