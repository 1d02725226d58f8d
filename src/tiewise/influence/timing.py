"""Who adopts after whom, and how much of it timing alone would produce: the shuffle test.

A *follow* is a pair of linked customers who adopted the same item, the second within
``window`` days after the first ("leader").  Friends adopt the same things for reasons other than
influence — shared taste, shared circumstances (homophily) — so raw follow counts overstate
influence several-fold (Aral, Muchnik & Sundararajan, PNAS 2009).  The shuffle test of
Anagnostopoulos, Kumar & Mahdian (KDD 2008) keeps who adopted each item and permutes *when*:
homophily decides who adopts and survives the shuffle, influence decides the order and does not.
The excess of observed follows over the shuffled mean is the influence we report, with a
permutation p-value ``(1 + #{shuffled ≥ observed}) / (1 + shuffles)``, for a whole category and
for every customer.

(The paper's statistic is a logistic-regression coefficient; we use the follow count, whose
shuffle distribution is as easy to get and which is the quantity shown to users.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt

from tiewise.influence.imm import _start, _uniform
from tiewise.shared import FloatArray, IntArray

__all__ = [
    "Pairs",
    "ShuffleTest",
    "linked_pairs",
    "shuffle_test",
]


@dataclass(frozen=True)
class ShuffleTest:
    """Observed follows against shuffled timing.

    Attributes
    ----------
    observed
        Per test unit (e.g. category): follows observed.
    expected
        Mean follows over the shuffles.
    p_value
        ``(1 + #{shuffles with at least the observed follows}) / (1 + shuffles)``.
    group_observed, group_expected, group_p
        The same per leader group (e.g. customer and category).
    shuffles
        Number of shuffles.
    """

    observed: FloatArray
    expected: FloatArray
    p_value: FloatArray
    group_observed: FloatArray
    group_expected: FloatArray
    group_p: FloatArray
    shuffles: int


@nb.njit(cache=True, nogil=True)
def _follows(
    time: FloatArray,
    a: IntArray,
    b: IntArray,
    window: float,
    row_group: IntArray,
    row_unit: IntArray,
    groups: int,
    units: int,
) -> tuple[FloatArray, FloatArray]:
    per_group = np.zeros(groups)
    per_unit = np.zeros(units)
    for p in range(a.shape[0]):
        d = time[b[p]] - time[a[p]]
        if 0.0 < d <= window:
            per_group[row_group[a[p]]] += 1.0
            per_unit[row_unit[a[p]]] += 1.0
        elif 0.0 < -d <= window:
            per_group[row_group[b[p]]] += 1.0
            per_unit[row_unit[b[p]]] += 1.0
    return per_group, per_unit


@nb.njit(cache=True, nogil=True)
def _shuffle_within_items(
    time: FloatArray, item_start: IntArray, seed: np.uint64, r: int, out: FloatArray
) -> None:
    """Shuffle number ``r``: ``time`` permuted within each item's adopters, into ``out``."""
    perm = np.empty(time.shape[0], dtype=np.int64)
    _shuffle_rows(item_start, seed, r, perm)
    for j in range(perm.shape[0]):
        out[j] = time[perm[j]]


@nb.njit(cache=True, nogil=True)
def _shuffle_rows(item_start: IntArray, seed: np.uint64, r: int, perm: IntArray) -> None:
    """Shuffle number ``r`` as row numbers: row ``j`` takes the time of row ``perm[j]``.

    Fisher-Yates within each item's rows (rows sorted by item), from ``(seed, r)`` alone.
    """
    state = _start(seed, r)
    for j in range(perm.shape[0]):
        perm[j] = j
    for i in range(item_start.shape[0] - 1):
        lo = item_start[i]
        hi = item_start[i + 1]
        for j in range(hi - 1, lo, -1):  # Fisher-Yates
            state, u = _uniform(state)
            k = lo + min(np.int64(u * (j - lo + 1)), j - lo)
            x = perm[j]
            perm[j] = perm[k]
            perm[k] = x


@nb.njit(cache=True, nogil=True)
def _shuffles(
    time: FloatArray,
    item_start: IntArray,
    a: IntArray,
    b: IntArray,
    window: float,
    row_group: IntArray,
    row_unit: IntArray,
    groups: int,
    units: int,
    shuffles: int,
    seed: np.uint64,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    obs_g, obs_u = _follows(time, a, b, window, row_group, row_unit, groups, units)
    sum_g = np.zeros(groups)
    ge_g = np.zeros(groups)
    sum_u = np.zeros(units)
    ge_u = np.zeros(units)
    t = time.copy()
    for r in range(shuffles):
        _shuffle_within_items(time, item_start, seed, r, t)
        g, un = _follows(t, a, b, window, row_group, row_unit, groups, units)
        for x in range(groups):
            sum_g[x] += g[x]
            if g[x] >= obs_g[x]:
                ge_g[x] += 1.0
        for x in range(units):
            sum_u[x] += un[x]
            if un[x] >= obs_u[x]:
                ge_u[x] += 1.0
    return obs_g, sum_g, ge_g, np.concatenate((obs_u, sum_u, ge_u))


def _item_starts(item: IntArray) -> IntArray:
    """First row of each item's adopters, and the row count at the end (rows sorted by item)."""
    if len(item) > 1 and (np.diff(item) < 0).any():
        raise ValueError("adoption rows must be sorted by item")
    _, first = np.unique(item, return_index=True)
    return np.append(first, len(item)).astype(np.int64)


def shuffle_test(
    item: IntArray,
    time: FloatArray,
    pair_a: IntArray,
    pair_b: IntArray,
    *,
    window: float,
    group: IntArray,
    unit: IntArray,
    shuffles: int,
    seed: int,
) -> ShuffleTest:
    """Follows within ``window`` among linked adoptions, against shuffled adoption times.

    Parameters
    ----------
    item
        Item of each adoption row; rows must be sorted by item.
    time
        Adoption time of each row (e.g. days).
    pair_a, pair_b
        Row numbers of linked adopters of the same item (each unordered pair once).
    window
        Longest lead that counts as a follow (same unit as ``time``).
    group
        Leader group of each row (0..G-1), e.g. customer × category.
    unit
        Test unit of each row (0..U-1), e.g. category.
    shuffles
        Number of permutations of the times within each item.
    seed
        Random seed.

    Returns
    -------
    ShuffleTest

    Examples
    --------
    Two friends who both adopted, one day apart: one follow; shuffling two times keeps one.

    >>> r = shuffle_test(np.array([0, 0]), np.array([1.0, 2.0]), np.array([0]), np.array([1]),
    ...                  window=7, group=np.array([0, 1]), unit=np.array([0, 0]), shuffles=9,
    ...                  seed=1)
    >>> r.observed.tolist(), r.expected.tolist(), r.p_value.tolist()
    ([1.0], [1.0], [1.0])
    """
    item = np.asarray(item, dtype=np.int64)
    item_start = _item_starts(item)
    groups = int(group.max()) + 1 if len(group) else 0
    units = int(unit.max()) + 1 if len(unit) else 0
    obs_g, sum_g, ge_g, per_unit = _shuffles(
        np.asarray(time, np.float64), item_start, np.asarray(pair_a, np.int64),
        np.asarray(pair_b, np.int64), float(window), np.asarray(group, np.int64),
        np.asarray(unit, np.int64), groups, units, shuffles, np.uint64(seed),
    )  # fmt: skip
    obs_u, sum_u, ge_u = per_unit[:units], per_unit[units : 2 * units], per_unit[2 * units :]
    return ShuffleTest(
        observed=obs_u,
        expected=sum_u / max(shuffles, 1),
        p_value=(1.0 + ge_u) / (1.0 + shuffles),
        group_observed=obs_g,
        group_expected=sum_g / max(shuffles, 1),
        group_p=(1.0 + ge_g) / (1.0 + shuffles),
        shuffles=shuffles,
    )


class Pairs(NamedTuple):
    """Linked customers who adopted the same item (each unordered pair once).

    Attributes
    ----------
    a, b
        The pair's adoption rows.
    link
        The link joining them: its position in the network's undirected links ``u``, ``v``.
    """

    a: IntArray
    b: IntArray
    link: IntArray

    def among(self, keep: npt.NDArray[np.bool_]) -> Pairs:
        """The pairs whose rows are both kept, with rows numbered among the kept ones.

        Examples
        --------
        >>> p = Pairs(np.array([0, 1]), np.array([2, 2]), np.array([7, 8]))
        >>> [x.tolist() for x in p.among(np.array([False, True, True]))]
        [[0], [1], [8]]
        """
        renumber = np.cumsum(keep) - 1
        both = keep[self.a] & keep[self.b]
        return Pairs(renumber[self.a[both]], renumber[self.b[both]], self.link[both])


def linked_pairs(n: int, u: IntArray, v: IntArray, node: IntArray, item: IntArray) -> Pairs:
    """Rows of linked customers who adopted the same item (each unordered pair once).

    Parameters
    ----------
    n
        Number of nodes.
    u, v
        Undirected links (each once).
    node, item
        Adoption rows: at most one per node and item.

    Examples
    --------
    >>> a, b, link = linked_pairs(3, np.array([0, 1]), np.array([1, 2]), np.array([0, 1, 2, 2]),
    ...                           np.array([5, 5, 5, 6]))
    >>> sorted(zip(a.tolist(), b.tolist(), link.tolist()))
    [(0, 1, 0), (1, 2, 1)]
    """
    node = np.asarray(node, np.int64)
    item = np.asarray(item, np.int64)
    if len(node) == 0 or len(u) == 0:
        return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    items = int(item.max()) + 1
    lo = np.minimum(u, v).astype(np.int64)
    hi = np.maximum(u, v).astype(np.int64)
    order = np.argsort(lo, kind="stable")  # the links by their lower end
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(lo, minlength=n), out=indptr[1:])
    deg = np.diff(indptr)[node]
    rows = np.repeat(np.arange(len(node)), deg)
    offs = np.arange(deg.sum()) - np.repeat(np.cumsum(deg) - deg, deg)
    link = order[np.repeat(indptr[node], deg) + offs]  # each row's links to higher numbers
    other = hi[link]
    key = node * items + item
    korder = np.argsort(key, kind="stable")
    skey = key[korder]
    want = other * items + item[rows]
    pos = np.minimum(np.searchsorted(skey, want), len(skey) - 1)
    hit = skey[pos] == want
    return Pairs(rows[hit], korder[pos[hit]], link[hit])
