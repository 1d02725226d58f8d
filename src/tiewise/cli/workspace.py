"""The commands that read a workspace: ``tables``, ``runs``, ``export``, ``report``, ``serve``."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tiewise import interrupts
from tiewise.cli.common import (
    ConfigOption,
    WorkspaceOption,
    load,
    note,
    out,
    workspace_path,
)
from tiewise.exceptions import InputError

__all__ = ["export", "report", "runs", "serve", "tables"]


def tables(config: ConfigOption = Path("tiewise.toml"), workspace: WorkspaceOption = None) -> None:
    """List the tables in the workspace."""
    from tiewise.store import Workspace

    with Workspace.open(workspace_path(config, workspace), read_only=True) as ws:
        note(ws.recover())
        table = Table(title=f"Tables in {ws.path}")
        for column in ("table", "stage", "rows", "run", "description"):
            table.add_column(column)
        for t in ws.tables():
            table.add_row(t.name, t.stage, f"{t.rows:,}", str(t.run_id), t.description)
        out.print(table)


def runs(config: ConfigOption = Path("tiewise.toml"), workspace: WorkspaceOption = None) -> None:
    """List the runs in the workspace, newest first, and where the last timed one spent its time."""
    import json

    from tiewise.store import Workspace

    with Workspace.open(workspace_path(config, workspace), read_only=True) as ws:
        table = Table(title=f"Runs in {ws.path}")
        for column in ("run", "command", "started", "ended", "status", "error"):
            table.add_column(column, overflow="fold")
        recorded = ws.runs()
        for r in recorded:
            table.add_row(
                str(r["run_id"]),
                r["command"],
                f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
                f"{r['ended_at']:%H:%M:%S}" if r["ended_at"] else "",
                r["status"],
                r["error"] or "",
            )
        out.print(table)
        timed = next((r for r in recorded if r.get("stages")), None)
        if timed is None:
            return
        steps = json.loads(timed["stages"])
        total = sum(s["seconds"] for s in steps) or 1.0
        spent = Table(title=f"Where run {timed['run_id']} spent its time (runs.stages)")
        for column in ("step", "seconds", "share", "cores busy", "peak memory"):
            spent.add_column(column, justify="left" if column == "step" else "right")
        for s in steps:
            peak = s.get("peak_rss_bytes")
            busy = s.get("cpu_seconds")  # absent in runs recorded before it was measured
            spent.add_row(
                s["stage"],
                f"{s['seconds']:,.1f}",
                f"{s['seconds'] / total:.0%}",
                f"{busy / s['seconds']:.2f}" if busy is not None and s["seconds"] else "",
                f"{peak / 2**30:.2f} GiB" if peak else "",
            )
        out.print(spent)


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
    from tiewise.campaigns import export_table

    done = export_table(
        workspace_path(config, workspace),
        table,
        output,
        fmt=fmt,
        include_control=include_control,
    )
    if done.control_left_out:
        out.print(
            "Control rows left out (they must not be contacted); --include-control keeps "
            "them, flagged in column arm."
        )
    out.print(f"Wrote {done.path}.")


def report(config: ConfigOption = Path("tiewise.toml")) -> None:
    """Write the HTML report again from the workspace (e.g. after campaigns or responses)."""
    from tiewise.pipeline import rewrite_report

    out.print(f"Report: {rewrite_report(load(config))}")


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
    from tiewise.config import load_config
    from tiewise.serve import ServeSettings, settings_from_config
    from tiewise.serve import serve as run_server
    from tiewise.store import Workspace

    cfg = load_config(config) if config.exists() or workspace is None else load_config(None)
    if port is not None and not 1 <= port <= 65535:
        raise InputError(f"--port must be between 1 and 65535, got {port}.")
    settings: ServeSettings = settings_from_config(cfg, workspace=workspace, host=host, port=port)
    with Workspace.open(settings.workspace, read_only=True) as ws:  # fails clearly when missing
        note(ws.recover())
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
        say(f"Raw-identifier search is off: {escape(settings.key_note)}.")
    interrupts.stand_down()  # the server stops itself on Ctrl-C / SIGTERM
    run_server(settings)
