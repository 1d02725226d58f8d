import numpy as np
import pytest

from tiewise.churn.spread import spreading_activation, spreading_activation_reference


def random_graph(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    keep = u != v
    a, b = np.minimum(u[keep], v[keep]), np.maximum(u[keep], v[keep])
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1], rng.lognormal(0.0, 1.0, len(pairs))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_equals_reference(seed: int) -> None:
    u, v, w = random_graph(60, 200, seed)
    seeds = np.random.default_rng(seed).random(60) < 0.1
    fast = spreading_activation(60, u, v, w, seeds, factor=0.4, iterations=5, tol=0.0)
    slow = spreading_activation_reference(60, u, v, w, seeds, factor=0.4, iterations=5)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-15)


def test_energy_is_conserved_up_to_the_spreading_factor() -> None:
    # each step passes on `factor` of what arrived (nodes without ties keep theirs), so the
    # total received after k steps is sum_{i=1..k} factor^i per seed
    u, v, w = random_graph(100, 400, 5)
    connected = np.bincount(np.concatenate([u, v]), minlength=100) > 0
    seeds = np.zeros(100, dtype=bool)
    seeds[np.flatnonzero(connected)[:7]] = True
    act = spreading_activation(100, u, v, w, seeds, factor=0.5, iterations=4, tol=0.0)
    assert act.sum() == pytest.approx(7 * (0.5 + 0.25 + 0.125 + 0.0625))


def test_stronger_ties_receive_more() -> None:
    # a churner with a strong and a weak contact: the strong one gets the larger share
    act = spreading_activation(
        3, np.array([0, 0]), np.array([1, 2]), np.array([3.0, 1.0]), np.array([1, 0, 0], bool)
    )
    assert act[1] == pytest.approx(3 * act[2])
    assert act[1] > act[2] > 0


def test_no_churners_no_activation() -> None:
    u, v, w = random_graph(30, 60, 3)
    assert not spreading_activation(30, u, v, w, np.zeros(30, dtype=bool)).any()
