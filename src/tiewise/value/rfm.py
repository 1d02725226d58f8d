"""From purchase records to the per-customer summary the BG/NBD and Gamma-Gamma models take.

The protocol of Fader, Hardie & Lee (2005): purchases on the same day count once (their amounts
add up); ``frequency`` is the number of purchase days after the first; ``recency`` the time from the
first to the last purchase day; ``T`` the time from the first purchase day to the end of the
calibration period; ``monetary`` the mean spend of the repeat purchase days (the first purchase is
left out, as in the paper). Times are in units of ``unit_days`` (7: weeks).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

__all__ = ["rfm_summary"]


def rfm_summary(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    calibration_end: dt.date | dt.datetime,
    unit_days: float = 7.0,
) -> pd.DataFrame:
    """The calibration summary of every customer whose first purchase is in the period.

    Parameters
    ----------
    con
        A DuckDB connection that can read ``source``.
    source
        A table, view or subquery with ``customer_id``, ``timestamp`` (date or timestamp) and
        ``amount``; rows after ``calibration_end`` are ignored.
    calibration_end
        The last day of the calibration period (inclusive).
    unit_days
        Days per time unit.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``frequency``, ``recency``, ``T``, ``monetary``, ``first_purchase``,
        ``last_purchase``, ``spend`` (total in the period), ordered by ``customer_id``.
    """
    end = pd.Timestamp(calibration_end).date()
    return con.execute(
        f"""
        WITH days AS (
            SELECT customer_id, CAST(timestamp AS DATE) AS day, sum(amount) AS amount
            FROM {source}
            WHERE CAST(timestamp AS DATE) <= ?
            GROUP BY ALL
        ), ranked AS (
            SELECT *, min(day) OVER (PARTITION BY customer_id) AS first_day FROM days
        )
        SELECT customer_id,
               count(*) - 1 AS frequency,
               date_diff('day', min(day), max(day)) / ? AS recency,
               date_diff('day', min(day), ?::DATE) / ? AS T,
               coalesce(avg(amount) FILTER (WHERE day > first_day), 0.0) AS monetary,
               min(day) AS first_purchase,
               max(day) AS last_purchase,
               sum(amount) AS spend
        FROM ranked
        GROUP BY customer_id
        ORDER BY customer_id
        """,
        [end, unit_days, end, unit_days],
    ).df()
