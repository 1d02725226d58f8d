"""The commands that set a project up: ``init`` (a configuration) and ``fit-strength``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tiewise.cli.common import ConfigOption, err, load, out
from tiewise.exceptions import InputError

__all__ = ["fit_strength", "init"]


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
    from tiewise.config import template
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


def fit_strength(
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
    from pandas import isna

    from tiewise.links.calibrate import fit_on_workspace

    if labels is None and not accounts:
        raise InputError("fit-strength: give --labels FILE, --accounts, or both.")
    fit = fit_on_workspace(load(config), labels=labels, accounts=accounts)
    table = Table(title=f"{fit.positives:,} of {fit.pairs:,} linked pairs known to be close")
    for column in ("score", "ROC AUC", "fitted weight"):
        table.add_column(column)
    scores = fit.table()[["score", "auc", "weight"]]
    for score, auc, weight in scores.itertuples(index=False, name=None):
        table.add_row(str(score), f"{auc:.3f}", "" if isna(weight) else f"{weight:+.3f}")
    out.print(table)
    out.print(escape(fit.note_.capitalize() + "."), soft_wrap=True)
    if fit.weights_ is not None:
        pairs = ", ".join(f"{k} = {v}" for k, v in fit.weights_.items())
        out.print(f"To use them, add to {config}:\n[links]\nstrength_weights = {{ {pairs} }}")
