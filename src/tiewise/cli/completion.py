"""``tiewise completion bash|zsh|fish``: the shell script that completes commands and options.

The script calls ``tiewise`` back with ``_TIEWISE_COMPLETE`` set; Typer answers those calls
(in :func:`tiewise.cli.root.main`) from the same parsers as ``--help``, so nothing heavy loads.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

__all__ = ["completion"]

SHELLS = ("bash", "zsh", "fish")
Shell = Literal["bash", "zsh", "fish"]


def completion(
    shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script, e.g. `eval "$(tiewise completion bash)"` in ~/.bashrc."""
    from typer.completion import get_completion_script

    from tiewise.cli.root import COMPLETE_VAR

    script = get_completion_script(prog_name="tiewise", complete_var=COMPLETE_VAR, shell=shell)
    typer.echo(script)
