"""The ``tiewise`` command line: parses, shows progress, formats; the Python API does the work.

One module per command group -- :mod:`~tiewise.cli.analysis` (``run``, ``demo``, ``value``,
``churn``, ``influence``, ``seeds``), :mod:`~tiewise.cli.campaigns` (``campaign``,
``responses``), :mod:`~tiewise.cli.workspace` (``tables``, ``runs``, ``export``, ``report``,
``serve``), :mod:`~tiewise.cli.project` (``init``, ``fit-strength``), :mod:`~tiewise.cli.synth`
and :mod:`~tiewise.cli.completion` -- gathered under one app in :mod:`~tiewise.cli.root`, which
also maps errors to exit codes (listed there).  No module here holds SQL or imports a stage,
DuckDB or the configuration model at import time: ``tiewise --help`` stays quick.
"""

from __future__ import annotations

from tiewise.cli.root import app, entry, main

__all__ = ["app", "entry", "main"]
