"""A frame written or read inside a run is let go when the statement ends, not at commit.

A run is one transaction.  DuckDB keeps a frame registered inside a transaction alive (with a
copy) until the transaction ends, unregistered or not; at a million customers that held 2.8 GB
of the influence stage's frames through the value and churn stages.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from tiewise.store import Workspace, frame_table


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(500)], "x": np.arange(500.0)})


def _alive(ref: weakref.ref[pd.DataFrame]) -> bool:
    gc.collect()
    return ref() is not None


def test_write_table_lets_the_frame_go_before_commit(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "ws", create=True) as ws, ws.run(command="test") as run:
        frame = _frame()
        ref = weakref.ref(frame)
        run.write_table("scratch", frame, stage="test", description="t", check=False)
        del frame
        assert not _alive(ref)
        assert run.con.execute("SELECT count(*), sum(x) FROM scratch").fetchall() == [
            (500, float(np.arange(500.0).sum()))
        ]


def test_sql_over_a_frame_lets_it_go_before_commit(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "ws", create=True) as ws, ws.run(command="test") as run:
        frame = _frame()
        ref = weakref.ref(frame)
        rows = run.con.from_df(frame).query("_f", "SELECT customer_id, x * 2 AS y FROM _f")
        run.write_table("scratch", rows, stage="test", description="t", check=False)
        del frame, rows
        assert not _alive(ref)
        ids = _frame()
        ref = weakref.ref(ids)
        with frame_table(run.con, "_ids", ids):
            n = run.con.execute("SELECT count(*) FROM scratch JOIN _ids USING (customer_id)")
            assert n.fetchall() == [(500,)]
        del ids
        assert not _alive(ref)
