"""``tiewise synth``: generate realistic data with known ground truth."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from tiewise.cli.common import out, progress
from tiewise.exceptions import InputError

if TYPE_CHECKING:
    from tiewise.synth import SynthResult

__all__ = ["b2b", "generate", "synth_app", "telco"]

synth_app = typer.Typer(
    help="Generate realistic data with known ground truth.", no_args_is_help=True
)


@synth_app.command("telco")
def telco(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the data into.")],
    customers: Annotated[int, typer.Option(help="On-network subscribers.")] = 100_000,
    days: Annotated[int, typer.Option(help="Days of interaction records.")] = 90,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    mixing: Annotated[float, typer.Option(help="Share of ties outside one's community.")] = 0.2,
    influence: Annotated[float, typer.Option(help="Adoption contagion scale (0 = none).")] = 1.0,
    churn_contagion: Annotated[float, typer.Option(help="Churn contagion scale (0 = none).")] = 1.0,
    records_per_customer: Annotated[
        float, typer.Option(help="Mean call and SMS records a subscriber over the days.")
    ] = 50.0,
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
        records_per_customer=records_per_customer,
    )
    generate(lambda p: generate_telco(params, out_dir, fmt=_fmt(fmt), progress=p))


@synth_app.command("b2b")
def b2b(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the data into.")],
    accounts: Annotated[int, typer.Option(help="Accounts (companies).")] = 500,
    days: Annotated[int, typer.Option(help="Days of records.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """A B2B vendor: accounts, contacts, colleague links, engagement, referrals, expansion."""
    from tiewise.synth import B2BParams, generate_b2b

    params = B2BParams(accounts=accounts, days=days, seed=seed)
    generate(lambda p: generate_b2b(params, out_dir, fmt=_fmt(fmt), progress=p))


def _fmt(fmt: str) -> Literal["parquet", "csv"]:
    if fmt not in ("parquet", "csv"):
        raise InputError(f"--format must be parquet or csv, got {fmt!r}.")
    return "parquet" if fmt == "parquet" else "csv"


def generate(job: Callable[[Callable[[str, float], None]], SynthResult]) -> None:
    """Run a generator ``job(report)`` under a progress bar, then list what it wrote."""
    with progress() as shown:
        task = shown.add_task("Generating", total=1.0)

        def report(step: str, fraction: float) -> None:
            shown.update(task, description=f"Generating: {step}", completed=fraction)

        result = job(report)
        shown.update(task, description="Generated", completed=1.0)
    for name, count in result.counts.items():
        out.print(f"  {name}: {count:,} rows")
    out.print(f"Data in {result.out}; hidden ground truth in {result.out / 'truth'}.")
