"""The shifted-beta-geometric model against Fader & Hardie (2007) and its own simulation."""

import numpy as np
import pytest

from tiewise.exceptions import InputError
from tiewise.value.sbg import ShiftedBetaGeometric, derl

# Fader & Hardie (2007), "How to project customer retention": customers still subscribed at the
# start and after each of the first 7 years, of 1,000 in each segment.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("alive", "alpha", "beta", "ll"),
    [(REGULAR, 0.704, 1.182, -1680.3), (HIGH_END, 0.668, 3.806, -1611.2)],
)
def test_reproduces_the_published_estimates(
    alive: list[int], alpha: float, beta: float, ll: float
) -> None:
    m = ShiftedBetaGeometric().fit_survival(np.array(alive))
    assert m.params_["alpha"] == pytest.approx(alpha, abs=0.0015)
    assert m.params_["beta"] == pytest.approx(beta, abs=0.0015)
    assert m.log_likelihood_ == pytest.approx(ll, abs=0.1)
    # the fitted curve follows the observed one
    assert m.survival(np.arange(8)) * 1000 == pytest.approx(alive, rel=0.08)


def test_recovers_parameters_from_left_truncated_simulated_subscribers() -> None:
    rng = np.random.default_rng(3)
    alpha, beta, n = 1.3, 4.0, 60_000
    theta = rng.beta(alpha, beta, n)
    lifetime = rng.geometric(theta)  # the period in which each subscriber leaves
    tenure_at_open = rng.integers(0, 36, n)  # periods completed when the window opened
    seen = lifetime > tenure_at_open  # those who had left before are never seen
    window = 6
    e, life = tenure_at_open[seen], lifetime[seen]
    churned = life <= e + window
    last = np.where(churned, life, e + window)
    m = ShiftedBetaGeometric().fit(e, last, churned)
    assert m.params_["alpha"] == pytest.approx(alpha, rel=0.1)
    assert m.params_["beta"] == pytest.approx(beta, rel=0.1)


def test_remaining_value_matches_the_closed_form_and_a_brute_force_sum() -> None:
    m = ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182)
    completed = np.array([0.0, 1.0, 5.0, 24.0])
    d = 0.1
    long_run = m.expected_remaining_periods(completed, horizon=4000, discount=d)
    np.testing.assert_allclose(long_run, derl(0.704, 1.182, completed, d) / (1 + d), rtol=1e-6)
    # brute force from the survival function
    for c, value in zip(completed, long_run, strict=True):
        k = np.arange(1, 4001)
        brute = (m.survival(c + k) / m.survival(c) / (1 + d) ** k).sum()
        assert value == pytest.approx(brute, rel=1e-6)
    # retention rises with tenure: longer-tenured subscribers are worth more
    assert np.all(np.diff(long_run) > 0)


def test_rejects_impossible_histories() -> None:
    with pytest.raises(InputError, match="leave before or when observation"):
        ShiftedBetaGeometric().fit([3, 0], [2, 4], [True, False])
    with pytest.raises(InputError, match="non-increasing"):
        ShiftedBetaGeometric().fit_survival(np.array([100, 120]))
    with pytest.raises(InputError, match="no subscriber left"):
        ShiftedBetaGeometric().fit([0, 0], [4, 4], [False, False])


def test_distinct_histories_by_one_key_are_those_of_unique_rows() -> None:
    """Whole periods go by one integer key: the same rows, order and weights as np.unique."""
    from tiewise.value.sbg import _distinct

    rng = np.random.default_rng(3)
    e = rng.integers(0, 40, 20_000).astype(np.float64)
    t = e + rng.integers(1, 30, 20_000)
    dead = rng.random(20_000) < 0.3
    w = rng.random(20_000)
    rows, inverse = np.unique(np.column_stack([e, t, dead]), axis=0, return_inverse=True)
    want = np.bincount(inverse.ravel(), weights=w, minlength=len(rows))
    got = _distinct(e, t, dead, w)
    np.testing.assert_array_equal(got[0], rows[:, 0])
    np.testing.assert_array_equal(got[1], rows[:, 1])
    np.testing.assert_array_equal(got[2], rows[:, 2].astype(bool))
    np.testing.assert_array_equal(got[3], want)
    # periods that are not whole take the rows themselves, to the same answer
    half = _distinct(e + 0.5, t + 0.5, dead, w)
    np.testing.assert_array_equal(half[0], rows[:, 0] + 0.5)
    np.testing.assert_array_equal(half[3], want)
