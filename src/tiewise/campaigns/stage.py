"""Campaigns: ranked target lists with a held-out control group, responses loaded back, uplift.

Tables written:

``campaign_<name>``
    One row per selected customer: ``rank``, ``customer_id``, ``arm`` (``target`` or
    ``control``), ``score``, the list's own columns and the ``reason`` in words.
``campaigns``
    One row per campaign: kind, category, size, control share, seed, basis, run.
``campaign_responses``
    Responses loaded back (campaign, customer_id, responded, value), one row per listed customer:
    listed customers absent from the response file did not respond.
``campaign_uplift``
    Per campaign: customers, responders and response rate in each arm, the uplift (target rate −
    control rate) with its 95% confidence interval and p-value, and the value per customer.

The control group is drawn per customer, not per list: a customer is in the control arm when
``md5(seed:name:customer_id)`` falls below the control share, so the same customer stays in the
same arm when a list is rebuilt on refreshed data, and the arms are a random split at every rank.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
from scipy import stats

from tiewise.campaigns.lists import build_list
from tiewise.config import Config
from tiewise.exceptions import InputError
from tiewise.ingest.pseudonym import hmac_sql
from tiewise.store import RunContext, frame_query, scalar, sql_read_path, temp_table

__all__ = ["CampaignSummary", "Uplift", "create_campaign", "load_responses"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_TRUE = ("1", "true", "t", "yes", "y")
_FALSE = ("0", "false", "f", "no", "n", "")


@dataclass(frozen=True)
class CampaignSummary:
    """What a campaign list holds."""

    name: str
    kind: str
    table: str
    targets: int
    controls: int
    basis: str


@dataclass(frozen=True)
class Uplift:
    """Response in the target and control arms of a campaign, and the difference."""

    campaign: str
    targets: int
    target_responders: int
    controls: int
    control_responders: int
    uplift: float
    ci_low: float
    ci_high: float
    p_value: float
    matched: int = 0  # distinct ids in the response file that are on the list
    unmatched: int = 0  # distinct ids in the response file that are not
    unmatched_examples: tuple[str, ...] = ()  # the first few, as the file spells them

    @property
    def target_rate(self) -> float:
        """Share of the target arm who responded."""
        return self.target_responders / self.targets if self.targets else 0.0

    @property
    def control_rate(self) -> float:
        """Share of the control arm who responded."""
        return self.control_responders / self.controls if self.controls else 0.0


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"campaign name {name!r}: use lower-case letters, digits and _ (it names the table "
            "campaign_<name>), starting with a letter, at most 41 characters."
        )
    return name


def create_campaign(
    ctx: RunContext,
    config: Config,
    kind: str,
    *,
    name: str | None = None,
    size: int | None = None,
    category: str | None = None,
) -> CampaignSummary:
    """Build list ``kind``, keep its top ``size``, split off the control arm, write the tables."""
    name = _check_name(name or (f"{kind}_{category}" if category else kind).lower())
    size = size or config.campaigns.size
    if size < 1:
        raise InputError(f"--size {size}: a campaign needs at least one customer.")
    listing = build_list(ctx, config, kind, category=category)
    share = config.campaigns.control_share
    seed = f"{config.seed}:{name}:"
    table = f"campaign_{name}"
    n = ctx.write_table(
        table,
        f"""
        WITH ranked AS (
            SELECT row_number() OVER (ORDER BY score DESC, customer_id) AS rank, *
            FROM ({listing.sql})
        )
        SELECT rank, customer_id,
               CASE WHEN ('0x' || left(md5(? || customer_id), 8))::BIGINT / 4294967296.0 < ?
                    THEN 'control' ELSE 'target' END AS arm,
               * EXCLUDE (rank, customer_id, reason), reason
        FROM ranked WHERE rank <= ? ORDER BY rank
        """,
        params=[seed, share, size],
        stage="campaigns",
        description=f"Campaign {name} ({kind}): ranked customers, arm and reason.",
    )
    if n == 0:
        raise InputError(
            f"campaign {name}: the {kind} list is empty ({listing.basis}). Check that the "
            "workspace has the inputs it needs (see docs/campaigns.md)."
        )
    controls = int(scalar(ctx.con, f"SELECT count(*) FROM {table} WHERE arm = 'control'"))
    _register(ctx, name, kind, category, size, share, config.seed, listing.basis, n, controls)
    return CampaignSummary(name, kind, table, n - controls, controls, listing.basis)


def _register(
    ctx: RunContext,
    name: str,
    kind: str,
    category: str | None,
    size: int,
    share: float,
    seed: int,
    basis: str,
    n: int,
    controls: int,
) -> None:
    row = (
        "SELECT ? AS campaign, ? AS kind, ?::VARCHAR AS category, ? AS size, ? AS listed, "
        "? AS controls, ? AS control_share, ? AS seed, ? AS basis, ? AS run_id, "
        "now()::TIMESTAMP AS created_at"
    )
    params = [name, kind, category, size, n, controls, share, seed, basis, ctx.run_id]
    if ctx.has_table("campaigns"):
        sql = f"SELECT * FROM campaigns WHERE campaign <> ? UNION ALL {row}"
        params = [name, *params]
    else:
        sql = row
    ctx.write_table(
        "campaigns", sql, params=params, stage="campaigns", description="Every campaign list."
    )


def load_responses(
    ctx: RunContext,
    name: str,
    path: Path,
    *,
    key: bytes | None,
    id_column: str = "customer_id",
    response_column: str = "responded",
    value_column: str | None = None,
) -> Uplift:
    """Load the responses to campaign ``name`` from a CSV or Parquet file; compute its uplift.

    The file has one row per customer who responded (or one per listed customer with a yes/no
    column).  Identifiers are pseudonymised with ``key`` as at ingest (None: the file already
    holds the workspace's pseudonyms).  Listed customers missing from the file did not respond.
    """
    con = ctx.con
    table = f"campaign_{_check_name(name)}"
    if not ctx.has_table(table):
        raise InputError(
            f"no campaign {name!r} in the workspace: build it with `tiewise campaign`."
        )
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":  # the sheet as a relation, not con.register (store.frame_query)
        from tiewise.campaigns.files import read_frame

        sheet = read_frame(path, "responses")
        reader = "_response_file"
    else:
        sheet = None
        reader = (
            f"read_parquet({sql_read_path(path)})"
            if suffix in (".parquet", ".pq")
            else f"read_csv({sql_read_path(path)}, all_varchar = true, header = true)"
        )
    columns = con.sql(f"SELECT * FROM {reader}").columns if sheet is None else sheet.columns
    present = {str(c) for c in columns}
    for column, option in (
        (id_column, "--id-column"),
        (response_column, "--response-column"),
        (value_column, "--value-column"),
    ):
        if column is not None and column not in present:
            raise InputError(
                f"{path}: no column {column!r} (columns: {', '.join(sorted(present))}). Name the "
                f"right one with {option}."
            )
    rows = f"""
        SELECT row_number() OVER () AS _row, CAST("{id_column}" AS VARCHAR) AS raw_id,
               lower(trim(CAST("{response_column}" AS VARCHAR))) AS responded_text,
               {f'CAST("{value_column}" AS VARCHAR)' if value_column else "NULL"} AS value_text
        FROM {reader}"""
    if sheet is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _responses AS {rows}")
    else:
        temp_table(con, "_responses", frame_query(con, reader, sheet, rows))
        del sheet
    _check_responses(con, path, response_column, value_column)
    ids = "raw_id"
    if key is not None:  # hashed as ingest hashed the inputs' identifiers (trimmed)
        con.execute("ALTER TABLE _responses ADD COLUMN _hashed VARCHAR")
        con.execute(f"UPDATE _responses SET _hashed = {hmac_sql('trim(raw_id)', key)}")
        ids = "_hashed"
    truthy = ", ".join(f"'{v}'" for v in _TRUE)
    ctx.con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _answers AS
        SELECT {ids} AS customer_id, bool_or(responded_text IN ({truthy})) AS responded,
               sum(TRY_CAST(value_text AS DOUBLE)) AS value
        FROM _responses GROUP BY 1"""
    )
    matched, unmatched, examples = _matching(con, table, key is not None)
    if matched == 0:
        raise InputError(_no_match_hint(con, path, table, id_column, key is not None, unmatched))
    new = f"""
        SELECT '{name}' AS campaign, c.customer_id, c.arm,
               coalesce(a.responded, false) AS responded, coalesce(a.value, 0.0) AS value
        FROM {table} c LEFT JOIN _answers a USING (customer_id)
    """
    if ctx.has_table("campaign_responses"):
        new = f"SELECT * FROM campaign_responses WHERE campaign <> '{name}' UNION ALL {new}"
    ctx.write_table(
        "campaign_responses",
        new,
        stage="campaigns",
        description="Responses per listed customer and campaign (missing = did not respond).",
    )
    unmatched_responders = int(
        scalar(
            con,
            f"SELECT count(*) FROM _answers a ANTI JOIN {table} c USING (customer_id) "
            "WHERE a.responded",
        )
    )
    uplift = replace(
        _uplift(ctx, name), matched=matched, unmatched=unmatched, unmatched_examples=examples
    )
    _write_uplift(ctx, uplift, unmatched_responders)
    con.execute("DROP TABLE _responses")
    con.execute("DROP TABLE _answers")
    return uplift


def _matching(
    con: duckdb.DuckDBPyConnection, table: str, hashed: bool
) -> tuple[int, int, tuple[str, ...]]:
    """Distinct response ids on the list, not on it, and the first few not on it (raw)."""
    on_list = f"SELECT count(*) FROM _answers SEMI JOIN {table} USING (customer_id)"
    matched = int(scalar(con, on_list))
    unmatched = int(scalar(con, on_list.replace("SEMI JOIN", "ANTI JOIN")))
    rows = con.execute(
        f"SELECT min(_row), any_value(raw_id) FROM _responses r JOIN _answers a "
        f"ON a.customer_id = {'r._hashed' if hashed else 'r.raw_id'} "
        f"WHERE a.customer_id NOT IN (SELECT customer_id FROM {table}) "
        "GROUP BY a.customer_id ORDER BY 1 LIMIT 5"
    ).fetchall()
    return matched, unmatched, tuple(str(r[1]) for r in rows)


def _no_match_hint(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    id_column: str,
    hashed: bool,
    ids: int,
) -> str:
    """Why no response id matched the list, and what to try."""
    head = (
        f"{path}: none of its {ids:,} customer ids (column {id_column!r}) is on the campaign "
        f"list {table}, so no uplift can be measured (nothing was stored)."
    )
    if hashed:
        as_is = int(
            scalar(
                con, f"SELECT count(*) FROM _responses SEMI JOIN {table} ON customer_id = raw_id"
            )
        )
        if as_is:
            return (
                f"{head} {as_is:,} of them are the workspace's pseudonyms as they stand: pass "
                "--pseudonymised."
            )
        return (
            f"{head} The ids were pseudonymised with the workspace key: check that they are the "
            "identifiers the inputs had (same format: country code, leading zeros) and the key "
            "file is the one used at ingest, or pass --id-column."
        )
    return (
        f"{head} The file was read as pseudonyms: if it holds raw identifiers (phone numbers, "
        "e-mails), leave out --pseudonymised."
    )


def _check_responses(
    con: duckdb.DuckDBPyConnection, path: Path, response_column: str, value_column: str | None
) -> None:
    allowed = ", ".join(f"'{v}'" for v in (*_TRUE, *_FALSE))
    bad = con.execute(
        f"SELECT _row, responded_text FROM _responses "
        f"WHERE coalesce(responded_text, '') NOT IN ({allowed}) ORDER BY _row LIMIT 1"
    ).fetchall()
    if bad:
        row, value = bad[0]
        raise InputError(
            f"{path}, data row {row}, column {response_column!r}: {value!r} is not a yes/no "
            "answer (expected 1/0, true/false or yes/no). Fix the file."
        )
    if value_column is not None:
        bad = con.execute(
            "SELECT _row, value_text FROM _responses WHERE value_text IS NOT NULL AND "
            "trim(value_text) <> '' AND TRY_CAST(value_text AS DOUBLE) IS NULL "
            "ORDER BY _row LIMIT 1"
        ).fetchall()
        if bad:
            row, value = bad[0]
            raise InputError(
                f"{path}, data row {row}, column {value_column!r}: {value!r} is not a number."
            )
    missing = con.execute(
        "SELECT min(_row) FROM _responses WHERE raw_id IS NULL OR trim(raw_id) = ''"
    ).fetchall()[0][0]
    if missing is not None:
        raise InputError(f"{path}, data row {missing}: the customer identifier is empty.")


def _uplift(ctx: RunContext, name: str) -> Uplift:
    rows = dict(
        (arm, (int(n), int(k)))
        for arm, n, k in ctx.con.execute(
            "SELECT arm, count(*), count(*) FILTER (WHERE responded) FROM campaign_responses "
            "WHERE campaign = ? GROUP BY arm",
            [name],
        ).fetchall()
    )
    nt, kt = rows.get("target", (0, 0))
    nc, kc = rows.get("control", (0, 0))
    return uplift_test(name, nt, kt, nc, kc)


def uplift_test(name: str, nt: int, kt: int, nc: int, kc: int) -> Uplift:
    """Difference in response rates between arms, its 95% Wald interval and p-value.

    The p-value is Pearson's chi-square test of the 2x2 table (the two-proportion z-test), or
    Fisher's exact test when an expected count is below 5.

    Examples
    --------
    >>> u = uplift_test("x", 1000, 120, 1000, 80)
    >>> round(u.uplift, 3), round(u.p_value, 4)
    (0.04, 0.0029)
    """
    if nt == 0 or nc == 0:
        return Uplift(name, nt, kt, nc, kc, math.nan, math.nan, math.nan, math.nan)
    pt, pc = kt / nt, kc / nc
    diff = pt - pc
    half = 1.959963984540054 * math.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)
    table = [[kt, nt - kt], [kc, nc - kc]]
    if kt + kc == 0 or kt + kc == nt + nc:
        p = 1.0
    else:
        expected = stats.contingency.expected_freq(table)
        if (expected < 5).any():
            p = float(stats.fisher_exact(table).pvalue)
        else:
            p = float(stats.chi2_contingency(table, correction=False).pvalue)
    return Uplift(name, nt, kt, nc, kc, diff, diff - half, diff + half, p)


def _write_uplift(ctx: RunContext, u: Uplift, unmatched: int) -> None:
    row = """
        SELECT ? AS campaign, ? AS targets, ? AS target_responders, ? AS target_rate,
               ? AS controls, ? AS control_responders, ? AS control_rate, ? AS uplift,
               ? AS ci_low, ? AS ci_high, ? AS p_value, ? AS responders_not_listed,
               (SELECT avg(value) FILTER (WHERE arm = 'target') FROM campaign_responses
                WHERE campaign = ?) AS value_per_target,
               (SELECT avg(value) FILTER (WHERE arm = 'control') FROM campaign_responses
                WHERE campaign = ?) AS value_per_control,
               now()::TIMESTAMP AS loaded_at
    """
    params: list[object] = [
        u.campaign, u.targets, u.target_responders, u.target_rate, u.controls,
        u.control_responders, u.control_rate, u.uplift, u.ci_low, u.ci_high, u.p_value,
        unmatched, u.campaign, u.campaign,
    ]  # fmt: skip
    if ctx.has_table("campaign_uplift"):
        sql = f"SELECT * FROM campaign_uplift WHERE campaign <> ? UNION ALL {row}"
        params = [u.campaign, *params]
    else:
        sql = row
    ctx.write_table(
        "campaign_uplift",
        sql,
        params=params,
        stage="campaigns",
        description="Response and uplift against the control group, per campaign.",
    )
