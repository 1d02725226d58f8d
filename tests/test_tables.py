"""The table registry: declarations, the write-time check, the generated docs, and the tables
each stage's SQL really touches in a pipeline run on small generated data."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import tiewise.campaigns
import tiewise.pipeline
from tiewise.config import load_config, template
from tiewise.ingest.schemas import SCHEMAS
from tiewise.ingest.tables import sql_type
from tiewise.store import Workspace
from tiewise.synth import B2BParams, TelcoParams, generate_b2b, generate_telco
from tiewise.tables import (
    DOC,
    STAGES,
    TABLES,
    Table,
    TableContractError,
    UnregisteredTableWarning,
    markdown,
    stage_order,
    table,
)

KEY_HEX = "3c" * 32


# --- the declarations ------------------------------------------------------------------------


def test_every_table_is_declared_once_by_a_known_stage() -> None:
    names = [t.name for t in TABLES]
    assert len(names) == len(set(names))
    stages = {s.name for s in STAGES}
    assert {t.stage for t in TABLES} <= stages
    for t in TABLES:
        assert t.grain and t.meaning, t.name
        assert all(c.meaning and c.type for c in t.columns), t.name


def test_a_stage_reads_only_tables_of_itself_or_earlier_stages() -> None:
    for stage in STAGES:
        for name in stage.reads:
            declared = table(name)
            assert declared is not None, f"stage {stage.name} reads undeclared table {name}"
            assert stage_order(declared.stage) <= stage_order(stage.name), (
                f"stage {stage.name} reads {name}, written by the later stage {declared.stage}"
            )


def test_the_input_tables_match_the_input_schemas() -> None:
    for schema in SCHEMAS.values():
        declared = table(schema.table)
        if schema.name == "conversations":  # speakers matched, sentiment scored, text consumed
            assert declared is not None
            kept = {c.name for c in declared.columns}
            assert {c.name for c in schema.columns} - kept == {"text"}
            continue
        assert declared is not None and declared.stage == "ingest"
        stored = [c for c in schema.columns if c.name != "direction"]  # consumed at ingest
        assert [(c.name, c.type) for c in declared.columns] == [
            (c.name, sql_type(c)) for c in stored
        ]


def test_the_committed_table_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/tables.md is stale: run `python -m tiewise.tables --write`"
    )


# --- the check when a table is written -------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.open(tmp_path, create=True) as ws:
        yield ws


def test_a_table_that_breaks_its_declaration_is_refused_with_every_difference(
    workspace: Workspace,
) -> None:
    sql = (
        "SELECT 'c1' AS customer_id, 2.0 AS network_value, 'x' AS caused_value, "
        "'why' AS reason, 1 AS surprise"
    )
    with pytest.raises(TableContractError) as err, workspace.run(command="t") as run:
        run.write_table("network_value", sql, stage="influence", description="t")
    message = str(err.value)
    assert "'network_value'" in message
    assert "missing columns: expected_adoptions" in message
    assert "undeclared columns: surprise" in message
    assert "caused_value is VARCHAR, declared DOUBLE" in message
    assert "network_value" not in {t.name for t in workspace.tables()}  # rolled back


def test_a_table_written_by_another_stage_than_declared_is_refused(
    workspace: Workspace,
) -> None:
    sql = "SELECT 'c1' AS customer_id, true AS on_network, false AS is_service"
    with (
        pytest.raises(TableContractError, match="declares it as written by 'links'"),
        workspace.run(command="t") as run,
    ):
        run.write_table("nodes", sql, stage="graph", description="t")


def test_columns_without_values_take_their_declared_type(workspace: Workspace) -> None:
    frame = pd.DataFrame(
        {"customer_id": pd.Series([], dtype=object), "network_value": [], "caused_value": []}
    ).assign(expected_adoptions=pd.Series([], dtype=object), reason=pd.Series([], dtype=float))
    with workspace.run(command="t") as run:
        run.write_table("network_value", frame, stage="influence", description="t")
        types = {r[0]: r[1] for r in run.con.execute("DESCRIBE network_value").fetchall()}
    assert types["expected_adoptions"] == "DOUBLE" and types["reason"] == "VARCHAR"


def test_an_undeclared_table_warns_and_the_tests_make_that_an_error(
    workspace: Workspace,
) -> None:
    with (
        pytest.warns(UnregisteredTableWarning, match="'scratch' .* not declared"),
        workspace.run(command="t") as run,
    ):
        run.write_table("scratch", "SELECT 1 AS x", stage="value", description="t")
    with workspace.run(command="t") as run:  # a test stand-in opts out
        run.write_table("scratch", "SELECT 1 AS x", stage="value", description="t", check=False)


def test_a_family_of_tables_and_of_columns_is_matched_by_its_pattern() -> None:
    declared = table("campaign_retention_q3")
    assert declared is not None and declared.name == "campaign_<name>"
    value = table("customer_value")
    assert value is not None
    assert value.problems([("email_bounces", "BIGINT"), ("top_bounces", "BOOLEAN")]) == [
        "missing columns: " + ", ".join(c.name for c in value.columns if c.when is None)
    ]


# --- what each stage's SQL touches in a run --------------------------------------------------

_PLANNED = re.compile(
    r"^\s*(SELECT|WITH|CREATE\s+(OR\s+REPLACE\s+)?(TEMP\s+)?TABLE|INSERT|\()", re.I
)
_COUNT = re.compile(r'^SELECT count\(\*\) FROM "[a-z0-9_]+"$')
_VIEWS = [t.name for t in TABLES if t.view]  # a plan shows the tables under a view
_SCANNED = re.compile(r'"Table": "[^"]*\.main\.([a-z0-9_]+)"')


class _Recorder:
    """A DuckDB connection that notes the tables each statement reads (from its logical plan)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seen: set[str]) -> None:
        self._con = con
        self._seen = seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def _note(self, sql: str, params: Any = None) -> None:
        if _COUNT.match(sql):  # the workspace counting a table's rows, not a stage reading it
            return
        self._seen.update(v for v in _VIEWS if re.search(rf'(FROM|JOIN)\s+"?{v}\b', sql, re.I))
        if not _PLANNED.match(sql):
            return
        self._con.execute("SET explain_output = 'all'")
        try:
            plans = self._con.execute("EXPLAIN (FORMAT JSON) " + sql, params or []).fetchall()
        finally:
            self._con.execute("RESET explain_output")
        for kind, plan in plans:
            if kind == "logical_plan":
                self._seen.update(_SCANNED.findall(plan))

    def execute(self, sql: str, params: Any = None) -> Any:
        self._note(sql, params)
        return self._con.execute(sql, params)

    def sql(self, sql: str, **kwargs: Any) -> Any:
        self._note(sql)
        return self._con.sql(sql, **kwargs)

    def table(self, name: str) -> Any:
        self._seen.add(name.strip('"'))
        return self._con.table(name)


def test_the_recorder_sees_every_table_a_statement_reads_even_empty_ones() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE a (k INTEGER); CREATE TABLE b (k INTEGER)")
    con.execute("CREATE VIEW links_directed AS SELECT * FROM a")
    seen: set[str] = set()
    recorder = _Recorder(con, seen)
    recorder.execute(
        "WITH x AS (SELECT * FROM links_directed) SELECT * FROM x JOIN b USING (k) WHERE k = ?", [1]
    )
    assert seen == {"a", "b", "links_directed"}
    recorder.execute('SELECT count(*) FROM "a"')  # the workspace counting rows: not a read
    recorder.execute("DESCRIBE b")
    assert seen == {"a", "b", "links_directed"}


def _recording(stage: str, fn: Callable[..., Any], reads: dict[str, set[str]]) -> Any:
    def run(target: Any, *args: Any, **kwargs: Any) -> Any:
        real = target.con
        target.con = _Recorder(real, reads.setdefault(stage, set()))
        try:
            return fn(target, *args, **kwargs)
        finally:
            target.con = real

    return run


_STEPS = {
    "ingest": (tiewise.pipeline, "ingest"),
    "links": (tiewise.pipeline, "build_links"),
    "graph": (tiewise.pipeline, "analyse_network"),
    "influence": (tiewise.pipeline, "analyse_influence"),
    "value": (tiewise.pipeline, "analyse_value"),
    "churn": (tiewise.pipeline, "analyse_churn"),
    "report": (tiewise.pipeline, "write_report"),
}


@pytest.fixture(scope="module")
def touched(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """The declared tables each stage read in full runs on small telco and B2B data."""
    reads: dict[str, set[str]] = {}
    root = tmp_path_factory.mktemp("touched")
    generate_telco(TelcoParams(customers=600, days=120, seed=3), root / "telco" / "data")
    generate_b2b(B2BParams(accounts=40, days=200, seed=3), root / "b2b" / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIEWISE_KEY", KEY_HEX)
        for stage, (module, name) in _STEPS.items():
            mp.setattr(module, name, _recording(stage, getattr(module, name), reads))
        for name in ("create_campaign", "load_responses"):
            mp.setattr(
                tiewise.campaigns,
                name,
                _recording("campaigns", getattr(tiewise.campaigns, name), reads),
            )
        for project in ("telco", "b2b"):
            folder = root / project
            text = template(folder / "data", config_dir=folder)
            text = text.replace("[ingest]\n", "[ingest]\nkeep_interactions = true\n")
            (folder / "tiewise.toml").write_text(text)
            config = load_config(folder / "tiewise.toml")
            tiewise.pipeline.run_pipeline(config)
            built = tiewise.campaigns.every_campaign(config)
            name = next(s.name for _, s in built if not isinstance(s, str))
            with Workspace.open(config.workspace_path, read_only=True) as ws:
                listed = ws.table(f"campaign_{name}").df()[["customer_id"]]
            listed.assign(responded="yes").to_csv(folder / "responses.csv", index=False)
            tiewise.campaigns.responses(config, name, folder / "responses.csv", pseudonymised=True)
        with Workspace.open(root / "telco" / "workspace", read_only=True) as ws:
            for view in _VIEWS:  # a stage reading a view reads the tables under it
                under: set[str] = set()
                _Recorder(ws.con, under).execute(f"SELECT * FROM {view}")
                reads[f"under {view}"] = under - {view}
    return {stage: {n for n in seen if table(n)} for stage, seen in reads.items()}


def test_no_stage_reads_a_later_stages_table_in_a_run(touched: dict[str, set[str]]) -> None:
    later = {
        stage: sorted(n for n in names if stage_order(_writer(n)) > stage_order(stage))
        for stage, names in touched.items()
        if not stage.startswith("under ")
    }
    assert not any(later.values()), f"stages read later stages' tables: {later}"


def test_each_stage_declares_the_tables_it_reads(touched: dict[str, set[str]]) -> None:
    for stage in STAGES:
        allowed = {t.name for t in TABLES if t.stage == stage.name} | set(stage.reads)
        allowed |= {n for v in _VIEWS if v in allowed for n in touched[f"under {v}"]}
        undeclared = {
            n for n in touched.get(stage.name, set()) - allowed if _writer(n) != stage.name
        }
        assert not undeclared, f"stage {stage.name} reads {sorted(undeclared)}: declare them"


def _writer(name: str) -> str:
    declared: Table | None = table(name)
    assert declared is not None
    return declared.stage
