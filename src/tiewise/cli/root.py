"""The ``tiewise`` program: the command groups under one Typer app, exit codes, error paragraphs.

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
from typing import Annotated

import typer
from rich.markup import escape

from tiewise import interrupts
from tiewise.cli import analysis, campaigns, project, workspace
from tiewise.cli.common import err, out, state
from tiewise.cli.completion import completion
from tiewise.cli.synth import synth_app
from tiewise.exceptions import ResourceError, TiewiseError

__all__ = ["app", "entry", "main"]

COMPLETE_VAR = "_TIEWISE_COMPLETE"
"""Set by the completion script when the shell asks ``tiewise`` for completions."""

app = typer.Typer(
    name="tiewise",
    help="Customer link analytics: networks, communities, influencers, value and target lists.",
    no_args_is_help=True,
    add_completion=False,  # `tiewise completion SHELL` prints the script instead
    pretty_exceptions_enable=False,
)
app.add_typer(synth_app, name="synth")
for command, name in (  # the order `tiewise --help` lists them in
    (analysis.influence, None),
    (analysis.seeds, None),
    (analysis.churn, None),
    (project.init, None),
    (analysis.run, None),
    (analysis.value, None),
    (workspace.tables, None),
    (workspace.runs, None),
    (workspace.export, None),
    (project.fit_strength, "fit-strength"),
    (workspace.report, None),
    (campaigns.campaign, None),
    (campaigns.responses, None),
    (workspace.serve, None),
    (analysis.demo, None),
    (completion, None),
):
    app.command(name)(command)


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
    state["debug"] = debug


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
    state["argv"] = args
    debug = "--debug" in args
    if os.environ.get(COMPLETE_VAR):  # the shell asks for completions (`tiewise completion`)
        from typer.completion import completion_init

        completion_init()
    try:
        code = app(args=argv, standalone_mode=False, complete_var=COMPLETE_VAR)
    except BaseException as exc:  # every way out gets its exit code
        if interrupts.received() is not None or isinstance(exc, KeyboardInterrupt | typer.Abort):
            return _interrupted(debug)  # whatever a library made of the KeyboardInterrupt
        return _failed(exc, debug)
    if interrupts.received() is not None or code == 130:  # typer returns 130 for Ctrl-C
        return _interrupted(debug)
    return code if isinstance(code, int) else 0


def _out_of_memory(exc: BaseException) -> bool:
    """Whether DuckDB ran out of memory (DuckDB is only asked when a command loaded it)."""
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(exc, duckdb.OutOfMemoryException)


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
    if _out_of_memory(exc):  # outside a run (e.g. the report)
        from tiewise.store import memory_advice

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
