"""The Higgs Twitter loader and the functions of ``benchmarks/bench_higgs.py``.

Hand-made rows check the loader's errors, the benchmark's target (new users only), its baselines
and its tie-aware precision; the first rows of the real file (when the shared data is there)
run one whole split through tiewise.
"""

from __future__ import annotations

import gzip
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from tiewise.datasets.higgs import ACTIVITY_FILE, read_higgs_activity
from tiewise.exceptions import InputError

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_higgs.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_higgs", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_higgs"] = module
    spec.loader.exec_module(module)
    return module


def write_activity(folder: Path, lines: list[str]) -> Path:
    with gzip.open(folder / ACTIVITY_FILE, "wt") as f:
        f.write("".join(line + "\n" for line in lines))
    return folder


def rows(*records: tuple[str, str, int, str]) -> pd.DataFrame:
    """Activity rows (actor, target, hour, channel) on 1 July 2012."""
    return pd.DataFrame(
        {
            "actor": [r[0] for r in records],
            "target": [r[1] for r in records],
            "timestamp": [pd.Timestamp("2012-07-01") + pd.Timedelta(hours=r[2]) for r in records],
            "channel": [r[3] for r in records],
        }
    )


def test_reads_the_snap_format(tmp_path: Path) -> None:
    write_activity(tmp_path, ["7 88 1341100972 RT", "7 12 1341101000 MT", "12 7 1341101100 RE"])
    frame = read_higgs_activity(tmp_path)
    assert frame["channel"].tolist() == ["retweet", "mention", "reply"]
    assert frame["actor"].tolist() == ["7", "7", "12"]
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2012-07-01 00:02:52")
    assert len(read_higgs_activity(tmp_path, nrows=2)) == 2


def test_missing_file_and_bad_rows_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=ACTIVITY_FILE):
        read_higgs_activity(tmp_path)
    write_activity(tmp_path, ["7 88 1341100972 RT", "7 12 1341101000 LIKE"])
    with pytest.raises(InputError, match=r"row 2: column 4 \(type\)"):
        read_higgs_activity(tmp_path)
    write_activity(tmp_path, ["7 88 soon RT"])
    with pytest.raises(InputError, match="integer time"):
        read_higgs_activity(tmp_path)


def test_target_counts_distinct_new_retweeters_and_mentioners(bench: ModuleType) -> None:
    train = rows(("a", "hub", 0, "retweet"), ("hub", "b", 1, "reply"), ("c", "b", 2, "mention"))
    test = rows(
        ("a", "hub", 5, "retweet"),  # seen before the cut: not new
        ("b", "hub", 5, "retweet"),  # hub replied to b before: not new either
        ("d", "hub", 6, "retweet"),
        ("d", "hub", 7, "mention"),  # the same new user twice: counted once
        ("e", "hub", 7, "reply"),  # a reply is not a retweet or mention
        ("f", "c", 8, "mention"),
        ("c", "c", 8, "mention"),  # oneself
        ("g", "stranger", 8, "retweet"),  # not a training user
    )
    users = bench.adoption_times(train).index
    truth = bench.target(train, test, users)
    assert truth.to_dict() == {"a": 0, "b": 0, "c": 1, "hub": 1}


def test_baselines(bench: ModuleType) -> None:
    train = rows(
        ("a", "hub", 0, "retweet"),
        ("b", "hub", 2, "retweet"),
        ("c", "hub", 3, "mention"),
        ("hub", "a", 4, "reply"),
        ("a", "c", 5, "retweet"),
    )
    adopted = bench.adoption_times(train)
    base = bench.baselines(train, adopted.index, adopted)
    assert base.loc["hub", "degree"] == 3
    assert base.loc["hub", "in_degree"] == 3  # the reply to a is not counted
    assert base.loc["a", "out_degree"] == 2
    assert base.loc["a", "messages"] == 3
    # hub and a adopted at hour 0; b and c after both of them
    assert base.loc["hub", "naive_30d"] == 2
    assert base.loc["a", "naive_30d"] == 1
    assert base.loc["b", "naive_30d"] == 0


def test_precision_counts_ties_as_a_random_order_would(bench: ModuleType) -> None:
    truth = np.array([5.0, 4.0, 1.0, 1.0, 0.0, 0.0])
    assert bench.precision_at(truth, truth, 2) == 1.0
    assert bench.precision_at(-truth, truth, 2) == 0.0
    # the true top 3 holds one of the two users at 1: each is in it half the time
    assert bench.precision_at(np.array([0, 0, 9, 0, 5, 5.0]), truth, 3) == pytest.approx(0.5 / 3)
    # a constant score is as good as a random order: k / n of every true top k
    assert bench.precision_at(np.zeros(6), truth, 3) == pytest.approx(0.5)
    frame = pd.DataFrame({"perfect": truth, "constant": 0.0}, index=list("abcdef"))
    result = {r["ranking"]: r for r in bench.evaluate(frame, pd.Series(truth, index=frame.index))}
    assert result["perfect"]["ndcg@100"] == 1.0
    assert result["perfect"]["spearman"] > 0.9
    assert result["constant"]["p@5%"] == pytest.approx(1 / 6, abs=1e-4)
    assert result["constant"]["spearman"] is None


def test_one_split_of_the_real_file(bench: ModuleType, tmp_path: Path) -> None:
    folder, _ = bench.find_data(None)
    if folder is None or not (folder / ACTIVITY_FILE).is_file():
        pytest.skip(f"the SNAP Higgs Twitter data is absent (set {bench.ENV} to its folder)")
    activity = read_higgs_activity(folder, nrows=6000)
    cut = activity["timestamp"].iloc[4000]
    result = bench.run_split(activity, cut, tmp_path)
    assert result["train_rows"] == 4000
    assert result["users_with_target"] > 0
    by = {r["ranking"]: r for r in result["rows"]}
    assert {"influence_score", "followers", "degree", "in_degree", "naive_30d"} <= set(by)
    # every user seen before the cut is ranked by tiewise (none dropped as a service number)
    assert by["followers"]["scored"] >= 0.99 * result["users"]
    # on real cascades, being retweeted before predicts new audiences after: far above chance
    assert by["in_degree"]["spearman"] > by["random"]["spearman"] + 0.1
    assert by["in_degree"]["p@1%"] > 0.2
