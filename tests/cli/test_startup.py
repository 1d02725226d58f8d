"""``tiewise --help`` loads no stage.

Importing the command line and building every parser and
every help page leaves DuckDB, NumPy, pandas, NetworKit, scikit-learn, the configuration model
and the stages unimported (checked by ``sys.modules`` in a fresh interpreter, not by time).
(pydantic itself is allowed: Typer converts option values with it.)
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "duckdb",
    "numpy",
    "pandas",
    "pyarrow",
    "networkit",
    "sklearn",
    "scipy",
    "numba",
    "tiewise.config",
    "tiewise.store",
    "tiewise.tables",
    "tiewise.pipeline",
    "tiewise.ingest",
    "tiewise.links",
    "tiewise.graph",
    "tiewise.influence",
    "tiewise.value",
    "tiewise.churn",
    "tiewise.campaigns",
    "tiewise.report",
    "tiewise.serve",
    "tiewise.synth",
)

PROBE = """
import contextlib, io, json, sys
from typer.main import get_command
from tiewise.cli import app, main

group = get_command(app)
commands = [[name] for name in group.commands]
commands += [["synth", name] for name in group.commands["synth"].commands]
codes = {}
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for args in [[], *commands]:
        codes[" ".join(args) or "tiewise"] = main([*args, "--help"])
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def _loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_help_of_every_command_imports_nothing_heavy() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )
    found = json.loads(probe.stdout)
    assert {"tiewise", "run", "export", "campaign", "synth telco", "completion"} <= set(
        found["codes"]
    )
    assert set(found["codes"].values()) == {0}, found["codes"]
    assert [m for m in HEAVY if _loaded(found["modules"], m)] == []
    assert _loaded(found["modules"], "typer")  # the probe did build the parsers


def test_probe_would_see_a_heavy_import() -> None:
    """The check can fail: a command module importing DuckDB at the top is caught."""
    probe = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert _loaded(json.loads(probe.stdout), "duckdb")
