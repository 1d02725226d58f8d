"""What the churn stage reads from the workspace, as arrays indexed like the ``nodes`` table.

Times are in days relative to the data's as-of time (``link_meta.as_of``; negative = before), so
that a cut-off is one number.  Weekly activity comes from the per-pair week masks of
``link_state`` (bit ``k`` = contact in the ``k``-th Monday-aligned week after ``link_meta.origin``):
no raw interaction records are needed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from tiewise.links.strength import ACTIVITY_WEEKS
from tiewise.shared import BoolArray, FloatArray, IntArray
from tiewise.store import RunContext, frame_query

__all__ = ["MAX_WEEKS", "ChurnData", "load_churn_data", "transaction_days"]

MAX_WEEKS = ACTIVITY_WEEKS
"""Weeks of activity read from the week masks and ``customer_weeks`` (the newest ones)."""

_DAY_S = 86_400.0


@dataclass(frozen=True)
class ChurnData:
    """Customers, their contacts' week-by-week activity and their churn times.

    Attributes
    ----------
    ids
        Every party of ``nodes`` (customers and off-network contacts), sorted by id.
    is_customer
        Whether the party is in ``customers`` (and not a service number).
    churn_day
        First churn event, in days relative to as-of (``inf``: never churned).
    u, v
        Contact pairs (indices into ``ids``; service numbers left out).
    week_bits
        Per pair: bit ``j`` set when the pair was in contact in week ``j``.
    week_start
        Start of week ``j`` in days relative to as-of.
    data_start
        The first interaction, in days relative to as-of.
    as_of
        The as-of time itself.
    community, is_leader
        From ``customer_scores`` (community -1 and no leaders when absent): the network of the
        whole window, for today's reasons only; the features rebuild the communities at each
        cut-off (:mod:`tiewise.churn.communities`).
    plan, segment
        Category codes (-1 when unknown) and the category names.
    monthly_fee, signup_day
        NaN when unknown; signup in days relative to as-of.
    weekly_contacts
        Per party (row) and week ``j`` (column): contacts active that week, from the links
        stage's ``customer_weeks`` (one SQL definition, run on DuckDB or Spark); None when the
        workspace has no such table, and then counted from ``week_bits``.
    records, last_day
        Per pair: records over the whole window, and the day of the last one (relative to
        as-of). A feature at a cut-off may read ``records`` only of pairs whose last record is
        before the cut (all of them are then known at the cut); None when not loaded.
    """

    ids: npt.NDArray[np.object_]
    is_customer: BoolArray
    churn_day: FloatArray
    u: IntArray
    v: IntArray
    week_bits: IntArray
    week_start: FloatArray
    data_start: float
    as_of: datetime.datetime
    community: IntArray
    is_leader: BoolArray
    plan: IntArray
    plan_names: list[str]
    segment: IntArray
    segment_names: list[str]
    monthly_fee: FloatArray
    signup_day: FloatArray
    weekly_contacts: npt.NDArray[np.int32] | None = None
    records: IntArray | None = None
    last_day: FloatArray | None = None

    @property
    def n(self) -> int:
        """Number of parties."""
        return len(self.ids)


def _codes(values: pd.Series) -> tuple[IntArray, list[str]]:
    cat = pd.Categorical(values)
    return np.asarray(cat.codes, dtype=np.int64), [str(c) for c in cat.categories]


def load_churn_data(ctx: RunContext) -> ChurnData:
    """Read parties, pairs with their week masks, customers, churn events and communities."""
    con = ctx.con
    origin, as_of, first_ts = con.execute(
        "SELECT origin, as_of, first_ts FROM link_meta"
    ).fetchall()[0]
    as_of_s = as_of.timestamp() if as_of.tzinfo else as_of.replace(tzinfo=datetime.UTC).timestamp()

    def rel(column: str) -> str:
        return f"(epoch({column}) - {as_of_s!r}) / {_DAY_S!r}"

    last_week = (as_of.date() - origin).days // 7
    first_week = max(0, (first_ts.date() - origin).days // 7, last_week - MAX_WEEKS + 1)
    n_weeks = last_week - first_week + 1
    origin_rel = (
        datetime.datetime.combine(origin, datetime.time()).replace(tzinfo=datetime.UTC).timestamp()
        - as_of_s
    ) / _DAY_S
    week_start = origin_rel + 7.0 * np.arange(first_week, last_week + 1, dtype=np.float64)

    con.execute(
        "CREATE OR REPLACE TEMP TABLE _churn_index AS "
        "SELECT n.customer_id, n.is_service, c.customer_id IS NOT NULL AND NOT n.is_service "
        "AS is_customer, CAST(row_number() OVER (ORDER BY n.customer_id) - 1 AS BIGINT) AS idx "
        "FROM nodes n LEFT JOIN (SELECT DISTINCT customer_id FROM customers) c USING (customer_id)"
    )
    has_scores = ctx.has_table("customer_scores")
    scores = (
        "LEFT JOIN customer_scores s USING (customer_id)"
        if has_scores
        else "LEFT JOIN (SELECT NULL::VARCHAR AS customer_id, NULL::BIGINT AS community, "
        "NULL::BOOLEAN AS is_leader) s USING (customer_id)"
    )
    churn = (
        f"LEFT JOIN (SELECT customer_id, min({rel('timestamp')}) AS churn_day FROM churn_events "
        "GROUP BY 1) e USING (customer_id)"
        if ctx.has_table("churn_events")
        else "LEFT JOIN (SELECT NULL::VARCHAR AS customer_id, NULL::DOUBLE AS churn_day) e "
        "USING (customer_id)"
    )
    cols = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE customers)").fetchall()}

    def col(name: str, sql_type: str, expr: str | None = None) -> str:
        if name in cols:
            return f"{expr or 'c.' + name} AS {name}"
        return f"NULL::{sql_type} AS {name}"

    nodes = con.execute(
        f"""
        SELECT i.customer_id, i.is_customer, coalesce(e.churn_day, 'inf'::DOUBLE) AS churn_day,
               coalesce(s.community, -1) AS community, coalesce(s.is_leader, false) AS is_leader,
               {col("plan", "VARCHAR")}, {col("segment", "VARCHAR")},
               {col("monthly_fee", "DOUBLE")},
               {col("signup_date", "DOUBLE", rel("CAST(c.signup_date AS TIMESTAMP)"))}
        FROM _churn_index i {scores} {churn}
        LEFT JOIN (SELECT * FROM customers QUALIFY row_number() OVER (PARTITION BY customer_id
                   ORDER BY customer_id) = 1) c USING (customer_id)
        ORDER BY i.idx
        """
    ).df()
    mask = (1 << n_weeks) - 1
    pairs = con.execute(
        f"""
        SELECT ia.idx AS u, ib.idx AS v,
               CAST((l.week_mask >> {first_week}) & {mask}::HUGEINT AS BIGINT) AS bits,
               CAST(l.n_voice_ab + l.n_sms_ab + l.n_other_ab + l.n_voice_ba + l.n_sms_ba
                    + l.n_other_ba AS BIGINT) AS records,
               {rel("l.last_ts")} AS last_day
        FROM link_state l JOIN _churn_index ia ON ia.customer_id = l.a
                          JOIN _churn_index ib ON ib.customer_id = l.b
        WHERE NOT ia.is_service AND NOT ib.is_service
        ORDER BY u, v
        """
    ).fetchnumpy()
    weekly = None
    if ctx.has_table("customer_weeks"):
        # week first_week + j is column w<last_week - first_week - j> (w0: the as-of week)
        columns = ", ".join(f"w.w{last_week - first_week - j} AS c{j}" for j in range(n_weeks))
        cells = con.execute(
            f"SELECT i.idx, {columns} FROM customer_weeks w JOIN _churn_index i USING (customer_id)"
        ).fetchnumpy()
        weekly = np.zeros((len(nodes), n_weeks), dtype=np.int32)
        rows = np.asarray(cells["idx"], np.int64)
        for j in range(n_weeks):
            weekly[rows, j] = cells[f"c{j}"]
    con.execute("DROP TABLE _churn_index")
    plan, plan_names = _codes(nodes["plan"])
    segment, segment_names = _codes(nodes["segment"])
    first = (
        first_ts.replace(tzinfo=datetime.UTC).timestamp()
        if not first_ts.tzinfo
        else (first_ts.timestamp())
    )
    return ChurnData(
        ids=np.asarray(nodes["customer_id"], dtype=object),
        is_customer=np.asarray(nodes["is_customer"], dtype=bool),
        churn_day=np.asarray(nodes["churn_day"], dtype=np.float64),
        u=np.asarray(pairs["u"], dtype=np.int64),
        v=np.asarray(pairs["v"], dtype=np.int64),
        week_bits=np.asarray(pairs["bits"], dtype=np.int64),
        week_start=week_start,
        data_start=(first - as_of_s) / _DAY_S,
        as_of=as_of,
        community=np.asarray(nodes["community"], dtype=np.int64),
        is_leader=np.asarray(nodes["is_leader"], dtype=bool),
        plan=plan,
        plan_names=plan_names,
        segment=segment,
        segment_names=segment_names,
        monthly_fee=np.asarray(nodes["monthly_fee"], dtype=np.float64),
        signup_day=np.asarray(nodes["signup_date"], dtype=np.float64),
        weekly_contacts=weekly,
        records=np.asarray(pairs["records"], dtype=np.int64),
        last_day=np.asarray(pairs["last_day"], dtype=np.float64),
    )


def transaction_days(ctx: RunContext, data: ChurnData) -> pd.DataFrame | None:
    """Transactions as (idx, day relative to as-of, amount), sorted; None without the table."""
    if not ctx.has_table("transactions"):
        return None
    con = ctx.con
    as_of = data.as_of.replace(tzinfo=datetime.UTC) if not data.as_of.tzinfo else data.as_of
    frame = pd.DataFrame({"customer_id": data.ids, "idx": np.arange(data.n, dtype=np.int64)})
    return frame_query(
        con,
        "_churn_ids",
        frame,
        f"""
        SELECT i.idx, (epoch(t.timestamp) - {as_of.timestamp()!r}) / {_DAY_S!r} AS day,
               t.amount
        FROM transactions t JOIN _churn_ids i USING (customer_id)
        ORDER BY i.idx, day
        """,
    ).df()
