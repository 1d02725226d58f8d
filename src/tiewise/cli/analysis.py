"""The analysis commands: ``run`` and ``demo``, then one stage again on a workspace.

``run`` and ``demo`` do the whole job; ``value``, ``churn``, ``influence`` and ``seeds`` rerun
one stage on a workspace that ``run`` filled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tiewise.cli.common import (
    ConfigOption,
    command_line,
    err,
    load,
    note,
    out,
    progress,
    step_reporter,
)

if TYPE_CHECKING:  # the stages are imported by the commands that run them: `--help` stays quick
    from tiewise.churn.stage import ChurnSummary
    from tiewise.influence.stage import InfluenceSummary
    from tiewise.pipeline import RunResult
    from tiewise.value.stage import ValueSummary

__all__ = ["churn", "demo", "influence", "run", "seeds", "value"]


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

    cfg = load(config, seed=seed)
    with progress() as shown:
        result = run_pipeline(
            cfg,
            keep_raw_ids=keep_raw_ids,
            reporter=step_reporter(shown),
            command=command_line(),
        )
    print_result(result)


def value(
    config: ConfigOption = Path("tiewise.toml"),
    seed: Annotated[int | None, typer.Option(help="Override the configuration's seed.")] = None,
) -> None:
    """Value the customers of an existing workspace (lifetime, social, segments).

    Rewrites the report. Run `tiewise run` first; rerun this after changing [value] settings.
    """
    from tiewise.pipeline import run_value

    cfg = load(config, seed=seed)
    with progress() as shown:
        result = run_value(cfg, reporter=step_reporter(shown), command=command_line())
    note(result.warning)
    print_value(result.value)
    out.print(f"Workspace: {result.workspace}")
    out.print(f"Report:    {result.report_path}")


def churn(config: ConfigOption = Path("tiewise.toml")) -> None:
    """Churn on an existing workspace: triggers, scores, retention priority; rewrite the report."""
    from tiewise.pipeline import run_churn

    cfg = load(config)
    with progress() as shown:
        summary, report = run_churn(cfg, reporter=step_reporter(shown), command=command_line())
    print_churn(summary)
    if not summary.skipped:
        out.print("Tables: churn_triggers, churn_scores, retention_priority, churn_evaluation.")
    out.print(f"Report: {report}")


def influence(config: ConfigOption = Path("tiewise.toml")) -> None:
    """Rerun the influence stage on the workspace: scores, tests, link probabilities, seeds."""
    from tiewise.pipeline import imm_shortfall, run_influence

    cfg = load(config)
    with progress() as shown:
        summary = run_influence(cfg, reporter=step_reporter(shown), command=command_line())
    print_influence(summary)
    if summary.imm_shortfall:  # as `tiewise run` warns
        line = imm_shortfall(cfg, summary.imm_shortfall)
        err.print(f"[yellow]Warning:[/] {escape(line.sentence())}", soft_wrap=True)
    out.print(
        "Tables: influence_scores, influence_tests, influence_links, influence_validation, "
        "seed_sets, spread_curve, network_value, network_value_categories."
    )


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

    cfg = load(config)
    with progress() as shown:
        frame = choose_seeds(
            cfg,
            category=category,
            k=k,
            budget=budget,
            reporter=step_reporter(shown),
            command=command_line(),
        )
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


def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="Folder for data, workspace, report.")
    ] = Path("demo"),
    customers: Annotated[int, typer.Option(help="Subscribers to generate.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Generate a telco dataset, configure a project for it and run the pipeline."""
    from tiewise.campaigns import every_campaign
    from tiewise.cli.synth import generate
    from tiewise.config import load_config, template
    from tiewise.pipeline import rewrite_report, run_pipeline
    from tiewise.synth import TelcoParams, generate_telco

    data = folder / "data"
    if not (data / "interactions.parquet").exists():
        params = TelcoParams(customers=customers, seed=seed)
        generate(lambda p: generate_telco(params, data, progress=p))
    config_path = folder / "tiewise.toml"
    if not config_path.exists():
        config_path.write_text(template(data, config_dir=folder), encoding="utf-8")
    out.print(f"Configuration: {config_path}")
    cfg = load_config(config_path, seed=seed)
    with progress() as shown:
        result = run_pipeline(cfg, reporter=step_reporter(shown), command="tiewise demo")
    print_result(result)
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
    out.print(f"Report with the campaigns: {rewrite_report(cfg)}")


def print_ingest(result: RunResult) -> None:
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


def print_result(result: RunResult) -> None:
    """A run's summary: the network, the ingest report, each stage's headline, the top customers."""
    note(result.warning)
    g = result.graph
    out.print(
        f"Run {result.run_id} complete: {result.links.nodes:,} parties "
        f"({result.links.on_network:,} customers), {result.links.links:,} links, "
        f"{g.communities:,} communities (modularity {g.modularity:.3f}), "
        f"{result.links.service_numbers} service numbers set aside."
    )
    print_ingest(result)
    if result.links.half_life_days is not None:
        out.print(
            f"Link weights decay with a half-life of {result.links.half_life_days:g} days "
            f"({escape(result.links.half_life_reason)}).",
            highlight=False,
        )
    for skipped in result.skipped:
        err.print(f"[yellow]Warning:[/] {escape(skipped.sentence())}", soft_wrap=True)
    if result.value is not None:
        print_value(result.value)
    if result.churn is not None:
        print_churn(result.churn)
    if result.influence is not None:
        print_influence(result.influence)
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


def print_value(value: ValueSummary) -> None:
    """The value stage's headline: model, parameters, segments and notes."""
    params = ", ".join(f"{k}={v:.4g}" for k, v in value.parameters.items())
    out.print(
        f"Value ({value.model}{': ' + params if params else ''}): {value.customers:,} customers, "
        f"lifetime value {value.total_clv:,.0f}, true value {value.total_true_value:,.0f}. "
        "Segments: " + ", ".join(f"{k} {n:,}" for k, n in value.segments.items()) + ".",
        highlight=False,
    )
    for line in value.notes:
        out.print(f"  note: {escape(line)}", highlight=False)


def print_influence(s: InfluenceSummary) -> None:
    """The influence stage's headline: where influence is shown, the link model, the seeds."""
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
    reach = ", ".join(
        f"{c} {r:.0f} ({s.seed_interval[c][0]:.0f}-{s.seed_interval[c][1]:.0f})"
        for c, r in s.seeds.items()
    )
    out.print(
        f"Seeds (expected reach, 90% interval; conservative): "
        f"{reach or 'none (structural fallback)'}. "
        f"Network value total {s.network_value_total:,.0f} "
        f"over the value horizon (adoption value = {s.value_basis}).",
        highlight=False,
    )


def print_churn(churn: ChurnSummary) -> None:
    """The churn stage's headline: out-of-time evaluation, whether social features helped."""
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
