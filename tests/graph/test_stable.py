import numpy as np
import pandas as pd

from tiewise.graph.stable import stable_ids


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
