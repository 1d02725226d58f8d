"""The whole job (ingest → links → graph → influence → value → churn) in one run; then the report.

This is the Python API behind ``tiewise run``::

    from tiewise import load_config, run_pipeline
    result = run_pipeline(load_config("tiewise.toml"))
    print(result.report_path, result.top_customers[:3])
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from tiewise.campaigns.queue import QueueSummary, build_response_queue
from tiewise.churn.stage import ChurnSummary, analyse_churn
from tiewise.config import Config, config_hash
from tiewise.exceptions import InputError, NotRunError
from tiewise.graph.stage import GraphSummary, analyse_network
from tiewise.influence.stage import InfluenceSummary, analyse_influence, select_seeds
from tiewise.ingest.load import IngestSummary, fingerprint_inputs, ingest
from tiewise.ingest.pseudonym import load_key
from tiewise.links.state import rebuild_reason
from tiewise.links.strength import LinkSummary, build_links
from tiewise.report.html import write_report
from tiewise.store import RunContext, Workspace
from tiewise.value.stage import ValueSummary, analyse_value

__all__ = [
    "RunResult",
    "SkippedStage",
    "StageMemory",
    "StageRun",
    "StepReporter",
    "ValueResult",
    "choose_seeds",
    "imm_shortfall",
    "rerun_stage",
    "rewrite_report",
    "run_churn",
    "run_influence",
    "run_pipeline",
    "run_value",
    "skipped_stages",
]

T = TypeVar("T")

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
    peak_rss: dict[str, int | None] = field(default_factory=dict)
    """Each step's peak resident memory in bytes (None where the system does not say)."""
    skipped: list[SkippedStage] = field(default_factory=list)
    top_influencers: list[dict[str, Any]] = field(default_factory=list)
    queue: QueueSummary | None = None


@dataclass(frozen=True)
class SkippedStage:
    """A stage, or part of one, that did not run: why, and the setting that would enable it."""

    stage: str
    reason: str
    enable: str

    def sentence(self) -> str:
        """One line for the run summary and the report."""
        return f"{self.stage} skipped: {self.reason}. To enable it: {self.enable}."


def skipped_stages(
    config: Config,
    influence: InfluenceSummary | None,
    value: ValueSummary | None,
    churn: ChurnSummary | None,
) -> list[SkippedStage]:
    """The stages of a run that did not run or ran on a fallback, with the fix for each."""
    out: list[SkippedStage] = []
    if not config.influence.enabled:
        off = SkippedStage("influence", "influence.enabled = false", "[influence] enabled = true")
        out.append(off)
    elif influence is not None and influence.skipped:
        out.append(
            SkippedStage(
                "influence (from adoption timing)",
                influence.skipped,
                "add an adoptions file ([inputs.adoptions]: customer_id, item, timestamp)",
            )
        )
    if influence is not None and influence.imm_shortfall:
        out.append(imm_shortfall(config, influence.imm_shortfall))
    if value is not None and value.model == "none":
        enable = (
            "add a transactions file ([inputs.transactions]: customer_id, timestamp, amount)"
            if not config.inputs.sources("transactions")
            else '[value] model = "auto"'
        )
        out.append(SkippedStage("customer lifetime value", "no financial model was fitted", enable))
    if churn is not None and churn.skipped:
        if not config.inputs.sources("churn"):
            enable = "add a churn file ([inputs.churn]: customer_id, timestamp of leaving)"
        else:
            enable = (
                f"lower [churn] horizon_days (now {config.churn.horizon_days}) or train_cuts "
                f"(now {config.churn.train_cuts}), or load a longer history"
            )
        out.append(SkippedStage("churn", churn.skipped, enable))
    return out


def imm_shortfall(config: Config, shortfall: dict[str, tuple[float, int]]) -> SkippedStage:
    """The seeds' guarantee is weaker than configured: by how much, and the cap to raise.

    The RR sets a guarantee needs grow about as 1/epsilon^2 (the bounds' slack shrinks as the
    square root of the sets); the sets drawn under the cap certified the epsilon reached, so the
    cap that keeps the configured epsilon is about ``sets x (reached / epsilon)^2``.
    """
    eps = config.influence.epsilon
    reached = ", ".join(f"{r:.2f} ({c})" for c, (r, _) in shortfall.items())
    needed = max(sets * (r / eps) ** 2 for r, sets in shortfall.values())
    return SkippedStage(
        f"the guarantee at the configured epsilon {eps:g} for the seeds",
        f"the cap of {config.influence.max_rr_sets:,} reverse-reachable sets bound, so the "
        f"seeds are within 1 - 1/e - epsilon of the best for epsilon {reached} only",
        f"raise [influence] max_rr_sets to about {math.ceil(needed / 1e6):,} million (memory: "
        "roughly 20-100 bytes a set), or accept the larger epsilon",
    )


def _record_skipped(ctx: RunContext, skipped: list[SkippedStage]) -> None:
    """The skipped stages, in the run_warnings table the report reads."""
    one = "SELECT ?::VARCHAR AS stage, ?::VARCHAR AS reason, ?::VARCHAR AS enable"
    sql = " UNION ALL ".join(one for _ in skipped) or (
        "SELECT NULL::VARCHAR AS stage, NULL::VARCHAR AS reason, NULL::VARCHAR AS enable "
        "WHERE false"
    )
    ctx.write_table(
        "run_warnings",
        sql,
        params=[v for s in skipped for v in (s.stage, s.reason, s.enable)],
        stage="pipeline",
        description="Stages the last run skipped, why, and the setting that enables each.",
    )


def _quiet(_: str) -> AbstractContextManager[None]:
    return nullcontext()


def _rss_kib(field_name: str) -> int | None:
    """A ``/proc/self/status`` memory figure in KiB (``VmRSS`` now, ``VmHWM`` the peak so far)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class StageMemory:
    """Peak resident memory of this process during one step, measured without slowing it.

    A thread reads the resident size every ``interval`` seconds; at the end, if the process's
    high-water mark (``VmHWM``) rose during the step, the step set it and the exact figure is
    used.  Otherwise the step's peak is the sampled maximum (a spike shorter than the interval
    can be missed, and a C call that holds the GIL delays the samples).  Linux only: elsewhere
    :attr:`peak_bytes` is None.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_bytes: int | None = None
        self._stop = threading.Event()
        self._sampled = 0
        self._thread: threading.Thread | None = None
        self._hwm_before: int | None = None

    def _watch(self) -> None:
        pagesize = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        while not self._stop.wait(self.interval):
            try:
                with open("/proc/self/statm", encoding="ascii") as statm:
                    rss = int(statm.read().split()[1]) * pagesize
            except (OSError, ValueError, IndexError):
                return
            self._sampled = max(self._sampled, rss)

    def __enter__(self) -> StageMemory:
        self._hwm_before = _rss_kib("VmHWM")
        now = _rss_kib("VmRSS")
        if self._hwm_before is None or now is None:
            return self
        self._sampled = now * 1024
        self._thread = threading.Thread(target=self._watch, name="tiewise-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        after = _rss_kib("VmHWM")
        now = _rss_kib("VmRSS") or 0
        peak = max(self._sampled, now * 1024)
        if after is not None and self._hwm_before is not None and after > self._hwm_before:
            peak = max(peak, after * 1024)
        self.peak_bytes = peak


@contextmanager
def _timed(
    seconds: dict[str, float],
    name: str,
    reporter: StepReporter,
    peaks: dict[str, int | None] | None = None,
    cpu: dict[str, float] | None = None,
) -> Iterator[None]:
    start = time.perf_counter()
    busy = time.process_time()  # every thread of the process, DuckDB's and numba's included
    memory = StageMemory()
    with reporter(name), memory:
        yield
    seconds[name] = round(time.perf_counter() - start, 3)
    if peaks is not None:
        peaks[name] = memory.peak_bytes
    if cpu is not None:
        cpu[name] = round(time.process_time() - busy, 3)


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
    peaks: dict[str, int | None] = {}
    cpu: dict[str, float] = {}
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
            with _timed(seconds, "Loading and validating inputs", step, peaks, cpu):
                ingested = ingest(run, config, key, rebuild=rebuild_reason(run, config))
            with _timed(seconds, "Building links and their strengths", step, peaks, cpu):
                links = build_links(run, config)
            with _timed(seconds, "Finding communities, centrality and leaders", step, peaks, cpu):
                graph = analyse_network(run, config)
            influence = None
            if config.influence.enabled:
                with _timed(seconds, "Measuring influence, choosing seeds", step, peaks, cpu):
                    influence = analyse_influence(run, config)
            with _timed(seconds, "Valuing customers: lifetime, social, segments", step, peaks, cpu):
                value = analyse_value(run, config)
            with _timed(seconds, "Churn triggers, model and retention priority", step, peaks, cpu):
                churn = analyse_churn(run, config)
            queue = _response_queue(run, config, step, seconds, peaks, cpu)
            skipped = skipped_stages(config, influence, value, churn)
            _record_skipped(run, skipped)
        if rewrite:  # the file's freed pages may still hold the other kind of identifier
            rewriting = f"Rewriting the workspace file ({before} before)"
            with _timed(seconds, rewriting, step, peaks, cpu):
                ws.rewrite()
        with _timed(seconds, "Writing the report", step, peaks, cpu):
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
        influencers = _top_influencers(ws, 3)
        ws.record_stages(run.run_id, seconds, peaks, cpu)
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
            skipped=skipped,
            top_influencers=influencers,
            queue=queue,
            peak_rss=peaks,
        )


def _response_queue(
    run: RunContext,
    config: Config,
    step: StepReporter,
    seconds: dict[str, float],
    peaks: dict[str, int | None] | None = None,
    cpu: dict[str, float] | None = None,
) -> QueueSummary | None:
    """The response queue when there are conversations (else an old one is removed)."""
    if not run.has_table("conversations"):
        run.con.execute("DROP TABLE IF EXISTS response_queue")
        run.con.execute("DELETE FROM _tiewise_tables WHERE name = 'response_queue'")
        return None
    with _timed(seconds, "Ranking open conversations: the response queue", step, peaks, cpu):
        return build_response_queue(run, config)


def _top_influencers(ws: Workspace, per_category: int) -> list[dict[str, Any]]:
    """The top influencers of each category where the shuffle test shows influence."""
    names = ws.table_names()
    if not {"influence_tests", "influence_scores"} <= names:
        return []
    columns = {c[0] for c in ws.con.execute("DESCRIBE influence_scores").fetchall()}
    tests = {c[0] for c in ws.con.execute("DESCRIBE influence_tests").fetchall()}
    if not {"rank", "reason"} <= columns or "influence_detected" not in tests:
        return []
    rows: list[dict[str, Any]] = (
        ws.con.execute(
            "SELECT s.category, s.rank, s.customer_id, s.reason FROM influence_scores s "
            "JOIN influence_tests t USING (category) WHERE t.influence_detected "
            "AND s.category <> 'all' AND s.rank <= ? ORDER BY s.category, s.rank",
            [per_category],
        )
        .df()
        .to_dict("records")  # type: ignore[assignment]
    )
    return rows


@dataclass
class StageRun(Generic[T]):
    """What rerunning one stage on a workspace produced (:func:`rerun_stage`)."""

    run_id: int
    workspace: Path
    summary: T
    report_path: Path | None = None  # when the report was written again
    seconds: dict[str, float] = field(default_factory=dict)
    warning: str | None = None  # what recovering the workspace found, if anything


def rerun_stage(
    config: Config,
    analyse: Callable[[RunContext], T],
    *,
    description: str,
    needs: tuple[str, ...] = (),
    report: bool = False,
    reporter: StepReporter | None = None,
    command: str = "rerun",
) -> StageRun[T]:
    """Run one stage again on a workspace that ``tiewise run`` filled: the one way to do it.

    Opens the workspace and recovers it, checks that it holds a complete run and the tables the
    stage reads, then runs ``analyse`` in one transactional run that records the last run's
    inputs (the data is the last run's); with ``report``, writes the report again.  Behind
    :func:`run_value`, :func:`run_churn`, :func:`run_influence` and :func:`choose_seeds`.

    Parameters
    ----------
    config
        A validated configuration; its workspace is the one rerun.
    analyse
        The stage, called with the run (e.g. ``lambda run: analyse_value(run, config)``).
    description
        The step's description for ``reporter`` (and the ``seconds`` of the result).
    needs
        Tables the stage reads that only ``tiewise run`` writes.
    report
        Write the HTML report again afterwards.
    reporter
        Progress hook: each step runs inside ``reporter(description)``.
    command
        The command line recorded in the ``runs`` table.

    Raises
    ------
    NotRunError
        No workspace, no complete run in it, or one of ``needs`` is missing.
    """
    step = reporter or _quiet
    seconds: dict[str, float] = {}
    peaks: dict[str, int | None] = {}
    cpu: dict[str, float] = {}
    path = config.workspace_path
    with Workspace.open(
        path, memory_limit=config.engine.memory_limit, threads=config.engine.threads
    ) as ws:
        warning = ws.recover()
        previous = ws.last_complete_run()
        if previous is None:
            raise NotRunError(f"workspace {path} holds no complete run")
        inputs = json.loads(previous.get("inputs") or "{}")
        with ws.run(command=command, config_hash=config_hash(config), inputs=inputs) as run:
            for table in needs:
                if not run.has_table(table):
                    raise NotRunError(f"workspace {path} has no {table} table")
            with _timed(seconds, description, step, peaks, cpu):
                summary = analyse(run)
        report_path = None
        if report:
            with _timed(seconds, "Writing the report", step, peaks, cpu):
                report_path = write_report(ws, config.resolve(config.report.path), config)
        ws.record_stages(run.run_id, seconds, peaks, cpu)
        return StageRun(run.run_id, ws.path, summary, report_path, seconds, warning)


GRAPH_TABLES = ("nodes", "customer_scores")
"""What the influence commands read from ``tiewise run``'s graph stage."""


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
    NotRunError
        The workspace does not exist or holds no complete run.
    """
    done = rerun_stage(
        config,
        lambda run: analyse_value(run, config),
        description="Valuing customers: lifetime, social, segments",
        report=True,
        reporter=reporter,
        command=command,
    )
    assert done.report_path is not None
    return ValueResult(
        done.run_id, done.workspace, done.report_path, done.summary, done.seconds, done.warning
    )


def run_influence(
    config: Config, *, reporter: StepReporter | None = None, command: str = "influence"
) -> InfluenceSummary:
    """Rerun only the influence stage on an existing workspace (one transactional run).

    This is the Python API behind ``tiewise influence``.
    """
    return rerun_stage(
        config,
        lambda run: analyse_influence(run, config),
        description="Measuring influence, choosing seeds",
        needs=GRAPH_TABLES,
        reporter=reporter,
        command=command,
    ).summary


def choose_seeds(
    config: Config,
    *,
    category: str,
    k: int,
    budget: float | None = None,
    reporter: StepReporter | None = None,
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

    def seeds(run: RunContext) -> Any:
        matched = match_category(run, category)
        return select_seeds(run, config, category=matched, k=k, budget=budget)

    return rerun_stage(
        config,
        seeds,
        description=f"Choosing {k} seeds for {category}",
        needs=GRAPH_TABLES,
        reporter=reporter,
        command=command,
    ).summary


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
    NotRunError
        If the workspace has no network yet (run the pipeline first).
    """
    done = rerun_stage(
        config,
        lambda run: _churn_and_queue(run, config),
        description="Churn triggers, model and retention priority (and the response queue)",
        needs=("link_meta", "customer_scores"),
        report=True,
        reporter=reporter,
        command=command,
    )
    assert done.report_path is not None
    return done.summary, done.report_path


def _churn_and_queue(run: RunContext, config: Config) -> ChurnSummary:
    """The churn stage, then the response queue that reads its churn risk."""
    churn = analyse_churn(run, config)
    _response_queue(run, config, _quiet, {})
    return churn


def rewrite_report(config: Config) -> Path:
    """Write the HTML report again from the workspace (e.g. after campaigns or responses)."""
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        return write_report(ws, config.resolve(config.report.path), config)


def match_category(ctx: RunContext, category: str) -> str:
    """The category as the adoptions spell it, matched in any case (``a`` finds ``A``)."""
    if category.lower() == "all":
        return "all"
    has_column = (
        ctx.has_table("adoptions")
        and ctx.con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'adoptions' "
            "AND column_name = 'category'"
        ).fetchall()[0][0]
    )
    if not has_column:
        return category
    known = [
        r[0]
        for r in ctx.con.execute(
            "SELECT DISTINCT category FROM adoptions WHERE category IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    if category in known:
        return category
    same = [k for k in known if str(k).casefold() == category.casefold()]
    if len(same) == 1:
        return str(same[0])
    if len(same) > 1:
        raise InputError(
            f"category {category!r} matches several categories that differ only in case: "
            f"{', '.join(map(str, same))}; type it exactly."
        )
    return category  # the influence stage says which categories there are
