"""Roles inside communities: Guimerà & Amaral's seven roles, and the business role a marketer reads.

Each node has a within-community degree z-score ``z`` (how many more contacts inside its own
community than the community's average member, in standard deviations) and a participation
coefficient ``P`` (0 when all its contacts are in its own community, towards 1 when they are
spread evenly over all communities).  Guimerà & Amaral (2005) divide the (z, P) plane:

====  ===========================  ==================  ==============
role  name                         region              business role
====  ===========================  ==================  ==============
R1    ultra-peripheral             z < 2.5, P ≤ 0.05   marginal
R2    peripheral                   z < 2.5, P ≤ 0.62   follower
R3    non-hub connector            z < 2.5, P ≤ 0.80   bridge
R4    non-hub kinless              z < 2.5, P > 0.80   bridge
R5    provincial hub               z ≥ 2.5, P ≤ 0.30   hub
R6    connector hub                z ≥ 2.5, P ≤ 0.75   hub
R7    kinless hub                  z ≥ 2.5, P > 0.75   hub
====  ===========================  ==================  ==============

Hubs anchor their community (a connector or kinless hub also reaches into others); non-hub
connectors and kinless nodes bridge communities; peripheral nodes follow; ultra-peripheral nodes,
all of whose contacts are in one community and few, are marginal.

References
----------
R. Guimerà, L. A. N. Amaral. Functional cartography of complex metabolic networks.
Nature 433, 895–900 (2005).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "BUSINESS_ROLES",
    "HUB_Z",
    "ROLE_NAMES",
    "business_role",
    "participation_coefficient",
    "role",
    "within_module_z",
]

HUB_Z = 2.5
ROLE_NAMES = {
    1: "ultra-peripheral",
    2: "peripheral",
    3: "non-hub connector",
    4: "non-hub kinless",
    5: "provincial hub",
    6: "connector hub",
    7: "kinless hub",
}
BUSINESS_ROLES = {
    1: "marginal",
    2: "follower",
    3: "bridge",
    4: "bridge",
    5: "hub",
    6: "hub",
    7: "hub",
}


def role(z: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Guimerà-Amaral role number (1-7) of each node from its ``z`` and ``P``.

    Examples
    --------
    >>> role(np.array([0.0, 0.0, 0.0, 0.0, 3.0, 3.0, 3.0]),
    ...      np.array([0.0, 0.5, 0.7, 0.9, 0.2, 0.6, 0.8])).tolist()
    [1, 2, 3, 4, 5, 6, 7]
    """
    hub = z >= HUB_Z
    non_hub = np.select([p <= 0.05, p <= 0.62, p <= 0.80], [1, 2, 3], default=4)
    hubs = np.select([p <= 0.30, p <= 0.75], [5, 6], default=7)
    return np.where(hub, hubs, non_hub).astype(np.int64)


def business_role(roles: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """The business role (hub, bridge, follower, marginal) of each role number.

    "Hub" is the role; "leader" is kept for the top customers of a community by tie strength.
    """
    lookup = np.array([""] + [BUSINESS_ROLES[i] for i in range(1, 8)], dtype=object)
    return lookup[roles]


def within_module_z(
    u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], labels: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Within-community degree z-score of each node (0 in communities whose degrees are equal).

    Examples
    --------
    >>> # a star of 4 inside one community: the centre stands out
    >>> within_module_z(np.array([0, 0, 0]), np.array([1, 2, 3]), np.array([1, 1, 1, 1])).round(3)
    array([ 1.732, -0.577, -0.577, -0.577])
    """
    n = len(labels)
    same = labels[u] == labels[v]
    k_in = np.bincount(u[same], minlength=n) + np.bincount(v[same], minlength=n)
    k_in = k_in.astype(np.float64)
    size = np.bincount(labels)
    mean = np.bincount(labels, k_in) / np.maximum(size, 1)
    sq = np.bincount(labels, k_in**2) / np.maximum(size, 1)
    std = np.sqrt(np.maximum(sq - mean**2, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std[labels] > 0, (k_in - mean[labels]) / std[labels], 0.0)
    return z.astype(np.float64)


def participation_coefficient(
    u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], labels: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """``P_i = 1 - Σ_s (k_is / k_i)^2`` over the communities ``s`` of i's contacts.

    Examples
    --------
    >>> # node 0 has one contact in each of two communities: P = 1 - (1/2)^2 - (1/2)^2
    >>> participation_coefficient(np.array([0, 0]), np.array([1, 2]), np.array([1, 1, 2]))[0]
    np.float64(0.5)
    """
    n = len(labels)
    ends = np.concatenate([u, v])
    other = np.concatenate([labels[v], labels[u]])
    k = np.bincount(ends, minlength=n).astype(np.float64)
    # count contacts per (node, community) with one sort instead of a dense n x c matrix
    keys = ends.astype(np.int64) * (int(labels.max()) + 1) + other
    unique, counts = np.unique(keys, return_counts=True)
    nodes = unique // (int(labels.max()) + 1)
    sum_sq = np.bincount(nodes, counts.astype(np.float64) ** 2, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(k > 0, 1.0 - sum_sq / k**2, 0.0)
    return p.astype(np.float64)
