"""Connection patterns with a known synapse order."""

import numpy as np


def connect_all(S):
    """All-to-all connections in row-major order: synapse k = i * n_post + j.

    Connecting from explicit index arrays (rather than ``connect()``) fixes
    the order in which synapses are stored on every device, so weight
    matrices can be set and read back without asking the device for ``i``
    and ``j`` (which a standalone program only knows after it has run).
    """
    connect_pairs(S, *all_to_all(S.source.N, S.target.N))


def all_to_all(n_pre, n_post, without_self=False):
    """Index arrays (i, j) of all-to-all connections in row-major order;
    ``without_self`` leaves out i == j (a recurrent projection)."""
    i, j = np.repeat(np.arange(n_pre), n_post), np.tile(np.arange(n_post), n_pre)
    if without_self:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


def connect_pairs(S, i, j):
    """Connect ``S`` from explicit index arrays; returns them."""
    S.connect(i=i, j=j)
    return i, j
