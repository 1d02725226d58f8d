"""The one exception family of tiewise.

Every error a user can cause or meet derives from :class:`TiewiseError`.  The command line maps
the family to documented exit codes (see :mod:`tiewise.cli.root`):

* :class:`InputError` and :class:`ConfigError` -- bad input or usage, exit code 2;
* :class:`WorkspaceError` -- the workspace is missing, locked or lacks a table, exit code 2;
  :class:`NotRunError`, its kind for "run ``tiewise run`` first", whoever needs it;
* :class:`ResourceError` -- the run needs more memory than ``[engine] memory_limit`` allows,
  exit code 2 (the fix is a setting);
* any other :class:`TiewiseError` (e.g. :class:`ConvergenceError`, :class:`AnalysisError`) --
  the analysis failed, exit code 1.

Messages are written for the person who must fix the problem: which file, which row and column,
what was expected, how to fix it.  They never contain a raw customer identifier.
"""

from __future__ import annotations

__all__ = [
    "AnalysisError",
    "ConfigError",
    "ConvergenceError",
    "InputError",
    "NotRunError",
    "ResourceError",
    "TiewiseError",
    "WorkspaceError",
]


class TiewiseError(Exception):
    """Base class of every error raised on purpose by tiewise."""

    exit_code: int = 1


class InputError(TiewiseError):
    """An input file or argument is unusable: names the file, row, column and the fix."""

    exit_code = 2


class ConfigError(InputError):
    """The configuration file is invalid: names the key, the value and the allowed values."""


class WorkspaceError(TiewiseError):
    """The workspace is missing, locked, or lacks a table that a stage needs."""

    exit_code = 2


class NotRunError(WorkspaceError):
    """The workspace lacks what ``tiewise run`` writes: the workspace itself, a run or a table.

    The one error for "run ``tiewise run`` first", whichever command or function needs it:
    ``problem`` says what is missing, ``then`` may add how to go on.
    """

    def __init__(self, problem: str, *, then: str = "") -> None:
        self.problem = problem
        super().__init__(f"{problem}: run `tiewise run` first{then}.")


class ResourceError(TiewiseError):
    """The run needs more memory than allowed: names the setting to raise and its value."""

    exit_code = 2


class AnalysisError(TiewiseError):
    """An analysis stage could not produce a result from valid input."""


class ConvergenceError(AnalysisError):
    """A numerical fit did not converge."""
