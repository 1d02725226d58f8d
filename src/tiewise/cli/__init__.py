"""The ``tiewise`` command line: parses, shows progress, formats; the Python API does the work.

Exit codes: 0 ok; 1 the analysis failed; 2 bad input, usage or configuration (including a
``memory_limit`` too small for the data); 130 interrupted by Ctrl-C (SIGINT), 143 by SIGTERM --
at any stage, the run is recorded as interrupted and the workspace keeps its previous results
(see :mod:`tiewise.interrupts`).  Errors print one paragraph and no traceback unless ``--debug``
is given.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tiewise import interrupts
from tiewise.config import Config, load_config, template
from tiewise.exceptions import InputError, ResourceError, TiewiseError
from tiewise.store import Workspace, export_format, memory_advice

if TYPE_CHECKING:  # the stages are imported by the commands that run them: `--help` stays quick
    from tiewise.churn.stage import ChurnSummary
    from tiewise.influence.stage import InfluenceSummary
    from tiewise.pipeline import RunResult
    from tiewise.value.stage import ValueSummary

__all__ = ["app", "main"]


def pd_isna(value: object) -> bool:
    """Whether a table cell is empty (None or NaN)."""
    return value is None or value != value


app = typer.Typer(
    name="tiewise",
    help="Customer link analytics: networks, communities, influencers, value and target lists.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
synth_app = typer.Typer(
    help="Generate realistic data with known ground truth.", no_args_is_help=True
)
app.add_typer(synth_app, name="synth")

out = Console()
err = Console(stderr=True)
_state: dict[str, Any] = {"debug": False, "argv": []}

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The configuration file (TOML).")
]


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        out.print(f"tiewise {version('tiewise')}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    _state["debug"] = debug


@contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        yield progress


def _step_reporter(progress: Progress):  # type: ignore[no-untyped-def]
    @contextmanager
    def step(description: str) -> Iterator[None]:
        if not err.is_terminal:  # a log (scheduler, pipe): one line as each step starts
            err.print(f"{datetime.now():%H:%M:%S} {description}", highlight=False)
        task = progress.add_task(description, total=1)
        yield
        progress.update(task, completed=1)

    return step


def _load(config: Path, **overrides: object) -> Config:
    return load_config(config, **{k: v for k, v in overrides.items() if v is not None})


def _print_ingest(result: RunResult) -> None:
    """The ingest report: every rule broken, duplicate dropped and fix applied."""
    lines = [line for line in result.ingest.lines if line.rule != "loaded"]
    loaded = ", ".join(f"{name} {n:,}" for name, n in result.ingest.loaded.items())
    out.print(f"Loaded rows: {loaded}.", highlight=False)
    if result.ingest.mode != "full":
        out.print(f"Interactions: {result.ingest.mode} ({result.ingest.reason}).", highlight=False)
    if not lines:
        out.print("Every input row passed validation.")
        return
    table = Table(title="Ingest report (also in the ingest_report table)", title_justify="left")
    for column in ("input", "rule", "rows", "action", "example"):
        table.add_column(column, overflow="fold")
    for line in lines:
        table.add_row(line.input, line.rule, f"{line.rows:,}", line.action, line.example or "")
    out.print(table)


def _print_result(result: RunResult) -> None:
    if result.warning:
        err.print(f"[yellow]Note:[/] {escape(result.warning)}", soft_wrap=True)
    g = result.graph
    out.print(
        f"Run {result.run_id} complete: {result.links.nodes:,} parties "
        f"({result.links.on_network:,} customers), {result.links.links:,} links, "
        f"{g.communities:,} communities (modularity {g.modularity:.3f}), "
        f"{result.links.service_numbers} service numbers set aside."
    )
    _print_ingest(result)
    for skipped in result.skipped:
        err.print(f"[yellow]Warning:[/] {escape(skipped.sentence())}", soft_wrap=True)
    if result.value is not None:
        _print_value(result.value)
    if result.churn is not None:
        _print_churn(result.churn)
    if result.influence is not None:
        _print_influence(result.influence)
    if result.top_influencers:
        out.print("\nInfluencers, in the categories where influence is shown, and why:")
        for r in result.top_influencers:
            out.print(
                f"  {escape(str(r['category']))} #{r['rank']}: {r['customer_id']}  "
                f"{escape(str(r['reason']))}",
                highlight=False,
            )
    else:
        out.print(
            f"\nTop {len(result.top_customers)} customers by tie strength (who talks most; no "
            "category shows influence from adoption timing), and why:"
        )
        for i, c in enumerate(result.top_customers, 1):
            out.print(f"{i:>3}. {c['customer_id']}  {escape(c['reason'])}", highlight=False)
    out.print()
    out.print(f"Workspace: {result.workspace}")
    out.print(f"Report:    {result.report_path}")


def _print_value(value: ValueSummary) -> None:
    """The value stage's headline: model, parameters, segments and notes."""
    params = ", ".join(f"{k}={v:.4g}" for k, v in value.parameters.items())
    out.print(
        f"Value ({value.model}{': ' + params if params else ''}): {value.customers:,} customers, "
        f"lifetime value {value.total_clv:,.0f}, true value {value.total_true_value:,.0f}. "
        "Segments: " + ", ".join(f"{k} {n:,}" for k, n in value.segments.items()) + ".",
        highlight=False,
    )
    for note in value.notes:
        out.print(f"  note: {escape(note)}", highlight=False)


def _print_influence(s: InfluenceSummary) -> None:
    if s.skipped:
        out.print(f"Influence: {escape(s.skipped)}.", highlight=False)
    else:
        found = ", ".join(s.influence_detected) or "none"
        out.print(
            f"Influence: {s.adoptions:,} adoptions in {len(s.categories)} categories (dates "
            f"{s.time_resolution}, follow window {s.window_days:g} days); influence beyond "
            f"homophily shown in: {found}. Link model {s.link_model}; ROC AUC "
            + ", ".join(f"{k} {v:.3f}" for k, v in s.link_auc.items())
            + ".",
            highlight=False,
        )
        for warning in s.warnings:
            out.print(f"  warning: {escape(warning)}", highlight=False)
        if not s.influence_detected:
            out.print(
                "  No category shows influence: influencer rankings and seed lists are a "
                "structural fallback (labelled so in every table), not evidence of influence.",
                highlight=False,
            )
    reach = ", ".join(f"{c} {r:.0f}" for c, r in s.seeds.items()) or "none (structural fallback)"
    out.print(
        f"Seeds (expected reach): {reach}. Network value total {s.network_value_total:,.0f} "
        f"over the value horizon (adoption value = {s.value_basis}).",
        highlight=False,
    )


def _print_churn(churn: ChurnSummary) -> None:
    if churn.skipped:
        out.print(f"Churn: skipped ({churn.skipped}).", highlight=False)
        return
    ev = churn.evaluation
    parts = [
        f"{name} AUC {s['auc']:.3f}, top-decile lift {s['lift']:.2f}" for name, s in ev.items()
    ]
    used = "used" if churn.social_used else "not used (no significant gain on held-out data)"
    out.print(
        f"Churn: {churn.customers:,} current customers scored, {churn.triggers:,} behaviour "
        f"triggers; out of time, {'; '.join(parts)}. Social features {used} "
        f"(z = {churn.social_z:.1f}). Value: {churn.value_basis}.",
        highlight=False,
    )


@app.command()
def influence(config: ConfigOption = Path("tiewise.toml")) -> None:
    """Rerun the influence stage on the workspace: scores, tests, link probabilities, seeds."""
    from tiewise.pipeline import run_influence

    cfg = _load(config)
    command = _command()
    with _progress() as progress, _step_reporter(progress)("Measuring influence, choosing seeds"):
        summary = run_influence(cfg, command=command)
    _print_influence(summary)
    out.print(
        "Tables: influence_scores, influence_tests, influence_links, influence_validation, "
        "seed_sets, spread_curve, network_value, network_value_categories."
    )


@app.command()
def seeds(
    k: Annotated[int, typer.Option("--k", min=1, help="Number of seeds.")] = 50,
    category: Annotated[
        str, typer.Option(help="Product category (see influence_tests), or 'all'.")
    ] = "all",
    budget: Annotated[
        float | None, typer.Option(help="Total contact budget ([influence] cost per customer).")
    ] = None,
    config: ConfigOption = Path("tiewise.toml"),
) -> None:
    """Choose the k customers whose adoption spreads furthest (IMM), with the reason."""
    from tiewise.pipeline import choose_seeds

    cfg = _load(config)
    command = _command()
    with _progress() as progress, _step_reporter(progress)(f"Choosing {k} seeds for {category}"):
        frame = choose_seeds(cfg, category=category, k=k, budget=budget, command=command)
    fallback = bool(len(frame)) and bool((frame["basis"] == "structural fallback").all())
    title = f"Seeds for {category} (also in the seed_sets table)"
    if fallback:
        title += ": STRUCTURAL FALLBACK, no influence shown in this category, no reach claimed"
    table = Table(title=title, title_justify="left")
    for column in ("rank", "customer_id", "cost", "expected reach", "reason"):
        table.add_column(column, overflow="fold")
    for r in frame.itertuples(index=False):
        reach = "-" if fallback else f"{r.expected_reach:.1f}"
        table.add_row(str(r.rank), r.customer_id, f"{r.cost:g}", reach, r.reason)
    out.print(table)


@app.command()
def churn(config: ConfigOption = Path("tiewise.toml")) -> None:
    """Churn on an existing workspace: triggers, scores, retention priority; rewrite the report."""
    from tiewise.pipeline import run_churn

    cfg = _load(config)
    with _progress() as progress:
        summary, report = run_churn(
            cfg,
            reporter=_step_reporter(progress),
            command=_command(),
        )
    _print_churn(summary)
    if not summary.skipped:
        out.print("Tables: churn_triggers, churn_scores, retention_priority, churn_evaluation.")
    out.print(f"Report: {report}")


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the configuration.")] = Path(
        "tiewise.toml"
    ),
    data: Annotated[
        Path | None,
        typer.Option(help="A folder of inputs (e.g. from `tiewise synth`) to point the config at."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented configuration; with --data, wired to the files found there.

    With --data, every CSV/Parquet file's header and first rows are read: each file is matched to
    an input (interactions, customers, transactions, adoptions, churn, engagement) by its name or
    its columns, and its columns to tiewise's by name and content.  What was mapped and what was
    not is printed.
    """
    from tiewise.ingest.detect import detect_inputs

    if path.exists() and not force:
        raise InputError(f"{path} exists already; use --force to overwrite it.")
    if data is not None and not data.is_dir():
        raise InputError(f"--data {data}: no such folder.")
    detected = None
    if data is not None:
        detection = detect_inputs(data)
        for line in detection.lines():
            out.print(escape(line), highlight=False, soft_wrap=True)
        detected = detection.specs()
        if "interactions" not in detected:
            err.print(
                "[yellow]Note:[/] no interaction file was recognised: tiewise needs one to build "
                "the network. Fill in [inputs.interactions] by hand.",
                soft_wrap=True,
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(template(data, config_dir=path.parent, detected=detected), encoding="utf-8")
    ready = detected is not None and "interactions" in detected
    then = "run" if ready else "check the inputs, then run"
    out.print(f"Wrote {path}. Now {then} `tiewise run --config {path}`.")


@app.command()
def run(
    config: ConfigOption = Path("tiewise.toml"),
    seed: Annotated[int | None, typer.Option(help="Override the configuration's seed.")] = None,
    keep_raw_ids: Annotated[
        bool,
        typer.Option(
            "--keep-raw-ids",
            help="Store raw identifiers instead of pseudonyms (they are personal data).",
        ),
    ] = False,
) -> None:
    """Run the pipeline: ingest, links, communities and leaders, then the report."""
    from tiewise.pipeline import run_pipeline

    cfg = _load(config, seed=seed)
    with _progress() as progress:
        result = run_pipeline(
            cfg,
            keep_raw_ids=keep_raw_ids,
            reporter=_step_reporter(progress),
            command=_command(),
        )
    _print_result(result)


@app.command()
def value(
    config: ConfigOption = Path("tiewise.toml"),
    seed: Annotated[int | None, typer.Option(help="Override the configuration's seed.")] = None,
) -> None:
    """Value the customers of an existing workspace (lifetime, social, segments).

    Rewrites the report. Run `tiewise run` first; rerun this after changing [value] settings.
    """
    from tiewise.pipeline import run_value

    cfg = _load(config, seed=seed)
    with _progress() as progress:
        result = run_value(
            cfg,
            reporter=_step_reporter(progress),
            command=_command(),
        )
    if result.warning:
        err.print(f"[yellow]Note:[/] {escape(result.warning)}", soft_wrap=True)
    _print_value(result.value)
    out.print(f"Workspace: {result.workspace}")
    out.print(f"Report:    {result.report_path}")


def _workspace_path(config: Path, workspace: Path | None) -> Path:
    if workspace is not None:
        return workspace
    return load_config(config).workspace_path


WorkspaceOption = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="The workspace folder (default: from --config)."),
]


@app.command()
def tables(config: ConfigOption = Path("tiewise.toml"), workspace: WorkspaceOption = None) -> None:
    """List the tables in the workspace."""
    with Workspace.open(_workspace_path(config, workspace), read_only=True) as ws:
        note = ws.recover()
        if note:
            err.print(f"[yellow]Note:[/] {escape(note)}", soft_wrap=True)
        table = Table(title=f"Tables in {ws.path}")
        for column in ("table", "stage", "rows", "run", "description"):
            table.add_column(column)
        for t in ws.tables():
            table.add_row(t.name, t.stage, f"{t.rows:,}", str(t.run_id), t.description)
        out.print(table)


@app.command()
def runs(config: ConfigOption = Path("tiewise.toml"), workspace: WorkspaceOption = None) -> None:
    """List the runs recorded in the workspace, newest first."""
    with Workspace.open(_workspace_path(config, workspace), read_only=True) as ws:
        table = Table(title=f"Runs in {ws.path}")
        for column in ("run", "command", "started", "ended", "status", "error"):
            table.add_column(column, overflow="fold")
        for r in ws.runs():
            table.add_row(
                str(r["run_id"]),
                r["command"],
                f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
                f"{r['ended_at']:%H:%M:%S}" if r["ended_at"] else "",
                r["status"],
                r["error"] or "",
            )
        out.print(table)


@app.command()
def export(
    table: Annotated[str, typer.Argument(help="The table to export (see `tiewise tables`).")],
    output: Annotated[Path, typer.Argument(help="The file to write (.csv, .parquet or .xlsx).")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, parquet or xlsx (default: from the suffix)."),
    ] = None,
    include_control: Annotated[
        bool,
        typer.Option(
            help="For a campaign table: keep the control arm's rows (flagged in column arm). "
            "By default only the customers to contact are written."
        ),
    ] = False,
    config: ConfigOption = Path("tiewise.toml"),
    workspace: WorkspaceOption = None,
) -> None:
    """Export a table to CSV, Parquet or Excel (a campaign table: its target arm by default)."""
    from tiewise.campaigns.files import file_format, write_frame

    if fmt is None:
        file_format(output, "export file")  # an unknown suffix: the message names every format
    xlsx = fmt == "xlsx" or (fmt is None and output.name.lower().endswith(".xlsx"))
    chosen = "xlsx" if xlsx else export_format(output, fmt)
    with Workspace.open(_workspace_path(config, workspace), read_only=True) as ws:
        ws.table(table)  # a clear error when missing
        columns = {c[0] for c in ws.con.execute(f'DESCRIBE "{table}"').fetchall()}
        arms = table.startswith("campaign_") and "arm" in columns
        if chosen == "xlsx" or (arms and not include_control):
            where = "WHERE arm = 'target'" if arms and not include_control else ""
            order = "ORDER BY rank" if "rank" in columns else ""
            frame = ws.con.execute(f'SELECT * FROM "{table}" {where} {order}').df()
            if arms and not include_control:
                frame = frame.drop(columns=["arm"])
            written = write_frame(frame, output, chosen)
        else:
            written = ws.export(table, output, fmt=chosen)
    if arms and not include_control:
        out.print(
            "Control rows left out (they must not be contacted); --include-control keeps "
            "them, flagged in column arm."
        )
    out.print(f"Wrote {written}.")


@app.command("fit-strength")
def fit_strength_command(
    labels: Annotated[
        Path | None,
        typer.Option(help="A CSV of pairs known to be close: two columns, the raw ids."),
    ] = None,
    accounts: Annotated[
        bool, typer.Option(help="Count customers sharing an account_id as close pairs.")
    ] = False,
    config: ConfigOption = Path("tiewise.toml"),
) -> None:
    """Fit the link-strength weights on pairs known to be close, and report what they gain."""
    from tiewise.links.calibrate import fit_on_workspace

    if labels is None and not accounts:
        raise InputError("fit-strength: give --labels FILE, --accounts, or both.")
    cfg = _load(config)
    fit = fit_on_workspace(cfg, labels=labels, accounts=accounts)
    table = Table(title=f"{fit.positives:,} of {fit.pairs:,} linked pairs known to be close")
    for column in ("score", "ROC AUC", "fitted weight"):
        table.add_column(column)
    for row in fit.table().itertuples():
        weight = "" if pd_isna(row.weight) else f"{row.weight:+.3f}"
        table.add_row(str(row.score), f"{row.auc:.3f}", weight)
    out.print(table)
    out.print(escape(fit.note_.capitalize() + "."), soft_wrap=True)
    if fit.weights_ is not None:
        pairs = ", ".join(f"{k} = {v}" for k, v in fit.weights_.items())
        out.print(f"To use them, add to {config}:\n[links]\nstrength_weights = {{ {pairs} }}")


@app.command()
def report(config: ConfigOption = Path("tiewise.toml")) -> None:
    """Write the HTML report again from the workspace (e.g. after campaigns or responses)."""
    from tiewise.report.html import write_report

    cfg = _load(config)
    with Workspace.open(cfg.workspace_path, read_only=True) as ws:
        path = write_report(ws, cfg.resolve(cfg.report.path), cfg)
    out.print(f"Report: {path}")


@app.command()
def campaign(
    kind: Annotated[
        str,
        typer.Argument(help="acquisition, referral, crosssell, retention, vip or response."),
    ],
    size: Annotated[int | None, typer.Option(help="Customers in the list.")] = None,
    name: Annotated[
        str | None, typer.Option(help="The campaign's name (default: the kind).")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Cross-sell: the product category.")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the customers to contact (target arm only) to this .csv, "
            ".parquet or .xlsx file.",
        ),
    ] = None,
    control_out: Annotated[
        Path | None,
        typer.Option(help="Write the held-out control arm to this separate file (not to contact)."),
    ] = None,
    customers: Annotated[
        Path | None,
        typer.Option(
            help="Your customer list (.csv, .parquet, .xlsx) with the identifiers the inputs "
            "had: pseudonymised with the workspace key and joined, so the files carry its "
            "columns (phone, e-mail, CRM id)."
        ),
    ] = None,
    id_column: Annotated[
        str, typer.Option(help="The identifier column of --customers.")
    ] = "customer_id",
    config: ConfigOption = Path("tiewise.toml"),
) -> None:
    """Build a ranked target list with reasons and a held-out control group."""
    from tiewise.campaigns import campaign as build
    from tiewise.campaigns import export_campaign
    from tiewise.campaigns.files import file_format

    for path in (output, control_out, customers):
        if path is not None:  # a name it cannot write is refused before the list is built
            file_format(path, "file")
            if path is not customers and path.is_dir():
                raise InputError(f"cannot write to {path}: it is a folder; name a file.")
    if output is None and (control_out is not None or customers is not None):
        raise InputError("--control-out and --customers need --out (the targets file).")
    cfg = _load(config)
    summary = build(
        cfg,
        kind,
        name=name,
        size=size,
        category=category,
        command=_command(),
    )
    out.print(
        f"Campaign {summary.name}: {summary.targets:,} customers to contact and "
        f"{summary.controls:,} held out as control, in table {summary.table} "
        f"(ranked by {escape(summary.basis)}).",
        highlight=False,
    )
    with Workspace.open(cfg.workspace_path, read_only=True) as ws:
        top = ws.con.execute(
            f"SELECT rank, customer_id, arm, reason FROM {summary.table} ORDER BY rank LIMIT 5"
        ).fetchall()
    for rank, customer, arm, reason in top:
        out.print(f"{rank:>4}. {customer} {escape(f'[{arm}]')} {escape(reason)}", highlight=False)
    if output is not None:
        _print_files(
            export_campaign(
                cfg,
                summary.name,
                output,
                control_out=control_out,
                customers=customers,
                id_column=id_column,
            )
        )


def _print_files(files: Any) -> None:
    out.print(
        f"Wrote {files.targets:,} customers to contact to {files.targets_file}"
        + (
            f" and the {files.controls:,} of the control group (do not contact) to "
            f"{files.control_file}."
            if files.control_file is not None
            else f"; the {files.controls:,} of the control group are left out (--control-out "
            "writes them)."
        ),
        highlight=False,
        soft_wrap=True,
    )
    if files.attached is not None:
        note = f"Identifiers attached from column {files.attached} of the customer list" + (
            f"; {files.without_ids:,} listed customers are not in it (their id columns are empty)."
            if files.without_ids
            else " for every listed customer."
        )
        out.print(note, highlight=False, soft_wrap=True)


@app.command()
def responses(
    name: Annotated[str, typer.Argument(help="The campaign (see the campaigns table).")],
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file of responses.")],
    id_column: Annotated[str, typer.Option(help="Column with the customer id.")] = "customer_id",
    response_column: Annotated[
        str, typer.Option(help="Column with yes/no (1/0, true/false).")
    ] = "responded",
    value_column: Annotated[
        str | None, typer.Option(help="Optional column with the value of the response.")
    ] = None,
    pseudonymised: Annotated[
        bool,
        typer.Option("--pseudonymised", help="The ids are the workspace's pseudonyms, not raw."),
    ] = False,
    config: ConfigOption = Path("tiewise.toml"),
) -> None:
    """Load a campaign's responses and report its uplift against the control group."""
    from tiewise.campaigns import responses as load

    u = load(
        _load(config),
        name,
        path,
        pseudonymised=pseudonymised,
        id_column=id_column,
        response_column=response_column,
        value_column=value_column,
        command=_command(),
    )
    out.print(
        f"{u.matched:,} of the file's {u.matched + u.unmatched:,} customer ids are on the list.",
        highlight=False,
    )
    if u.unmatched:
        shown = ", ".join(u.unmatched_examples)
        err.print(
            f"[yellow]Warning:[/] {u.unmatched:,} ids are not on the campaign list and were "
            f"left out of the uplift (e.g. {escape(shown)}).",
            soft_wrap=True,
        )
    out.print(
        f"Campaign {name}: target {u.target_responders:,}/{u.targets:,} responded "
        f"({u.target_rate:.1%}), control {u.control_responders:,}/{u.controls:,} "
        f"({u.control_rate:.1%}); uplift {u.uplift:+.1%} (95% CI {u.ci_low:+.1%} to "
        f"{u.ci_high:+.1%}, p = {u.p_value:.3g}). Saved in campaign_uplift.",
        highlight=False,
    )


@app.command()
def serve(
    config: ConfigOption = Path("tiewise.toml"),
    workspace: WorkspaceOption = None,
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default 127.0.0.1; others require a token)."),
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8765).")] = None,
) -> None:
    """Open the read-only web explorer over the workspace (Ctrl-C stops it)."""
    from tiewise.serve import ServeSettings, settings_from_config
    from tiewise.serve import serve as run_server

    cfg = load_config(config) if config.exists() or workspace is None else load_config(None)
    if port is not None and not 1 <= port <= 65535:
        raise InputError(f"--port must be between 1 and 65535, got {port}.")
    settings: ServeSettings = settings_from_config(cfg, workspace=workspace, host=host, port=port)
    with Workspace.open(settings.workspace, read_only=True) as ws:  # fails clearly when missing
        note = ws.recover()
    if note:
        err.print(f"[yellow]Note:[/] {escape(note)}", soft_wrap=True)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    say = partial(out.print, highlight=False, soft_wrap=True)
    say(f"Explorer over {settings.workspace} (read-only): http://{shown}:{settings.port}/")
    if settings.token_generated:
        say(f"Listening beyond localhost, so every request needs this token: {settings.token}")
        say(
            "Enter it on the login page, or send 'Authorization: Bearer <token>'. "
            f"Set {cfg.serve.token_env} to choose it yourself."
        )
    elif settings.token:
        say(f"Every request needs the token in {cfg.serve.token_env}.")
    if settings.key is None:
        say(f"Raw-identifier search is off: {settings.key_note}.")
    interrupts.stand_down()  # the server stops itself on Ctrl-C / SIGTERM
    run_server(settings)


@synth_app.command("telco")
def synth_telco(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the data into.")],
    customers: Annotated[int, typer.Option(help="On-network subscribers.")] = 100_000,
    days: Annotated[int, typer.Option(help="Days of interaction records.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    mixing: Annotated[float, typer.Option(help="Share of ties outside one's community.")] = 0.2,
    influence: Annotated[float, typer.Option(help="Adoption contagion scale (0 = none).")] = 1.0,
    churn_contagion: Annotated[float, typer.Option(help="Churn contagion scale (0 = none).")] = 1.0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """A mobile operator: calls and SMS, off-network contacts, service numbers, adoption, churn."""
    from tiewise.synth import TelcoParams, generate_telco

    params = TelcoParams(
        customers=customers,
        days=days,
        seed=seed,
        mixing=mixing,
        influence=influence,
        churn_contagion=churn_contagion,
    )
    _generate(lambda p: generate_telco(params, out_dir, fmt=_fmt(fmt), progress=p))


@synth_app.command("b2b")
def synth_b2b(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the data into.")],
    accounts: Annotated[int, typer.Option(help="Accounts (companies).")] = 500,
    days: Annotated[int, typer.Option(help="Days of records.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """A B2B vendor: accounts, contacts, colleague links, engagement, referrals, expansion."""
    from tiewise.synth import B2BParams, generate_b2b

    params = B2BParams(accounts=accounts, days=days, seed=seed)
    _generate(lambda p: generate_b2b(params, out_dir, fmt=_fmt(fmt), progress=p))


def _fmt(fmt: str) -> Literal["parquet", "csv"]:
    if fmt not in ("parquet", "csv"):
        raise InputError(f"--format must be parquet or csv, got {fmt!r}.")
    return "parquet" if fmt == "parquet" else "csv"


def _generate(job):  # type: ignore[no-untyped-def]
    with _progress() as progress:
        task = progress.add_task("Generating", total=1.0)

        def report(step: str, fraction: float) -> None:
            progress.update(task, description=f"Generating: {step}", completed=fraction)

        result = job(report)
        progress.update(task, description="Generated", completed=1.0)
    for name, count in result.counts.items():
        out.print(f"  {name}: {count:,} rows")
    out.print(f"Data in {result.out}; hidden ground truth in {result.out / 'truth'}.")


@app.command()
def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="Folder for data, workspace, report.")
    ] = Path("demo"),
    customers: Annotated[int, typer.Option(help="Subscribers to generate.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Generate a telco dataset, configure a project for it and run the pipeline."""
    from tiewise.pipeline import run_pipeline
    from tiewise.synth import TelcoParams, generate_telco

    data = folder / "data"
    if not (data / "interactions.parquet").exists():
        params = TelcoParams(customers=customers, seed=seed)
        _generate(lambda p: generate_telco(params, data, progress=p))
    config_path = folder / "tiewise.toml"
    if not config_path.exists():
        config_path.write_text(template(data, config_dir=folder), encoding="utf-8")
    out.print(f"Configuration: {config_path}")
    cfg = load_config(config_path, seed=seed)
    with _progress() as progress:
        result = run_pipeline(cfg, reporter=_step_reporter(progress), command="tiewise demo")
    _print_result(result)
    from tiewise.campaigns import every_campaign
    from tiewise.report.html import write_report

    out.print("\nCampaign lists (tables campaign_<kind>; export with `tiewise export`):")
    for kind, built in every_campaign(cfg, command="tiewise demo: campaigns"):
        if isinstance(built, str):
            out.print(f"  {kind}: not built: {escape(built)}", highlight=False)
        else:
            out.print(
                f"  {kind}: {built.targets:,} to contact, {built.controls:,} held out "
                f"(ranked by {escape(built.basis)})",
                highlight=False,
            )
    with Workspace.open(cfg.workspace_path, read_only=True) as ws:
        write_report(ws, cfg.resolve(cfg.report.path), cfg)
    out.print(f"Report with the campaigns: {cfg.resolve(cfg.report.path)}")


def _command() -> str:
    """The command line as typed, for the runs table (at most 500 characters)."""
    return " ".join(["tiewise", *map(str, _state["argv"])])[:500]


def _interrupted(debug: bool) -> int:
    """Say what an interrupted command kept; the exit code is 128 + the signal's number."""
    if debug:
        traceback.print_exc()
    signum = interrupts.received()
    how = f"Interrupted ({signal.Signals(signum).name})" if signum else "Interrupted"
    kept = interrupts.last_commit()
    if kept is None:
        err.print(
            f"{how}: nothing this run wrote was kept; the workspace holds the previous results."
        )
    else:
        err.print(
            f"{how} after run {kept} committed: its results are in the workspace; the rest of "
            "the command (e.g. the report) did not finish.",
            soft_wrap=True,
        )
    return interrupts.exit_code()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tiewise`` command; returns the exit code.

    The exit codes are in the module's docstring.  Signal handling is installed by
    :func:`entry` (the ``tiewise`` program), not here, so tests can call ``main`` in-process.
    """
    args = list(argv if argv is not None else sys.argv[1:])
    _state["argv"] = args
    debug = "--debug" in args
    try:
        code = app(args=argv, standalone_mode=False)
    except BaseException as exc:  # every way out gets its exit code
        if interrupts.received() is not None or isinstance(exc, KeyboardInterrupt | typer.Abort):
            return _interrupted(debug)  # whatever a library made of the KeyboardInterrupt
        return _failed(exc, debug)
    if interrupts.received() is not None or code == 130:  # typer returns 130 for Ctrl-C
        return _interrupted(debug)
    return code if isinstance(code, int) else 0


def _failed(exc: BaseException, debug: bool) -> int:
    """The exit code for an exception, with one paragraph saying what went wrong."""
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, typer.TyperException):  # usage errors: unknown command, bad option value
        show = getattr(exc, "show", None)
        if callable(show):
            show(file=sys.stderr)
        else:
            err.print(f"Error: {escape(str(exc))}", highlight=False)
        return 2
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 1
    if debug:
        traceback.print_exc()
    if isinstance(exc, TiewiseError):
        err.print(f"[red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    if isinstance(exc, duckdb.OutOfMemoryException):  # outside a run (e.g. the report)
        message = memory_advice(str(exc), "set by [engine] memory_limit", "the configured")
        err.print(f"[red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        return ResourceError.exit_code
    err.print(
        f"[red]Internal error:[/] {type(exc).__name__}: {escape(str(exc))}. "
        "The workspace keeps its previous results. "
        "Rerun with --debug for the traceback and report it.",
        highlight=False,
        soft_wrap=True,
    )
    return 1


def entry() -> None:
    """Console-script entry point: signals handled (see :mod:`tiewise.interrupts`), then main."""
    interrupts.install()  # already done by tiewise.__main__ when started as `tiewise`
    code = main()
    interrupts.finished()
    if interrupts.received() is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # no interpreter teardown under native threads still winding down
    sys.exit(code)
