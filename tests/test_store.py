import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tiewise import store
from tiewise.exceptions import InputError, WorkspaceError
from tiewise.store import Workspace, scalar, sql_identifier, sql_string


def first_value(ws: Workspace, table: str) -> list[tuple[int]]:
    return ws.table(table).order("n").fetchall()


def commit_numbers(path: Path, count: int) -> None:
    with Workspace.open(path, create=True) as ws, ws.run(command=f"numbers {count}") as run:
        run.write_table(
            "numbers",
            f"SELECT range AS n FROM range({count})",
            stage="t",
            description="numbers",
            check=False,
        )


def test_a_run_commits_tables_and_records_itself(tmp_path: Path) -> None:
    commit_numbers(tmp_path, 3)
    with Workspace.open(tmp_path) as ws:
        assert first_value(ws, "numbers") == [(0,), (1,), (2,)]
        (run,) = ws.runs()
        assert run["status"] == "ok" and run["command"] == "numbers 3"
        assert run["ended_at"] >= run["started_at"]
        assert '"duckdb"' in run["versions"]
        assert ws.recover() is None


def test_a_run_records_its_stages_also_in_an_older_workspace(tmp_path: Path) -> None:
    commit_numbers(tmp_path, 3)
    with Workspace.open(tmp_path) as ws:  # a workspace from before runs had a stages column
        ws.con.execute("ALTER TABLE runs DROP COLUMN stages")
    commit_numbers(tmp_path, 4)
    with Workspace.open(tmp_path) as ws:
        run_id = ws.runs()[0]["run_id"]
        ws.record_stages(
            run_id, {"ingest": 1.5, "report": 0.25}, {"ingest": 2**30}, {"ingest": 2.75}
        )
        newest, older = ws.runs()
    assert older["stages"] is None
    assert json.loads(newest["stages"]) == [
        {"stage": "ingest", "seconds": 1.5, "cpu_seconds": 2.75, "peak_rss_bytes": 2**30},
        {"stage": "report", "seconds": 0.25, "cpu_seconds": None, "peak_rss_bytes": None},
    ]


def test_a_failed_run_keeps_the_previous_results(tmp_path: Path) -> None:
    commit_numbers(tmp_path, 3)
    with Workspace.open(tmp_path) as ws:
        with pytest.raises(RuntimeError), ws.run(command="broken") as run:
            run.write_table(
                "numbers", "SELECT 99 AS n", stage="t", description="overwritten", check=False
            )
            run.write_table("extra", "SELECT 1 AS x", stage="t", description="new", check=False)
            raise RuntimeError("stage exploded")
        assert first_value(ws, "numbers") == [(0,), (1,), (2,)]
        assert "extra" not in {t.name for t in ws.tables()}
        assert ws.runs()[0]["status"] == "failed"
        message = ws.recover()
    assert message is not None
    assert "Run 2 (broken) failed: stage exploded" in message
    assert "results of run 1" in message


def test_interrupt_is_recorded_as_interrupted(tmp_path: Path) -> None:
    commit_numbers(tmp_path, 2)
    with Workspace.open(tmp_path) as ws:
        with pytest.raises(KeyboardInterrupt), ws.run(command="ctrl-c") as run:
            run.write_table("numbers", "SELECT 7 AS n", stage="t", description="x", check=False)
            raise KeyboardInterrupt
        assert ws.runs()[0]["status"] == "interrupted"
        assert first_value(ws, "numbers") == [(0,), (1,)]


KILLED_RUN = """
import sys, time
from pathlib import Path
from tiewise.store import Workspace
with Workspace.open(sys.argv[1]) as ws, ws.run(command="doomed") as run:
    run.write_table(
        "numbers", "SELECT range AS n FROM range(1000000)", stage="t", description="x", check=False
    )
    scratch = Path(sys.argv[1]) / "tmp" / f"tiewise-slices-{run.run_id}-0"
    scratch.mkdir(parents=True)
    (scratch / "part.parquet").write_bytes(b"half-written")
    Path(sys.argv[2]).touch()
    time.sleep(60)
"""


def test_a_run_killed_half_way_leaves_the_previous_results_readable(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    commit_numbers(ws_path, 3)
    marker = tmp_path / "half-way"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(ws_path), str(marker)])
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, "the doomed run ended on its own"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Workspace.open(ws_path) as ws:
        message = ws.recover()
        assert first_value(ws, "numbers") == [(0,), (1,), (2,)]
        assert ws.runs()[0]["status"] == "interrupted"
        assert not any((ws_path / "tmp").glob("tiewise-slices-*"))  # the dead run's scratch
    assert message is not None and "was interrupted" in message and "results of run 1" in message


def test_export_csv_and_parquet(tmp_path: Path) -> None:
    commit_numbers(tmp_path / "ws", 3)
    with Workspace.open(tmp_path / "ws", read_only=True) as ws:
        csv = ws.export("numbers", tmp_path / "n.csv")
        parquet = ws.export("numbers", tmp_path / "n.parquet")
        assert csv.read_text().splitlines() == ["n", "0", "1", "2"]
        assert ws.con.execute(f"SELECT sum(n) FROM '{parquet}'").fetchall() == [(3,)]
        with pytest.raises(WorkspaceError, match="no table 'nope'"):
            ws.export("nope", tmp_path / "x.csv")


def test_missing_workspace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="no workspace at"):
        Workspace.open(tmp_path / "absent")


def test_a_locked_workspace_is_a_clear_error(tmp_path: Path) -> None:
    commit_numbers(tmp_path, 1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
            "time.sleep(30)",
            str(tmp_path / "tiewise.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(WorkspaceError, match="in use by another tiewise process"):
            Workspace.open(tmp_path)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


@pytest.mark.parametrize(
    "text", ["plain", "it's", 'say "hi"', "a'; DROP TABLE t; --", 'x"; DROP TABLE t; --', "é ✓"]
)
def test_the_quoting_helpers_round_trip_through_duckdb(text: str) -> None:
    """Whatever a name or value holds, DuckDB reads back exactly that name and that value."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INTEGER)")
    assert con.execute(f"SELECT {sql_string(text)}").fetchone() == (text,)
    frame = con.execute(f"SELECT 1 AS {sql_identifier(text)}").df()
    assert frame.columns.tolist() == [text]
    assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)  # nothing else ran


def test_a_nul_character_is_refused_by_both_helpers() -> None:
    for helper in (sql_string, sql_identifier):
        with pytest.raises(InputError, match="NUL"):
            helper("a\0b")


def test_tables_counts_views_only_when_asked(tmp_path: Path) -> None:
    commit_numbers(tmp_path, 3)
    with Workspace.open(tmp_path) as ws:
        with ws.run(command="view") as run:
            run.write_view(
                "evens", "SELECT n FROM numbers WHERE n % 2 = 0", stage="t", description="e",
                check=False,
            )  # fmt: skip
        counted = {t.name: t.rows for t in ws.tables()}
        listed = {t.name: t.rows for t in ws.tables(count_views=False)}
        names = ws.table_names()
    assert counted == {"numbers": 3, "evens": 2}
    assert listed == {"numbers": 3, "evens": None}
    assert names == {"numbers", "evens"}


def duckdb_memory(ws: Workspace) -> tuple[int, int]:
    """Bytes DuckDB holds in memory and in its temporary files."""
    held, spilled = ws.con.execute(
        "SELECT sum(memory_usage_bytes), sum(temporary_storage_bytes) FROM duckdb_memory()"
    ).fetchall()[0]
    return int(held), int(spilled)


def test_releasing_buffers_empties_the_pool_and_keeps_the_run(tmp_path: Path) -> None:
    rows = "SELECT hash(range) AS n, hash(range + 1) AS s FROM range(6000000)"  # 96 MB
    digest = "SELECT count(*), sum(hash(n, s)) FROM {}"
    commit_numbers(tmp_path, 3)
    with Workspace.open(tmp_path, memory_limit="1GB") as ws:
        with ws.run(command="release") as run:
            run.write_table("big", rows, stage="t", description="uncommitted", check=False)
            before = ws.con.execute(digest.format("big")).fetchall()
            held, _ = duckdb_memory(ws)
            assert held > 100e6
            run.release_buffers()
            held, _ = duckdb_memory(ws)
            assert held <= 64e6
            assert scalar(ws.con, "SELECT current_setting('memory_limit')") == "953.6 MiB"
            assert ws.con.execute(digest.format("big")).fetchall() == before
            run.write_table("after", "SELECT 1 AS x", stage="t", description="x", check=False)
        assert ws.runs()[0]["status"] == "ok"
    with Workspace.open(tmp_path) as ws:
        assert ws.con.execute(digest.format("big")).fetchall() == before
        assert first_value(ws, "numbers") == [(0,), (1,), (2,)]


def test_the_limit_comes_back_when_duckdb_cannot_free_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "RELEASE_LIMIT", "1kB")  # below what DuckDB can ever free to
    with duckdb.connect() as fresh:
        default = scalar(fresh, "SELECT current_setting('memory_limit')")
    ws = Workspace.open(tmp_path, create=True, memory_limit="1GB")
    with ws, ws.run(command="x") as run:
        run.write_table("kept", "SELECT 1 AS x", stage="t", description="x", check=False)
        run.release_buffers()  # the failure stays on the helper's own cursor: the run goes on
        assert scalar(ws.con, "SELECT current_setting('memory_limit')") == "953.6 MiB"
        run.memory_limit = None  # no limit was set: DuckDB's own default comes back
        run.release_buffers()
        assert scalar(ws.con, "SELECT current_setting('memory_limit')") == default
        run.memory_limit = "1GB"
        monkeypatch.setattr(store, "RELEASE_LIMIT", "plenty")  # any other error propagates...
        with pytest.raises(duckdb.Error):
            run.release_buffers()
        assert scalar(ws.con, "SELECT current_setting('memory_limit')") == "953.6 MiB"  # ...after
        assert scalar(ws.con, "SELECT count(*) FROM kept") == 1


def test_a_frame_is_stored_and_exported_in_its_own_order(tmp_path: Path) -> None:
    """Frames are written sorted (a ranking, a priority list): a rerun exports the same file.

    The workspace does not keep insertion order by default (big loads stream and spill), and
    a frame scanned on several threads then lands in another order on every run.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"key": rng.permutation(600_000), "text": "x"})
    with Workspace.open(tmp_path / "ws", create=True, threads=4) as ws, ws.run(command="t") as run:
        run.write_table("scratch", frame, stage="test", description="", check=False)
        with store.file_order(run.con):  # nested: the setting comes back as it was
            run.write_table("scratch2", frame, stage="test", description="", check=False)
            assert scalar(run.con, "SELECT current_setting('preserve_insertion_order')")
        assert not scalar(run.con, "SELECT current_setting('preserve_insertion_order')")
    with Workspace.open(tmp_path / "ws", read_only=True) as ws:
        for name in ("scratch", "scratch2"):
            stored = ws.con.execute(f"SELECT key FROM {name} ORDER BY rowid").fetchnumpy()["key"]
            np.testing.assert_array_equal(stored, frame["key"].to_numpy())
        ws.export("scratch", tmp_path / "out.csv")
    exported = pd.read_csv(tmp_path / "out.csv")["key"].to_numpy()
    np.testing.assert_array_equal(exported, frame["key"].to_numpy())
