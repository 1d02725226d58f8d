"""What the web explorer shows, read from the workspace opened read-only.

:class:`Explorer` answers every question the pages ask -- the network at a glance, a customer's
scores and reasons, their ego network, the communities, the exportable tables -- with
parameterised SQL.  A DuckDB connection runs one statement at a time and refuses a second caller
("connection is busy"), so no query ever runs on the workspace's own connection: each call borrows
a cursor (a connection of its own to the same read-only database) from a small free list and gives
it back, and the web server's threads never share one.

Tables are discovered through the workspace's ``_tiewise_tables`` registry: what a
later stage wrote (``customer_value``, ``churn_scores``, ``influence_scores``, ``campaign_*``
lists, ...) is shown when it is there and skipped when it is not.

Nothing here writes: the connection is read-only, so even a bug could not change the workspace.

Examples
--------
>>> import tempfile
>>> from tiewise.store import Workspace
>>> with tempfile.TemporaryDirectory() as d:
...     with Workspace.open(d, create=True) as ws, ws.run(command="example") as run:
...         _ = run.write_table("customers", "SELECT 'c1' AS customer_id, 'gold' AS segment",
...                             stage="ingest", description="customers",
...                             check=False)
...     with Explorer.open(d) as ex:
...         [t.name for t in ex.tables()], ex.profile("c1")["customers"]["segment"]
(['customers'], 'gold')
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from tiewise.serve.selection import (
    BANDS,
    RiskCuts,
    Selection,
    SelectionError,
    available_columns,
    band_case,
    influencer_condition,
    risk_cuts_sql,
    selection_query,
    selection_sql,
)
from tiewise.store import TableInfo, Workspace, sql_identifier

__all__ = ["Bar", "Charts", "CustomerList", "EgoNetwork", "Explorer", "Overview"]

#: Tables with one row per customer, shown as "field: value" on the customer's page, in this
#: order; any other table with a ``customer_id`` column is shown as rows.
PROFILE_TABLES = (
    "customers",
    "customer_scores",
    "customer_value",
    "network_value",
    "churn_scores",
    "retention_priority",
)
#: Per-customer tables not worth a section on the customer page (the profile says it already).
_HIDDEN_ON_CUSTOMER = {"nodes", "network_nodes"}
#: Columns most worth seeing first in a table of customers.
_ID = "customer_id"
_ROWS_PER_SECTION = 20
#: Tables named like campaign lists that are about the campaigns instead.
_NOT_LISTS = {"campaign_uplift", "campaign_responses"}
#: Idle cursors kept for the next request (more are opened when more requests run at once).
_IDLE_CURSORS = 16


@dataclass(frozen=True)
class Overview:
    """The network at a glance."""

    figures: list[tuple[str, Any]]
    data_quality: list[dict[str, Any]]
    rejected_rows: int | None
    largest_communities: list[dict[str, Any]]
    top_customers: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    churn_top: list[dict[str, Any]]
    influence_top: list[dict[str, Any]]
    lists: list[TableInfo]
    last_run: dict[str, Any] | None


@dataclass
class EgoNetwork:
    """A customer, their strongest contacts and the links among them, ready to draw."""

    center: str
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    contacts_total: int = 0

    def as_json(self) -> dict[str, Any]:
        """The network as plain JSON (the browser draws it with Cytoscape)."""
        return {
            "center": self.center,
            "contacts_total": self.contacts_total,
            "contacts_drawn": len(self.nodes) - 1,
            "nodes": self.nodes,
            "edges": self.edges,
        }


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, length, the figure written beside it and its link."""

    label: str
    value: float
    text: str
    href: str | None = None
    note: str = ""


@dataclass
class Charts:
    """The overview's charts, each a list of bars (empty when the workspace cannot draw it)."""

    community_sizes: list[Bar] = field(default_factory=list)
    segments: list[Bar] = field(default_factory=list)
    segment_grid: dict[str, Bar] = field(default_factory=dict)
    influence: list[Bar] = field(default_factory=list)
    churn_customers: list[Bar] = field(default_factory=list)
    churn_loss: list[Bar] = field(default_factory=list)
    campaigns: list[Bar] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerList:
    """One page of the customer list, how many rows match, and what the page must say."""

    columns: list[str]
    rows: list[dict[str, Any]]
    total: int
    note: str = ""


#: Community-size buckets for the overview's chart: (label, smallest, largest).
_SIZE_BUCKETS = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3–5", 3, 5),
    ("6–10", 6, 10),
    ("11–20", 11, 20),
    ("21–50", 21, 50),
    ("51–100", 51, 100),
    ("101–1,000", 101, 1000),
    ("over 1,000", 1001, 2**62),
)


def _money(value: Any) -> str:
    if value is None:
        return ""
    return f"{float(value):,.0f}"


def _csv(table: pa.Table, *, header: bool) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=header))
    return bytes(sink.getvalue().to_pybytes())


def _plain(value: Any) -> Any:
    """A value JSON can carry: numbers and strings as they are (decimals as floats), else text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):  # exact sums (DECIMAL columns) read as numbers
        return float(value)
    return str(value)


class Explorer:
    """Read-only questions over one workspace.  Use :meth:`open`; close it when done."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._con = ws.con
        self._lock = threading.Lock()  # guards the free list and cursor creation
        self._idle: list[duckdb.DuckDBPyConnection] = []
        self._closed = False
        # While the workspace is open read-only no process can write it (DuckDB's file lock),
        # so the registry and the columns are read once; the row counts when first asked for.
        self._tables: list[TableInfo] | None = None
        self._risk_cuts: RiskCuts | None = None
        self._columns: dict[str, list[str]] = {}
        for row in self._records(
            "SELECT t.name, c.column_name FROM _tiewise_tables t JOIN duckdb_columns() c "
            "ON c.table_name = t.name AND c.schema_name = 'main' "
            "ORDER BY t.written_at, t.name, c.column_index"
        ):
            self._columns.setdefault(row["name"], []).append(row["column_name"])

    @classmethod
    def open(cls, path: str | Path, *, memory_limit: str | None = None) -> Explorer:
        """Open the workspace folder ``path`` read-only."""
        return cls(Workspace.open(path, read_only=True, memory_limit=memory_limit))

    def __enter__(self) -> Explorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle cursors and the workspace."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for cur in idle:
            cur.close()
        self.ws.close()

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for this thread alone while the block runs, then back to the free list.

        Never waits: when every cursor is in use (many requests at once, or CSV downloads that
        hold one while the client reads), a new one is opened.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the explorer is closed")
            cur = self._idle.pop() if self._idle else self._con.cursor()
        healthy = False
        try:
            yield cur
            healthy = True
        finally:
            with self._lock:
                keep = healthy and not self._closed and len(self._idle) < _IDLE_CURSORS
                if keep:
                    self._idle.append(cur)
            if not keep:
                cur.close()

    def _records(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            result = cur.execute(sql, params or [])
            names = [d[0] for d in result.description or []]
            return [
                {k: _plain(v) for k, v in zip(names, row, strict=True)} for row in result.fetchall()
            ]

    def _value(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self._records(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def tables(self) -> list[TableInfo]:
        """Every table and view the runs registered: stage, rows (None: a view) and description.

        Views are not counted: counting runs their query, seconds on a large workspace.
        """
        if self._tables is None:
            with self.cursor() as cur:
                self._tables = Workspace(self.ws.path, cur, read_only=True).tables(
                    count_views=False
                )
        return list(self._tables)

    def _names(self) -> set[str]:
        return set(self._columns)

    def has(self, name: str) -> bool:
        """Whether the registry lists table ``name`` and it exists."""
        return name in self._columns

    def columns(self, name: str) -> list[str]:
        """The columns of table ``name`` (empty when it is not registered), in order."""
        return list(self._columns.get(name, []))

    def lists(self) -> list[TableInfo]:
        """The campaign lists (tables named ``campaign_*``) and the retention priority list."""
        return [
            t
            for t in self.tables()
            if (t.name.startswith("campaign_") and t.name not in _NOT_LISTS)
            or t.name == "retention_priority"
        ]

    # -- overview --------------------------------------------------------------------------

    def overview(self) -> Overview:
        """Counts, data quality, the largest communities, the top customers and any extras."""
        names = self._names()
        figures: list[tuple[str, Any]] = []
        if "nodes" in names:
            row = self._records(
                "SELECT count(*) AS parties, count(*) FILTER (on_network) AS customers, "
                "count(*) FILTER (NOT on_network AND NOT is_service) AS prospects, "
                "count(*) FILTER (is_service) AS services FROM nodes"
            )[0]
            figures += [
                ("parties in the network", row["parties"]),
                ("customers (on-network)", row["customers"]),
                ("off-network contacts (prospects)", row["prospects"]),
                ("service numbers set aside", row["services"]),
            ]
        elif "customers" in names:
            figures.append(("customers", self._value("SELECT count(*) FROM customers")))
        if "link_state" in names:
            figures.append(("links", self._value("SELECT count(*) FROM link_state")))
        if "communities" in names:
            row = self._records(
                "SELECT count(*) AS n, max(size) AS largest, median(size) AS median, "
                "count(*) FILTER (size >= 3) AS n3 FROM communities"
            )[0]
            figures += [
                ("communities", row["n"]),
                ("communities of 3 or more", row["n3"]),
                ("largest community", row["largest"]),
                ("median community size", row["median"]),
            ]
        if "customer_scores" in names:
            figures.append(
                ("leaders", self._value("SELECT count(*) FROM customer_scores WHERE is_leader"))
            )
        if "link_meta" in names:
            figures.append(("data as of", self._value("SELECT max(as_of) FROM link_meta")))

        quality = (
            self._records(
                "SELECT * FROM ingest_report ORDER BY input, rule = 'loaded' DESC, rows DESC, rule"
            )
            if "ingest_report" in names
            else []
        )
        rejected = (
            int(self._value("SELECT count(*) FROM rejected_rows"))
            if "rejected_rows" in names
            else None
        )
        largest = (
            self._records(
                "SELECT community, size, on_network_members, density, conductance, leaders "
                "FROM communities ORDER BY size DESC, community LIMIT 10"
            )
            if "communities" in names
            else []
        )
        top = (
            self._records(
                "SELECT customer_id, community, contacts, weighted_degree, business_role, reason "
                "FROM customer_scores WHERE on_network AND NOT is_service "
                "ORDER BY weighted_degree DESC, customer_id LIMIT 10"
            )
            if "customer_scores" in names
            else []
        )
        segments = []
        if "customer_value" in names and "segment" in self.columns("customer_value"):
            segments = self._records(
                "SELECT segment, count(*) AS customers FROM customer_value "
                "GROUP BY segment ORDER BY customers DESC, segment"
            )
        churn = []
        if "churn_scores" in names:
            cols = self.columns("churn_scores")
            order = "expected_loss" if "expected_loss" in cols else "p_churn"
            if order in cols:
                shown = [c for c in (_ID, "p_churn", "expected_loss", "reason") if c in cols]
                churn = self._records(
                    f"SELECT {', '.join(shown)} FROM churn_scores "
                    f"ORDER BY {order} DESC NULLS LAST, customer_id LIMIT 10"
                )
        influence = []
        detected = [c for c, v in self.influence_verdicts().items() if v["influence_detected"]]
        cols = self.columns("influence_scores")
        if detected and {"category", "influence_score"} <= set(cols):
            # Only categories where the shuffle test found influence beyond homophily.
            shown = [c for c in (_ID, "category", "influence_score", "reason") if c in cols]
            influence = self._records(
                f"SELECT {', '.join(shown)} FROM influence_scores i "
                f"WHERE category IN (SELECT unnest(?)) AND {influencer_condition(cols)} "
                "ORDER BY influence_score DESC NULLS LAST, customer_id LIMIT 10",
                [detected],
            )
        last = self.last_run()
        return Overview(
            figures=figures,
            data_quality=quality,
            rejected_rows=rejected,
            largest_communities=largest,
            top_customers=top,
            segments=segments,
            churn_top=churn,
            influence_top=influence,
            lists=self.lists(),
            last_run=last,
        )

    def last_run(self) -> dict[str, Any] | None:
        """The newest run whose results were committed, or None."""
        rows = self._records("SELECT * FROM runs WHERE status = 'ok' ORDER BY run_id DESC LIMIT 1")
        return rows[0] if rows else None

    # -- charts ----------------------------------------------------------------------------

    def influence_verdicts(self) -> dict[str, dict[str, Any]]:
        """The shuffle test's verdict per category (``influence_tests``), empty without it."""
        cols = self.columns("influence_tests")
        if "category" not in cols or "influence_detected" not in cols:
            return {}
        shown = [
            c
            for c in (
                "category",
                "influence_detected",
                "adopters",
                "follows",
                "follows_expected",
                "excess",
                "p_value",
                "caused_per_adoption",
                "reason",
            )
            if c in cols
        ]
        rows = self._records(f"SELECT {', '.join(shown)} FROM influence_tests ORDER BY category")
        return {str(r["category"]): r for r in rows}

    def charts(self) -> Charts:
        """The overview's charts, each bar linking to the customers (or list) behind it."""
        charts = Charts()
        scores = self.columns("customer_scores")
        if "community_size" in scores:
            counts = {
                r["bucket"]: r["customers"]
                for r in self._records(
                    "SELECT "
                    + "CASE "
                    + " ".join(
                        f"WHEN community_size <= {high} THEN {k}"
                        for k, (_, _, high) in enumerate(_SIZE_BUCKETS)
                    )
                    + " END AS bucket, count(*) AS customers FROM customer_scores "
                    "WHERE on_network AND NOT is_service AND community_size IS NOT NULL "
                    "GROUP BY bucket"
                )
            }
            for k, (label, low, high) in enumerate(_SIZE_BUCKETS):
                if counts.get(k):
                    bound = f"&max_community_size={high}" if high < 2**62 else ""
                    charts.community_sizes.append(
                        Bar(
                            label,
                            counts[k],
                            f"{counts[k]:,}",
                            f"/customers?min_community_size={low}{bound}",
                        )
                    )
        value = self.columns("customer_value")
        if "segment" in value and "customer_id" in scores:
            for r in self._records(
                "SELECT v.segment, count(*) AS customers, "
                "sum(v.true_value) AS true_value FROM customer_value v "
                "JOIN customer_scores s USING (customer_id) "
                "WHERE s.on_network AND NOT s.is_service AND v.segment IS NOT NULL "
                "GROUP BY v.segment ORDER BY customers DESC, v.segment"
                if "true_value" in value
                else "SELECT v.segment, count(*) AS customers, NULL AS true_value "
                "FROM customer_value v JOIN customer_scores s USING (customer_id) "
                "WHERE s.on_network AND NOT s.is_service AND v.segment IS NOT NULL "
                "GROUP BY v.segment ORDER BY customers DESC, v.segment"
            ):
                bar = Bar(
                    str(r["segment"]),
                    r["customers"],
                    f"{r['customers']:,}",
                    f"/customers?segment={quote(str(r['segment']))}",
                    f"true value {_money(r['true_value'])}" if r["true_value"] is not None else "",
                )
                charts.segments.append(bar)
                charts.segment_grid[bar.label] = bar
        verdicts = self.influence_verdicts()
        for category, r in verdicts.items():
            excess = r.get("excess")
            if excess is None and r.get("follows") is not None:
                excess = float(r["follows"]) - float(r.get("follows_expected") or 0)
            detected = bool(r["influence_detected"])
            charts.influence.append(
                Bar(
                    category,
                    max(float(excess or 0), 0.0),
                    f"{float(excess or 0):,.0f} follows beyond chance"
                    + (f", p = {r['p_value']:.3g}" if r.get("p_value") is not None else ""),
                    f"/customers?influence={quote(category)}" if detected else None,
                    "influence detected" if detected else "not detected: no influencer list",
                )
            )
        if not verdicts and self.has("influence_scores"):
            charts.notes["influence"] = (
                "No shuffle test (influence_tests) in this workspace: no category is shown "
                "as influence."
            )
        churn = self.columns("churn_scores")
        if "p_churn" in churn:
            loss = "sum(expected_loss)" if "expected_loss" in churn else "NULL"
            bands = {
                r["band"]: r
                for r in self._records(  # the customer list's bands (one definition)
                    f"SELECT {band_case(self.risk_cuts())} AS band, count(*) AS customers, "
                    f"{loss} AS loss, min(p_churn) AS low, max(p_churn) AS high "
                    "FROM churn_scores c WHERE p_churn IS NOT NULL GROUP BY band"
                )
            }
            for band in BANDS:
                if band not in bands:
                    continue
                r = bands[band]
                href = f"/customers?churn_band={band}&sort=expected_loss"
                span = f"P(churn) {r['low']:.1%} to {r['high']:.1%}"
                charts.churn_customers.append(
                    Bar(band, r["customers"], f"{r['customers']:,}", href, span)
                )
                if r["loss"] is not None:
                    charts.churn_loss.append(
                        Bar(band, float(r["loss"]), _money(r["loss"]), href, "expected loss")
                    )
        camp = self.columns("campaigns")
        if "campaign" in camp:
            uplift_cols = self.columns("campaign_uplift")
            with_uplift = {"campaign", "uplift", "ci_low", "ci_high"} <= set(uplift_cols)
            rows = self._records(
                "SELECT c.campaign, c.listed, c.controls"
                + (
                    ", u.uplift, u.ci_low, u.ci_high FROM campaigns c "
                    "LEFT JOIN campaign_uplift u USING (campaign)"
                    if with_uplift
                    else ", NULL AS uplift, NULL AS ci_low, NULL AS ci_high FROM campaigns c"
                )
                + " ORDER BY c.campaign"
            )
            for r in rows:
                listed = int(r["listed"] or 0)
                controls = int(r["controls"] or 0)
                note = (
                    f"uplift {r['uplift']:+.1%} (95% CI {r['ci_low']:+.1%} to {r['ci_high']:+.1%})"
                    if r["uplift"] is not None
                    else "no responses loaded yet"
                )
                charts.campaigns.append(
                    Bar(
                        str(r["campaign"]),
                        listed,
                        f"{listed - controls:,} to contact, {controls:,} control",
                        f"/campaign/{quote(str(r['campaign']), safe='')}",
                        note,
                    )
                )
        return charts

    # -- campaigns -------------------------------------------------------------------------

    def campaign(self, name: str, *, limit: int = 50) -> dict[str, Any] | None:
        """A campaign list: its row, arms, responses, uplift and first targets (None if absent)."""
        if "campaign" not in self.columns("campaigns"):
            return None
        rows = self._records("SELECT * FROM campaigns WHERE campaign = ?", [name])
        table = f"campaign_{name}"
        if not rows or not self.has(table):
            return None
        cols = self.columns(table)
        out: dict[str, Any] = {"row": rows[0], "table": table, "columns": cols}
        arm = "arm" if "arm" in cols else None
        quoted = sql_identifier(table)
        out["arms"] = (
            self._records(
                f"SELECT arm, count(*) AS customers FROM {quoted} GROUP BY arm ORDER BY arm DESC"
            )
            if arm
            else [{"arm": "target", "customers": self._value(f"SELECT count(*) FROM {quoted}")}]
        )
        out["uplift"] = None
        if "campaign" in self.columns("campaign_uplift"):
            found = self._records("SELECT * FROM campaign_uplift WHERE campaign = ?", [name])
            out["uplift"] = found[0] if found else None
        out["responses"] = []
        resp = self.columns("campaign_responses")
        if arm and {"campaign", "customer_id", "responded"} <= set(resp):
            out["responses"] = self._records(
                f"SELECT l.arm, count(*) AS customers, count(r.customer_id) AS answered, "
                f"count(*) FILTER (r.responded) AS responded FROM {quoted} l "
                "LEFT JOIN campaign_responses r ON r.customer_id = l.customer_id "
                "AND r.campaign = ? GROUP BY l.arm ORDER BY l.arm DESC",
                [name],
            )
        shown = [c for c in cols if c not in ("customer_id",)]
        order = '"rank"' if "rank" in cols else "customer_id"
        for which in ("target", "control"):
            where = "WHERE arm = ? " if arm else ""
            params: list[Any] = [which] if arm else []
            if not arm and which == "control":
                out["control"] = []
                continue
            out[which] = self._records(
                f"SELECT customer_id, {', '.join(sql_identifier(c) for c in shown)} "
                f"FROM {quoted} {where}ORDER BY {order} LIMIT ?",
                [*params, limit],
            )
        return out

    # -- the customer list -----------------------------------------------------------------

    def _influence_note(self, selection: Selection) -> str:
        """Why an influence category's list is not shown ('' when it may be)."""
        if selection.influence is None:
            return ""
        verdicts = self.influence_verdicts()
        if not verdicts:
            return (
                f"No shuffle test for {selection.influence!r} in this workspace "
                "(influence_tests): no list is shown as influence."
            )
        verdict = verdicts.get(selection.influence)
        if verdict is None:
            raise SelectionError(
                f"influence: no category {selection.influence!r}; the categories are "
                + ", ".join(verdicts)
            )
        if not verdict["influence_detected"]:
            return (
                f"The shuffle test found no influence beyond homophily in {selection.influence}"
                + (f" ({verdict['reason']})" if verdict.get("reason") else "")
                + ": no influencer list is shown for it."
            )
        return ""

    def filter_options(self) -> dict[str, list[Any]]:
        """The values the list's filters may take: segments, roles, influence categories."""
        options: dict[str, list[Any]] = {"segment": [], "role": [], "influence": []}
        if "segment" in self.columns("customer_value"):
            options["segment"] = [
                r["segment"]
                for r in self._records(
                    "SELECT DISTINCT segment FROM customer_value WHERE segment IS NOT NULL "
                    "ORDER BY segment"
                )
            ]
        if "business_role" in self.columns("customer_scores"):
            options["role"] = [
                r["business_role"]
                for r in self._records(
                    "SELECT DISTINCT business_role FROM customer_scores "
                    "WHERE business_role IS NOT NULL ORDER BY business_role"
                )
            ]
        options["influence"] = [
            c for c, v in self.influence_verdicts().items() if v["influence_detected"]
        ]
        return options

    def risk_cuts(self) -> RiskCuts:
        """The lowest churn probability of each risk band, computed once (see ``BANDS``)."""
        if self._risk_cuts is None:
            cuts: dict[str, float | None] = dict.fromkeys(BANDS)
            if "p_churn" in self.columns("churn_scores"):
                rows = self._records(risk_cuts_sql())
                cuts.update(rows[0] if rows else {})
            self._risk_cuts = cuts
        return self._risk_cuts

    def customer_list(
        self, selection: Selection, *, page: int = 1, page_size: int = 50
    ) -> CustomerList:
        """One page of the customers the selection picks, and how many it picks in all.

        The page's ids first (joining only the tables the filters and the sort read), then
        every column of those rows alone: on a million customers the reasons of one page are
        read, not of all.
        """
        note = self._influence_note(selection)
        if note:
            return CustomerList(available_columns(self._columns, selection), [], 0, note)
        query = selection_query(self._columns, selection, self.risk_cuts())
        total = int(self._value(query.count_sql(), query.params))
        keys = self._records(
            query.keys_sql(), [*query.params, page_size, (max(page, 1) - 1) * page_size]
        )
        ids = [k[_ID] for k in keys]
        rows = self._records(query.rows_sql(), [*query.params, ids]) if ids else []
        return CustomerList(query.columns, rows, total)

    def selection_table(self, selection: Selection) -> tuple[pa.Table, str]:
        """Every row the selection picks, as Arrow (for the downloads), and any note."""
        note = self._influence_note(selection)
        sql, params, _ = selection_sql(self._columns, selection, self.risk_cuts())
        with self.cursor() as cur:
            table = cur.sql(f"{sql} LIMIT 0" if note else sql, params=params).to_arrow_table()
        return table, note

    # -- customers -------------------------------------------------------------------------

    def search(self, text: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Parties whose (pseudonymised) id is ``text`` or starts with it, exact match first."""
        text = text.strip()
        names = self._names()
        if not text or ("nodes" not in names and "customers" not in names):
            return []
        source = "nodes" if "nodes" in names else "customers"
        pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        scores = "customer_scores" in names
        select = (
            "SELECT p.customer_id, s.community, s.business_role, s.contacts, s.on_network "
            f"FROM {source} p LEFT JOIN customer_scores s USING (customer_id) "
            if scores
            else f"SELECT p.customer_id FROM {source} p "
        )
        return self._records(
            select + "WHERE p.customer_id LIKE ? ESCAPE '\\' "
            "ORDER BY p.customer_id = ? DESC, p.customer_id LIMIT ?",
            [pattern, text, limit],
        )

    def exists(self, customer_id: str) -> bool:
        """Whether ``customer_id`` is a party of the network or a customer."""
        names = self._names()
        for table in ("nodes", "customers", "customer_scores"):
            if table in names and self._value(
                f"SELECT count(*) FROM {table} WHERE customer_id = ?", [customer_id]
            ):
                return True
        return False

    def profile(self, customer_id: str) -> dict[str, dict[str, Any]]:
        """The one-row-per-customer tables' rows for ``customer_id``, by table, in order."""
        names = self._names()
        out: dict[str, dict[str, Any]] = {}
        for table in PROFILE_TABLES:
            if table in names and _ID in self.columns(table):
                rows = self._records(
                    f"SELECT * FROM {sql_identifier(table)} WHERE customer_id = ? LIMIT 1",
                    [customer_id],
                )
                if rows:
                    out[table] = rows[0]
        return out

    def related(self, customer_id: str) -> list[tuple[TableInfo, int, list[dict[str, Any]]]]:
        """Other tables with rows about ``customer_id``: (table, rows in all, the first rows)."""
        found = []
        for info in self.tables():  # counted once, then kept
            if info.name in PROFILE_TABLES or info.name in _HIDDEN_ON_CUSTOMER:
                continue
            cols = self.columns(info.name)
            if _ID not in cols:
                continue
            order = next(
                (
                    f"{sql_identifier(c)} DESC"
                    for c in ("timestamp", "influence_score")
                    if c in cols
                ),
                next((sql_identifier(c) for c in ("rank", "level") if c in cols), None),
            )
            # the first rows and how many there are in one scan (a window over the matches)
            rows = self._records(
                f"SELECT *, count(*) OVER () AS _tiewise_total FROM {sql_identifier(info.name)} "
                "WHERE customer_id = ? " + (f"ORDER BY {order} " if order else "") + "LIMIT ?",
                [customer_id, _ROWS_PER_SECTION],
            )
            if not rows:
                continue
            count = int(rows[0]["_tiewise_total"])
            for row in rows:
                del row["_tiewise_total"]
            found.append((info, count, rows))
        return found

    def summary(self, customer_id: str) -> dict[str, Any]:
        """What the customer page's card says: influence per category, churn triggers, lists."""
        out: dict[str, Any] = {"influence": [], "not_detected": [], "triggers": [], "lists": []}
        verdicts = self.influence_verdicts()
        cols = self.columns("influence_scores")
        if {"customer_id", "category", "influence_score"} <= set(cols):
            shown: list[str] = [
                c
                for c in (
                    "category",
                    "influence_score",
                    "influence_low",
                    "influence_high",
                    "rank",
                    "reason",
                )
                if c in cols
            ]
            for r in self._records(
                f"SELECT {', '.join(shown)}, {influencer_condition(cols)} AS influencer "
                "FROM influence_scores i WHERE customer_id = ? ORDER BY category",
                [customer_id],
            ):
                verdict = verdicts.get(str(r["category"]))
                if verdict is not None and verdict["influence_detected"]:
                    out["influence"].append(r)
                elif verdict is not None:
                    out["not_detected"].append(str(r["category"]))
        trig = self.columns("churn_triggers")
        if {"customer_id", "trigger"} <= set(trig):
            shown = [c for c in ("trigger", "trigger_date", "evidence") if c in trig]
            out["triggers"] = self._records(
                f"SELECT {', '.join(shown)} FROM churn_triggers WHERE customer_id = ? "
                "ORDER BY trigger LIMIT 20",
                [customer_id],
            )
        for info in self.lists():
            cols = self.columns(info.name)
            if "customer_id" not in cols or not info.name.startswith("campaign_"):
                continue
            shown = [c for c in ("rank", "arm", "reason") if c in cols]
            found = self._records(
                f"SELECT {', '.join(shown)} FROM {sql_identifier(info.name)} "
                "WHERE customer_id = ? LIMIT 1",
                [customer_id],
            )
            if found:
                out["lists"].append({"campaign": info.name.removeprefix("campaign_"), **found[0]})
        return out

    def reasons(self, profile: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
        """Every ``reason`` in a customer's profile, with the table it explains."""
        return [(table, str(row["reason"])) for table, row in profile.items() if row.get("reason")]

    def _adjacency(self) -> bool:
        """Whether the graph stage's sorted adjacency is here (older workspaces lack it)."""
        return self.has("network_adjacency") and self.has("network_nodes")

    def _node(self, customer_id: str) -> int | None:
        node = self._value("SELECT node FROM network_nodes WHERE customer_id = ?", [customer_id])
        return None if node is None else int(node)

    def _neighbours(self, customer_id: str, limit: int) -> list[dict[str, Any]]:
        """The customer's ``limit`` strongest contacts: other, strength, total (contacts)."""
        if self._adjacency():
            # Constants, not a join: DuckDB skips every block whose node range misses them.
            node = self._node(customer_id)
            if node is None:
                return []
            return self._records(
                "SELECT n.customer_id AS other, a.strength, count(*) OVER () AS total "
                "FROM network_adjacency a JOIN network_nodes n ON n.node = a.contact "
                "WHERE a.node = ? ORDER BY a.strength DESC, other LIMIT ?",
                [node, limit],
            )
        return self._records(
            "SELECT CASE WHEN a = ? THEN b ELSE a END AS other, strength, "
            "count(*) OVER () AS total FROM links WHERE a = ? OR b = ? "
            "ORDER BY strength DESC, other LIMIT ?",
            [customer_id, customer_id, customer_id, limit],
        )

    def _links_among(self, ids: list[str]) -> list[dict[str, Any]]:
        """The links between the parties ``ids`` (each once, ``source`` < ``target``)."""
        if not ids:
            return []
        if self._adjacency():
            nodes = [
                int(r["node"])
                for r in self._records(
                    "SELECT node FROM network_nodes WHERE customer_id IN (SELECT unnest(?))",
                    [ids],
                )
            ]
            if not nodes:
                return []
            marks = ", ".join("?" * len(nodes))
            return self._records(
                "SELECT na.customer_id AS source, nb.customer_id AS target, a.strength "
                "FROM network_adjacency a JOIN network_nodes na ON na.node = a.node "
                "JOIN network_nodes nb ON nb.node = a.contact "
                f"WHERE a.node IN ({marks}) AND a.contact IN ({marks}) AND a.node < a.contact "
                "ORDER BY source, target",
                [*nodes, *nodes],
            )
        return self._records(
            "SELECT a AS source, b AS target, strength FROM links "
            "WHERE a IN (SELECT unnest(?)) AND b IN (SELECT unnest(?)) ORDER BY a, b",
            [ids, ids],
        )

    def ego_network(self, customer_id: str, *, limit: int = 60) -> EgoNetwork:
        """The customer, their ``limit`` strongest contacts and the links among all of them.

        Read from the network the graph stage analysed (``network_adjacency``; links to
        service numbers are left out when the configuration excludes them), or from ``links``
        in a workspace written before that table existed.
        """
        ego = EgoNetwork(center=customer_id)
        names = self._names()
        if "links" not in names and not self._adjacency():
            return ego
        neighbours = self._neighbours(customer_id, limit)
        ego.contacts_total = int(neighbours[0]["total"]) if neighbours else 0
        ids = [customer_id] + [n["other"] for n in neighbours]
        attributes: dict[str, dict[str, Any]] = {i: {} for i in ids}
        if "customer_scores" in names:
            for row in self._records(
                "SELECT customer_id, community, business_role, is_leader, on_network, "
                "is_service, contacts, rank_in_community FROM customer_scores "
                "WHERE customer_id IN (SELECT unnest(?))",
                [ids],
            ):
                attributes[row.pop(_ID)] = row
        elif "nodes" in names:
            for row in self._records(
                "SELECT customer_id, on_network, is_service FROM nodes "
                "WHERE customer_id IN (SELECT unnest(?))",
                [ids],
            ):
                attributes[row.pop(_ID)] = row
        if "customer_value" in names and "segment" in self.columns("customer_value"):
            for row in self._records(
                "SELECT customer_id, segment AS value_segment FROM customer_value "
                "WHERE customer_id IN (SELECT unnest(?))",
                [ids],
            ):
                attributes[row.pop(_ID)].update(row)
        if "churn_scores" in names and "p_churn" in self.columns("churn_scores"):
            for row in self._records(
                "SELECT customer_id, p_churn FROM churn_scores "
                "WHERE customer_id IN (SELECT unnest(?))",
                [ids],
            ):
                attributes[row.pop(_ID)].update(row)
        for i in ids:
            ego.nodes.append({"id": i, "center": i == customer_id, **attributes[i]})
        ego.edges = self._links_among(ids)
        return ego

    # -- communities -----------------------------------------------------------------------

    COMMUNITY_ORDERS = (
        "size",
        "on_network_members",
        "density",
        "conductance",
        "churn_rate",
        "revenue",
        "mean_tie_strength",
    )

    def community_count(self) -> int:
        """How many communities there are (0 without the table)."""
        if not self.has("communities"):
            return 0
        return int(self._value("SELECT count(*) FROM communities"))

    def communities(
        self, *, order: str = "size", page: int = 1, page_size: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of communities sorted by ``order`` (descending), and how many there are."""
        if not self.has("communities"):
            return [], 0
        cols = self.columns("communities")
        if order not in self.COMMUNITY_ORDERS or order not in cols:
            order = "size"
        total = int(self._value("SELECT count(*) FROM communities"))
        rows = self._records(
            f"SELECT * FROM communities ORDER BY {sql_identifier(order)} DESC NULLS LAST, "
            "community LIMIT ? OFFSET ?",
            [page_size, (max(page, 1) - 1) * page_size],
        )
        return rows, total

    def community(self, community: int, *, limit: int = 100) -> tuple[dict[str, Any] | None, list]:
        """A community's row and its ``limit`` strongest members (leaders first)."""
        if not self.has("communities"):
            return None, []
        rows = self._records("SELECT * FROM communities WHERE community = ?", [community])
        if not rows:
            return None, []
        members = self._records(
            "SELECT customer_id, on_network, business_role, role_name, is_leader, "
            "rank_in_community, contacts, weighted_degree, participation, reason "
            "FROM customer_scores WHERE community = ? "
            "ORDER BY is_leader DESC, weighted_degree DESC, customer_id LIMIT ?",
            [community, limit],
        )
        return rows[0], members

    def community_graph(self, community: int, *, limit: int = 150) -> dict[str, Any] | None:
        """A community to draw: its members (a sample of ``limit`` when larger) and their links.

        The sample keeps the leaders and bridges first, then the members with the strongest ties.
        """
        if not self.has("communities") or "community" not in self.columns("customer_scores"):
            return None
        size = self._value("SELECT size FROM communities WHERE community = ?", [community])
        if size is None:
            return None
        nodes = self._records(
            "SELECT customer_id AS id, community, business_role, is_leader, on_network, "
            "is_service, contacts, weighted_degree, rank_in_community FROM customer_scores "
            "WHERE community = ? ORDER BY is_leader DESC, business_role = 'bridge' DESC, "
            "weighted_degree DESC, customer_id LIMIT ?",
            [community, limit],
        )
        members = int(
            self._value("SELECT count(*) FROM customer_scores WHERE community = ?", [community])
        )
        ids = [n["id"] for n in nodes]
        edges = self._links_among(ids) if self.has("links") or self._adjacency() else []
        return {
            "community": community,
            "members": members,
            "sampled": members > len(nodes),
            "nodes": nodes,
            "edges": edges,
        }

    # -- export ----------------------------------------------------------------------------

    def csv_chunks(self, name: str, *, batch_rows: int = 65_536) -> Iterator[bytes]:
        """Table ``name`` as CSV, in chunks (header first), read in batches to bound memory.

        Rows come in the order of a ``rank`` column when the table has one (campaign lists),
        else sorted by all columns, so the same workspace always gives the same file.
        """
        cols = self.columns(name)
        if not cols:
            raise KeyError(name)
        order = '"rank", 1' if "rank" in cols else "ALL"
        with self.cursor() as cur:
            relation = cur.sql(f"SELECT * FROM {sql_identifier(name)} ORDER BY {order}")
            reader = relation.to_arrow_reader(batch_rows)
            first = True
            for batch in reader:
                yield _csv(pa.Table.from_batches([batch]), header=first)
                first = False
            if first:  # an empty table: the header alone
                yield _csv(reader.schema.empty_table(), header=True)
