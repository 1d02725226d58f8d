"""The whole job (ingest → links → graph → influence → value → churn) in one run; then the report.

This is the Python API behind ``tiewise run``::

    from tiewise import load_config, run_pipeline
    result = run_pipeline(load_config("tiewise.toml"))
    print(result.report_path, result.top_customers[:3])
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiewise.churn.stage import ChurnSummary, analyse_churn
from tiewise.config import Config, config_hash
from tiewise.exceptions import InputError, WorkspaceError
from tiewise.graph.stage import GraphSummary, analyse_network
from tiewise.influence.stage import InfluenceSummary, analyse_influence, select_seeds
from tiewise.ingest.load import IngestSummary, fingerprint_inputs, ingest
from tiewise.ingest.pseudonym import load_key
from tiewise.links.strength import LinkSummary, build_links
from tiewise.report.html import write_report
from tiewise.store import RunContext, Workspace
from tiewise.value.stage import ValueSummary, analyse_value

__all__ = [
    "RunResult",
    "StepReporter",
    "ValueResult",
    "choose_seeds",
    "run_churn",
    "run_influence",
    "run_pipeline",
    "run_value",
]

StepReporter = Callable[[str], AbstractContextManager[None]]
"""Called with a step's description; the step runs inside the returned context (for progress)."""


@dataclass
class RunResult:
    """What a pipeline run produced."""

    run_id: int
    workspace: Path
    report_path: Path
    ingest: IngestSummary
    links: LinkSummary
    graph: GraphSummary
    influence: InfluenceSummary | None = None
    churn: ChurnSummary | None = None
    top_customers: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    warning: str | None = None
    value: ValueSummary | None = None


def _quiet(_: str) -> AbstractContextManager[None]:
    return nullcontext()


@contextmanager
def _timed(seconds: dict[str, float], name: str, reporter: StepReporter) -> Iterator[None]:
    start = time.perf_counter()
    with reporter(name):
        yield
    seconds[name] = round(time.perf_counter() - start, 3)


def run_pipeline(
    config: Config,
    *,
    keep_raw_ids: bool = False,
    reporter: StepReporter | None = None,
    command: str = "run",
) -> RunResult:
    """Run every stage on the configured inputs and write the report.

    Parameters
    ----------
    config
        A validated configuration (:func:`tiewise.config.load_config`).
    keep_raw_ids
        Store raw identifiers instead of pseudonyms (explicit opt-out; see the README).
    reporter
        Progress hook: each step runs inside ``reporter(description)``.
    command
        The command line recorded in the ``runs`` table.

    Returns
    -------
    RunResult
        Run id, report path, per-stage summaries and the top customers with their reasons.
    """
    step = reporter or _quiet
    seconds: dict[str, float] = {}
    inputs = fingerprint_inputs(config)
    pseudonymise = config.privacy.pseudonymise and not keep_raw_ids
    key = (
        load_key(config.resolve(config.privacy.key_file), config.privacy.key_env)
        if pseudonymise
        else None
    )
    with Workspace.open(
        config.workspace_path,
        create=True,
        memory_limit=config.engine.memory_limit,
        threads=config.engine.threads,
    ) as ws:
        warning = ws.recover()
        identifiers = "pseudonyms" if key is not None else "raw identifiers"
        before = ws.setting("identifiers")
        rewrite = before != identifiers and (before or ws.last_complete_run()) is not None
        with ws.run(command=command, config_hash=config_hash(config), inputs=inputs) as run:
            run.con.execute(
                "INSERT OR REPLACE INTO _tiewise_settings VALUES ('identifiers', ?)", [identifiers]
            )
            with _timed(seconds, "Loading and validating inputs", step):
                ingested = ingest(run, config, key)
            with _timed(seconds, "Building links and their strengths", step):
                links = build_links(run, config)
            with _timed(seconds, "Finding communities, centrality and leaders", step):
                graph = analyse_network(run, config)
            influence = None
            if config.influence.enabled:
                with _timed(seconds, "Measuring influence, choosing seeds", step):
                    influence = analyse_influence(run, config)
            with _timed(seconds, "Valuing customers: lifetime, social, segments", step):
                value = analyse_value(run, config)
            with _timed(seconds, "Churn triggers, model and retention priority", step):
                churn = analyse_churn(run, config)
        if rewrite:  # the file's freed pages may still hold the other kind of identifier
            with _timed(seconds, f"Rewriting the workspace file ({before} before)", step):
                ws.rewrite()
        with _timed(seconds, "Writing the report", step):
            report = write_report(ws, config.resolve(config.report.path), config)
        top: list[dict[str, Any]] = (
            ws.con.execute(
                "SELECT customer_id, community, contacts, weighted_degree, pagerank, reason "
                "FROM customer_scores WHERE on_network AND NOT is_service "
                "ORDER BY weighted_degree DESC, customer_id LIMIT ?",
                [config.report.top_customers],
            )
            .df()
            .to_dict("records")  # type: ignore[assignment]
        )
        return RunResult(
            run_id=run.run_id,
            workspace=ws.path,
            report_path=report,
            ingest=ingested,
            links=links,
            graph=graph,
            influence=influence,
            churn=churn,
            top_customers=top,
            seconds=seconds,
            warning=warning,
            value=value,
        )


@dataclass
class ValueResult:
    """What a value-only run (``tiewise value``) produced."""

    run_id: int
    workspace: Path
    report_path: Path
    value: ValueSummary
    seconds: dict[str, float] = field(default_factory=dict)
    warning: str | None = None


def run_value(
    config: Config, *, reporter: StepReporter | None = None, command: str = "value"
) -> ValueResult:
    """Run the value stage alone on an existing workspace, then the report.

    For a workspace that a ``tiewise run`` filled: e.g. after changing the ``[value]`` settings,
    without re-reading the inputs.

    Raises
    ------
    WorkspaceError
        The workspace does not exist or holds no complete run.
    """
    step = reporter or _quiet
    seconds: dict[str, float] = {}
    path = config.workspace_path
    with Workspace.open(
        path, memory_limit=config.engine.memory_limit, threads=config.engine.threads
    ) as ws:
        warning = ws.recover()
        if ws.last_complete_run() is None:
            raise WorkspaceError(
                f"workspace {path} holds no complete run; run `tiewise run` first."
            )
        with (
            ws.run(command=command, config_hash=config_hash(config)) as run,
            _timed(seconds, "Valuing customers: lifetime, social, segments", step),
        ):
            value = analyse_value(run, config)
        with _timed(seconds, "Writing the report", step):
            report = write_report(ws, config.resolve(config.report.path), config)
        return ValueResult(
            run_id=run.run_id,
            workspace=ws.path,
            report_path=report,
            value=value,
            seconds=seconds,
            warning=warning,
        )


def _needs_graph(ctx: RunContext, config: Config) -> None:
    for table in ("nodes", "customer_scores"):
        if not ctx.has_table(table):
            raise WorkspaceError(
                f"workspace {config.workspace_path} has no {table} table: run `tiewise run` "
                "first (the influence commands work on an existing workspace)."
            )


def run_influence(config: Config, *, command: str = "influence") -> InfluenceSummary:
    """Rerun only the influence stage on an existing workspace (one transactional run).

    This is the Python API behind ``tiewise influence``.
    """
    with Workspace.open(
        config.workspace_path,
        memory_limit=config.engine.memory_limit,
        threads=config.engine.threads,
    ) as ws:
        ws.recover()
        with ws.run(command=command, config_hash=config_hash(config)) as run:
            _needs_graph(run, config)
            return analyse_influence(run, config)


def choose_seeds(
    config: Config,
    *,
    category: str,
    k: int,
    budget: float | None = None,
    command: str = "seeds",
) -> Any:
    """Choose ``k`` seeds for ``category`` (``'all'``: any item) on an existing workspace.

    This is the Python API behind ``tiewise seeds``; the rows also replace that category's in
    the ``seed_sets`` and ``spread_curve`` tables.

    Returns
    -------
    pandas.DataFrame
        One row per seed: rank, customer_id, cost, marginal and cumulative expected reach, reason.
    """
    with Workspace.open(
        config.workspace_path,
        memory_limit=config.engine.memory_limit,
        threads=config.engine.threads,
    ) as ws:
        ws.recover()
        with ws.run(command=command, config_hash=config_hash(config)) as run:
            _needs_graph(run, config)
            return select_seeds(run, config, category=category, k=k, budget=budget)


def run_churn(
    config: Config, *, reporter: StepReporter | None = None, command: str = "churn"
) -> tuple[ChurnSummary, Path]:
    """Run only the churn stage on an existing workspace, then rewrite the report.

    Returns
    -------
    tuple
        The churn summary and the report's path.

    Raises
    ------
    InputError
        If the workspace has no network yet (run the pipeline first).
    """
    step = reporter or _quiet
    path = config.workspace_path
    with Workspace.open(
        path, memory_limit=config.engine.memory_limit, threads=config.engine.threads
    ) as ws:
        ws.recover()
        previous = ws.last_complete_run() or {}
        inputs = json.loads(previous.get("inputs") or "{}")  # the data is the last run's
        with ws.run(command=command, config_hash=config_hash(config), inputs=inputs) as run:
            if not run.has_table("link_meta") or not run.has_table("customer_scores"):
                raise InputError(
                    f"the workspace {path} has no links or communities yet: run `tiewise run` "
                    "first."
                )
            with step("Churn triggers, model and retention priority"):
                churn = analyse_churn(run, config)
        with step("Writing the report"):
            report = write_report(ws, config.resolve(config.report.path), config)
    return churn, report
