"""Small real datasets bundled with tiewise, each with its source note (``SOURCE.md``).

``copenhagen``
    The Copenhagen Networks Study interaction data (Sapiezynski et al., Scientific Data 2019):
    calls and SMS between ~700 students over four weeks, and their Facebook friendships -- real
    data to check that link strength separates friends from the rest.

Examples
--------
>>> folder = copenhagen_dir()
>>> sorted(p.name for p in folder.glob("*.csv"))
['calls.csv', 'fb_friends.csv', 'genders.csv', 'sms.csv']
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["copenhagen_config", "copenhagen_dir", "copenhagen_friends"]

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
