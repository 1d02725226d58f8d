"""The cascade calibration's probes: drawn in growing parts, they decide as whole batches would."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tiewise.influence import seeds
from tiewise.influence.imm import InGraph, in_graph, sample_rr_sets, scaled


def _whole_batches(
    graph: InGraph, roots: np.ndarray, adopters: np.ndarray, *, seed: int, stop: float
) -> float:
    """The probe as it was: batches of 2,000 sets, the stop checked after each."""
    hits, done, batch = 0.0, 0, 2_000
    scale = len(roots) / max(int(adopters.sum()), 1)
    while done < seeds._PROBE_SETS:
        sets = sample_rr_sets(graph, batch, seed=seed, first=done, roots=roots)
        hits += float(adopters[sets.nodes].sum() - adopters[sets.nodes[sets.offsets[:-1]]].sum())
        done += batch
        if scale * hits / done > stop:
            break
    return scale * hits / done


def _network(n: int = 3_000, degree: int = 5, seed: int = 0) -> InGraph:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, n * degree)
    dst = rng.integers(0, n, n * degree)
    keep = src != dst
    return in_graph(n, src[keep], dst[keep], rng.uniform(0.02, 0.1, int(keep.sum())))


def test_probes_in_parts_calibrate_to_the_scale_of_whole_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = _network()
    rng = np.random.default_rng(1)
    roots = np.flatnonzero(rng.random(base.n) < 0.8)
    adopters = rng.random(base.n) < 0.05
    # from subcritical (a small target) to far above the start (probes that explode on the way)
    for target in (0.02, 0.3, 3.0, 40.0):
        parts = seeds._calibrate(base, roots, adopters, target, 1.0, seed=3)
        with monkeypatch.context() as m:
            m.setattr(seeds, "_mean_reach", _whole_batches)
            whole = seeds._calibrate(base, roots, adopters, target, 1.0, seed=3)
        assert parts == whole, target


def test_a_supercritical_probe_stops_after_a_few_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = scaled(_network(n=600), 8.0)  # every node reaches most of the network
    roots = np.arange(graph.n)
    adopters = np.random.default_rng(2).random(graph.n) < 0.05
    drawn: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        sets = sample_rr_sets(*args, **kwargs)
        drawn.append(len(sets.offsets) - 1)
        return sets

    monkeypatch.setattr(seeds, "sample_rr_sets", counted)
    value = seeds._mean_reach(graph, roots, adopters, seed=1, stop=4.0)
    assert value > 4.0
    assert sum(drawn) <= seeds._FIRST_PART  # whole batches drew 2,000
    # a probe that never stops draws every set, and the same ones as whole batches
    drawn.clear()
    value = seeds._mean_reach(graph, roots, adopters, seed=1, stop=np.inf)
    assert sum(drawn) == seeds._PROBE_SETS
    assert value == _whole_batches(graph, roots, adopters, seed=1, stop=np.inf)
