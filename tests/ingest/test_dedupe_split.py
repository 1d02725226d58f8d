"""Deduplication: records with no neighbour within the tolerance skip the steps, same result.

Random records of a few parties, crowded in time so that exact copies, copies from the same
phone, copies from both phones, redials and isolated records all occur, with rows that broke a
rule and rows without a time; the split query must give exactly the rows of the full one.
"""

import duckdb
import numpy as np
import pandas as pd
import pytest

from tiewise.config import Config
from tiewise.ingest.interactions import _records_sql


def _records(seed: int, skew: int, n: int = 3_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01")
    seconds = rng.integers(0, 40 * n, n)  # about one record a pair every few minutes
    frame = pd.DataFrame(
        {
            "_rule": np.where(rng.random(n) < 0.03, 4, None),
            "from_id": rng.choice(["a", "b", "c"], n),
            "to_id": rng.choice(["x", "y"], n),
            "channel": rng.choice(["voice", "sms"], n, p=[0.8, 0.2]),
            "duration_s": pd.array(rng.integers(0, 120, n), dtype="Int64"),
            "timestamp": start + pd.to_timedelta(seconds, unit="s"),
            "_in": rng.random(n) < 0.5,
            "_missed": rng.random(n) < 0.1,
        }
    )
    frame.loc[rng.random(n) < 0.05, "duration_s"] = pd.NA
    frame.loc[(frame["_rule"] == 4) & (rng.random(n) < 0.5), "timestamp"] = pd.NaT
    copies = frame.sample(frac=0.3, random_state=seed)  # logged again, a little later
    copies = copies.assign(
        # at most the tolerance apart, exactly it, or a second more
        timestamp=copies["timestamp"]
        + pd.to_timedelta(rng.integers(0, skew + 2, len(copies)), "s"),
        _in=~copies["_in"] if seed % 2 else copies["_in"],
    )
    exact = frame.sample(frac=0.05, random_state=seed + 1)
    return pd.concat([frame, copies, exact], ignore_index=True)


@pytest.mark.parametrize("seed", range(6))
def test_the_split_gives_the_rows_of_every_step(seed: int) -> None:
    con = duckdb.connect()
    config = Config()
    records = _records(seed, config.ingest.duplicate_tolerance_s)
    con.register("raw", records)
    full = f"({_records_sql(config, 'raw', isolated_first=False)})"
    split = f"({_records_sql(config, 'raw')})"
    for a, b in ((full, split), (split, full)):
        assert con.execute(f"SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})").fetchone() == (
            0,
        )
    skipped, merged = con.execute(  # both kinds occur, so the check means something
        "SELECT count(*) FILTER (WHERE copies = 1), count(*) FILTER (WHERE copies > 1) "
        f"FROM {split}"
    ).fetchone()
    assert skipped > 100 and merged > 100
    assert con.execute(f"SELECT sum(copies) FROM {split}").fetchone() == (len(records),)
