"""No raw identifier left behind in the workspace's files (issue 16, finding 8)."""

import os
import stat
from collections.abc import Callable
from pathlib import Path

from tiewise.store import Workspace


def raw_ids_in(path: Path) -> list[bytes]:
    """The raw identifiers of the `project` fixture (4479000000 ...) found in a file's bytes."""
    data = path.read_bytes()
    return [i for i in (f"4479{x:06d}".encode() for x in range(300)) if i in data]


def test_switching_to_pseudonyms_leaves_no_raw_id_in_the_database_file(
    project: Path, cli: Callable[..., object]
) -> None:
    db = project / "workspace" / "tiewise.duckdb"
    first = cli("run", "--config", str(project / "tiewise.toml"), "--keep-raw-ids")
    assert first.code == 0, first.err  # type: ignore[attr-defined]
    assert raw_ids_in(db)  # the ids are there, raw, as asked
    second = cli("run", "--config", str(project / "tiewise.toml"))
    assert second.code == 0, second.err  # type: ignore[attr-defined]
    assert raw_ids_in(db) == []  # not even in freed pages
    assert not list(db.parent.glob("*.rewrite")) and not list(db.parent.glob("*.wal"))
    with Workspace.open(db.parent, read_only=True) as ws:
        assert ws.setting("identifiers") == "pseudonyms"
        assert [r["status"] for r in ws.runs()] == ["ok", "ok"]  # both runs kept their record


def test_spill_folder_is_private_and_cleared_by_every_command(
    project: Path, cli: Callable[..., object]
) -> None:
    Workspace.open(project / "workspace", create=True).close()
    tmp = project / "workspace" / "tmp"
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o700
    # what a `kill -9` during a large load leaves: DuckDB's spill files and ingest slices
    (tmp / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"4479000001" * 1000)
    (tmp / "tiewise-slices-7-0" / "_slice=0").mkdir(parents=True)
    (tmp / "tiewise-slices-7-0" / "_slice=0" / "data_0.parquet").write_bytes(b"4479000002")
    (tmp / "reader-999999999").mkdir()  # a reader that no longer runs
    os.chmod(tmp, 0o755)
    # even a read-only command clears them (no writer can be running while it has the file)
    assert cli("tables", "--workspace", str(project / "workspace")).code == 0  # type: ignore[attr-defined]
    assert [p.name for p in tmp.iterdir()] == [f"reader-{os.getpid()}"]
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp / f"reader-{os.getpid()}").stat().st_mode) == 0o700
