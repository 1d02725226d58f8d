"""Tie strength: how much two people communicate, and how.

Strength is lognormal; internal (same-community) ties are stronger on average than bridges
between communities (Granovetter's strong and weak ties), everyone has a few very strong
"family" ties, and people with very many contacts spread a limited time budget over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tiewise.synth._types import FloatArray, IntArray
from tiewise.synth.network import Graph

__all__ = ["Ties", "tie_strengths"]

_SIGMA = 1.0  # log-sd of strength
_INTERNAL_BOOST = 0.8  # log-strength bonus of same-community ties
_FAMILY_BOOST = 1.6  # log-strength bonus of family ties
_FAMILY_MEAN = 1.3  # mean number of family ties a person marks
_BUDGET = 0.3  # elasticity of strength to the endpoints' degrees


@dataclass(frozen=True)
class Ties:
    """Latent strength of every edge.

    Attributes
    ----------
    strength
        Latent tie strength (mean about 1), proportional to the expected record rate.
    z
        Standardised log-strength, used to shape regularity and reciprocity.
    family
        Number of endpoints that marked the tie as family (0, 1 or 2).
    """

    strength: FloatArray
    z: FloatArray
    family: IntArray


def _family_marks(rng: np.random.Generator, graph: Graph, n: int) -> IntArray:
    """Each person marks about Poisson(1.3) of their internal ties, at random, as family."""
    idx = np.flatnonzero(graph.internal)
    owner = np.concatenate([graph.a[idx], graph.b[idx]])
    edge = np.concatenate([idx, idx])
    internal_degree = np.bincount(owner, minlength=n)
    wanted = rng.poisson(_FAMILY_MEAN, size=n)
    share = wanted / np.maximum(internal_degree, 1)
    marked = edge[rng.random(int(owner.shape[0])) < share[owner]]
    return np.bincount(marked, minlength=graph.m).astype(np.int64)


def tie_strengths(rng: np.random.Generator, graph: Graph, n: int) -> Ties:
    """Draw the latent strength of every tie.

    Parameters
    ----------
    rng
        Random generator.
    graph
        The contact graph.
    n
        Number of persons.

    Returns
    -------
    Ties
        Strength, standardised log-strength and family marks per edge.
    """
    deg = np.bincount(graph.a, minlength=n) + np.bincount(graph.b, minlength=n)
    logk = np.log(np.maximum(deg, 1))
    ref = float(np.median(logk))
    family = _family_marks(rng, graph, n)
    log_s = (
        _SIGMA * rng.standard_normal(graph.m)
        + _INTERNAL_BOOST * graph.internal
        + _FAMILY_BOOST * (family > 0)
        - _BUDGET * (logk[graph.a] + logk[graph.b] - 2.0 * ref)
    )
    z = (log_s - log_s.mean()) / max(float(log_s.std()), 1e-9)
    strength = np.exp(log_s)
    strength /= strength.mean()
    return Ties(strength=strength, z=z, family=family)
