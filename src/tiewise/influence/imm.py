"""Influence maximisation under the independent cascade by reverse-reachable sets.

A reverse-reachable (RR) set of a root ``r`` is the set of nodes that reach ``r`` in one random
"live-edge" draw of the cascade (each link ``v → w`` kept with probability ``p_vw``).  For any seed
set ``S``, ``n · P(S meets a random RR set)`` is its expected spread (Borgs et al. 2014), so
choosing seeds is a maximum-coverage problem over sampled RR sets.  :func:`imm` sizes the sample
as IMM does (Tang, Shi & Xiao, SIGMOD 2015) for a ``(1 − 1/e − ε)`` guarantee with probability
``1 − n^-ℓ``; :func:`network_value` draws roots in proportion to their value and credits every
other node of each set, which gives every customer's network value (Domingos & Richardson 2001)
from one sample.

Sampling runs in numba.  Each node's in-links are sorted by probability, highest first, and the
sampler jumps geometrically to the next kept link using the current (largest remaining)
probability as an upper bound, accepting a landed link with ``p / bound`` (thinning) — one
random number per kept link instead of one per link.  Every RR set draws from its own generator,
seeded from ``(seed, set number)``, so results do not depend on the number of threads.

:func:`monte_carlo_spread` and :func:`celf_greedy` are the slow, obvious reference (forward
simulation and lazy greedy; Leskovec et al. 2007) used by the tests on small graphs.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from functools import cached_property

import numba as nb
import numpy as np
import numpy.typing as npt

from tiewise.exceptions import InputError

__all__ = [
    "InGraph",
    "RRSets",
    "SeedSet",
    "celf_greedy",
    "certified_epsilon",
    "greedy_coverage",
    "imm",
    "in_graph",
    "monte_carlo_spread",
    "network_value",
    "prefix_hits",
    "reach_of_prefixes",
    "sample_rr_sets",
    "scaled",
    "top_degree",
    "weighted_cascade",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_CHUNKS = 64  # a batch's sets go into this many chunks (fixed: results do not depend on threads)


@dataclass(frozen=True)
class InGraph:
    """Directed links with cascade probabilities, as in-links per node (CSR, highest p first).

    Attributes
    ----------
    n
        Number of nodes.
    indptr
        In-links of node ``w`` are positions ``indptr[w]:indptr[w+1]``.
    src
        Source node of each in-link.
    prob
        Its probability, in (0, 1].
    """

    n: int
    indptr: IntArray
    src: npt.NDArray[np.int32]
    prob: FloatArray

    @property
    def links(self) -> int:
        """Number of links with a positive probability."""
        return len(self.src)

    @cached_property
    def survival(self) -> tuple[FloatArray, FloatArray]:
        """What sampling with ``singles`` needs, computed once per graph.

        Per in-link, the log-probability that it and every in-link before it at its node stay
        dead (``-inf`` from a link of probability 1 on); per node, the probability that some
        in-link is live (its RR set is more than the root).
        """
        return _survival(self.indptr, self.prob)


def in_graph(n: int, src: IntArray, dst: IntArray, prob: FloatArray) -> InGraph:
    """Build an :class:`InGraph` from directed links ``src → dst`` with probabilities.

    Links with probability 0 are dropped; probabilities must lie in [0, 1].

    Examples
    --------
    >>> g = in_graph(3, np.array([0, 1, 2]), np.array([1, 2, 1]), np.array([0.5, 1.0, 0.2]))
    >>> g.indptr.tolist(), g.src.tolist(), g.prob.tolist()
    ([0, 0, 2, 3], [0, 2, 1], [0.5, 0.2, 1.0])
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    if not (len(src) == len(dst) == len(prob)):
        raise InputError("src, dst and prob must have the same length")
    if len(prob) and (not np.isfinite(prob).all() or prob.min() < 0.0 or prob.max() > 1.0):
        raise InputError("link probabilities must lie in [0, 1]")
    if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise InputError(f"link endpoints must be node numbers in 0..{n - 1}")
    keep = prob > 0.0
    src, dst, prob = src[keep], dst[keep], prob[keep]
    order = np.lexsort((-prob, dst))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n), out=indptr[1:])
    return InGraph(n, indptr, src[order].astype(np.int32), prob[order])


def scaled(graph: InGraph, factor: float) -> InGraph:
    """The same links with every probability multiplied by ``factor`` (capped at 1).

    The in-links stay in order of decreasing probability, so nothing is re-sorted.

    Examples
    --------
    >>> g = scaled(in_graph(2, np.array([0, 1]), np.array([1, 0]), np.array([0.5, 0.2])), 3.0)
    >>> g.prob.tolist()
    [0.6000000000000001, 1.0]
    """
    if factor < 0 or not np.isfinite(factor):
        raise InputError(f"a probability scale must be finite and >= 0, got {factor!r}")
    if factor == 0:
        return InGraph(graph.n, np.zeros(graph.n + 1, np.int64), graph.src[:0], graph.prob[:0])
    return InGraph(graph.n, graph.indptr, graph.src, np.minimum(graph.prob * factor, 1.0))


def weighted_cascade(n: int, src: IntArray, dst: IntArray) -> FloatArray:
    """Probabilities of the weighted cascade: ``p(v → w) = 1 / in-degree(w)``.

    Examples
    --------
    >>> weighted_cascade(3, np.array([0, 1, 0]), np.array([2, 2, 1])).tolist()
    [0.5, 0.5, 1.0]
    """
    indeg = np.bincount(np.asarray(dst, dtype=np.int64), minlength=n)
    return 1.0 / indeg[dst].astype(np.float64)


def top_degree(graph: InGraph, k: int, eligible: BoolArray | None = None) -> IntArray:
    """The ``k`` eligible nodes with the most out-links (ties: lower number first)."""
    out = np.bincount(graph.src, minlength=graph.n).astype(np.float64)
    if eligible is not None:
        out = np.where(eligible, out, -1.0)
    order = np.argsort(-out, kind="stable")
    chosen = order[:k]
    return chosen[out[chosen] >= 0].astype(np.int64)


# ---------------------------------------------------------------------------- numba kernels
# They release the GIL (nogil), so a signal's watchdog (tiewise.interrupts) can stop a run in one.

_MUL = np.uint64(0x2545F4914F6CDD1D)


@nb.njit(cache=True, inline="always", nogil=True)
def _splitmix(x: np.uint64) -> np.uint64:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@nb.njit(cache=True, inline="always", nogil=True)
def _uniform(state: np.uint64) -> tuple[np.uint64, float]:
    """xorshift64*: next state and a uniform number in (0, 1]."""
    state ^= state >> np.uint64(12)
    state ^= state << np.uint64(25)
    state ^= state >> np.uint64(27)
    r = (state * _MUL) >> np.uint64(11)
    return state, (float(r) + 1.0) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True, nogil=True)
def _start(seed: np.uint64, index: int) -> np.uint64:
    state = _splitmix(_splitmix(seed) ^ np.uint64(index))
    if state == np.uint64(0):
        state = np.uint64(1)
    return state


@nb.njit(cache=True, nogil=True)
def _survival(indptr: IntArray, prob: FloatArray) -> tuple[FloatArray, FloatArray]:
    dead = np.empty(prob.shape[0])
    live = np.zeros(indptr.shape[0] - 1)
    for w in range(indptr.shape[0] - 1):
        run = 0.0
        for i in range(indptr[w], indptr[w + 1]):
            run += math.log1p(-prob[i]) if prob[i] < 1.0 else -math.inf
            dead[i] = run
        if indptr[w + 1] > indptr[w]:
            live[w] = -math.expm1(run)
    return dead, live


@nb.njit(cache=True, inline="always", nogil=True)
def _first_live(dead: FloatArray, lo: int, hi: int, u: float) -> int:
    """The first live in-link among ``lo .. hi - 1`` by inverse CDF, given ``u <= P(any live)``.

    ``P(first live <= i) = 1 - exp(dead[i])``: the first ``i`` with ``dead[i] <= log(1 - u)``.
    """
    t = math.log1p(-u) if u < 1.0 else -math.inf
    a, b = lo, hi - 1  # rounding aside, dead[hi - 1] <= t when u <= P(any live)
    while a < b:
        m = (a + b) // 2
        if dead[m] <= t:
            b = m
        else:
            a = m + 1
    return a


@nb.njit(cache=True, nogil=True)
def _one_set(
    root: int,
    first: int,
    indptr: IntArray,
    src: npt.NDArray[np.int32],
    prob: FloatArray,
    visited: npt.NDArray[np.int32],
    stamp: np.int32,
    out: npt.NDArray[np.int32],
    pos: int,
    cap: int,
    state: np.uint64,
) -> tuple[int, np.uint64]:
    """Reverse BFS from ``root`` into ``out[pos:]``; new end position, or -1 on overflow.

    ``first`` (unless -1) is an in-link of the root already known to be live, the first one:
    the root's other in-links are drawn after it.
    """
    if pos >= cap:
        return -1, state
    out[pos] = root
    visited[root] = stamp
    head = pos
    pos += 1
    root_from = indptr[root]
    if first >= 0:
        root_from = first + 1
        pos = _add(src[first], visited, stamp, out, pos, cap)
        if pos < 0:
            return -1, state
    while head < pos:
        w = out[head]
        i = root_from if w == root else indptr[w]
        head += 1
        hi = indptr[w + 1]
        while i < hi:
            q = prob[i]
            j = i
            if q < 1.0:
                state, u = _uniform(state)
                skip = math.log(u) / math.log1p(-q)
                if skip >= hi - i:
                    break
                j = i + np.int64(skip)
            state, u = _uniform(state)
            if u * q <= prob[j]:
                pos = _add(src[j], visited, stamp, out, pos, cap)
                if pos < 0:
                    return -1, state
            i = j + 1
    return pos, state


@nb.njit(cache=True, inline="always", nogil=True)
def _add(
    v: int,
    visited: npt.NDArray[np.int32],
    stamp: np.int32,
    out: npt.NDArray[np.int32],
    pos: int,
    cap: int,
) -> int:
    """``v`` added to the set in ``out`` unless it is there: the new end, or -1 when full."""
    if visited[v] == stamp:
        return pos
    visited[v] = stamp
    if pos >= cap:
        return -1
    out[pos] = v
    return pos + 1


def _sample(
    indptr: IntArray,
    src: npt.NDArray[np.int32],
    prob: FloatArray,
    dead: FloatArray,
    live: FloatArray,
    roots: IntArray,
    cdf: FloatArray,
    seed: np.uint64,
    starts: IntArray,
    counts: IntArray,
    bounds: IntArray,
    lanes: int,
) -> tuple[npt.NDArray[np.int32], IntArray, IntArray, IntArray, IntArray, IntArray]:
    """Chunk ``c``: ``counts[c]`` sets from number ``starts[c]``, into its slice of ``out``.

    ``lanes`` workers take the chunks in turn (lane ``l``: chunks ``l, l + lanes, ...``), each
    with one ``visited`` array for all its chunks: memory and zeroing grow with the lanes, not
    the chunks.  A chunk that fills its buffer stops there; ``done[c]`` says how many of its sets
    are complete (the caller samples the rest).  Set ``k`` depends only on ``(seed, k)``.
    Chunk ``c``'s slice of the buffer is ``bounds[c]:bounds[c + 1]``.

    With ``live`` (:attr:`InGraph.survival`; empty: every set stored) one number decides
    whether any in-link of the root is live: if none, the set is the root alone and only
    counted (``singles``, per lane and node); else it gives the first live in-link as well.

    Returns the buffer, each stored set's length (chunk by chunk), per chunk the nodes used,
    the sets completed and the sets stored, and the singles.
    """
    n = indptr.shape[0] - 1
    chunks = starts.shape[0]
    out = np.empty(bounds[-1], dtype=np.int32)
    first_length = np.zeros(chunks + 1, dtype=np.int64)
    for c in range(chunks):
        first_length[c + 1] = first_length[c] + counts[c]
    lengths = np.zeros(first_length[-1], dtype=np.int64)
    used = np.zeros(chunks, dtype=np.int64)
    done = np.zeros(chunks, dtype=np.int64)
    kept = np.zeros(chunks, dtype=np.int64)
    compress = live.shape[0] > 0
    singles = np.zeros((lanes, n if compress else 0), dtype=np.int64)
    total = cdf[-1] if cdf.shape[0] else 0.0
    for lane in nb.prange(lanes):
        visited = np.zeros(n, dtype=np.int32)
        stamp = 0
        for c in range(lane, chunks, lanes):
            pos: int = bounds[c]
            end = bounds[c + 1]
            m = 0
            for i in range(counts[c]):
                state = _start(seed, starts[c] + i)
                state, u = _uniform(state)
                if cdf.shape[0]:
                    r = roots[min(np.searchsorted(cdf, u * total), roots.shape[0] - 1)]
                else:
                    r = roots[min(np.int64(u * roots.shape[0]), roots.shape[0] - 1)]
                first = -1
                if compress:
                    state, u = _uniform(state)
                    if u > live[r]:
                        singles[lane, r] += 1
                        done[c] += 1
                        continue
                    first = _first_live(dead, indptr[r], indptr[r + 1], u)
                if stamp == 2_147_483_647:  # int32 stamps would wrap: start afresh
                    visited[:] = 0
                    stamp = 0
                stamp += 1
                new, state = _one_set(
                    r, first, indptr, src, prob, visited, np.int32(stamp), out, pos, end, state
                )
                if new < 0:
                    break
                lengths[first_length[c] + m] = new - pos
                m += 1
                pos = int(new)
                done[c] += 1
            used[c] = pos - bounds[c]
            kept[c] = m
    return out, lengths, used, done, kept, singles.sum(axis=0)


# Small batches (a calibration probe draws 2,000 sets at a time) run on one thread: starting
# numba's threads costs more than they save there, and milliseconds on a busy machine.
_sample_parallel = nb.njit(cache=True, parallel=True, nogil=True)(_sample)
_sample_serial = nb.njit(cache=True, nogil=True)(_sample)
_PARALLEL_SETS = 20_000


@nb.njit(cache=True, nogil=True)
def _coverage_index(
    n: int, nodes: npt.NDArray[np.int32], offsets: IntArray
) -> tuple[IntArray, IntArray]:
    """Node → sets that contain it (CSR)."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for x in nodes:
        ptr[x + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    sets = np.empty(nodes.shape[0], dtype=np.int64)
    for s in range(offsets.shape[0] - 1):
        for p in range(offsets[s], offsets[s + 1]):
            x = nodes[p]
            sets[fill[x]] = s
            fill[x] += 1
    return ptr, sets


@nb.njit(cache=True, nogil=True)
def _coverage_counts(
    n: int, nodes: npt.NDArray[np.int32], offsets: IntArray, singles: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """:func:`_coverage_index`, and the sets each node covers (``singles`` included)."""
    ptr, sets = _coverage_index(n, nodes, offsets)
    count = np.empty(n, dtype=np.int64)
    for v in range(n):
        count[v] = ptr[v + 1] - ptr[v]
        if singles.shape[0]:
            count[v] += singles[v]
    return ptr, sets, count


@nb.njit(cache=True, nogil=True)
def _cover(
    best: int,
    ptr: IntArray,
    sets: IntArray,
    nodes: npt.NDArray[np.int32],
    offsets: IntArray,
    singles: IntArray,
    covered: npt.NDArray[np.bool_],
    count: IntArray,
) -> None:
    """Mark the sets ``best`` is in as covered; take them off every member's ``count``."""
    if singles.shape[0]:
        count[best] -= singles[best]
    for p in range(ptr[best], ptr[best + 1]):
        s = sets[p]
        if not covered[s]:
            covered[s] = True
            for q in range(offsets[s], offsets[s + 1]):
                count[nodes[q]] -= 1


@nb.njit(cache=True, inline="always", nogil=True)
def _sift_down(heap: IntArray, size: int, i: int) -> None:
    """Restore a min-heap of ``size`` values below position ``i``."""
    while True:
        low = i
        left = 2 * i + 1
        if left < size and heap[left] < heap[low]:
            low = left
        if left + 1 < size and heap[left + 1] < heap[low]:
            low = left + 1
        if low == i:
            return
        heap[i], heap[low] = heap[low], heap[i]
        i = low


@nb.njit(cache=True, nogil=True)
def _greedy(
    nodes: npt.NDArray[np.int32],
    offsets: IntArray,
    singles: IntArray,
    eligible: BoolArray,
    cost: FloatArray,
    budget: float,
    k: int,
) -> tuple[IntArray, IntArray, int]:
    """Greedy coverage; also an upper bound on the coverage of the best ``k`` eligible nodes.

    The bound is the least, over the greedy's steps ``i``, of the sets ``S_i`` covers plus the
    ``k`` largest marginal coverages of eligible nodes given ``S_i`` (submodularity; Tang, Tang,
    Xiao & Yuan 2018, section 4.2), kept in a heap during each step's scan.  It holds for unit
    costs (with other costs it is not used).  ``singles`` (or empty) counts per node the sets
    that are that node alone.
    """
    n = eligible.shape[0]
    ptr, sets, count = _coverage_counts(n, nodes, offsets, singles)
    covered = np.zeros(offsets.shape[0] - 1, dtype=np.bool_)
    free = eligible.copy()
    chosen = np.empty(k, dtype=np.int64)
    gains = np.empty(k, dtype=np.int64)
    heap = np.empty(max(k, 1), dtype=np.int64)
    bound = -1
    spent = 0.0
    total = 0
    m = 0
    for _ in range(k + 1):
        best = -1
        value = -1.0
        size = 0
        for v in range(n):
            if not eligible[v]:
                continue
            c = count[v]
            if size < k:  # the k largest marginal coverages so far, smallest on top
                heap[size] = c
                size += 1
                j = size - 1
                while j > 0 and heap[(j - 1) // 2] > heap[j]:
                    heap[(j - 1) // 2], heap[j] = heap[j], heap[(j - 1) // 2]
                    j = (j - 1) // 2
            elif c > heap[0]:
                heap[0] = c
                _sift_down(heap, size, 0)
            if free[v] and spent + cost[v] <= budget:
                r = c / cost[v]
                if r > value:
                    value = r
                    best = v
        step = total + int(heap[:size].sum())
        if bound < 0 or step < bound:
            bound = step
        if m == k or best < 0:
            break
        chosen[m] = best
        gains[m] = count[best]
        total += count[best]
        m += 1
        spent += cost[best]
        free[best] = False
        _cover(best, ptr, sets, nodes, offsets, singles, covered, count)
    return chosen[:m], gains[:m], bound


@nb.njit(cache=True, inline="always", nogil=True)
def _ahead(key: FloatArray, node: IntArray, i: int, j: int) -> bool:
    """Entry ``i`` goes before ``j``: a larger key, or the same key and a smaller node."""
    return key[i] > key[j] or (key[i] == key[j] and node[i] < node[j])


@nb.njit(cache=True, nogil=True)
def _sift_down_max(key: FloatArray, node: IntArray, size: int, i: int) -> None:
    """Restore the heap of ``(key, node)`` entries, best first (:func:`_ahead`), below ``i``."""
    while True:
        top = i
        left = 2 * i + 1
        if left < size and _ahead(key, node, left, top):
            top = left
        if left + 1 < size and _ahead(key, node, left + 1, top):
            top = left + 1
        if top == i:
            return
        key[i], key[top] = key[top], key[i]
        node[i], node[top] = node[top], node[i]
        i = top


@nb.njit(cache=True, inline="always", nogil=True)
def _pop(key: FloatArray, node: IntArray, size: int) -> int:
    """Drop the heap's top entry (:func:`_sift_down_max`); returns the new size."""
    size -= 1
    key[0], node[0] = key[size], node[size]
    _sift_down_max(key, node, size, 0)
    return size


@nb.njit(cache=True, nogil=True)
def _lazy_greedy(
    nodes: npt.NDArray[np.int32],
    offsets: IntArray,
    singles: IntArray,
    eligible: BoolArray,
    cost: FloatArray,
    budget: float,
    k: int,
) -> tuple[IntArray, IntArray]:
    """:func:`_greedy`'s choice without its bound, by lazy evaluation (Leskovec et al. 2007).

    A node's new sets per unit cost only fall as others are chosen, so a heap of values from
    earlier steps holds upper bounds: the top is the next choice once its value is recomputed
    and still on top.  Ties go to the smaller node, as in :func:`_greedy`'s scan, so the two
    choose the same nodes; this one looks at a few nodes a step instead of every node.
    """
    n = eligible.shape[0]
    ptr, sets, count = _coverage_counts(n, nodes, offsets, singles)
    key = np.empty(n)
    node = np.empty(n, dtype=np.int64)
    size = 0
    for v in range(n):
        if eligible[v] and cost[v] <= budget:
            key[size] = count[v] / cost[v]
            node[size] = v
            size += 1
    for i in range(size // 2 - 1, -1, -1):
        _sift_down_max(key, node, size, i)
    covered = np.zeros(offsets.shape[0] - 1, dtype=np.bool_)
    chosen = np.empty(k, dtype=np.int64)
    gains = np.empty(k, dtype=np.int64)
    spent = 0.0
    m = 0
    while m < k and size > 0:
        best = node[0]
        if spent + cost[best] > budget:  # unaffordable now, and so for good
            size = _pop(key, node, size)
            continue
        r = count[best] / cost[best]
        if r != key[0]:  # stale: put it back where its value belongs
            key[0] = r
            _sift_down_max(key, node, size, 0)
            continue
        size = _pop(key, node, size)
        chosen[m] = best
        gains[m] = count[best]
        m += 1
        spent += cost[best]
        _cover(best, ptr, sets, nodes, offsets, singles, covered, count)
    return chosen[:m], gains[:m]


@nb.njit(cache=True, nogil=True)
def _credit(nodes: npt.NDArray[np.int32], offsets: IntArray, n: int) -> IntArray:
    """Per node: number of sets containing it other than as their root (first element)."""
    hits = np.zeros(n, dtype=np.int64)
    for s in range(offsets.shape[0] - 1):
        for p in range(offsets[s] + 1, offsets[s + 1]):
            hits[nodes[p]] += 1
    return hits


@nb.njit(cache=True, nogil=True)
def _forward(
    indptr: IntArray,
    dst: IntArray,
    prob: FloatArray,
    seeds: IntArray,
    runs: int,
    seed: np.uint64,
) -> float:
    n = indptr.shape[0] - 1
    stamp = np.zeros(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    total = 0.0
    for run in range(runs):
        state = _start(seed, run)
        head = 0
        tail = 0
        for s in seeds:
            if stamp[s] != run + 1:
                stamp[s] = run + 1
                queue[tail] = s
                tail += 1
        while head < tail:
            u = queue[head]
            head += 1
            for p in range(indptr[u], indptr[u + 1]):
                state, x = _uniform(state)
                v = dst[p]
                if stamp[v] != run + 1 and x <= prob[p]:
                    stamp[v] = run + 1
                    queue[tail] = v
                    tail += 1
        total += tail
    return total / runs


# ---------------------------------------------------------------------------- RR sets


@dataclass
class RRSets:
    """Sampled RR sets: stored set ``s`` is ``nodes[offsets[s]:offsets[s+1]]``, its root first.

    Sets that are their root alone can be counted per node instead (``singles``; empty: none):
    on sparse cascades they are most sets, and a seed covers only those of its own.
    """

    nodes: npt.NDArray[np.int32]
    offsets: IntArray
    singles: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def count(self) -> int:
        """Number of sets, stored and counted."""
        return len(self.offsets) - 1 + int(self.singles.sum())

    def extend(self, other: RRSets) -> RRSets:
        """These sets followed by ``other``'s."""
        if len(self.singles) and len(other.singles):
            singles = self.singles + other.singles
        else:
            singles = self.singles if len(self.singles) else other.singles
        return RRSets(
            np.concatenate([self.nodes, other.nodes]),
            np.concatenate([self.offsets, other.offsets[1:] + self.offsets[-1]]),
            singles,
        )


def sample_rr_sets(
    graph: InGraph,
    count: int,
    *,
    seed: int,
    first: int = 0,
    roots: IntArray | None = None,
    weights: FloatArray | None = None,
    mean_size: float | None = None,
    singles: bool = False,
) -> RRSets:
    """Sample RR sets number ``first`` to ``first + count - 1``.

    Parameters
    ----------
    graph
        The cascade's links.
    count
        How many sets.
    seed
        Random seed; set ``i`` depends only on ``(seed, i)``.
    first
        Number of the first set (so that a sample can be extended).
    roots
        Nodes a root is drawn from (default: every node).
    weights
        Root probabilities proportional to these (default: uniform over ``roots``).
    mean_size
        Expected set size, to size the buffers (default: measured on a first batch).
    singles
        Count the sets that are their root alone per node (:attr:`RRSets.singles`) instead of
        storing them: the same sets in distribution, drawn from other random numbers, at a
        fraction of the time and memory where most sets are the root alone.

    Returns
    -------
    RRSets
        The sets, each starting with its root.
    """
    root_nodes = np.arange(graph.n, dtype=np.int64) if roots is None else roots.astype(np.int64)
    if len(root_nodes) == 0 or count <= 0:
        return RRSets(np.zeros(0, np.int32), np.zeros(1, np.int64))
    cdf = np.zeros(0) if weights is None else np.cumsum(np.asarray(weights, dtype=np.float64))
    pilot = 2048
    if count > 2 * pilot and mean_size is None:  # a first batch tells how large sets are
        head = sample_rr_sets(
            graph, pilot, seed=seed, first=first, roots=roots, weights=weights, singles=singles
        )
        tail = sample_rr_sets(
            graph, count - pilot, seed=seed, first=first + pilot, roots=roots, weights=weights,
            mean_size=len(head.nodes) / pilot, singles=singles,
        )  # fmt: skip
        return head.extend(tail)
    dead, live = graph.survival if singles else (np.zeros(0), np.zeros(0))
    return _sample_batch(graph, dead, live, root_nodes, cdf, seed, first, count, mean_size or 8.0)


def _sample_batch(
    graph: InGraph,
    dead: FloatArray,
    live: FloatArray,
    roots: IntArray,
    cdf: FloatArray,
    seed: int,
    first: int,
    count: int,
    mean_size: float,
) -> RRSets:
    """Sets ``first .. first + count - 1``, in chunks; a chunk that outgrows its buffer resumes.

    Each chunk's buffer has room for three times the mean set size (set sizes are heavy-tailed).
    The sets of a chunk after the one that overflowed are drawn in a next round, all such
    chunks together in parallel, with buffers sized from the sets drawn so far (and four times
    larger each time a chunk completes no set at all): only the overflowing sets are drawn
    twice.
    """
    chunks = min(_CHUNKS, count)
    edges = [first + count * c // chunks for c in range(chunks + 1)]
    pending = [(edges[c], edges[c + 1] - edges[c], 3.0) for c in range(chunks)]
    pieces: list[tuple[int, npt.NDArray[np.int32], IntArray]] = []
    mean, finished, drawn = mean_size, 0, 0
    singles = np.zeros(graph.n if len(live) else 0, dtype=np.int64)
    while pending:
        starts = np.array([p[0] for p in pending], dtype=np.int64)
        counts = np.array([p[1] for p in pending], dtype=np.int64)
        caps = [max(4096, int(c * mean * room) + 1024) for _, c, room in pending]
        bounds = np.zeros(len(pending) + 1, dtype=np.int64)
        np.cumsum(caps, out=bounds[1:])
        small = int(counts.sum()) < _PARALLEL_SETS
        lanes = 1 if small else max(1, min(nb.get_num_threads(), len(pending)))
        kernel = _sample_serial if small else _sample_parallel
        out, lengths, used, done, kept, alone = kernel(
            graph.indptr, graph.src, graph.prob, dead, live, roots, cdf, np.uint64(seed), starts,
            counts, bounds, lanes,
        )  # fmt: skip
        singles += alone
        finished += int(done.sum())
        drawn += int(used.sum())
        mean = max(mean, drawn / finished if finished else 4.0 * mean)
        position = np.concatenate([[0], np.cumsum(counts)])
        again = []
        for c, (start, size, room) in enumerate(pending):
            k = int(done[c])
            nodes = out[bounds[c] : bounds[c] + used[c]]
            pieces.append((int(start), nodes, lengths[position[c] : position[c] + kept[c]]))
            if k < size:  # the rest of this chunk, in the next round
                again.append((int(start) + k, int(size) - k, room if k else 4.0 * room))
        pending = again
    pieces.sort(key=lambda piece: piece[0])
    sizes = np.concatenate([piece[2] for piece in pieces])
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return RRSets(np.concatenate([piece[1] for piece in pieces]), offsets, singles)


def greedy_coverage(
    sets: RRSets,
    n: int,
    k: int,
    *,
    eligible: BoolArray | None = None,
    costs: FloatArray | None = None,
    budget: float | None = None,
) -> tuple[IntArray, IntArray]:
    """Greedy maximum coverage: up to ``k`` nodes, each time the most new sets per unit cost.

    With a budget, the cost-effective greedy answer is compared with the best single affordable
    node and the better kept (Khuller, Moss & Naor 1999).

    Returns
    -------
    (seeds, gains)
        Chosen nodes in order and the number of newly covered sets each added.
    """
    ok = np.ones(n, dtype=bool) if eligible is None else eligible.astype(bool)
    cost = np.ones(n) if costs is None else np.asarray(costs, dtype=np.float64)
    limit = math.inf if budget is None else float(budget)
    seeds, gains = _lazy_greedy(sets.nodes, sets.offsets, sets.singles, ok, cost, limit, k)
    if budget is not None and len(seeds):
        single = _lazy_greedy(
            sets.nodes, sets.offsets, sets.singles, ok & (cost <= limit), np.ones(n), math.inf, 1
        )
        if len(single[0]) and single[1][0] > gains.sum():
            return single[0], single[1]
    return seeds, gains


# ---------------------------------------------------------------------------- IMM


@dataclass
class SeedSet:
    """Seeds chosen by :func:`imm`.

    Attributes
    ----------
    seeds
        Chosen nodes, best first.
    spread
        Estimated expected spread (number of target nodes reached) of the first ``i + 1`` seeds.
    gain
        Marginal spread of each seed.
    rr_sets
        Number of RR sets the final selection used.
    targets
        Number of nodes a cascade can count (roots).
    cost
        Contact cost of each seed.
    epsilon
        The approximation slack the final number of RR sets gives: the ``epsilon`` asked for,
        or larger when ``max_sets`` cut the sample (IMM's bound solved for ε at that count).
    """

    seeds: IntArray
    spread: FloatArray
    gain: FloatArray
    rr_sets: int
    targets: int
    cost: FloatArray = field(default_factory=lambda: np.zeros(0))
    epsilon: float = 0.0


def _log_binom(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _grow(sets: RRSets, graph: InGraph, theta: int, seed: int, roots: IntArray) -> RRSets:
    """``sets`` extended to ``theta`` sets (the next ones of the same numbered sequence)."""
    if theta <= sets.count:
        return sets
    more = sample_rr_sets(
        graph, theta - sets.count, seed=seed, first=sets.count, roots=roots,
        mean_size=len(sets.nodes) / sets.count if sets.count > 1000 else None, singles=True,
    )  # fmt: skip
    return sets.extend(more)


def imm(
    graph: InGraph,
    k: int,
    *,
    epsilon: float = 0.1,
    ell: float = 1.0,
    seed: int = 0,
    targets: BoolArray | None = None,
    eligible: BoolArray | None = None,
    costs: FloatArray | None = None,
    budget: float | None = None,
    max_sets: int = 50_000_000,
) -> SeedSet:
    """Choose up to ``k`` seeds maximising the expected spread of an independent cascade.

    Parameters
    ----------
    graph
        Links and their probabilities (:func:`in_graph`).
    k
        Number of seeds (with a budget: at most this many).
    epsilon
        Approximation slack: the spread is within ``1 − 1/e − ε`` of the best with probability
        at least ``1 − n^-ell`` (IMM's guarantee; with costs the greedy ratio is the budgeted one).
    ell
        Confidence exponent.
    seed
        Random seed.
    targets
        Nodes whose activation counts (default all); roots are drawn from them only.
    eligible
        Nodes that may be seeds (default all), e.g. not existing adopters nor do-not-contact.
    costs, budget
        Per-node contact cost and the total budget (both or neither).
    max_sets
        Upper bound on the number of RR sets (memory guard); when it binds, the guarantee is
        weaker and :attr:`SeedSet.epsilon` says how much.

    Returns
    -------
    SeedSet
        Seeds, spread curve and marginal gains.

    References
    ----------
    Tang, Shi & Xiao, "Influence maximization in near-linear time: a martingale approach",
    SIGMOD 2015 (Algorithms 1-3).

    Examples
    --------
    >>> g = in_graph(4, np.array([0, 0, 0]), np.array([1, 2, 3]), np.ones(3))
    >>> imm(g, 1, seed=1).seeds.tolist()
    [0]
    """
    if not 0 < epsilon < 1:
        raise InputError(f"epsilon must be in (0, 1), got {epsilon!r}")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k!r}")
    if (costs is None) != (budget is None):
        raise InputError("give both costs and a budget, or neither")
    n = graph.n
    roots = np.flatnonzero(targets) if targets is not None else np.arange(n)
    nt = len(roots)
    ok = np.ones(n, dtype=bool) if eligible is None else eligible.astype(bool)
    if nt == 0 or n == 0 or not ok.any():
        return SeedSet(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), 0, nt, epsilon=epsilon)
    k = min(k, int(ok.sum()))
    size = max(nt, 2)
    ell = ell * (1.0 + math.log(2) / math.log(size))
    eps1 = math.sqrt(2.0) * epsilon
    logc = _log_binom(size, min(k, size))
    lam1 = (
        (2.0 + 2.0 * eps1 / 3.0)
        * (logc + ell * math.log(size) + math.log(max(math.log2(size), 1.0)))
        * size
        / eps1**2
    )
    sets = RRSets(np.zeros(0, np.int32), np.zeros(1, np.int64))
    lower = 1.0
    chosen = None  # the greedy's answer on ``sets`` as they are
    for i in range(1, max(2, math.ceil(math.log2(size)))):
        x = size / 2.0**i
        theta = min(max_sets, math.ceil(lam1 / x))
        sets = _grow(sets, graph, theta, seed, roots)
        chosen = greedy_coverage(sets, n, k, eligible=ok, costs=costs, budget=budget)
        estimate = nt * chosen[1].sum() / sets.count
        if estimate >= (1.0 + eps1) * x or theta >= max_sets:
            lower = estimate / (1.0 + eps1)
            break
    alpha = math.sqrt(ell * math.log(size) + math.log(2))
    beta = math.sqrt((1 - 1 / math.e) * (logc + ell * math.log(size) + math.log(2)))
    lam_star = 2.0 * size * ((1 - 1 / math.e) * alpha + beta) ** 2 / epsilon**2
    theta = min(max_sets, math.ceil(lam_star / max(lower, 1.0)))
    if chosen is None or theta > sets.count:  # else the sets are those the last step chose from
        sets = _grow(sets, graph, theta, seed, roots)
        chosen = greedy_coverage(sets, n, k, eligible=ok, costs=costs, budget=budget)
    seeds, gains = chosen
    gain = nt * gains / sets.count
    cost = np.ones(len(seeds)) if costs is None else np.asarray(costs, np.float64)[seeds]
    # λ* grows as 1/ε²: the ε that the sets drawn suffice for
    reached = epsilon * math.sqrt(max(1.0, lam_star / max(lower, 1.0) / max(sets.count, 1)))
    return SeedSet(seeds, np.cumsum(gain), gain, sets.count, nt, cost, epsilon=reached)


def certified_epsilon(
    seeds: IntArray, check: RRSets, targets: int, eligible: BoolArray, *, sizes: int = 1
) -> float:
    """The approximation slack ``seeds`` are certified for, on a sample that did not pick them.

    Two bounds on the independent ``check`` sets: a lower confidence bound on the seeds' spread,
    and an upper confidence bound on the best spread of as many ``eligible`` nodes (the greedy's
    bound on their best coverage: at each of its steps, what is covered plus the largest
    marginal coverages).  Their ratio ``α`` certifies the seeds within ``α`` of the best with
    probability at least ``1 − 1/targets``: each bound at ``1 − 1/(2 · targets · sizes)``, where
    ``sizes`` is how many sizes the check sample could have taken (a union bound, when its size
    was chosen from its own first sets).  OPIM's bounds: Tang, Tang, Xiao & Yuan, "Online
    processing algorithms for influence maximization", SIGMOD 2018.

    Returns ``ε = 1 − 1/e − α`` (0 when the seeds are certified above ``1 − 1/e``), or NaN
    without seeds or sets.  It holds for the seeds as chosen, whatever sample chose them, so
    seeds from a sample that ``max_sets`` cut short can still be shown to be good enough.
    """
    ratio = _certified_ratio(seeds, check, targets, eligible, sizes)
    return max(0.0, 1.0 - 1.0 / math.e - ratio) if math.isfinite(ratio) else math.nan


def _certified_ratio(
    seeds: IntArray, check: RRSets, targets: int, eligible: BoolArray, sizes: int
) -> float:
    """The seeds' spread's lower confidence bound over the best spread's upper one."""
    if check.count == 0 or len(seeds) == 0:
        return math.nan
    n = len(eligible)
    a = math.log(2.0 * max(targets, 2) * max(sizes, 1))
    _, _, best = _greedy(
        check.nodes, check.offsets, check.singles, eligible, np.ones(n), math.inf, len(seeds)
    )
    upper = (math.sqrt(best + a / 2) + math.sqrt(a / 2)) ** 2
    hits = int(prefix_hits(check, seeds, n)[-1])
    lower = max(0.0, (math.sqrt(hits + 2 * a / 9) - math.sqrt(a / 2)) ** 2 - a / 18)
    return lower / upper


def prefix_hits(sets: RRSets, order: IntArray, n: int) -> IntArray:
    """How many of ``sets`` the first 1, 2, ... nodes of ``order`` meet."""
    if sets.count == 0 or len(order) == 0:
        return np.zeros(len(order), dtype=np.int64)
    rank = np.full(n, len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    per_node = rank[sets.nodes]
    lengths = np.diff(sets.offsets)
    first = np.full(len(lengths), len(order), dtype=np.int64)
    nonempty = lengths > 0
    if nonempty.any():
        first[nonempty] = np.minimum.reduceat(per_node, sets.offsets[:-1][nonempty])
    hits = np.bincount(first[first < len(order)], minlength=len(order))
    if len(sets.singles):
        hits = hits + sets.singles[order]
    return np.cumsum(hits)


def reach_of_prefixes(
    sets: RRSets, order: IntArray, n: int, targets: int
) -> tuple[FloatArray, FloatArray]:
    """Expected reach of the first 1, 2, ... nodes of ``order`` on ``sets``, and its std. error."""
    if sets.count == 0 or len(order) == 0:
        return np.zeros(len(order)), np.zeros(len(order))
    share = prefix_hits(sets, order, n) / sets.count
    return targets * share, targets * np.sqrt(share * (1 - share) / sets.count)


def network_value(
    graph: InGraph, value: FloatArray, *, samples: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Each node's network value: expected value of the *other* nodes its adoption activates.

    Roots are drawn in proportion to ``value``; node ``u``'s network value is
    ``sum(value) · P(u in a set it is not the root of)``, an unbiased estimate of
    ``Σ_{r ≠ u} value_r · P(u reaches r)``.

    Returns
    -------
    (network_value, standard_error)
    """
    value = np.asarray(value, dtype=np.float64)
    if value.min(initial=0.0) < 0:
        raise InputError("customer values must not be negative")
    total = float(value.sum())
    if total <= 0 or samples <= 0:
        return np.zeros(graph.n), np.zeros(graph.n)
    roots = np.flatnonzero(value > 0)
    sets = sample_rr_sets(
        graph, samples, seed=seed, roots=roots, weights=value[roots], singles=True
    )  # the root alone credits no one
    share = _credit(sets.nodes, sets.offsets, graph.n) / sets.count
    return total * share, total * np.sqrt(share * (1 - share) / sets.count)


# ---------------------------------------------------------------------------- references


def _out_csr(graph: InGraph) -> tuple[IntArray, IntArray, FloatArray]:
    dst = np.repeat(np.arange(graph.n), np.diff(graph.indptr))
    order = np.argsort(graph.src, kind="stable")
    indptr = np.zeros(graph.n + 1, dtype=np.int64)
    np.cumsum(np.bincount(graph.src, minlength=graph.n), out=indptr[1:])
    return indptr, dst[order].astype(np.int64), graph.prob[order]


def monte_carlo_spread(graph: InGraph, seeds: IntArray, *, runs: int, seed: int) -> float:
    """Expected number of active nodes, by forward simulation (one coin per link)."""
    indptr, dst, prob = _out_csr(graph)
    return float(_forward(indptr, dst, prob, np.asarray(seeds, np.int64), runs, np.uint64(seed)))


def celf_greedy(graph: InGraph, k: int, *, runs: int, seed: int) -> IntArray:
    """Greedy seeds by Monte-Carlo spread with lazy evaluation (CELF); small graphs only."""
    indptr, dst, prob = _out_csr(graph)

    def spread(s: list[int]) -> float:
        return float(_forward(indptr, dst, prob, np.asarray(s, np.int64), runs, np.uint64(seed)))

    heap = [(-spread([v]), v, 0) for v in range(graph.n)]
    heapq.heapify(heap)
    chosen: list[int] = []
    current = 0.0
    while heap and len(chosen) < k:
        neg, v, round_ = heapq.heappop(heap)
        if round_ == len(chosen):
            chosen.append(v)
            current += -neg
        else:
            heapq.heappush(heap, (-(spread([*chosen, v]) - current), v, len(chosen)))
    return np.asarray(chosen, dtype=np.int64)
