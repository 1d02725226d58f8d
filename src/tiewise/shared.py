"""Types and constants shared by the stages: array aliases and the length of a month.

Examples
--------
>>> round(12 * DAYS_PER_MONTH, 2)
365.25
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["DAYS_PER_MONTH", "BoolArray", "FloatArray", "IntArray"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DAYS_PER_MONTH = 30.4375
"""The mean calendar month, 365.25 / 12 days: monthly rates, tenures and horizons use it."""
