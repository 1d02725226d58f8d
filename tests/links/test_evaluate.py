"""pair_auc counted by hand: every unordered pair of the parties, absent pairs scoring 0."""

import pytest

from tiewise.links.evaluate import pair_auc


def test_pair_auc_over_every_pair_of_the_parties() -> None:
    # parties a, b, c, d: six pairs; scores for three of them (either order), the rest score 0
    scores = {("a", "b"): 3.0, ("c", "a"): 1.0, ("b", "d"): 1.0, ("a", "zed"): 9.0}
    positives = [("b", "a"), ("c", "d"), ("d", "d")]  # the self-pair is ignored
    # positives ab (3) and cd (0); negatives ac (1), bd (1), ad (0), bc (0)
    # ab beats all 4; cd ties ad and bc (2 x 0.5) and loses to ac, bd: (4 + 1) / 8
    assert pair_auc(scores, positives, ["d", "c", "b", "a"]) == pytest.approx(5 / 8)


def test_one_class_only_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one positive and one negative"):
        pair_auc({("a", "b"): 1.0}, [], ["a", "b", "c"])
