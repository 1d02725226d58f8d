"""What every command shares: the consoles, the common options, progress and the command line.

Nothing here imports a stage, DuckDB or the configuration model: ``tiewise --help`` builds every
command's parser from these modules alone, and the work is imported when a command runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from tiewise.config import Config
    from tiewise.pipeline import StepReporter

__all__ = [
    "ConfigOption",
    "WorkspaceOption",
    "command_line",
    "err",
    "load",
    "note",
    "out",
    "progress",
    "state",
    "step_reporter",
    "workspace_path",
]

out = Console()
err = Console(stderr=True)
state: dict[str, Any] = {"debug": False, "argv": []}
"""The parsed ``--debug`` and the arguments as typed (set by :func:`tiewise.cli.root.main`)."""

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The configuration file (TOML).")
]
WorkspaceOption = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="The workspace folder (default: from --config)."),
]


def load(config: Path, **overrides: object) -> Config:
    """The configuration at ``config``, with the options given on the command line applied."""
    from tiewise.config import load_config

    return load_config(config, **{k: v for k, v in overrides.items() if v is not None})


def workspace_path(config: Path, workspace: Path | None) -> Path:
    """``--workspace`` when given, else the configuration's workspace."""
    if workspace is not None:
        return workspace
    return load(config).workspace_path


def note(message: str | None) -> None:
    """A yellow note on stderr (e.g. what recovering the workspace did); nothing for None."""
    if message:
        err.print(f"[yellow]Note:[/] {escape(message)}", soft_wrap=True)


def command_line() -> str:
    """The command line as typed, for the runs table (at most 500 characters)."""
    return " ".join(["tiewise", *map(str, state["argv"])])[:500]


@contextmanager
def progress() -> Iterator[Progress]:
    """A progress display on stderr."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as shown:
        yield shown


def step_reporter(shown: Progress) -> StepReporter:
    """A step per pipeline step on ``shown``; in a log (not a terminal), one timed line each."""

    @contextmanager
    def step(description: str) -> Iterator[None]:
        if not err.is_terminal:  # a log (scheduler, pipe): one line as each step starts
            err.print(f"{datetime.now():%H:%M:%S} {description}", highlight=False)
        task = shown.add_task(description, total=1)
        yield
        shown.update(task, completed=1)

    return step
