"""Named, independent random streams derived from one seed.

Every modelling step draws from its own child generator, derived from the user's seed with
:class:`numpy.random.SeedSequence` and a spawn key computed from the step's name.  Adding a step
or changing how many numbers one step draws therefore never shifts the numbers of another step,
and the same seed always reproduces the same data.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stream"]


def stream(seed: int, name: str) -> np.random.Generator:
    """Return the child generator of ``seed`` reserved for the step called ``name``.

    Parameters
    ----------
    seed
        The user's non-negative integer seed.
    name
        Name of the modelling step, e.g. ``"degrees"``.

    Returns
    -------
    numpy.random.Generator
        A generator that depends only on ``seed`` and ``name``.

    Examples
    --------
    >>> bool(stream(1, "a").integers(1 << 30) == stream(1, "a").integers(1 << 30))
    True
    """
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))
