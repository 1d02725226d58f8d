"""Stable community ids across runs: a community that is mostly the same people keeps its id.

When the data is refreshed and communities are found again, Leiden numbers them afresh.  Here each
new community is matched to the previous run's communities by the members they share:

* a new community that holds more than half of an old community's members, and whose members
  are more than half from that old community (a mutual majority), keeps the old id;
* every other new community gets a new id, above every id used before;

and the changes are described, for a table of splits and merges between runs:

``kept``       the old community lives on under its id
``split``      an old community's members went to two or more new communities (each at least
               ``share`` of it)
``merged``     a new community is made of two or more old ones (each at least ``share`` of it)
``new``        a new community with no old community behind it
``dissolved``  an old community whose members went nowhere in particular
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["StableIds", "stable_ids"]


@dataclass(frozen=True)
class StableIds:
    """New labels with stable ids, and the changes from the previous run."""

    labels_: npt.NDArray[np.int64]
    changes_: pd.DataFrame  # event, community, previous_community, shared, share_of_previous, ...


def _fresh_order(labels: npt.NDArray[np.int64], which: npt.NDArray[np.int64]) -> list[int]:
    """Communities in ``which`` ordered by size (largest first), then smallest member."""
    sizes = np.bincount(labels)
    first = np.full(len(sizes), len(labels), dtype=np.int64)
    np.minimum.at(first, labels, np.arange(len(labels)))
    return sorted(which.tolist(), key=lambda c: (-sizes[c], first[c]))


def stable_ids(
    ids: npt.NDArray[np.object_],
    labels: npt.NDArray[np.int64],
    previous: pd.DataFrame | None,
    *,
    share: float = 0.2,
) -> StableIds:
    """Relabel ``labels`` (of the nodes ``ids``) to keep the previous run's community ids.

    Parameters
    ----------
    ids
        Node identifiers, aligned with ``labels``.
    labels
        This run's community of each node (any non-negative integers).
    previous
        The previous run's ``customer_id`` and ``community`` columns, or None on a first run.
    share
        The smallest share of a community that counts as a part in a split or merge.

    Returns
    -------
    StableIds
        ``labels_`` with stable ids (1, 2, ... by size on a first run) and ``changes_``.

    Examples
    --------
    >>> old = pd.DataFrame({"customer_id": list("abcdef"), "community": [7, 7, 7, 9, 9, 9]})
    >>> new = stable_ids(np.array(list("abcdefg"), dtype=object),
    ...                  np.array([0, 0, 0, 1, 1, 1, 1]), old)
    >>> new.labels_.tolist()  # "g" is new and joined the community that was 9
    [7, 7, 7, 9, 9, 9, 9]
    >>> new.changes_["event"].tolist()
    ['kept', 'kept']
    """
    labels = np.asarray(labels, dtype=np.int64)
    communities = np.unique(labels)
    if previous is None or previous.empty:
        order = _fresh_order(labels, communities)
        mapping = {c: i + 1 for i, c in enumerate(order)}
        changes = pd.DataFrame(
            {
                "event": "new",
                "community": [mapping[c] for c in order],
                "previous_community": pd.array([pd.NA] * len(order), dtype="Int64"),
                "shared": np.bincount(labels)[order],
                "share_of_previous": np.nan,
                "share_of_new": 1.0,
            }
        )
        return StableIds(np.vectorize(mapping.get, otypes=[np.int64])(labels), changes)
    now = pd.DataFrame({"customer_id": ids, "new": labels})
    joined = now.merge(previous[["customer_id", "community"]], on="customer_id", how="inner")
    overlap = joined.groupby(["new", "community"]).size().rename("shared").reset_index()
    new_size = now.groupby("new").size()
    old_size = previous.groupby("community").size()
    overlap["share_of_new"] = overlap["shared"] / overlap["new"].map(new_size)
    overlap["share_of_previous"] = overlap["shared"] / overlap["community"].map(old_size)
    keep = overlap[(overlap["share_of_new"] > 0.5) & (overlap["share_of_previous"] > 0.5)]
    mapping = dict(zip(keep["new"], keep["community"], strict=True))
    next_id = int(max(old_size.index.max(), 0)) + 1
    fresh = np.array([c for c in communities if c not in mapping], dtype=np.int64)
    for c in _fresh_order(labels, fresh):
        mapping[c] = next_id
        next_id += 1
    overlap["community_id"] = overlap["new"].map(mapping)
    parts = overlap[(overlap["share_of_previous"] >= share) | (overlap["share_of_new"] >= share)]
    columns = ["community_id", "community", "shared", "share_of_previous", "share_of_new"]
    # an old community with two or more successors split; otherwise, if a new one inherited
    # its id, it was kept (rows in order of the old community, then as ``parts`` lists them)
    successors = parts[parts["share_of_previous"] >= share]
    split = successors["community"].map(successors["community"].value_counts()) >= 2
    splits = successors[split][columns].assign(event="split")
    kept = keep[
        keep["community"].isin(parts["community"])
        & ~keep["community"].isin(successors.loc[split, "community"])
    ]
    kept = kept.assign(community_id=kept["new"].map(mapping))[columns].assign(event="kept")
    by_old = pd.concat([splits, kept]).sort_values("community", kind="stable")
    # a new community with two or more predecessors is a merge (in order of the new community)
    predecessors = parts[parts["share_of_new"] >= share]
    merged = predecessors["new"].map(predecessors["new"].value_counts()) >= 2
    merges = predecessors[merged].sort_values("new", kind="stable")[columns].assign(event="merged")
    described = pd.concat([by_old, merges])
    rows: list[tuple[Any, ...]] = list(
        zip(
            described["event"],
            described["community_id"],
            described["community"],
            described["shared"],
            described["share_of_previous"],
            described["share_of_new"],
            strict=True,
        )
    )
    described_new = set(described["community_id"].tolist())
    described_old = set(described["community"].tolist())
    for c in communities:
        if mapping[c] not in described_new:
            rows.append(("new", mapping[c], pd.NA, int(new_size[c]), np.nan, 1.0))
    for old in old_size.index:
        if old not in described_old:
            rows.append(("dissolved", pd.NA, old, 0, 0.0, np.nan))
    changes = pd.DataFrame(
        rows,
        columns=[
            "event",
            "community",
            "previous_community",
            "shared",
            "share_of_previous",
            "share_of_new",
        ],
    )
    changes["community"] = changes["community"].astype("Int64")
    changes["previous_community"] = changes["previous_community"].astype("Int64")
    changes["shared"] = changes["shared"].astype(np.int64)  # iterrows made the counts floats
    changes = changes.sort_values(["community", "previous_community"], na_position="last")
    return StableIds(
        np.vectorize(mapping.get, otypes=[np.int64])(labels), changes.reset_index(drop=True)
    )
