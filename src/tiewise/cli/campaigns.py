"""The campaign commands: ``campaign`` (a target list with its control) and ``responses``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from tiewise.cli.common import ConfigOption, command_line, err, load, out
from tiewise.exceptions import InputError

if TYPE_CHECKING:
    from tiewise.campaigns import CampaignFiles

__all__ = ["KINDS", "campaign", "responses"]

KINDS = ("acquisition", "referral", "crosssell", "retention", "vip")
"""The kinds of list (as :data:`tiewise.campaigns.KINDS`; here, completion imports no stage)."""


def _kinds(incomplete: str) -> list[str]:
    return [kind for kind in KINDS if kind.startswith(incomplete)]


def campaign(
    kind: Annotated[
        str,
        typer.Argument(
            help="acquisition, referral, crosssell, retention or vip.", autocompletion=_kinds
        ),
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
    from tiewise.campaigns import campaign_list, export_campaign
    from tiewise.campaigns.files import file_format

    for path in (output, control_out, customers):
        if path is not None:  # a name it cannot write is refused before the list is built
            file_format(path, "file")
            if path is not customers and path.is_dir():
                raise InputError(f"cannot write to {path}: it is a folder; name a file.")
    if output is None and (control_out is not None or customers is not None):
        raise InputError("--control-out and --customers need --out (the targets file).")
    cfg = load(config)
    summary = build(
        cfg,
        kind,
        name=name,
        size=size,
        category=category,
        command=command_line(),
    )
    out.print(
        f"Campaign {summary.name}: {summary.targets:,} customers to contact and "
        f"{summary.controls:,} held out as control, in table {summary.table} "
        f"(ranked by {escape(summary.basis)}).",
        highlight=False,
    )
    top = campaign_list(cfg, summary.name, limit=5)
    for r in top.itertuples(index=False):
        out.print(
            f"{r.rank:>4}. {r.customer_id} {escape(f'[{r.arm}]')} {escape(str(r.reason))}",
            highlight=False,
        )
    if output is not None:
        print_files(
            export_campaign(
                cfg,
                summary.name,
                output,
                control_out=control_out,
                customers=customers,
                id_column=id_column,
            )
        )


def print_files(files: CampaignFiles) -> None:
    """What was written where: targets, control group, the customer list's identifiers."""
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
    from tiewise.campaigns import responses as load_responses

    u = load_responses(
        load(config),
        name,
        path,
        pseudonymised=pseudonymised,
        id_column=id_column,
        response_column=response_column,
        value_column=value_column,
        command=command_line(),
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
