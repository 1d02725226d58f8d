"""Interaction loading: duplicates, one-sided records, malformed files, sources, increments."""

import gzip
import os
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tiewise.config import load_config
from tiewise.exceptions import InputError
from tiewise.ingest.load import IngestSummary, ingest
from tiewise.links.state import fold_interactions
from tiewise.store import Workspace

HEADER = "caller,callee,ts,channel,duration_s\n"


def project(tmp_path: Path, sources: str, ingest_options: str = "") -> Path:
    config = tmp_path / "tiewise.toml"
    config.write_text(
        textwrap.dedent(sources) + "\n[ingest]\n" + textwrap.dedent(ingest_options),
        encoding="utf-8",
    )
    return config


CALLS = """
[inputs.interactions]
path = "{path}"
{extra}
[inputs.interactions.columns]
from_id = "caller"
to_id = "callee"
timestamp = "ts"
"""


def calls_config(tmp_path: Path, path: str = "calls.csv", extra: str = "", **kw: str) -> Path:
    return project(tmp_path, CALLS.format(path=path, extra=extra), **kw)


def run(config_path: Path) -> tuple[Workspace, IngestSummary]:
    config = load_config(config_path)
    ws = Workspace.open(config.workspace_path, create=True)
    with ws.run(command="test") as r:
        summary = ingest(r, config, None)
        fold_interactions(r, config)  # the links stage's first step
    return ws, summary


def report(ws: Workspace) -> dict[str, tuple[Any, ...]]:
    rows = ws.con.execute("SELECT rule, rows, example, action FROM ingest_report").fetchall()
    return {r[0]: r[1:] for r in rows}


def totals(ws: Workspace) -> tuple[int, int, int, int]:
    row = ws.con.execute(
        "SELECT sum(n_voice_ab + n_sms_ab + n_other_ab), sum(n_voice_ba + n_sms_ba + n_other_ba), "
        "sum(duplicates), sum(two_sided) FROM link_state"
    ).fetchall()[0]
    return tuple(int(x) for x in row)  # type: ignore[return-value]


def test_exact_duplicates_are_dropped_and_counted(tmp_path: Path) -> None:
    line = "111,222,2026-01-05T10:00:00,voice,60\n"
    (tmp_path / "calls.csv").write_text(HEADER + line * 3 + "222,111,2026-01-06T10:00:00,sms,\n")
    ws, summary = run(calls_config(tmp_path))
    with ws:
        assert totals(ws) == (1, 1, 2, 0)
        assert report(ws)["duplicate_record"][:1] == (2,)
    assert summary.loaded["interactions"] == 2


def test_one_sided_records_from_both_phones_count_once(tmp_path: Path) -> None:
    # The caller's switch logs (111 out to 222); the callee's logs (222 in from 111): one call.
    text = (
        "party,other,ts,channel,duration_s,dir\n"
        "111,222,2026-01-05T10:00:00,voice,60,MOC\n"
        "222,111,2026-01-05T10:00:00,voice,60,MTC\n"
        "222,111,2026-01-06T09:00:00,voice,30,out\n"
    )
    (tmp_path / "cdr.csv").write_text(text)
    config = project(
        tmp_path,
        """
        [inputs.interactions]
        path = "cdr.csv"
        [inputs.interactions.columns]
        from_id = "party"
        to_id = "other"
        timestamp = "ts"
        direction = "dir"
    """,
    )
    ws, _ = run(config)
    with ws:
        assert totals(ws) == (1, 1, 1, 1)  # 111 called 222 once; 222 called 111 once
        assert "1 of them the same call logged from both phones" in str(
            ws.con.execute(
                "SELECT expected FROM ingest_report WHERE rule = 'duplicate_record'"
            ).fetchall()
        )


def test_unknown_direction_is_rejected(tmp_path: Path) -> None:
    text = (
        "party,other,ts,channel,dir\n"
        + "".join(f"1,2,2026-01-05T10:{m:02d}:00,sms,out\n" for m in range(30))
        + "1,2,2026-01-06T10:00:00,sms,sideways\n"
    )
    (tmp_path / "cdr.csv").write_text(text)
    config = project(
        tmp_path,
        """
        [inputs.interactions]
        path = "cdr.csv"
        [inputs.interactions.columns]
        from_id = "party"
        to_id = "other"
        timestamp = "ts"
        direction = "dir"
    """,
    )
    ws, _ = run(config)
    with ws:
        assert ws.table("rejected_rows").fetchall() == [
            (
                "interactions",
                "inputs.interactions",
                str(tmp_path / "cdr.csv"),
                31,
                "bad_direction",
                "direction",
                "sideways",
            )
        ]


def good_lines(n: int) -> str:
    return "".join(f"1,2,2026-01-05T10:{m:02d}:00,voice,{m + 1}\n" for m in range(n))


def test_malformed_lines_are_set_aside_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "calls.csv").write_text(HEADER + good_lines(30) + "1,2,oops\n" + good_lines(1))
    ws, _ = run(calls_config(tmp_path))
    with ws:
        rejected = ws.con.execute("SELECT rule, row FROM rejected_rows").fetchall()
        assert rejected == [("malformed_line", 32)]
        assert "line 32" in report(ws)["malformed_line"][1]


def test_malformed_line_in_strict_mode_stops_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "calls.csv").write_text(HEADER + good_lines(3) + "1,2,x,y,z,w\n")
    with pytest.raises(InputError, match=r"calls.csv, line 5: rule malformed_line"):
        run(calls_config(tmp_path, ingest_options='policy = "strict"'))


def test_wrong_encoding_is_named_and_the_encoding_option_fixes_it(tmp_path: Path) -> None:
    body = (HEADER + good_lines(30)).encode() + "1,2,2026-01-05T11:00:00,voice,7 Zoë\n".encode(
        "latin-1"
    )
    (tmp_path / "calls.csv").write_bytes(body)
    ws, _ = run(calls_config(tmp_path))
    with ws:
        assert ws.con.execute("SELECT rule FROM rejected_rows").fetchall() == [("bad_encoding",)]
    (tmp_path / "ws2").mkdir()
    config = calls_config(tmp_path, extra='encoding = "latin-1"\nformat = "csv"')
    text = config.read_text().replace("[ingest]", "[ingest]\nmax_bad_share = 0.5", 1)
    config.write_text('workspace = "ws2"\n' + text)
    ws, _ = run(config)
    with ws:
        assert report(ws)["bad_number"][0] == 1  # decoded now; "7 Zoë" is just a bad number


def test_empty_files_in_a_glob_are_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "cdr").mkdir()
    (tmp_path / "cdr" / "2026-01-01.csv").write_text(HEADER + good_lines(2))
    (tmp_path / "cdr" / "2026-01-02.csv").write_text("")
    ws, summary = run(calls_config(tmp_path, path="cdr/*.csv"))
    with ws:
        assert report(ws)["empty_file"][1].endswith("2026-01-02.csv")
    assert summary.loaded["interactions"] == 2
    (tmp_path / "cdr" / "2026-01-01.csv").write_text("")
    with pytest.raises(InputError, match="every file is empty"):
        run(calls_config(tmp_path, path="cdr/*.csv"))


def test_implausible_timestamps(tmp_path: Path) -> None:
    (tmp_path / "calls.csv").write_text(HEADER + good_lines(30) + "1,2,100,voice,5\n")
    ws, _ = run(calls_config(tmp_path))
    with ws:
        assert ws.con.execute("SELECT rule, value FROM rejected_rows").fetchall() == [
            ("implausible_timestamp", "100")
        ]


def test_several_sources_with_constants_gzip_and_delimiters(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "calls.csv.gz", "wt") as fh:
        fh.write("a;b;t;secs\n1;2;2026-01-05T10:00:00;60\n2;1;2026-01-05T11:00:00;-1\n")
    (tmp_path / "sms.csv").write_text("sender,recipient,time\n1,3,1767607200\n")
    config = project(
        tmp_path,
        """
        [[inputs.interactions]]
        path = "calls.csv.gz"
        delimiter = ";"
        constants = { channel = "voice" }
        columns = { from_id = "a", to_id = "b", timestamp = "t", duration_s = "secs" }

        [[inputs.interactions]]
        path = "sms.csv"
        constants = { channel = "sms" }
        columns = { from_id = "sender", to_id = "recipient", timestamp = "time" }
    """,
    )
    ws, summary = run(config)
    with ws:
        rows = ws.con.execute(
            "SELECT a, b, n_voice_ab, n_voice_ba, n_sms_ab, n_sms_ba, "
            "voice_seconds_ab + voice_seconds_ba, missed FROM link_state ORDER BY a, b"
        ).fetchall()
    assert rows == [("1", "2", 1, 1, 0, 0, 60.0, 1), ("1", "3", 0, 0, 1, 0, 0.0, 0)]
    assert summary.loaded["interactions"] == 3


def links_table(ws: Workspace) -> pd.DataFrame:
    return ws.con.execute("SELECT * FROM link_state ORDER BY a, b").df()


def test_new_files_are_merged_without_rereading_history(tmp_path: Path) -> None:
    cdr = tmp_path / "cdr"
    cdr.mkdir()
    day1 = HEADER + "1,2,2026-01-05T10:00:00,voice,60\n2,3,2026-01-05T12:00:00,sms,\n"
    day2 = HEADER + "1,2,2026-01-06T10:00:00,voice,30\n3,1,2026-01-06T12:00:00,sms,\n"
    (cdr / "d1.csv").write_text(day1)
    config = calls_config(tmp_path, path="cdr/*.csv")
    ws, summary = run(config)
    ws.close()
    assert summary.mode == "full"
    (cdr / "d2.csv").write_text(day2)
    ws, summary = run(config)
    with ws:
        assert summary.mode == "incremental" and summary.loaded["interactions"] == 2
        incremental = links_table(ws)
        files = ws.con.execute("SELECT path FROM ingested_files ORDER BY path").fetchall()
    assert [Path(f[0]).name for f in files] == ["d1.csv", "d2.csv"]
    # The same data loaded in one go gives the same table.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for name in ("d1.csv", "d2.csv"):
        (fresh / name).write_text((cdr / name).read_text())
    ws, _ = run(calls_config(fresh, path="*.csv"))
    with ws:
        full = links_table(ws)
    # Counts and times are equal; the decayed weight, rounded to 2^-32 once per merge, within 2.
    pd.testing.assert_frame_equal(
        incremental.drop(columns="weight_fp"), full.drop(columns="weight_fp"), check_exact=True
    )
    assert (
        incremental["weight_fp"].astype(float) - full["weight_fp"].astype(float)
    ).abs().max() <= 2
    # Nothing new: nothing reloaded.  A changed file: everything rebuilt.
    ws, summary = run(config)
    ws.close()
    assert summary.mode == "unchanged"
    (cdr / "d1.csv").write_text(day1 + "1,3,2026-01-05T13:00:00,sms,\n")
    os.utime(cdr / "d1.csv", (1_800_000_000, 1_800_000_000))
    ws, summary = run(config)
    with ws:
        assert summary.mode == "full" and "d1.csv changed" in summary.reason
        assert totals(ws)[0] + totals(ws)[1] == 5


def messy_calls(n: int, seed: int = 0) -> pd.DataFrame:
    """Random calls among 300 numbers with copies, both-phone pairs, self-calls, bad channels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 300, n)
    b = (a + rng.integers(1, 40, n)) % 300
    frame = pd.DataFrame(
        {
            "caller": [f"+4479{x:06d}" for x in a],
            "callee": [f"+4479{x:06d}" for x in b],
            "ts": pd.Timestamp("2026-03-01")
            + pd.to_timedelta(rng.integers(0, 60 * 86400, n), unit="s"),
            "channel": rng.choice(["voice", "sms", "fax"], n, p=[0.6, 0.39, 0.01]),
            "duration_s": rng.integers(-1, 900, n).astype(float),
        }
    )
    frame.loc[frame.index % 97 == 0, "callee"] = frame["caller"]  # self-interactions
    copies = frame.sample(frac=0.05, random_state=seed)
    return pd.concat([frame, copies], ignore_index=True).sample(frac=1.0, random_state=seed)


def state_and_rejects(ws: Workspace) -> tuple[list[Any], list[Any]]:
    state = ws.con.execute("SELECT * FROM link_state ORDER BY a, b").fetchall()
    rejected = ws.con.execute("SELECT * FROM rejected_rows ORDER BY ALL").fetchall()
    return state, rejected


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_slices_give_exactly_the_same_links_and_rejects_as_one_pass(
    tmp_path: Path, fmt: str
) -> None:
    frame = messy_calls(20_000)
    data = tmp_path / f"calls.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(data, index=False, row_group_size=4000)
    else:
        frame.to_csv(data, index=False)
    results = []
    for name, options in (("whole", ""), ("sliced", "slice_rows = 1000\n")):
        folder = tmp_path / name
        folder.mkdir()
        options += "keep_interactions = true\n"
        ws, _ = run(calls_config(folder, path=str(data), ingest_options=options))
        kept = ws.con.execute("SELECT * FROM interactions ORDER BY ALL").fetchall()
        results.append((state_and_rejects(ws), report(ws), kept))
        temp = ws.path / "tmp"
        assert not any(temp.glob("tiewise-slices-*"))
        ws.close()
    (whole, whole_report, whole_kept), (sliced, sliced_report, sliced_kept) = results
    assert sliced == whole
    assert len(whole_kept) > 15_000 and sliced_kept == whole_kept
    assert whole_report["duplicate_record"][0] > 900 and whole_report["self_interaction"][0] > 100
    assert sliced_report == whole_report


def test_slice_files_are_removed_when_the_run_fails(tmp_path: Path) -> None:
    data = tmp_path / "calls.parquet"
    messy_calls(5_000).to_parquet(data, index=False)
    options = 'slice_rows = 1000\npolicy = "strict"\n'
    config = calls_config(tmp_path, path=str(data), ingest_options=options)
    with pytest.raises(InputError, match="row"):
        run(config)
    temp = load_config(config).workspace_path / "tmp"
    assert temp.is_dir()  # DuckDB's temp folder, where the slices were written
    assert not any(temp.glob("tiewise-slices-*"))


def test_bad_rows_of_large_csv_files_get_their_own_row_numbers(tmp_path: Path) -> None:
    """Files big enough for DuckDB to read in parallel still number rows in file order."""
    import numpy as np

    planted = {}
    for name, n, seed in (("a", 300_000, 1), ("b", 250_000, 2)):
        rng = np.random.default_rng(seed)
        callee = rng.integers(0, 10**6, n).astype(str).astype(object)
        bad = np.sort(rng.choice(n, 25, replace=False))
        callee[bad] = "4479000001"  # the caller: a self-interaction
        pd.DataFrame(
            {"caller": "4479000001", "callee": callee, "ts": "2026-03-01T10:00:00"}
        ).to_csv(tmp_path / f"calls_{name}.csv", index=False)
        planted[name] = (bad + 1).tolist()  # data rows count from 1 after the header
    ws, _ = run(calls_config(tmp_path, path="calls_*.csv", extra='constants = {channel = "sms"}'))
    with ws:
        for name, rows in planted.items():
            got = ws.con.execute(
                "SELECT row FROM rejected_rows WHERE file LIKE ? ORDER BY row",
                [f"%calls_{name}.csv"],
            ).fetchall()
            assert [r[0] for r in got] == rows


def both_phones_log(seed: int, direction: bool) -> tuple[str, int, int]:
    """A call log with each call logged by both phones, the callee's clock skewed by up to 25 s
    and its durations off by up to 2 s, plus zero-duration redials (the caller tries again a
    few seconds later, both attempts logged by both phones).  Returns the CSV text, the number of
    real calls and the number of copies."""
    import numpy as np

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-05")
    lines, calls, copies = [], 0, 0
    for i in range(150):
        caller, callee = rng.choice(40, size=2, replace=False) + 100
        t = start + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 14)))
        skew = pd.Timedelta(seconds=int(rng.integers(-25, 26)))
        if i % 3 == 0:  # a missed call and two redials, 8 s apart, all with duration 0
            attempts = [(t + pd.Timedelta(seconds=8 * k), 0, 0) for k in range(3)]
        else:
            d = int(rng.integers(40, 900))
            attempts = [(t, d, d + int(rng.integers(-2, 3)))]
        for when, d_out, d_in in attempts:
            calls += 1
            lines.append(f"{caller},{callee},{when.isoformat()},voice,{d_out},out")
            if direction:  # the callee's phone: parties swapped, direction in
                lines.append(f"{callee},{caller},{(when + skew).isoformat()},voice,{d_in},in")
                copies += 1
            elif d_out > abs(skew.total_seconds()):  # a second log of the call, same side
                lines.append(f"{caller},{callee},{(when + skew).isoformat()},voice,{d_in},out")
                copies += 1
    rng.shuffle(lines)
    return "party,other,ts,channel,duration_s,dir\n" + "\n".join(lines) + "\n", calls, copies


@pytest.mark.parametrize("direction", [True, False])
def test_both_phones_copies_across_clock_skew_count_once_and_redials_stay(
    tmp_path: Path, direction: bool
) -> None:
    text, calls, copies = both_phones_log(seed=5, direction=direction)
    (tmp_path / "cdr.csv").write_text(text)
    mapping = 'direction = "dir"' if direction else ""
    config = project(
        tmp_path,
        f"""
        [inputs.interactions]
        path = "cdr.csv"
        [inputs.interactions.columns]
        from_id = "party"
        to_id = "other"
        timestamp = "ts"
        {mapping}
    """,
    )
    ws, _ = run(config)
    with ws:
        out, back, duplicates, two_sided = totals(ws)
        assert out + back == calls  # every call once: copies merged, redials kept
        assert duplicates == copies
        assert two_sided == (copies if direction else 0)
