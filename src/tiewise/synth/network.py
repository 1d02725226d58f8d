"""Contact graph: an LFR-style configuration model with communities.

Each person splits their planned degree into internal stubs (paired at random inside the
community) and external stubs (paired at random across the whole population).  Self-loops and
duplicate pairs are dropped; the stubs they wasted are re-paired in a few extra rounds so that
realised degrees and mixing stay close to the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tiewise.synth._types import BoolArray, IntArray

__all__ = ["Graph", "configuration_edges", "lfr_graph", "pair_stubs", "split_degrees"]

_INTERNAL_FILL = 0.75  # at most this share of one's community can be one's contacts
_ROUNDS = 4


@dataclass(frozen=True)
class Graph:
    """An undirected simple graph with ``a < b`` on every edge, sorted by ``(a, b)``.

    Attributes
    ----------
    a, b
        Endpoints (person indices).
    internal
        Whether both endpoints are in the same community.
    """

    a: IntArray
    b: IntArray
    internal: BoolArray

    @property
    def m(self) -> int:
        """Number of edges."""
        return int(self.a.shape[0])


def pair_stubs(
    rng: np.random.Generator, owner: IntArray, group: IntArray
) -> tuple[IntArray, IntArray]:
    """Pair stubs at random within groups (one stub of an odd group is left out).

    Parameters
    ----------
    rng
        Random generator.
    owner
        Person owning each stub.
    group
        Group of each stub; stubs are only paired within their group.

    Returns
    -------
    tuple of numpy.ndarray
        The two endpoints of each pair (may contain self-loops and duplicates).

    Examples
    --------
    >>> a, b = pair_stubs(np.random.default_rng(0), np.arange(4), np.array([0, 0, 1, 1]))
    >>> sorted(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist()))
    [(0, 1), (2, 3)]
    """
    n = owner.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    perm = rng.permutation(n)
    bits = max(1, int(n).bit_length())
    key = (group[perm].astype(np.int64) << bits) | np.arange(n, dtype=np.int64)
    key.sort()  # by group, then by random position: a random order within each group
    order = perm[key & ((1 << bits) - 1)]
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, n])
    run = np.repeat(np.arange(starts.size), counts)
    last_of_odd = (counts[run] % 2 == 1) & (np.arange(n) == starts[run] + counts[run] - 1)
    kept = owner[order[~last_of_odd]]
    return kept[0::2], kept[1::2]


def _sorted_unique(key: IntArray) -> IntArray:
    key = np.sort(key)
    if key.size == 0:
        return key
    return key[np.r_[True, key[1:] != key[:-1]]]


def _merge_sorted(x: IntArray, y: IntArray) -> IntArray:
    # timsort merges two sorted runs in linear time
    return np.sort(np.concatenate([x, y]), kind="stable")


def _pair_keys(a: IntArray, b: IntArray, n: int) -> IntArray:
    lo = np.minimum(a, b).astype(np.int64)
    hi = np.maximum(a, b).astype(np.int64)
    keep = lo != hi
    return _sorted_unique(lo[keep] * n + hi[keep])


def configuration_edges(
    rng: np.random.Generator,
    stubs: IntArray,
    group: IntArray,
    n: int,
    existing: IntArray | None = None,
    rounds: int = _ROUNDS,
) -> IntArray:
    """Erased configuration model with repair rounds.

    Parameters
    ----------
    rng
        Random generator.
    stubs
        Wanted number of edges of each person (length ``n``).
    group
        Group of each person; edges only join persons of the same group.
    n
        Number of persons.
    existing
        Sorted keys ``lo * n + hi`` of edges already present; new edges never repeat them.
    rounds
        Number of pairing rounds; after the first, only the stubs lost to self-loops and
        duplicates are re-paired.

    Returns
    -------
    numpy.ndarray
        Sorted keys ``lo * n + hi`` (``lo < hi``) of the new simple edges.
    """
    old = np.zeros(0, dtype=np.int64) if existing is None else existing
    keys: IntArray = np.zeros(0, dtype=np.int64)
    have: IntArray = np.zeros(n, dtype=np.int64)
    for _ in range(rounds):
        want = np.maximum(stubs - have, 0)
        if int(want.sum()) < 2:
            break
        owner = np.repeat(np.arange(n, dtype=np.int64), want)
        a, b = pair_stubs(rng, owner, group[owner])
        fresh = _pair_keys(a, b, n)
        for known in (keys, old):
            if known.size and fresh.size:
                pos = np.minimum(np.searchsorted(known, fresh), known.size - 1)
                fresh = fresh[known[pos] != fresh]
        keys = _merge_sorted(keys, fresh)
        have += np.bincount(fresh // n, minlength=n) + np.bincount(fresh % n, minlength=n)
    return keys


def split_degrees(
    rng: np.random.Generator,
    degree: IntArray,
    community: IntArray,
    sizes: IntArray,
    mixing: float,
) -> tuple[IntArray, IntArray]:
    """Split degrees into internal and external stubs with overall external share ``mixing``.

    Internal degrees are capped at 75% of the rest of the community; what does not fit spills
    to external stubs, and the external share of everyone else is lowered to compensate, so the
    population-level mixing stays at ``mixing`` (people in tiny communities mix more).

    Parameters
    ----------
    rng
        Random generator.
    degree
        Planned degree per person.
    community
        Community per person.
    sizes
        Community sizes.
    mixing
        Wanted share of external stubs.

    Returns
    -------
    tuple of numpy.ndarray
        Internal and external stub counts per person.
    """
    deg = degree.astype(np.float64)
    cap = np.floor(_INTERNAL_FILL * (sizes[community] - 1)).astype(np.float64)
    total_ext = mixing * deg.sum()
    mu = np.full(deg.shape[0], mixing)
    for _ in range(6):
        internal = (1.0 - mu) * deg
        capped = internal > cap
        spill = float((deg[capped] - cap[capped]).sum())
        free = float(deg[~capped].sum())
        mu_free = min(1.0, max(0.0, (total_ext - spill) / free)) if free > 0 else mixing
        mu = np.where(capped, mu, mu_free)
    internal = np.minimum((1.0 - mu) * deg, cap)
    k_int = np.floor(internal + rng.random(deg.shape[0])).astype(np.int64)
    k_int = np.minimum(k_int, cap.astype(np.int64))
    return k_int, degree - k_int


def _respill(
    rng: np.random.Generator,
    k_int: IntArray,
    k_ext: IntArray,
    internal: IntArray,
    community: IntArray,
    n: int,
) -> tuple[IntArray, IntArray]:
    """Trade internal stubs that found no partner for external ones, keeping degrees and mixing.

    Dense small communities cannot host every internal stub as a simple graph.  Their owners
    get the missing stubs as external ones, and people whose internal stubs all found partners
    turn the same number of external stubs into internal ones (binomial thinning), which are
    paired inside their communities.

    Returns
    -------
    tuple of numpy.ndarray
        Sorted keys of all internal edges, and the new external stub counts.
    """
    got = np.bincount(internal // n, minlength=n) + np.bincount(internal % n, minlength=n)
    deficit = np.maximum(k_int - got, 0)
    donors = deficit == 0
    pool = int(k_ext[donors].sum())
    if pool == 0 or int(deficit.sum()) == 0:
        return internal, k_ext
    share = min(1.0, float(deficit.sum()) / pool)
    extra = np.where(donors, rng.binomial(k_ext, share), 0)
    more = configuration_edges(rng, extra, community, n, existing=internal, rounds=2)
    return _merge_sorted(internal, more), k_ext - extra + deficit


def lfr_graph(
    rng: np.random.Generator,
    degree: IntArray,
    community: IntArray,
    sizes: IntArray,
    mixing: float,
) -> Graph:
    """Build the LFR-style contact graph of all persons.

    Parameters
    ----------
    rng
        Random generator.
    degree
        Planned degree per person.
    community
        Community per person.
    sizes
        Community sizes.
    mixing
        Wanted share of ties outside the community.

    Returns
    -------
    Graph
        The simple undirected graph, edges sorted by ``(a, b)``.
    """
    n = degree.shape[0]
    k_int, k_ext = split_degrees(rng, degree, community, sizes, mixing)
    internal = configuration_edges(rng, k_int, community, n)
    internal, k_ext = _respill(rng, k_int, k_ext, internal, community, n)
    external = configuration_edges(
        rng, k_ext, np.zeros(n, dtype=np.int64), n, existing=internal, rounds=3
    )
    keys = _merge_sorted(internal, external)
    a, b = keys // n, keys % n
    return Graph(a=a, b=b, internal=community[a] == community[b])
