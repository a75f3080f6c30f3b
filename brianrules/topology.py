"""Connection patterns with a known synapse order."""

import numpy as np


def connect_all(S):
    """All-to-all connections in row-major order: synapse k = i * n_post + j.

    Connecting from explicit index arrays (rather than ``connect()``) fixes
    the order in which synapses are stored on every device, so weight
    matrices can be set and read back without asking the device for ``i``
    and ``j`` (which a standalone program only knows after it has run).
    """
    n_pre, n_post = S.source.N, S.target.N
    S.connect(i=np.repeat(np.arange(n_pre), n_post), j=np.tile(np.arange(n_post), n_pre))
