"""The customer network as arrays and as a NetworKit graph.

Nodes are numbered 0..n-1 in the order of the workspace's ``nodes`` table (sorted by pseudonymised
id), so the numbering is reproducible for the same data and key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar, cast

import networkit as nk
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from tiewise.store import RunContext

__all__ = [
    "Network",
    "adjacency",
    "graph_from_edges",
    "load_network",
    "nk_threads",
    "on_a_new_thread",
    "seeded_apart",
]

_T = TypeVar("_T")


def adjacency(
    n: int, u: npt.NDArray[np.int64], v: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Undirected links as compressed rows: ``i``'s contacts are ``nbr[indptr[i]:indptr[i + 1]]``.

    Examples
    --------
    >>> indptr, nbr = adjacency(3, np.array([0, 1]), np.array([1, 2]))
    >>> indptr.tolist(), nbr.tolist()
    ([0, 1, 3, 4], [1, 2, 0, 1])
    """
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order].astype(np.int64)


@contextmanager
def nk_threads(n: int | None) -> Iterator[None]:
    """Run NetworKit with ``n`` threads (None: all cores) inside the block, then restore.

    NetworKit's thread count is global; a step that needs one thread for reproducibility must
    not leave the following steps single-threaded.
    """
    before = nk.getMaxNumberOfThreads()
    nk.setNumberOfThreads(n or os.cpu_count() or 1)
    try:
        yield
    finally:
        nk.setNumberOfThreads(before)


def seeded_apart(
    tasks: Sequence[Callable[[], _T]], *, seed: int | None, workers: int
) -> Generator[_T, None, None]:
    """Run NetworKit ``tasks``, ``workers`` at a time, each on a new thread; yield the results.

    The tasks start at once and run while the caller works on the results already yielded, in
    the order of ``tasks``.  NetworKit releases the GIL while an algorithm runs, so two
    single-threaded Leiden runs take about the time of one on two cores.  Its random numbers come
    from a generator per OS thread, seeded from the global seed (``nk.setSeed``) when the thread
    first draws and reseeded whenever the global seed is set again.  So the seed is set once,
    here, before any task starts (a task must not set it: that would reseed the tasks running
    beside it), and each task runs on a thread of its own, whose generator starts from the seed
    as a task run alone after ``nk.setSeed(seed, False)`` would (a pool's thread would carry its
    generator on from one task to the next).  So each task's result is that of a lone run,
    whatever ``workers`` is (tests/churn/test_cut_communities.py).  A task's exception is raised
    where its result would have been yielded; once the caller drops the results (an error, or
    an early return), no further task starts.  ``seed=None``: the caller has set it, before
    anything it still runs began (or the tasks draw no random numbers).
    """
    results: list[_T | None] = [None] * len(tasks)
    errors: list[BaseException | None] = [None] * len(tasks)
    done = [threading.Event() for _ in tasks]
    slots = threading.BoundedSemaphore(max(1, workers))
    dropped = threading.Event()  # the caller stopped asking: start no more tasks

    def run(i: int) -> None:
        try:
            results[i] = tasks[i]()
        except BaseException as error:  # raised again in the caller's thread
            errors[i] = error
        finally:
            slots.release()
            done[i].set()

    def launch() -> None:
        for i in range(len(tasks)):
            slots.acquire()
            if dropped.is_set():
                return
            # daemon: a command that fails meanwhile exits without waiting for the task
            threading.Thread(target=run, args=(i,), name=f"tiewise-nk-{i}", daemon=True).start()

    def collect() -> Generator[_T, None, None]:
        try:
            for i in range(len(tasks)):
                done[i].wait()
                error, result = errors[i], results[i]
                if error is not None:
                    raise error
                results[i] = None  # the caller holds it now
                yield cast(_T, result)
        finally:
            dropped.set()

    if seed is not None:
        nk.setSeed(seed, False)
    threading.Thread(target=launch, name="tiewise-nk-launch", daemon=True).start()
    return collect()


def on_a_new_thread(task: Callable[[], _T]) -> _T:
    """``task``'s result, run on a thread of its own: NetworKit draws from the seed as set."""
    return next(seeded_apart([task], seed=None, workers=1))


def graph_from_edges(
    n: int,
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
) -> nk.Graph:
    """A weighted undirected NetworKit graph from an edge list (each edge once; loops allowed).

    Built from a sparse matrix in one call: NetworKit's ``addEdges`` reads the arrays element by
    element through Python, several times slower on millions of links.  On one thread, because
    a parallel build orders each node's neighbours differently from run to run, and Leiden's
    result depends on that order.

    Examples
    --------
    >>> g = graph_from_edges(3, np.array([0, 1, 2]), np.array([1, 2, 2]), np.array([1.0, 2.0, 4.0]))
    >>> g.numberOfEdges(), g.numberOfSelfLoops(), g.totalEdgeWeight()
    (3, 1, 7.0)
    """
    upper = sp.csr_matrix(
        (np.asarray(weight, dtype=np.float64), (np.minimum(u, v), np.maximum(u, v))),
        shape=(n, n),
    )
    with nk_threads(1):
        return nk.GraphFromCsr(upper, directed=False, weighted=True)


@dataclass(frozen=True)
class Network:
    """An undirected weighted network: node ids and an edge list ``(u, v, weight)`` with u < v."""

    ids: npt.NDArray[np.object_]
    on_network: npt.NDArray[np.bool_]
    u: npt.NDArray[np.int64]
    v: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]
    channels: dict[str, npt.NDArray[np.bool_]]  # per edge: any voice / sms / other records
    # per edge: records from u to v and from v to u (loaded on request, when links have them)
    records: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.ids)

    @cached_property
    def graph(self) -> nk.Graph:
        """The weighted NetworKit graph (built once, on first use)."""
        return self.to_networkit()

    def to_networkit(self) -> nk.Graph:
        """Build the network as a weighted, undirected NetworKit graph."""
        return graph_from_edges(self.n, self.u, self.v, self.weight)

    def degree(self) -> npt.NDArray[np.int64]:
        """Number of distinct contacts of each node."""
        return np.bincount(self.u, minlength=self.n) + np.bincount(self.v, minlength=self.n)

    def contacts_by(self, channel: str) -> npt.NDArray[np.int64]:
        """Number of distinct contacts of each node over one channel (voice, sms, other)."""
        flag = self.channels[channel]
        return np.bincount(self.u[flag], minlength=self.n) + np.bincount(
            self.v[flag], minlength=self.n
        )

    def weighted_degree(self) -> npt.NDArray[np.float64]:
        """Sum of link strengths of each node."""
        total = np.bincount(self.u, self.weight, minlength=self.n) + np.bincount(
            self.v, self.weight, minlength=self.n
        )
        return total.astype(np.float64)


def load_network(
    ctx: RunContext,
    *,
    exclude_service: bool = True,
    log_weight: bool = True,
    directed: bool = False,
) -> Network:
    """Read ``nodes`` and ``links`` from the workspace into a :class:`Network`.

    Service numbers stay as nodes (so every party has a row) but lose their links when
    ``exclude_service`` is set.  The edge weight is ``ln(1 + strength)`` with ``log_weight``,
    else the strength itself.  With ``directed``, each edge's records in either direction come
    along (``Network.records``) when ``links`` has them (``n_ab``, ``n_ba``): one join of the
    links on the ids, not two.
    """
    con = ctx.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _node_index AS "
        "SELECT customer_id, on_network, is_service, "
        "CAST(row_number() OVER (ORDER BY customer_id) - 1 AS BIGINT) AS idx FROM nodes"
    )
    nodes = con.execute("SELECT customer_id, on_network FROM _node_index ORDER BY idx").fetchnumpy()
    service = "AND NOT na.is_service AND NOT nb.is_service" if exclude_service else ""
    with_records = directed and {"n_ab", "n_ba"} <= {
        r[0] for r in con.execute("DESCRIBE links").fetchall()
    }
    records = ", l.n_ab AS ab, l.n_ba AS ba" if with_records else ""
    edges = con.execute(
        f"""
        SELECT na.idx AS u, nb.idx AS v,
               {"ln(1 + l.strength)" if log_weight else "l.strength"} AS w,
               l.n_voice > 0 AS voice, l.n_sms > 0 AS sms, l.n_other > 0 AS other{records}
        FROM links l JOIN _node_index na ON na.customer_id = l.a
                     JOIN _node_index nb ON nb.customer_id = l.b
        WHERE l.strength > 0 {service}
        ORDER BY u, v
        """
    ).fetchnumpy()
    return Network(
        ids=np.asarray(nodes["customer_id"], dtype=object),
        on_network=np.asarray(nodes["on_network"], dtype=bool),
        u=np.asarray(edges["u"], dtype=np.int64),
        v=np.asarray(edges["v"], dtype=np.int64),
        weight=np.asarray(edges["w"], dtype=np.float64),
        channels={c: np.asarray(edges[c], dtype=bool) for c in ("voice", "sms", "other")},
        records=(
            (np.asarray(edges["ab"], dtype=np.int64), np.asarray(edges["ba"], dtype=np.int64))
            if with_records
            else None
        ),
    )
