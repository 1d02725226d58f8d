"""A guard that stays (issue 16): broken inputs never crash ingest, and every row is accounted for.

Hypothesis writes interaction and customer files, CSV or Parquet, with broken encodings, quoting,
field counts, numbers, timestamps, ids and duplicates, and checks on each that ingest

- ends either with the rows loaded or with an input error (the command's exit code 2), never
  with anything the command would call an internal error;
- accounts for every row: loaded + rejected + dropped as copies = the rows written;
- when it fails, leaves the workspace as it was (every table, and the runs, unchanged).

A few examples, derandomized, run in ``make test``; many more with ``make test-slow``.
"""

import datetime
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiewise.config import load_config
from tiewise.exceptions import InputError
from tiewise.ingest.load import ingest
from tiewise.store import Workspace

IDS = [f"44790000{i:02d}" for i in range(12)]
FIELDS = ("caller", "callee", "ts", "channel", "duration_s")
CONFIG = """
workspace = "workspace"
[inputs.interactions]
path = "calls.{fmt}"
[inputs.interactions.columns]
from_id = "caller"
to_id = "callee"
timestamp = "ts"
[inputs.customers]
path = "customers.{fmt}"
[ingest]
max_bad_share = {share}
"""


@dataclass
class Record:
    """One line of a generated file: its fields (None: a line DuckDB cannot split)."""

    fields: list[str] | None
    raw: str = ""  # the malformed line's text


good_time = st.datetimes(
    min_value=datetime.datetime(2025, 6, 1), max_value=datetime.datetime(2026, 1, 31)
).map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S"))
bad_time = st.sampled_from(
    [
        "nan",
        "inf",
        "-inf",
        "infinity",
        "2099-01-01",
        "99999999999999999999",
        "",
        "garbage",
        "1e400",
        "-1",
        "2026-02-30",
        "0",
    ]
)
number = st.one_of(
    st.integers(-5, 90_000).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "", "abc", "NaN", "1,5", "3.5"]),
)
ident = st.one_of(st.sampled_from(IDS), st.sampled_from(["", " ", "+44 7900 000001", "x@y.org"]))
channel = st.sampled_from(["voice", "sms", "voice", "pigeon", "", "VOICE"])
text_field = st.one_of(ident, st.text(st.characters(codec="utf-8"), max_size=6))


@st.composite
def records(draw: st.DrawFn, quoted_text: bool) -> list[Record]:
    """Interaction lines: good ones, bad values, copies and malformed lines."""
    out: list[Record] = []
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(["good"] * 5 + ["bad", "copy", "fields", "encoding"]))
        if kind == "copy" and out and out[-1].fields is not None:
            out.append(Record(list(out[-1].fields)))
        elif kind == "bad":
            out.append(
                Record(
                    [
                        draw(ident),
                        draw(ident),
                        draw(st.one_of(good_time, bad_time)),
                        draw(channel),
                        draw(number),
                    ]
                )
            )
        elif kind == "fields":  # too few or too many fields (never one: an empty line)
            n = draw(st.sampled_from([2, 3, 4, 6, 8]))
            fields = [draw(st.sampled_from(IDS)) for _ in range(n)]
            out.append(Record(None, ",".join(fields)))
        elif kind == "encoding":
            out.append(Record(None, f"{IDS[0]},{IDS[1]},2026-01-05T10:00:00,voice,\udce9"))
        else:
            a, b = draw(st.sampled_from(IDS)), draw(st.sampled_from(IDS))
            dur = draw(st.integers(0, 3600))
            out.append(
                Record([a, b, draw(good_time), draw(st.sampled_from(["voice", "sms"])), str(dur)])
            )
    if not quoted_text and draw(st.booleans()):  # an unclosed quote, in a file without others
        at = draw(st.integers(0, len(out)))
        out.insert(at, Record(None, f'{IDS[0]},"{IDS[1]},2026-01-05T10:00:00,voice,5'))
    return out


def _csv_field(value: str, quote: bool) -> str:
    if quote or any(c in value for c in ',"'):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv(path: Path, header: list[str], rows: list[Record], quote: bool, crlf: bool) -> int:
    """Write the file; return its lines after the header (the rows it holds)."""
    newline = "\r\n" if crlf else "\n"
    lines = [",".join(header)]
    for r in rows:
        if r.fields is None:
            lines.append(r.raw)
        else:
            lines.append(",".join(_csv_field(f, quote) for f in r.fields))
    text = newline.join(lines) + newline
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    return len(rows)


def write_parquet(path: Path, header: list[str], rows: list[Record]) -> int:
    """Parquet holds no malformed lines: those rows are left out; all columns are text."""
    kept = [r.fields for r in rows if r.fields is not None]
    columns = {
        name: pa.array([f[i].encode("utf-8", "replace").decode() for f in kept], pa.string())
        for i, name in enumerate(header)
    }
    pq.write_table(pa.table(columns), path)
    return len(kept)


@st.composite
def customers(draw: st.DrawFn) -> list[Record]:
    rows = [
        Record([i, draw(st.sampled_from(["a", "b", ""])), draw(number)])
        for i in draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=10))
    ]
    copies = draw(st.lists(st.integers(0, len(rows) - 1), max_size=5))
    return rows + [Record(list(rows[i].fields or [])) for i in copies]


def snapshot(ws: Workspace) -> dict[str, tuple[int, int]]:
    """Every table's row count and a hash of its rows; the runs that ended ok."""
    state = {}
    for t in ws.tables():
        row = ws.con.execute(
            f'SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM "{t.name}" t'
        ).fetchall()[0]
        state[t.name] = (int(row[0]), int(row[1]))
    ok = [r["run_id"] for r in ws.runs() if r["status"] == "ok"]
    state["runs ok"] = (len(ok), sum(ok))
    return state


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace after one good run, copied by each example."""
    root = tmp_path_factory.mktemp("baseline")
    good = [
        Record([IDS[i], IDS[(i + 1) % 12], f"2026-01-{1 + i:02d}T10:00:00", "voice", "60"])
        for i in range(12)
    ]
    write_csv(root / "calls.csv", list(FIELDS), good, quote=False, crlf=False)
    write_csv(
        root / "customers.csv",
        ["customer_id", "plan", "monthly_fee"],
        [Record([i, "a", "10"]) for i in IDS],
        quote=False,
        crlf=False,
    )
    (root / "tiewise.toml").write_text(CONFIG.format(fmt="csv", share=0.5))
    config = load_config(root / "tiewise.toml")
    with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="base") as r:
        ingest(r, config, None)
    return root / "workspace"


def check_one(
    baseline: Path,
    fmt: str,
    calls: list[Record],
    people: list[Record],
    quote: bool,
    crlf: bool,
    share: float,
) -> None:
    root = Path(tempfile.mkdtemp(prefix="tiewise-prop-"))
    try:
        shutil.copytree(baseline, root / "workspace")
        if fmt == "csv":
            n_calls = write_csv(root / "calls.csv", list(FIELDS), calls, quote, crlf)
            n_people = write_csv(
                root / "customers.csv",
                ["customer_id", "plan", "monthly_fee"],
                people,
                quote,
                crlf,
            )
        else:
            n_calls = write_parquet(root / "calls.parquet", list(FIELDS), calls)
            n_people = write_parquet(
                root / "customers.parquet", ["customer_id", "plan", "monthly_fee"], people
            )
        (root / "tiewise.toml").write_text(CONFIG.format(fmt=fmt, share=share))
        config = load_config(root / "tiewise.toml")
        with Workspace.open(config.workspace_path) as ws:
            before = snapshot(ws)
            try:
                with ws.run(command="property") as r:
                    summary = ingest(r, config, b"k" * 32)
            except InputError as exc:  # exit code 2, a clear message
                assert exc.exit_code == 2
                assert snapshot(ws) == before  # the failed run kept nothing
                return
        for name, written in (("interactions", n_calls), ("customers", n_people)):
            accounted = (
                summary.loaded.get(name, 0)
                + summary.rejected.get(name, 0)
                + summary.dropped.get(name, 0)
            )
            assert accounted == written, (name, summary.loaded, summary.rejected, summary.dropped)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def broken_inputs() -> st.SearchStrategy[tuple[str, list[Record], list[Record], bool, bool, float]]:
    return st.tuples(st.sampled_from(["csv", "parquet"]), st.booleans()).flatmap(
        lambda fq: st.tuples(
            st.just(fq[0]),
            records(quoted_text=fq[1]),
            customers(),
            st.just(fq[1]),
            st.booleans(),
            st.sampled_from([0.05, 0.5, 1.0]),
        )
    )


@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=broken_inputs())
def test_broken_inputs_load_or_fail_cleanly(baseline: Path, case: tuple) -> None:  # type: ignore[type-arg]
    check_one(baseline, *case)


@pytest.mark.slow
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=broken_inputs())
def test_broken_inputs_load_or_fail_cleanly_at_length(baseline: Path, case: tuple) -> None:  # type: ignore[type-arg]
    check_one(baseline, *case)
