"""How well a partition agrees with another (e.g. the generator's true communities)."""

from __future__ import annotations

import networkit as nk
import numpy as np
import numpy.typing as npt

__all__ = ["nmi"]


def nmi(first: npt.NDArray[np.int64], second: npt.NDArray[np.int64]) -> float:
    """Normalised mutual information of two labellings of the same nodes (1 = identical).

    Labels are any non-negative integers; the computation is NetworKit's.

    Examples
    --------
    >>> nmi(np.array([0, 0, 1, 1]), np.array([5, 5, 7, 7]))
    1.0
    >>> round(nmi(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])), 6)
    0.0
    """
    if len(first) != len(second):
        raise ValueError(f"labellings differ in length: {len(first)} and {len(second)}")
    n = len(first)
    a = nk.structures.Partition(n, np.asarray(first, dtype=np.int64).tolist())
    b = nk.structures.Partition(n, np.asarray(second, dtype=np.int64).tolist())
    a.setUpperBound(int(np.max(first)) + 1)
    b.setUpperBound(int(np.max(second)) + 1)
    return 1.0 - float(nk.community.NMIDistance().getDissimilarity(nk.Graph(n), a, b))
