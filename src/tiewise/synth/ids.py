"""Identifiers: phone numbers and e-mail-like contact ids as Arrow string arrays.

Numbers are drawn without replacement in a seeded random order, so the order of the ids carries
no information about community, role or activity.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["OFFNET_PREFIXES", "ONNET_PREFIX", "SERVICE_PREFIX", "digits", "phone_numbers"]

ONNET_PREFIX = "4479"
"""Prefix of the operator's own subscribers (followed by 8 digits)."""
OFFNET_PREFIXES = ("4477", "4475", "4474")
"""Prefixes of the other operators (followed by 8 digits)."""
SERVICE_PREFIX = "0800"
"""Prefix of service (call-centre) numbers (followed by 6 digits)."""


def digits(values: np.ndarray, width: int) -> pa.StringArray:
    """Format non-negative integers as zero-padded decimal strings.

    Parameters
    ----------
    values
        Integers in ``[0, 10**width)``.
    width
        Number of digits.

    Returns
    -------
    pyarrow.StringArray
        The formatted strings.

    Examples
    --------
    >>> digits(np.array([7, 123]), 4).to_pylist()
    ['0007', '0123']
    """
    text = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(text, width=width, padding="0")


def _prefixed(prefixes: pa.Array, numbers: np.ndarray, width: int) -> pa.StringArray:
    return pc.binary_join_element_wise(prefixes, digits(numbers, width), "")


def phone_numbers(
    rng: np.random.Generator, n_onnet: int, n_offnet: int, n_service: int
) -> pa.StringArray:
    """Draw distinct phone numbers: subscribers, then other operators' numbers, then services.

    Parameters
    ----------
    rng
        Random generator.
    n_onnet, n_offnet, n_service
        How many numbers of each kind.

    Returns
    -------
    pyarrow.StringArray
        ``n_onnet + n_offnet + n_service`` distinct numbers in that block order; within each
        block the numbers are in random order.
    """
    on = rng.choice(10**8, size=n_onnet, replace=False)
    off = rng.choice(len(OFFNET_PREFIXES) * 10**8, size=n_offnet, replace=False)
    svc = rng.choice(10**6, size=n_service, replace=False)
    off_prefix = pa.array(np.asarray(OFFNET_PREFIXES)[off // 10**8])
    parts = [
        _prefixed(pa.array(np.full(n_onnet, ONNET_PREFIX)), on, 8),
        _prefixed(off_prefix, off % 10**8, 8),
        _prefixed(pa.array(np.full(n_service, SERVICE_PREFIX)), svc, 6),
    ]
    return pa.concat_arrays([p.cast(pa.string()) for p in parts])
