"""SIGINT and SIGTERM at every stage of a real ``tiewise run`` (a subprocess), and inside long
calls into compiled code (a numba kernel, a NetworKit algorithm): exit 130 / 143, never 0 for a
run that did not commit and never a crash; the run recorded as interrupted; every table as the
last committed run left it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tiewise.config import load_config, template
from tiewise.pipeline import run_pipeline
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco

TIEWISE = str(Path(sys.executable).with_name("tiewise"))
KEY = "5e" * 32
STAGES = [
    "Loading and validating inputs",
    "Building links and their strengths",
    "Finding communities, centrality and leaders",
    "Measuring influence, choosing seeds",
    "Valuing customers: lifetime, social, segments",
    "Churn triggers, model and retention priority",
    "Writing the report",  # after the commit: the run is kept, the command still stops
]


def snapshot(workspace: Path) -> dict[str, Any]:
    """Every table's name, row count and an order-free hash of its rows; the table registry."""
    with Workspace.open(workspace, read_only=True) as ws:
        tables = {
            t.name: ws.con.execute(f'SELECT count(*), sum(hash(t)) FROM "{t.name}" t').fetchone()
            for t in ws.tables()
        }
        registry = ws.con.execute(
            "SELECT name, stage, run_id FROM _tiewise_tables ORDER BY name"
        ).fetchall()
        runs = ws.runs()
    return {"tables": tables, "registry": registry, "runs": runs}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated telco data (2,000 customers) and one committed run."""
    root = tmp_path_factory.mktemp("signals")
    generate_telco(TelcoParams(customers=2000, days=60, seed=11), root / "data")
    text = template(root / "data", config_dir=root)
    for slow, quick in (  # fewer samples: the test is about stopping, not the figures
        ("\nmin_shuffles = 199", "\nmin_shuffles = 19"),
        ("\nshuffles = 999", "\nshuffles = 99"),
        ("\nsignificance = 0.01", "\nsignificance = 0.1"),
    ):
        assert slow in text
        text = text.replace(slow, quick)
    (root / "tiewise.toml").write_text(text, encoding="utf-8")
    (root / "tiewise.key").write_text(KEY + "\n", encoding="utf-8")
    run_pipeline(load_config(root / "tiewise.toml"))
    return root


def _interrupt_at(project: Path, stage: str, signum: int) -> tuple[int, str]:
    """Start `tiewise run`, send ``signum`` as ``stage`` starts; exit code and stderr."""
    env = {k: v for k, v in os.environ.items() if k != "TIEWISE_KEY"}
    proc = subprocess.Popen(
        [TIEWISE, "run", "--config", str(project / "tiewise.toml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    seen = []
    try:
        for line in proc.stderr:  # one line as each step starts (stderr is not a terminal)
            seen.append(line)
            if stage in line:
                proc.send_signal(signum)
                break
        else:
            pytest.fail(f"the run ended before {stage!r}: {''.join(seen)}")
        rest = proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return code, "".join(seen) + rest


def _check(project: Path, stage: str, signum: int) -> None:
    workspace = project / "workspace"
    before = snapshot(workspace)
    code, err = _interrupt_at(project, stage, signum)
    assert code == 128 + signum, err  # 130 for SIGINT, 143 for SIGTERM: never 0, never a crash
    assert "Traceback" not in err and "Internal error" not in err, err
    after = snapshot(workspace)
    last = after["runs"][0]
    assert last["run_id"] == before["runs"][0]["run_id"] + 1
    assert after["runs"][1:] == before["runs"]  # the earlier runs untouched
    name = signal.Signals(signum).name
    if stage == "Writing the report":  # committed before the signal: kept, and said so
        assert last["status"] == "ok", last
        assert f"Interrupted ({name}) after run {last['run_id']} committed" in err
    else:
        assert (last["status"], last["error"]) == ("interrupted", name), last
        assert after["tables"] == before["tables"] and after["registry"] == before["registry"]
        assert f"Interrupted ({name}): nothing this run wrote was kept" in err


def test_sigterm_while_finding_communities(project: Path) -> None:
    _check(project, "Finding communities, centrality and leaders", signal.SIGTERM)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("stage", STAGES)
def test_a_signal_at_every_stage(project: Path, stage: str, signum: int) -> None:
    _check(project, stage, signum)


# --- inside compiled code: the main thread cannot raise until the call returns ---

STUCK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tiewise import interrupts
    interrupts.install(grace=2.0)
    import numpy as np
    from tiewise.store import Workspace

    def numba_kernel():  # the shuffle test's kernel, asked for 10^12 shuffles
        from tiewise.influence.timing import _shuffles
        time = np.arange(4.0)
        idx = np.array([0, 1], dtype=np.int64)
        groups = np.zeros(4, dtype=np.int64)
        args = (time, np.array([0, 4], dtype=np.int64), idx, idx + 2, 5.0, groups, groups)
        _shuffles(*args, 1, 1, 2, np.uint64(1))  # compiled before the marker
        return lambda: _shuffles(*args, 1, 1, 10**12, np.uint64(1))

    def networkit_call():  # exact betweenness of a 30,000-node random graph
        import networkit as nk
        nk.setNumberOfThreads(1)
        graph = nk.generators.ErdosRenyiGenerator(30000, 0.0005).generate()
        return nk.centrality.Betweenness(graph).run

    call = {"numba": numba_kernel, "networkit": networkit_call}[sys.argv[2]]()
    with Workspace.open(sys.argv[1]) as ws, ws.run(command="stuck") as run:
        run.write_table(
            "numbers", "SELECT 99 AS n", stage="t", description="overwritten", check=False
        )
        print("inside", flush=True)
        call()
    print("the call returned", flush=True)
    """
)


@pytest.mark.parametrize(
    ("where", "signum"),
    [("numba", signal.SIGTERM), ("networkit", signal.SIGINT)],
    ids=["numba-SIGTERM", "networkit-SIGINT"],
)
def test_a_signal_inside_compiled_code(tmp_path: Path, where: str, signum: int) -> None:
    workspace = tmp_path / "ws"
    with Workspace.open(workspace, create=True) as ws, ws.run(command="numbers") as run:
        sql = "SELECT range AS n FROM range(3)"
        run.write_table("numbers", sql, stage="t", description="n", check=False)
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK, str(workspace), where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "inside", proc.communicate()
        time.sleep(1.0)  # well inside the call
        sent = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, err
    assert time.monotonic() - sent < 30  # the grace period (2 s here), not the call's length
    assert "the call returned" not in out
    assert "inside a long computation" in err
    with Workspace.open(workspace) as ws:
        assert ws.table("numbers").order("n").fetchall() == [(0,), (1,), (2,)]
        last = ws.runs()[0]
    assert last["command"] == "stuck" and last["status"] == "interrupted"
    assert signal.Signals(signum).name in last["error"]
