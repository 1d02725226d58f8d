"""Social value (seed 003's three parts) and the financial x social segments.

Each part is a percentile (0-100, the share of customers strictly below) so that parts measured
in different units combine:

``social_knowledge``
    Knowledge and involvement in the category: the engagement score (events, web visits,
    surveys, references, ... weighted and recency-decayed), or, without engagement records, the
    recency-decayed count of product adoptions.
``social_connections``
    Participation and the value of the connections: the mean of the percentiles of tie strength
    (sum of ln(1 + link strength)), of how tight-knit the customer's community is
    (1 - conductance) and of bridging (participation coefficient).
``social_reach``
    Contacts per network: the percentile of ``sum over channels of ln(1 + contacts on it)``,
    which rewards being present on several channels over many contacts on one.

``social_value`` is their weighted mean (``value.social_weights``; parts that cannot be computed
are left out and the weights of the others renormalised); ``social_percentile`` its percentile.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from tiewise.config import ValueConfig
from tiewise.value.advocacy import percentile

__all__ = ["SEGMENTS", "assign_segments", "social_value"]

SEGMENTS = ("Ambassador", "Influencer", "High spender", "Other")


def _or_na(column: str) -> str:
    """SQL of ``column`` as a whole number, or "n/a" where it is not known (NULL or NaN)."""
    return (
        f"CASE WHEN {column} IS NULL OR isnan({column}) THEN 'n/a' "
        f"ELSE format('{{:.0f}}', {column}) END"
    )


def _num(column: str) -> str:
    """SQL of ``column`` with NaN for NULL, which Python prints as "nan".

    DuckDB reads pandas' NaN as NULL, and ``format`` of a NULL is NULL.
    """
    return f"coalesce({column}, 'nan'::DOUBLE)"


# Each customer's reason, worded by DuckDB from the frame ``parts`` of :func:`assign_segments`
# (Python's f-strings took 7 s a million customers); parameters: the basis' label, the two
# cut-offs as text and the note on network value.  ``format`` follows Python's format specs:
# the same text as the f-string in tests/value/test_segments.py.
_REASON_SQL = f"""
SELECT format(
    '{{}}: financial p{{:.0f}} ({{}} {{:,.2f}}) {{}} p{{}}; social p{{:.0f}} (value {{:.1f}} = '
    || 'knowledge {{}}, connections {{}}, reach {{}}) {{}} p{{}}. {{}}; spent {{:,.2f}} to date; '
    || 'network value {{:,.2f}} ({{}}); true value {{:,.2f}}{{}}',
    segment, {_num("fp")}, $1, {_num("fv")}, CASE WHEN hf THEN '>=' ELSE '<' END, $2,
    {_num("sp")}, {_num("sv")}, {_or_na("k")}, {_or_na("c")}, {_or_na("r")},
    CASE WHEN hs THEN '>=' ELSE '<' END, $3, coalesce(why, 'no financial model result'),
    {_num("h")}, {_num("nv")}, $4, {_num("tv")}, tail) AS reason
FROM parts
"""


def _pct(frame: pd.DataFrame, column: str) -> np.ndarray | None:
    if column not in frame or frame[column].isna().all():
        return None
    return percentile(frame[column].fillna(0.0).to_numpy(np.float64))


def social_value(frame: pd.DataFrame, cfg: ValueConfig) -> pd.DataFrame:
    """Add ``social_connections``, ``social_reach``, ``social_value`` and its percentile."""
    out = frame.copy()
    parts = [
        p
        for p in (_pct(out, c) for c in ("tie_strength", "community_tightness", "participation"))
        if p is not None
    ]
    out["social_connections"] = np.mean(parts, axis=0) if parts else np.nan
    channels = [c for c in ("contacts_voice", "contacts_sms", "contacts_other") if c in out]
    if channels:
        spread = np.log1p(out[channels].fillna(0).to_numpy(np.float64)).sum(axis=1)
        out["social_reach"] = percentile(spread)
    else:
        out["social_reach"] = np.nan
    if "social_knowledge" not in out:
        out["social_knowledge"] = np.nan
    total = np.zeros(len(out))
    weight = 0.0
    for name in ("knowledge", "connections", "reach"):
        values = out[f"social_{name}"].to_numpy(np.float64)
        w = cfg.social_weights.get(name, 0.0)
        if w > 0 and not np.isnan(values).all():
            total += w * np.nan_to_num(values)
            weight += w
    out["social_value"] = total / weight if weight else 0.0
    out["social_percentile"] = percentile(out["social_value"].to_numpy(np.float64))
    return out


def assign_segments(
    frame: pd.DataFrame, cfg: ValueConfig, *, basis: str, network_note: str
) -> pd.DataFrame:
    """Add ``financial_percentile``, ``segment`` and ``reason`` (which cut-offs put it there)."""
    out = frame.copy()
    out["financial_percentile"] = percentile(out[basis].to_numpy(np.float64))
    high_f = out["financial_percentile"].to_numpy() >= cfg.financial_cutoff
    high_s = out["social_percentile"].to_numpy() >= cfg.social_cutoff
    out["segment"] = np.select(
        [high_f & high_s, high_s, high_f], list(SEGMENTS[:3]), default=SEGMENTS[3]
    )
    extra = [""] * len(out)
    tails = False  # engagement, e-mail and colleagues' notes (B2B data)
    if "top_behaviour" in out:
        tails = True
        extra = [
            f"; engagement: most from {b}" if isinstance(b, str) else ""
            for b in out["top_behaviour"]
        ]
    flags = [""] * len(out)
    signals = [
        c.removeprefix("top_") for c in out.columns if c.startswith("top_") and c != "top_behaviour"
    ]
    if signals:
        tails = True
        tops = out[[f"top_{s}" for s in signals]].fillna(False).to_numpy(bool)
        flags = [
            "; top email " + ", ".join(s for s, on in zip(signals, row, strict=True) if on)
            if row.any()
            else ""
            for row in tops
        ]
    moved = [""] * len(out)
    if "colleagues_moved" in out:
        tails = True
        moved = [
            f"; moves {m} of {n} linked colleagues" if n else ""
            for m, n in zip(out["colleagues_moved"], out["colleagues_linked"], strict=True)
        ]
    label = "clv" if basis == "clv" else "spend to date"
    parts = pd.DataFrame(
        {
            "segment": out["segment"].to_numpy(),
            "fp": out["financial_percentile"].to_numpy(np.float64),
            "fv": out[basis].to_numpy(np.float64),
            "hf": high_f,
            "sp": out["social_percentile"].to_numpy(np.float64),
            "sv": out["social_value"].to_numpy(np.float64),
            "k": out["social_knowledge"].to_numpy(np.float64),
            "c": out["social_connections"].to_numpy(np.float64),
            "r": out["social_reach"].to_numpy(np.float64),
            "hs": high_s,
            "why": out["model_reason"].astype(object).to_numpy(),
            "h": out["historical_spend"].to_numpy(np.float64),
            "nv": out["network_value"].to_numpy(np.float64),
            "tv": out["true_value"].to_numpy(np.float64),
            "tail": [e + f + m for e, f, m in zip(extra, flags, moved, strict=True)]
            if tails
            else "",
        }
    )
    constants = [label, f"{cfg.financial_cutoff:g}", f"{cfg.social_cutoff:g}", network_note]
    # in memory, on every core (1M reasons 7.0 s -> 1.0 s), never spilled to a file: the
    # frame holds no identifiers, but an in-memory database would spill to ./.tmp
    with duckdb.connect(config={"temp_directory": ""}) as con:
        con.register("parts", parts)
        out["reason"] = con.execute(_REASON_SQL, constants).fetchnumpy()["reason"]
    return out
