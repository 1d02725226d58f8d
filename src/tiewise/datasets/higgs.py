"""The SNAP Higgs Twitter activity (De Domenico et al. 2013), read from where it is stored.

Not bundled with tiewise: the file is read from a folder you name (the one holding
``higgs-activity_time.txt.gz``, as distributed in Stanford's SNAP collection).  Each row is one
retweet (``RT``), mention (``MT``) or reply (``RE``) posted from 1 to 7 July 2012 about the Higgs
boson announcement: ``userA userB unix_seconds type``, space-separated, no header.  ``userA`` is the
author (the retweeter): the most retweeted ids are in the second column.

References
----------
M. De Domenico, A. Lima, P. Mougel, M. Musolesi, "The Anatomy of a Scientific Rumor",
Scientific Reports 3, 2980 (2013).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tiewise.exceptions import InputError

__all__ = ["ACTIVITY_FILE", "CHANNELS", "read_higgs_activity"]

ACTIVITY_FILE = "higgs-activity_time.txt.gz"
CHANNELS = {"RT": "retweet", "MT": "mention", "RE": "reply"}
"""The file's interaction types and the channel name each becomes."""


def read_higgs_activity(folder: str | Path, *, nrows: int | None = None) -> pd.DataFrame:
    """The activity file as a table, in file order.

    Parameters
    ----------
    folder
        The folder holding ``higgs-activity_time.txt.gz``.
    nrows
        Read only the first ``nrows`` rows (the file is in time order).

    Returns
    -------
    pandas.DataFrame
        ``actor`` (who posted: the retweeter, mentioner or replier) and ``target`` (who was
        retweeted, mentioned or replied to) as text ids, ``timestamp`` (UTC, naive, seconds) and
        ``channel`` (``retweet``, ``mention`` or ``reply``).

    Raises
    ------
    InputError
        The file is missing, or a row does not have four fields, an integer time and a known type.
    """
    path = Path(folder) / ACTIVITY_FILE
    if not path.is_file():
        raise InputError(
            f"{path} does not exist: download the SNAP Higgs Twitter dataset's {ACTIVITY_FILE} "
            "into that folder, or name the folder that holds it."
        )
    try:
        raw = pd.read_csv(
            path,
            sep=" ",
            header=None,
            names=["actor", "target", "t", "type"],
            dtype={"actor": "string", "target": "string", "t": "int64", "type": "string"},
            nrows=nrows,
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(
            f"{path}: expected 4 space-separated fields per row (userA userB unix_seconds "
            f"type) with an integer time; {exc}"
        ) from exc
    bad = ~raw["type"].isin(list(CHANNELS)) | raw[["actor", "target"]].isna().any(axis=1)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise InputError(
            f"{path}, row {row + 1}: column 4 (type) must be one of {sorted(CHANNELS)} with both "
            f"user ids present, got {raw.iloc[row].tolist()}; {int(bad.sum())} such rows. "
            "Is this the SNAP higgs-activity_time file?"
        )
    return pd.DataFrame(
        {
            "actor": raw["actor"],
            "target": raw["target"],
            "timestamp": pd.to_datetime(raw["t"], unit="s"),
            "channel": raw["type"].map(CHANNELS),
        }
    )
