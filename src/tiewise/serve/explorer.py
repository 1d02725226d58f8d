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
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from tiewise.store import TableInfo, Workspace

__all__ = ["EgoNetwork", "Explorer", "Overview"]

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
_HIDDEN_ON_CUSTOMER = {"nodes"}
#: Columns most worth seeing first in a table of customers.
_ID = "customer_id"
_ROWS_PER_SECTION = 20
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


def _csv(table: pa.Table, *, header: bool) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=header))
    return bytes(sink.getvalue().to_pybytes())


def _plain(value: Any) -> Any:
    """A value JSON can carry: numbers and strings as they are, anything else as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
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
        """Every table and view the runs registered, with stage, rows and description."""
        if self._tables is None:
            with self.cursor() as cur:
                self._tables = Workspace(self.ws.path, cur, read_only=True).tables()
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
            if t.name.startswith("campaign_") or t.name == "retention_priority"
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
        if "influence_scores" in names:
            cols = self.columns("influence_scores")
            if "influence_score" in cols:
                shown = [c for c in (_ID, "category", "influence_score", "reason") if c in cols]
                influence = self._records(
                    f"SELECT {', '.join(shown)} FROM influence_scores "
                    "ORDER BY influence_score DESC NULLS LAST, customer_id LIMIT 10"
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
                    f'SELECT * FROM "{table}" WHERE customer_id = ? LIMIT 1', [customer_id]
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
            count = int(
                self._value(
                    f'SELECT count(*) FROM "{info.name}" WHERE customer_id = ?', [customer_id]
                )
            )
            if not count:
                continue
            order = next(
                (f'"{c}" DESC' for c in ("timestamp", "influence_score") if c in cols),
                next((f'"{c}"' for c in ("rank", "level") if c in cols), None),
            )
            rows = self._records(
                f'SELECT * FROM "{info.name}" WHERE customer_id = ? '
                + (f"ORDER BY {order} " if order else "")
                + "LIMIT ?",
                [customer_id, _ROWS_PER_SECTION],
            )
            found.append((info, count, rows))
        return found

    def reasons(self, profile: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
        """Every ``reason`` in a customer's profile, with the table it explains."""
        return [(table, str(row["reason"])) for table, row in profile.items() if row.get("reason")]

    def ego_network(self, customer_id: str, *, limit: int = 60) -> EgoNetwork:
        """The customer, their ``limit`` strongest contacts and the links among all of them."""
        ego = EgoNetwork(center=customer_id)
        names = self._names()
        if "links" not in names:
            return ego
        neighbours = self._records(
            "SELECT CASE WHEN a = ? THEN b ELSE a END AS other, strength, "
            "count(*) OVER () AS total FROM links WHERE a = ? OR b = ? "
            "ORDER BY strength DESC, other LIMIT ?",
            [customer_id, customer_id, customer_id, limit],
        )
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
        ego.edges = self._records(
            "SELECT a AS source, b AS target, strength, records FROM links "
            "WHERE a IN (SELECT unnest(?)) AND b IN (SELECT unnest(?)) ORDER BY a, b",
            [ids, ids],
        )
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
            f'SELECT * FROM communities ORDER BY "{order}" DESC NULLS LAST, community '
            "LIMIT ? OFFSET ?",
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
            relation = cur.sql(f'SELECT * FROM "{name}" ORDER BY {order}')
            reader = relation.to_arrow_reader(batch_rows)
            first = True
            for batch in reader:
                yield _csv(pa.Table.from_batches([batch]), header=first)
                first = False
            if first:  # an empty table: the header alone
                yield _csv(reader.schema.empty_table(), header=True)
