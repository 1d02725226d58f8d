"""Small real datasets bundled with tiewise, each with its source note (``SOURCE.md``).

``copenhagen``
    The Copenhagen Networks Study interaction data (Sapiezynski et al., Scientific Data 2019):
    calls and SMS between ~700 students over four weeks, and their Facebook friendships -- real
    data to check that link strength separates friends from the rest.
``cdnow``
    The CDNOW 1/10 sample (Fader, Hardie & Lee 2005): the purchases of 2,357 customers of an
    online music store from their first purchase in early 1997 to mid-1998 -- real data to check
    the BG/NBD and Gamma-Gamma models against the paper's estimates.
``higgs`` (not bundled: :func:`tiewise.datasets.higgs.read_higgs_activity` reads it from a folder)
    The SNAP Higgs Twitter activity (De Domenico et al., Scientific Reports 2013): 563,069
    timestamped retweets, mentions and replies -- real cascades for ``benchmarks/bench_higgs.py``.

Examples
--------
>>> folder = copenhagen_dir()
>>> sorted(p.name for p in folder.glob("*.csv"))
['calls.csv', 'fb_friends.csv', 'genders.csv', 'sms.csv']
>>> len(cdnow_transactions()), cdnow_transactions()["customer_id"].nunique()
(6919, 2357)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = [
    "cdnow_dir",
    "cdnow_summary",
    "cdnow_transactions",
    "copenhagen_config",
    "copenhagen_dir",
    "copenhagen_friends",
]

# The study's timestamps are seconds from its start; the files do not say when that was, so the
# origin is a fixed, arbitrary date.
COPENHAGEN_ORIGIN = "2013-09-02T00:00:00"


def copenhagen_dir() -> Path:
    """The folder holding the bundled Copenhagen Networks Study files."""
    return Path(str(resources.files("tiewise.datasets").joinpath("copenhagen")))


def copenhagen_config(workspace: str | Path) -> str:
    """A tiewise configuration (TOML text) over the bundled calls and SMS.

    The two logs are two sources of one ``interactions`` input: calls carry a duration (-1 for a
    missed call), SMS a constant channel.  The ids are already anonymised by the study, so they
    are kept as they are.
    """
    folder = copenhagen_dir().as_posix()
    return f"""# The Copenhagen Networks Study calls and SMS (see {folder}/SOURCE.md).
workspace = "{Path(workspace).as_posix()}"

[[inputs.interactions]]
path = "{folder}/calls.csv"
timestamp_format = "relative_s"
origin = "{COPENHAGEN_ORIGIN}"
constants = {{ channel = "voice" }}
columns = {{ from_id = "caller", to_id = "callee", duration_s = "duration" }}

[[inputs.interactions]]
path = "{folder}/sms.csv"
timestamp_format = "relative_s"
origin = "{COPENHAGEN_ORIGIN}"
constants = {{ channel = "sms" }}
columns = {{ from_id = "sender", to_id = "recipient" }}

[privacy]
pseudonymise = false   # the study's ids are anonymous numbers already

[report]
path = "{(Path(workspace) / "report.html").as_posix()}"
"""


def copenhagen_friends() -> list[tuple[str, str]]:
    """The Facebook friendships between participants, as pairs of ids (smaller first)."""
    text = (copenhagen_dir() / "fb_friends.csv").read_text(encoding="utf-8").splitlines()
    pairs = set()
    for line in text[1:]:
        a, b = line.strip().split(",")
        pairs.add((min(a, b), max(a, b)))
    return sorted(pairs)


def cdnow_dir() -> Path:
    """The folder holding the bundled CDNOW sample files."""
    return Path(str(resources.files("tiewise.datasets").joinpath("cdnow")))


def cdnow_transactions() -> pd.DataFrame:
    """The raw CDNOW sample: one row per customer, day and record, as in the file.

    Columns: ``customer_id`` (the sample id, 1-2357, as text), ``timestamp`` (the day),
    ``cds`` (number of CDs) and ``amount`` (dollars). Several rows may share a customer and day.
    """
    raw = pd.read_csv(
        cdnow_dir() / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "sample_id", "date", "cds", "amount"],
        dtype={"master_id": str, "sample_id": int, "date": str},
    )
    return pd.DataFrame(
        {
            "customer_id": raw["sample_id"].astype(str),
            "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "cds": raw["cds"].astype("int64"),
            "amount": raw["amount"].astype("float64"),
        }
    )


def cdnow_summary() -> pd.DataFrame:
    """The calibration summary shipped with the data (weeks; ``zbar`` = mean repeat spend)."""
    frame = pd.read_csv(cdnow_dir() / "cdnow_customers_summary_with_transactions.csv")
    return frame.assign(ID=frame["ID"].astype(str)).rename(columns={"ID": "customer_id"})
