"""Benchmark of the graph stage's algorithms against networkx and igraph, on the same graphs.

What is measured, on a :class:`tiewise.graph.network.Network` built from arrays (no workspace:
``load_network``'s SQL and the stage's table writes are not in it):

* ``tiewise`` (default config: Leiden on 1 thread, betweenness on one (numba), the other
  centralities on ``engine.threads`` = all cores), the steps of
  ``analyse_network`` in its order, on one ``Network`` whose NetworKit graph is built once:
  ``build graph`` (first use of ``Network.graph``, i.e. ``Network.to_networkit``);
  ``Leiden levels (all)`` (the stage's ``_detect``: ``leiden_levels`` at the default
  resolutions 2.0, 1.0, 4.0), split into the main level (Leiden at γ=2 on the whole graph),
  the coarser level (γ=1 on the γ=2 communities), the finer one (γ=4 inside the γ=2
  communities) and the direct runs of the other levels that measure what nesting trades, each
  level with its NMI against the planted partition and its and the direct run's modularity;
  ``stable ids`` at every level as on a first run (no previous run); ``_scores`` (every
  per-customer column: the stage's ``_centralities`` — PageRank, eigenvector, k-core,
  clustering, 16-sample betweenness in hops —, then z, P, roles, ranks), split into its
  sub-steps (here one after another; the stage runs the centralities on a thread beside
  Leiden); and ``community table`` (``_community_table``).  A finer level's Leiden runs in
  parts at once (``tiewise.graph.communities.SPLIT_PARTS``): its seconds are from the first
  part's start to the last part's end.  Their sum is the ``total``.  The stage's
  functions run unchanged: each sub-step is timed by wrapping the functions where the stage
  looks them up (see :func:`instrumented`), so they see the same graphs and NetworKit thread
  counts as in the stage; ``rest`` is what ``_scores`` spends outside them (degrees,
  percentiles, ranks, role names, the Arrow table).  The ``total`` row records how many times
  the graph was built (once).
* ``tiewise-2t``: the build and the levels alone with ``graph.threads = 2`` (not bit-for-bit
  reproducible).
* ``igraph`` (100k and 1M nodes; not the big graph): build, ``community_multilevel``
  (Louvain), ``community_leiden(objective_function="modularity", n_iterations=3)`` (tiewise's
  ``graph.leiden_iterations``) and ``pagerank``, all weighted, single-threaded.
* ``networkx`` (100k nodes only): build, ``louvain_communities(seed=0, weight="weight")``,
  ``pagerank``, ``core_number``, ``clustering`` (unweighted, like tiewise's).

Ratios are baseline seconds / tiewise seconds for the same step (above 1: tiewise is faster).
The baselines find one partition at modularity resolution 1; their community step is compared
with tiewise's whole ``Leiden levels (all)``, which yields the γ=1 partition and two more;
``matched total`` adds only the steps both engines did.  tiewise's PageRank, k-core and
clustering use both cores, the baselines' one.

Graphs (generated in a child process and saved to an ``.npz`` in ``--workdir``, which later
runs reuse; every engine reads the same file, so all engines see the same graph): NetworKit's
``LFRGenerator`` (seed 1, 2 threads, which is deterministic for a given thread count) with a
power-law degree sequence (exponent 2.5, mean ``degree``, maximum 10 x mean), power-law community
sizes (exponent 1.5, 20..5000 members) and mixing mu = 0.3; weights ln(1 + s) with
s ~ lognormal(1, 1) (seeded), like the stage's default ``log_strength`` weight; voice/sms
channel flags at random (70%/50%).  ``lfr-100k`` and ``lfr-1m`` have mean degree 20; ``big``
has 1M nodes and mean degree 60 (~30M links; LFR takes about 3.5 minutes for it).
``--big-generator sbm`` makes the big graph instead with a vectorised degree-corrected
planted-partition model of the same sizes, degree and community laws and mu 0.3.
Realised mixing (share of links between planted communities, and its mean per node) and the
NMI of every partition against the planted one (NetworKit ``NMIDistance``, via
``tiewise.graph.quality.nmi``) are reported.

Each engine x graph runs in its own child process; the parent reads the child's peak resident
memory from ``os.wait4`` (``ru_maxrss``, which includes the Python interpreter, the imports and the
graph's arrays).  Seconds are timed inside the child around each step.  Timings are wall-clock:
run on a quiet machine; the load average is recorded before and after the run and around
each child.

Goals checked (on this 2-core machine): on 1M nodes with ~20 contacts each, the ``total``
(everything, with 16-sample betweenness) under 60 s; on 1M nodes with 30M links, the ``total``
under 180 s and the peak under 6 GB (6,144 MiB).

Usage::

    python benchmarks/bench_graph.py                     # 100k, 1M and the big graph
    python benchmarks/bench_graph.py --sizes 100000 --skip-big

Prints a table, the ratios and the goals, and writes ``benchmarks/results/graph.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

RESULTS = Path(__file__).resolve().parent / "results" / "graph.json"
T = TypeVar("T")
Row = dict[str, Any]

SEED = 1
MU = 0.3
DEGREE_EXP = 2.5
COMMUNITY_EXP = 1.5
COMMUNITY_MIN, COMMUNITY_MAX = 20, 5000
GRAPH_VERSION = "v1"  # bump when the generation changes, so that cached graphs are remade
GOAL_1M_SECONDS = 60.0  # on 2 cores, with the default graph.betweenness_samples:
GOAL_SAMPLES = 16
GOAL_BIG_SECONDS = 180.0
GOAL_BIG_PEAK_MB = 6 * 1024  # ru_maxrss is in KiB; "MB" here means MiB throughout
MEASURED_BEFORE = {  # quiet 2-core machine, 1M nodes / 6.4M links (seconds)
    "networkit ParallelLeiden": 8.0,
    "networkit PLM": 7.7,
    "igraph Louvain": 43.0,
    "igraph Leiden": 23.0,
    "networkit PageRank": 4.9,
    "igraph PageRank": 5.5,
    "k-core": 0.3,
    "clustering": 0.8,
    "betweenness per sample": 1.4,
}


@dataclass(frozen=True)
class GraphSpec:
    """One benchmark graph."""

    name: str
    nodes: int
    degree: int
    generator: str  # "lfr" or "sbm"
    big: bool = False


# ---------------------------------------------------------------------------------------------
# Graph generation (child process)
# ---------------------------------------------------------------------------------------------


Edges = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[int], float]


def _lfr(spec: GraphSpec) -> Edges:
    """LFR graph: its edge ends, planted communities and the generator's own seconds."""
    import networkit as nk

    nk.setSeed(SEED, False)
    nk.setNumberOfThreads(2)
    gen = nk.generators.LFRGenerator(spec.nodes)
    gen.generatePowerlawDegreeSequence(spec.degree, 10 * spec.degree, -DEGREE_EXP)
    gen.generatePowerlawCommunitySizeSequence(COMMUNITY_MIN, COMMUNITY_MAX, -COMMUNITY_EXP)
    gen.setMu(MU)
    t0 = time.perf_counter()
    gen.run()
    seconds = time.perf_counter() - t0
    graph = gen.getGraph()
    edges = np.fromiter(
        (x for e in graph.iterEdges() for x in e), dtype=np.int64, count=2 * graph.numberOfEdges()
    ).reshape(-1, 2)
    return edges[:, 0], edges[:, 1], gen.getPartition().getVector(), seconds


def _power_law(
    rng: np.random.Generator, size: int, low: float, high: float, exponent: float
) -> npt.NDArray[np.float64]:
    """Samples of a continuous power law p(x) ~ x^-exponent on [low, high] (inverse transform)."""
    a, b = low ** (1 - exponent), high ** (1 - exponent)
    return np.asarray((a + rng.random(size) * (b - a)) ** (1 / (1 - exponent)), dtype=np.float64)


def _sbm(spec: GraphSpec) -> Edges:
    """Degree-corrected planted partition: mu of the links drawn between any two nodes."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    n, m = spec.nodes, spec.nodes * spec.degree // 2
    sizes = _power_law(rng, n // COMMUNITY_MIN, COMMUNITY_MIN, COMMUNITY_MAX, COMMUNITY_EXP)
    sizes = sizes.astype(np.int64)[np.cumsum(sizes.astype(np.int64)) <= n]
    sizes = np.r_[sizes, n - sizes.sum()] if n > sizes.sum() else sizes
    labels = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    theta = _power_law(rng, n, 1.0, 25.0, DEGREE_EXP)  # max / mean degree ~ 10
    order = np.argsort(labels, kind="stable")  # nodes grouped by community
    cum = np.cumsum(theta[order])
    starts = np.r_[0.0, cum][np.cumsum(np.r_[0, sizes])]
    volume = np.diff(starts)
    draws = int(1.15 * m)  # extra for self-loops and duplicates, trimmed below
    inside = rng.random(draws) >= MU
    k = int(inside.sum())
    comm = np.searchsorted(np.cumsum(volume) / volume.sum(), rng.random(k))
    comm = np.minimum(comm, len(sizes) - 1)
    ends = []
    for _ in range(2):
        pick = np.empty(draws, dtype=np.float64)
        pick[inside] = starts[comm] + rng.random(k) * volume[comm]
        pick[~inside] = rng.random(draws - k) * cum[-1]
        ends.append(order[np.minimum(np.searchsorted(cum, pick), n - 1)])
    a, b = np.minimum(ends[0], ends[1]), np.maximum(ends[0], ends[1])
    keys = np.unique((a * n + b)[a != b])
    keys = rng.permutation(keys)[:m]
    return keys // n, keys % n, labels.tolist(), time.perf_counter() - t0


def generate(spec: GraphSpec, out: Path) -> dict[str, Any]:
    """Make one graph, save ``u, v, weight, channels, planted`` to ``out``; return its figures."""
    u, v, planted_list, seconds = _lfr(spec) if spec.generator == "lfr" else _sbm(spec)
    planted = np.asarray(planted_list, dtype=np.int64)
    a, b = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    rng = np.random.default_rng(SEED)
    weight = np.log1p(rng.lognormal(1.0, 1.0, len(a)))
    voice = rng.random(len(a)) < 0.7
    sms = rng.random(len(a)) < 0.5
    partial = out.with_name(out.stem + ".partial.npz")
    np.savez(
        partial,
        u=a.astype(np.int32),
        v=b.astype(np.int32),
        weight=weight,
        voice=voice,
        sms=sms,
        planted=planted,
    )
    info = {"generate_seconds": seconds, **mixing(spec.nodes, a, b, planted)}
    out.with_suffix(".json").write_text(json.dumps(info))
    partial.rename(out)
    return info


def mixing(
    n: int, u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], planted: npt.NDArray[np.int64]
) -> dict[str, Any]:
    """Links, planted communities and the realised mixing of a graph."""
    cross = planted[u] != planted[v]
    degree = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
    external = np.bincount(u[cross], minlength=n) + np.bincount(v[cross], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_node = np.where(degree > 0, external / degree, 0.0)
    return {
        "links": len(u),
        "mean_degree": float(2 * len(u) / n),
        "max_degree": int(degree.max()),
        "isolated": int((degree == 0).sum()),
        "planted_communities": len(np.unique(planted)),
        "largest_planted": int(np.bincount(planted).max()),
        "mixing_links": float(cross.mean()),
        "mixing_node_mean": float(per_node[degree > 0].mean()),
    }


# ---------------------------------------------------------------------------------------------
# Engines (child processes)
# ---------------------------------------------------------------------------------------------


def timed(steps: list[Row], name: str, fn: Callable[[], T], **extra: Any) -> T:
    """Run ``fn``, append its wall time as a step, return its result."""
    t0 = time.perf_counter()
    result = fn()
    steps.append({"step": name, "seconds": time.perf_counter() - t0, **extra})
    return result


def load_arrays(path: Path) -> dict[str, npt.NDArray[Any]]:
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    for key in ("u", "v"):
        arrays[key] = arrays[key].astype(np.int64)
    return arrays


def load_net(arrays: dict[str, npt.NDArray[Any]]) -> Any:
    from tiewise.graph.network import Network

    n = len(arrays["planted"])
    return Network(
        ids=np.array([f"n{i}" for i in range(n)], dtype=object),
        on_network=np.ones(n, dtype=bool),
        u=arrays["u"],
        v=arrays["v"],
        weight=arrays["weight"],
        channels={
            "voice": arrays["voice"],
            "sms": arrays["sms"],
            "other": np.zeros(len(arrays["u"]), dtype=bool),
        },
    )


def describe(labels: npt.NDArray[np.int64], planted: npt.NDArray[np.int64]) -> dict[str, Any]:
    """NMI against the planted communities and the number of communities."""
    from tiewise.graph.quality import nmi

    return {"nmi": nmi(labels, planted), "communities": len(np.unique(labels))}


@dataclass(frozen=True)
class Call:
    """One call of an instrumented function: its label, start (``perf_counter``) and seconds."""

    label: str
    start: float
    seconds: float


SUBSTEPS = {  # function called by _scores -> its sub-step (z, P and role make one)
    "pagerank": "pagerank",
    "within_module_z": "z/P + roles",
    "participation_coefficient": "z/P + roles",
    "role": "z/P + roles",
    "approximate_betweenness": "betweenness",
    "eigenvector": "eigenvector",
    "core_number": "k-core",
    "local_clustering": "clustering",
}
LEVEL_PARTS = {  # function called by leiden_levels -> its label
    "leiden": "leiden",
    "_community_edges": "community graph",
    "modularity": "modularity",
}


@contextlib.contextmanager
def instrumented(calls: list[Call]) -> Iterator[None]:
    """Record every call of the functions the graph stage's steps are made of.

    Wrapped where they are looked up, so the stage's code runs unchanged: the centrality / roles
    functions in ``tiewise.graph.stage`` (what ``_scores`` calls), ``leiden``,
    ``_community_edges`` and ``modularity`` in ``tiewise.graph.communities`` (what
    ``leiden_levels`` calls) and ``Network.to_networkit`` (what ``Network.graph`` calls).  Same
    graphs, same NetworKit thread counts as in the stage.
    """
    from tiewise.graph import communities, stage
    from tiewise.graph.network import Network

    def wrap(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                calls.append(Call(label, t0, time.perf_counter() - t0))

        return timed_call

    patches = [(stage, name, label) for name, label in SUBSTEPS.items()]
    patches += [(communities, name, label) for name, label in LEVEL_PARTS.items()]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    build = Network.to_networkit
    try:
        for (owner, name, label), (_, _, fn) in zip(patches, originals, strict=True):
            setattr(owner, name, wrap(label, fn))
        Network.to_networkit = wrap("build graph", build)  # type: ignore[method-assign]
        yield
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)
        Network.to_networkit = build  # type: ignore[method-assign]


def between(calls: list[Call], t0: float, t1: float) -> list[Call]:
    return [c for c in calls if t0 <= c.start <= t1]


def community_levels(
    net: Any, config: Any, planted: npt.NDArray[np.int64], calls: list[Call]
) -> tuple[list[Row], list[npt.NDArray[np.int64]]]:
    """The stage's ``_detect`` (``leiden_levels`` at every default resolution), level by level.

    ``leiden_levels`` runs Leiden for the main level on the whole graph, then each coarser level
    on the community network of the next finer one, then each finer level inside the next
    coarser one's communities, then every other level directly (to report what nesting trades).
    A level's seconds are its own Leiden call; the direct runs are one row.
    """
    from tiewise.graph.communities import SPLIT_PARTS
    from tiewise.graph.stage import _detect

    resolutions = [config.graph.resolution, *config.graph.levels]
    steps: list[Row] = []
    t0 = time.perf_counter()
    found = timed(
        steps,
        "Leiden levels (all)",
        lambda: _detect(net, config, resolutions, compare=True, seeded=False),
    )
    leidens = [c for c in between(calls, t0, time.perf_counter()) if c.label == "leiden"]
    main = resolutions[0]
    coarser = sorted(
        (i for i, r in enumerate(resolutions) if r < main), key=lambda i: -resolutions[i]
    )
    finer = sorted((i for i, r in enumerate(resolutions) if r > main), key=lambda i: resolutions[i])
    order = [0, *coarser, *finer]
    runs = [1] * (1 + len(coarser)) + [SPLIT_PARTS] * len(finer)  # Leiden calls per level
    if len(leidens) != sum(runs) + len(order) - 1:
        raise RuntimeError(f"unexpected Leiden calls in leiden_levels: {len(leidens)}")
    first = 0
    for i, k in zip(order, runs, strict=True):
        parts = leidens[first : first + k]  # a finer level's parts run at once: first to last
        first += k
        steps.append(
            {
                "step": f"  γ={resolutions[i]:g} {found[i].built}",
                "seconds": max(c.start + c.seconds for c in parts) - min(c.start for c in parts),
                "level": i,
                "resolution": resolutions[i],
                **describe(found[i].labels_, planted),
                "modularity": found[i].modularity_,
                "direct_modularity": found[i].direct_modularity_,
            }
        )
    steps.append(
        {
            "step": "  direct runs of the other levels (what nesting trades)",
            "seconds": sum(c.seconds for c in leidens[first:]),
        }
    )
    return steps, [f.labels_ for f in found]


def scores(
    net: Any, labels: npt.NDArray[np.int64], config: Any, calls: list[Call]
) -> tuple[list[Row], Any]:
    """``_scores`` once, with the time of each of its sub-steps and of the rest."""
    from tiewise.graph.stage import _centralities, _scores

    steps: list[Row] = []
    t0 = time.perf_counter()
    table = timed(
        steps, "_scores (all)", lambda: _scores(net, labels, _centralities(net, config), config)
    )
    spent: dict[str, float] = {}
    for call in between(calls, t0, time.perf_counter()):
        spent[call.label] = spent.get(call.label, 0.0) + call.seconds
    names = {
        "betweenness": f"betweenness ({config.graph.betweenness_samples} sources, hops)",
    }
    for label, seconds in spent.items():
        steps.append({"step": "  " + names.get(label, label), "seconds": seconds})
    rest = steps[0]["seconds"] - sum(spent.values())
    steps.append({"step": "  rest (degrees, ranks, table)", "seconds": rest})
    return steps, table


def run_tiewise(arrays: dict[str, npt.NDArray[Any]], threads: int) -> list[Row]:
    """The graph stage's computation on one ``Network``, step by step, as ``analyse_network``.

    With ``threads`` other than the default ``graph.threads``, only the build and the levels.
    """
    from tiewise.config import load_config
    from tiewise.graph.stable import stable_ids
    from tiewise.graph.stage import _community_table

    config = load_config(None)
    default = threads == config.graph.threads
    if not default:
        graph_cfg = config.graph.model_copy(update={"threads": threads})
        config = config.model_copy(update={"graph": graph_cfg})
    net = load_net(arrays)
    calls: list[Call] = []
    steps: list[Row] = []
    with instrumented(calls):
        timed(steps, "build graph", lambda: net.graph)
        levels, found = community_levels(net, config, arrays["planted"], calls)
        steps += levels
        if not default:
            return steps
        labels = timed(
            steps,
            f"stable ids ({len(found)} levels, 1st run)",
            lambda: [stable_ids(net.ids, f, None).labels_ for f in found],
        )[0]
        found_scores, table = scores(net, labels, config, calls)
        steps += found_scores
        timed(
            steps,
            "community table",
            lambda: _community_table(net, labels, net.weighted_degree()),
        )
    del table
    steps.append(
        {
            "step": "total",
            "seconds": sum(s["seconds"] for s in steps if s["step"][0] != " "),
            "graph_builds": sum(c.label == "build graph" for c in calls),
        }
    )
    return steps


def run_igraph(arrays: dict[str, npt.NDArray[Any]]) -> list[Row]:
    import random

    import igraph as ig

    from tiewise.config import load_config

    iterations = load_config(None).graph.leiden_iterations
    planted = arrays["planted"]
    n = len(planted)
    steps: list[Row] = []

    def build() -> Any:
        graph = ig.Graph(n=n, edges=np.column_stack([arrays["u"], arrays["v"]]))
        graph.es["weight"] = arrays["weight"]
        return graph

    graph = timed(steps, "build graph", build)
    random.seed(0)
    ig.set_random_number_generator(random)
    louvain = timed(steps, "Louvain γ=1", lambda: graph.community_multilevel(weights="weight"))
    leiden = timed(
        steps,
        "Leiden γ=1",
        lambda: graph.community_leiden(
            objective_function="modularity", weights="weight", n_iterations=iterations
        ),
    )
    timed(steps, "pagerank", lambda: graph.pagerank(weights="weight", damping=0.85))
    for step, found in zip(steps[1:3], (louvain, leiden), strict=True):
        labels = np.asarray(found.membership, dtype=np.int64)
        step.update(describe(labels, planted), modularity=graph.modularity(labels, "weight"))
    steps.append({"step": "total", "seconds": sum(s["seconds"] for s in steps)})
    return steps


def run_networkx(arrays: dict[str, npt.NDArray[Any]]) -> list[Row]:
    import networkx as nx

    planted = arrays["planted"]
    n = len(planted)
    steps: list[Row] = []

    def build() -> Any:
        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        graph.add_weighted_edges_from(
            zip(arrays["u"].tolist(), arrays["v"].tolist(), arrays["weight"].tolist(), strict=True)
        )
        return graph

    graph = timed(steps, "build graph", build)
    found = timed(
        steps,
        "Louvain γ=1",
        lambda: nx.community.louvain_communities(graph, seed=0, weight="weight"),
    )
    timed(steps, "pagerank", lambda: nx.pagerank(graph, alpha=0.85, weight="weight"))
    timed(steps, "k-core", lambda: nx.core_number(graph))
    timed(steps, "clustering", lambda: nx.clustering(graph))
    labels = np.empty(n, dtype=np.int64)
    for i, members in enumerate(found):
        labels[list(members)] = i
    steps[1].update(
        describe(labels, planted), modularity=nx.community.modularity(graph, found, weight="weight")
    )
    steps.append({"step": "total", "seconds": sum(s["seconds"] for s in steps)})
    return steps


def work(engine: str, graph_file: Path) -> dict[str, Any]:
    """The child's job: load the graph, run one engine, return its steps."""
    import resource

    arrays = load_arrays(graph_file)
    loaded_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    runners: dict[str, Callable[[], list[Row]]] = {
        "tiewise": lambda: run_tiewise(arrays, threads=1),
        "tiewise-2t": lambda: run_tiewise(arrays, threads=2),
        "igraph": lambda: run_igraph(arrays),
        "networkx": lambda: run_networkx(arrays),
    }
    return {"steps": runners[engine](), "loaded_mb": loaded_mb}


# ---------------------------------------------------------------------------------------------
# Parent: children, table, ratios, goals
# ---------------------------------------------------------------------------------------------


def spawn(args: list[str]) -> tuple[dict[str, Any], float, float]:
    """Run this script as a child with ``args``; its JSON result, peak MB (``os.wait4``), wall s."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, *args, "--out", out.name])
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"child {args} failed with exit {proc.returncode}")
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
    return result, usage.ru_maxrss / 1024.0, wall


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def engines_for(spec: GraphSpec) -> list[str]:
    engines = ["tiewise", "tiewise-2t"]
    if not spec.big:
        engines.append("igraph")
    if spec.nodes <= 100_000 and not spec.big:
        engines.append("networkx")
    return engines


def graph_file(spec: GraphSpec, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The graph's ``.npz`` in ``workdir``, generated in a child unless already there."""
    path = (
        workdir / f"{spec.generator}_{spec.nodes}_deg{spec.degree}_seed{SEED}_{GRAPH_VERSION}.npz"
    )
    about = f"{spec.name} ({spec.generator}, {spec.nodes:,} nodes, degree {spec.degree})"
    if path.exists() and path.with_suffix(".json").exists():
        log(f"reusing {about}: {path}")
        info: dict[str, Any] = json.loads(path.with_suffix(".json").read_text())
        info["reused_file"] = True
    else:
        log(f"generating {about}")
        workdir.mkdir(parents=True, exist_ok=True)
        info, peak, _ = spawn(["--generate", json.dumps(asdict(spec)), str(path)])
        info.update(generate_peak_mb=peak, reused_file=False)
    info.update(asdict(spec), file=str(path))
    log(f"  {info['links']:,} links, generated in {info['generate_seconds']:.1f} s")
    return path, info


def bench_graph(spec: GraphSpec, workdir: Path) -> tuple[dict[str, Any], list[Row]]:
    """Generate (or reuse) one graph and run every engine on it."""
    path, info = graph_file(spec, workdir)
    rows: list[Row] = []
    for engine in engines_for(spec):
        load = os.getloadavg()
        log(f"  {engine} on {spec.name} (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
        try:
            result, peak, wall = spawn(["--worker", engine, str(path)])
        except RuntimeError as error:  # keep the other engines' results
            log(f"  {error}")
            result, peak, wall = {"steps": [], "loaded_mb": 0.0}, 0.0, 0.0
            result["steps"].append({"step": "error", "seconds": float("nan"), "error": str(error)})
        for step in result["steps"]:
            rows.append(
                {
                    "graph": spec.name,
                    "nodes": spec.nodes,
                    "links": info["links"],
                    "engine": engine,
                    "peak_mb": peak,
                    "loaded_mb": result["loaded_mb"],
                    "wall_seconds": wall,
                    "load_before": load,
                    "load_after": os.getloadavg(),
                    **step,
                }
            )
    return info, rows


def fmt_table(rows: list[Row]) -> str:
    head = (
        f"{'graph':<9} {'nodes':>9} {'links':>11} {'engine':<10} {'step':<32} "
        f"{'seconds':>8} {'peak MB':>8} {'NMI':>6} {'comms':>7}"
    )
    lines = [head, "-" * len(head)]
    previous = None
    for r in rows:
        block = (r["graph"], r["engine"])
        peak = f"{r['peak_mb']:>8,.0f}" if block != previous else f"{'':>8}"
        previous = block
        nmi = f"{r['nmi']:>6.3f}" if "nmi" in r else f"{'':>6}"
        comms = f"{r['communities']:>7,}" if "communities" in r else f"{'':>7}"
        lines.append(
            f"{r['graph']:<9} {r['nodes']:>9,} {r['links']:>11,} {r['engine']:<10} "
            f"{r['step']:<32} {r['seconds']:>8.2f} {peak} {nmi} {comms}"
        )
    return "\n".join(lines)


def seconds_of(rows: list[Row], graph: str, engine: str, step: str) -> float | None:
    for r in rows:
        if r["graph"] == graph and r["engine"] == engine and r["step"].strip() == step:
            return float(r["seconds"])
    return None


COMMUNITIES = "Leiden levels (all)"
MATCHES = {  # baseline step -> tiewise step
    "build graph": "build graph",
    "Louvain γ=1": COMMUNITIES,  # one partition at γ=1 against tiewise's three levels
    "Leiden γ=1": COMMUNITIES,
    "pagerank": "pagerank",
    "k-core": "k-core",
    "clustering": "clustering",
}


def ratios(rows: list[Row], graphs: list[dict[str, Any]]) -> list[Row]:
    """Baseline seconds / tiewise seconds per matched step, and over the matched steps."""
    out: list[Row] = []
    for g in graphs:
        for engine in ("networkx", "igraph"):
            base_total = ours_total = 0.0
            for step, ours_step in MATCHES.items():
                base = seconds_of(rows, g["name"], engine, step)
                ours = seconds_of(rows, g["name"], "tiewise", ours_step)
                if base is None or ours is None:
                    continue
                if step != "Louvain γ=1" or engine == "networkx":  # igraph: Leiden vs Leiden
                    base_total += base
                    ours_total += ours
                out.append(
                    {
                        "graph": g["name"],
                        "engine": engine,
                        "step": step,
                        "tiewise_step": ours_step,
                        "baseline_s": base,
                        "tiewise_s": ours,
                        "ratio": base / ours,
                    }
                )
            if ours_total:
                out.append(
                    {
                        "graph": g["name"],
                        "engine": engine,
                        "step": "matched total",
                        "tiewise_step": "same steps",
                        "baseline_s": base_total,
                        "tiewise_s": ours_total,
                        "ratio": base_total / ours_total,
                    }
                )
    return out


def fmt_ratios(items: list[Row]) -> str:
    head = (
        f"{'graph':<9} {'baseline':<9} {'step':<14} {'vs tiewise':<19} "
        f"{'baseline s':>10} {'tiewise s':>10} {'ratio':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in items:
        lines.append(
            f"{r['graph']:<9} {r['engine']:<9} {r['step']:<14} {r['tiewise_step']:<19} "
            f"{r['baseline_s']:>10.2f} {r['tiewise_s']:>10.2f} {r['ratio']:>6.1f}x"
        )
    return "\n".join(lines)


def goals(rows: list[Row], graphs: list[dict[str, Any]]) -> list[Row]:
    """The issue's goals, checked where their graph was run (the machine has 2 cores)."""
    from tiewise.config import load_config

    samples = load_config(None).graph.betweenness_samples
    out: list[Row] = []
    for g in graphs:
        name = g["name"]
        total = seconds_of(rows, name, "tiewise", "total")
        if total is None or g["nodes"] < 1_000_000:
            continue
        peak = max(
            (r["peak_mb"] for r in rows if r["graph"] == name and r["engine"] == "tiewise"),
            default=0.0,
        )
        leiden1 = seconds_of(rows, name, "tiewise", COMMUNITIES) or 0.0
        leiden2 = seconds_of(rows, name, "tiewise-2t", COMMUNITIES)
        builds = next(
            (
                r
                for r in rows
                if r["graph"] == name and r["engine"] == "tiewise" and r["step"] == "total"
            ),
            {},
        )
        if g["big"]:
            met = total < GOAL_BIG_SECONDS and peak < GOAL_BIG_PEAK_MB
            goal = (
                f"1M nodes / 30M links: < {GOAL_BIG_SECONDS:.0f} s and peak < "
                f"{GOAL_BIG_PEAK_MB:,} MB"
            )
        else:
            met = total < GOAL_1M_SECONDS and samples >= GOAL_SAMPLES
            goal = (
                f"1M nodes, ~20 contacts: everything incl. {GOAL_SAMPLES}-sample betweenness "
                f"< {GOAL_1M_SECONDS:.0f} s on 2 cores"
            )
        out.append(
            {
                "graph": name,
                "goal": goal,
                "seconds": total,
                "peak_mb": peak,
                "seconds_leiden_2_threads": None if leiden2 is None else total - leiden1 + leiden2,
                "graph_builds": builds.get("graph_builds"),
                "met": met,
            }
        )
    return out


def fmt_goals(items: list[Row]) -> str:
    lines = []
    for r in items:
        two = r["seconds_leiden_2_threads"]
        lines.append(
            f"{r['graph']}: {r['goal']}: {r['seconds']:.1f} s, peak {r['peak_mb']:,.0f} "
            f"MB -> {'MET' if r['met'] else 'NOT MET'}\n    NetworKit graph built "
            f"{r['graph_builds']} time(s)"
            + ("" if two is None else f"\n    with Leiden on 2 threads (tiewise-2t): {two:.1f} s")
        )
    lines.append(
        "Measured before (quiet 2-core machine, 1M nodes / 6.4M links): "
        + ", ".join(f"{k} {v:g} s" for k, v in MEASURED_BEFORE.items())
    )
    return "\n".join(lines)


def fmt_graphs(graphs: list[dict[str, Any]]) -> str:
    lines = []
    for g in graphs:
        lines.append(
            f"{g['name']}: {g['generator']} {g['nodes']:,} nodes, {g['links']:,} links "
            f"(mean degree {g['mean_degree']:.1f}, max {g['max_degree']:,}), "
            f"{g['planted_communities']:,} planted communities (largest "
            f"{g['largest_planted']:,}), mixing {g['mixing_links']:.3f} of links / "
            f"{g['mixing_node_mean']:.3f} per node; generated in {g['generate_seconds']:.1f} s"
            + (" (file reused)" if g["reused_file"] else "")
        )
    return "\n".join(lines)


def meta(argv: list[str], load_before: tuple[float, ...]) -> dict[str, Any]:
    import igraph
    import networkit
    import networkx

    from tiewise.config import load_config

    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv[:1], *argv]),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "versions": {
            "networkit": networkit.__version__,
            "igraph": igraph.__version__,
            "networkx": networkx.__version__,
            "numpy": np.__version__,
        },
        "graph_config": load_config(None).graph.model_dump(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "generator": {
            "seed": SEED,
            "mu": MU,
            "degree_exponent": DEGREE_EXP,
            "max_degree": "10 x mean",
            "community_exponent": COMMUNITY_EXP,
            "community_sizes": [COMMUNITY_MIN, COMMUNITY_MAX],
            "weight": "ln(1 + lognormal(1, 1))",
        },
        "goals": {
            "1m_seconds": GOAL_1M_SECONDS,
            "big_seconds": GOAL_BIG_SECONDS,
            "big_peak_mb": GOAL_BIG_PEAK_MB,
        },
        "measured_before": MEASURED_BEFORE,
        "peak_mb": "ru_maxrss of the engine's child process (interpreter, imports, graph arrays)",
        "ratio": "baseline seconds / tiewise seconds; the baselines' one partition at resolution 1 "
        "against tiewise's three nested Leiden levels (4, 2, 1); tiewise's pagerank, k-core and "
        "clustering run on all cores (engine.threads), the baselines' on one",
        "load_average": "os.getloadavg() before and after the whole run, and before / after "
        "each engine's child in its rows (load_before, load_after)",
    }


def specs(args: argparse.Namespace) -> list[GraphSpec]:
    out = [GraphSpec(f"lfr-{_short(n)}", n, args.degree, "lfr") for n in args.sizes]
    if not args.skip_big:
        out.append(GraphSpec("big", args.big_nodes, args.big_degree, args.big_generator, big=True))
    return out


def _short(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="nodes of the LFR graphs with --degree contacts each",
    )
    parser.add_argument("--degree", type=int, default=20, help="mean degree of --sizes graphs")
    parser.add_argument("--skip-big", action="store_true", help="skip the 1M / 30M-link graph")
    parser.add_argument("--big-nodes", type=int, default=1_000_000)
    parser.add_argument("--big-degree", type=int, default=60)
    parser.add_argument("--big-generator", choices=["lfr", "sbm"], default="lfr")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "tiewise-bench-graph",
        help="where generated graphs are kept and reused (about 0.7 GB for the default sizes)",
    )
    parser.add_argument("--generate", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.generate or args.worker:
        if args.generate:
            result = generate(GraphSpec(**json.loads(args.generate[0])), Path(args.generate[1]))
        else:
            result = work(args.worker[0], Path(args.worker[1]))
        args.out.write_text(json.dumps(result))
        return 0
    load_before = os.getloadavg()
    graphs, rows = [], []
    for spec in specs(args):
        info, found = bench_graph(spec, args.workdir)
        graphs.append(info)
        rows += found
    ratio_rows, goal_rows = ratios(rows, graphs), goals(rows, graphs)
    print("\n" + fmt_graphs(graphs))
    print("\n" + fmt_table(rows) + "\n\nIndented rows are parts of the row above them.\n")
    print("Ratios (baseline / tiewise; > 1 means tiewise is faster):\n" + fmt_ratios(ratio_rows))
    print("\nGoals:\n" + fmt_goals(goal_rows))
    report = {
        "meta": meta(sys.argv[1:] if argv is None else argv, load_before),
        "graphs": graphs,
        "rows": rows,
        "ratios": ratio_rows,
        "goals": goal_rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nSaved {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
