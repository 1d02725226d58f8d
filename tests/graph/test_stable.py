from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tiewise.graph.stable import _fresh_order, stable_ids


def people(n: int) -> np.ndarray:
    return np.array([f"p{i:03d}" for i in range(n)], dtype=object)


def test_first_run_numbers_communities_by_size() -> None:
    result = stable_ids(people(6), np.array([5, 3, 3, 3, 5, 8]), None)
    assert result.labels_.tolist() == [2, 1, 1, 1, 2, 3]
    assert set(result.changes_["event"]) == {"new"}


def test_refreshed_communities_keep_their_ids_and_splits_and_merges_are_recorded() -> None:
    ids = people(100)
    previous = pd.DataFrame({"customer_id": ids, "community": np.repeat([10, 20, 30, 40], 25)})
    labels = np.empty(100, dtype=np.int64)
    labels[0:20] = 0  # 20 of community 10 ...
    labels[75:100] = 0  # ... join all 25 of community 40: a merge, and 40 is the majority
    labels[20:50] = 1  # 5 of community 10 join all 25 of community 20
    labels[50:62] = 4  # community 30 splits in two
    labels[62:75] = 5
    result = stable_ids(ids, labels, previous)
    new = result.labels_
    assert set(new[0:20]) == set(new[75:100]) == {40}
    assert set(new[20:50]) == {20}
    assert set(new[62:75]) == {30}  # 13 of 25 and nobody else: a mutual majority
    assert set(new[50:62]) == {41}  # fresh ids continue above every id used before
    events = {(r.event, r.community, r.previous_community) for r in result.changes_.itertuples()}
    assert events == {
        ("split", 40, 10),
        ("split", 20, 10),
        ("kept", 20, 20),
        ("split", 41, 30),
        ("split", 30, 30),
        ("kept", 40, 40),
        ("merged", 40, 10),
        ("merged", 40, 40),
    }


def test_only_a_mutual_majority_keeps_an_id() -> None:
    ids = people(30)
    previous = pd.DataFrame({"customer_id": ids[:20], "community": [1] * 10 + [2] * 10})
    labels = np.array([0] * 12 + [1] * 18)  # 10 of 1 with 2 of 2; the other 8 of 2 with 10 new
    result = stable_ids(ids, labels, previous)
    assert result.labels_.tolist() == [1] * 12 + [3] * 18  # 8 of 18 is no majority: a new id
    events = {(r.event, r.community, r.previous_community) for r in result.changes_.itertuples()}
    # community 2 split: two of its members went with community 1, eight to the new community 3
    assert events == {("kept", 1, 1), ("split", 1, 2), ("split", 3, 2)}


def _one_community_at_a_time(
    ids: np.ndarray, labels: np.ndarray, previous: pd.DataFrame, share: float
) -> pd.DataFrame:
    """The changes as first written: each old, then each new community in a Python loop."""
    communities = np.unique(labels)
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
    rows: list[tuple[Any, ...]] = []
    inherited = set(keep["community"])
    for old, group in parts.groupby("community"):
        successors = group[group["share_of_previous"] >= share]
        if len(successors) >= 2:
            for _, r in successors.iterrows():
                rows.append(
                    ("split", r.community_id, old, r.shared, r.share_of_previous, r.share_of_new)
                )
        elif old in inherited:
            r = keep[keep["community"] == old].iloc[0]
            rows.append(
                ("kept", mapping[r.new], old, r.shared, r.share_of_previous, r.share_of_new)
            )
    for new, group in parts.groupby("new"):
        predecessors = group[group["share_of_new"] >= share]
        if len(predecessors) >= 2:
            for _, r in predecessors.iterrows():
                rows.append(
                    (
                        "merged",
                        mapping[int(new)],  # type: ignore[arg-type]
                        r.community,
                        r.shared,
                        r.share_of_previous,
                        r.share_of_new,
                    )
                )
    described_new = {r[1] for r in rows}
    described_old = {r[2] for r in rows}
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
    return changes.reset_index(drop=True)


@pytest.mark.parametrize("share", [0.2, 0.4, 0.6])
def test_changes_are_those_found_one_community_at_a_time(share: float) -> None:
    # a mutual majority below the share, and no other part: 11 of an old community's 20
    # members with 9 others, its other 9 with 11 others
    ids = people(40)
    previous = pd.DataFrame({"customer_id": ids[:20], "community": 3})
    labels = np.array([0] * 11 + [2] * 9 + [0] * 9 + [2] * 11)
    want = _one_community_at_a_time(ids, labels, previous, share)
    pd.testing.assert_frame_equal(stable_ids(ids, labels, previous, share=share).changes_, want)
    rng = np.random.default_rng(int(share * 10))
    for _ in range(30):
        n = int(rng.integers(5, 300))
        ids = np.array([f"c{i}" for i in range(n)], dtype=object)
        old = rng.integers(0, rng.integers(1, 12), n)
        # the new partition: the old one relabelled, some customers moved, some communities
        # split in two, some merged, some customers gone and some new
        new = rng.permutation(old.max() + 1)[old]
        moved = rng.random(n) < rng.uniform(0, 0.5)
        new[moved] = rng.integers(0, new.max() + 2, int(moved.sum()))
        halves = rng.random(n) < 0.5
        new[halves & (new % 3 == 0)] += 50
        new[new % 4 == 1] = 1
        kept = rng.random(n) < 0.9
        previous = pd.DataFrame({"customer_id": ids[kept], "community": old[kept] + 10})
        got = stable_ids(ids, new, previous, share=share).changes_
        want = _one_community_at_a_time(ids, new, previous, share)
        pd.testing.assert_frame_equal(got, want)
