"""CSV files without a header line (issue 18): columns named by position."""

import gzip
import textwrap
from pathlib import Path

import pytest

from tiewise.config import load_config
from tiewise.exceptions import InputError
from tiewise.ingest.load import ingest
from tiewise.links.state import fold_interactions
from tiewise.store import Workspace

CONFIG = """
[inputs.interactions]
path = "{path}"
header = false
{extra}
[inputs.interactions.columns]
from_id = "column0"
to_id = "column1"
timestamp = "column2"
channel = "column3"
duration_s = "column4"
"""

ROWS = "".join(
    f"44790{i % 7},44790{(i + 1) % 7},2026-01-05T10:{i:02d}:00,voice,{i}\n" for i in range(30)
)


def run(tmp_path: Path, path: str = "calls.csv", extra: str = "") -> Workspace:
    (tmp_path / "tiewise.toml").write_text(textwrap.dedent(CONFIG.format(path=path, extra=extra)))
    config = load_config(tmp_path / "tiewise.toml")
    ws = Workspace.open(config.workspace_path, create=True)
    with ws.run(command="test") as r:
        ingest(r, config, None)
        fold_interactions(r, config)  # the links stage's first step
    return ws


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_a_headerless_file_is_read_by_column_position(tmp_path: Path, delimiter: str) -> None:
    (tmp_path / "calls.csv").write_text(ROWS.replace(",", delimiter))
    with run(tmp_path) as ws:
        # every line is a record: the first is not taken for a header
        calls = ws.con.execute("SELECT sum(n_voice_ab + n_voice_ba) FROM link_state").fetchall()
        assert calls == [(30,)]


def test_a_headerless_gzip_file_with_a_bad_line_gives_its_line_number(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "calls.csv.gz", "wt") as fh:
        fh.write(ROWS + "1,2,oops\n" + ROWS.replace("2026-01-05", "2026-01-06"))
    with run(tmp_path, "calls.csv.gz") as ws:
        assert ws.con.execute("SELECT rule, row FROM rejected_rows").fetchall() == [
            ("malformed_line", 31)
        ]


def test_a_header_read_as_data_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "calls.csv").write_text("a,b,c,d,e\n" + ROWS)
    (tmp_path / "tiewise.toml").write_text(
        textwrap.dedent(CONFIG.format(path="calls.csv", extra=""))
    )
    # with the header line taken for data, one row is bad: no crash, a named rule
    with run(tmp_path) as ws:
        assert ws.con.execute("SELECT rule, row FROM rejected_rows").fetchall() == [
            ("bad_timestamp", 1)
        ]


def test_mapping_a_named_column_in_a_headerless_file_says_what_exists(tmp_path: Path) -> None:
    (tmp_path / "calls.csv").write_text(ROWS)
    text = CONFIG.format(path="calls.csv", extra="").replace('"column0"', '"caller"')
    (tmp_path / "tiewise.toml").write_text(textwrap.dedent(text))
    config = load_config(tmp_path / "tiewise.toml")
    with (
        Workspace.open(config.workspace_path, create=True) as ws,
        pytest.raises(
            InputError,
            match=r"'caller' .* the file has: column0, column1, column2, column3, column4",
        ),
        ws.run(command="test") as r,
    ):
        ingest(r, config, None)
