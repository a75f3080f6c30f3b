"""Connection patterns with a known synapse order."""

import re

import numpy as np


def connect_all(S):
    """All-to-all connections in row-major order: synapse k = i * n_post + j
    (within each copy of a batched network, `copies_of`, copy-major).

    Connecting from explicit index arrays (rather than ``connect()``) fixes
    the order in which synapses are stored on every device, so weight
    matrices can be set and read back without asking the device for ``i``
    and ``j`` (which a standalone program only knows after it has run).
    """
    copies = copies_of(S.source)
    n_pre, n_post = S.source.N // copies, S.target.N // copies
    connect_pairs(S, *block_pairs(*all_to_all(n_pre, n_post), n_pre, n_post, copies))


def block_pairs(i, j, n_pre, n_post, copies):
    """Index arrays of ``copies`` copies of the connections (i, j) between
    populations of n_pre and n_post neurons per copy, copy-major: copy b
    connects neurons ``b * n_pre + i`` to ``b * n_post + j``."""
    if copies == 1:
        return i, j
    b = np.repeat(np.arange(copies), len(i))
    return np.tile(i, copies) + b * n_pre, np.tile(j, copies) + b * n_post


def copies_of(group):
    """How many copies of its population ``group`` holds (`mark_copies`;
    1 for an unbatched network)."""
    return getattr(group, "_brianrules_copies", 1)


def mark_copies(group, copies):
    """Record on ``group`` that it holds ``copies`` copies of a population
    (a batched network, `build.batch`)."""
    if copies > 1:
        group.add_attribute("_brianrules_copies")
        group._brianrules_copies = int(copies)


def all_to_all(n_pre, n_post, without_self=False, post_major=False):
    """Index arrays (i, j) of all-to-all connections in row-major order
    (``post_major``: column-major, by postsynaptic neuron first);
    ``without_self`` leaves out i == j (a recurrent projection)."""
    i, j = np.repeat(np.arange(n_pre), n_post), np.tile(np.arange(n_post), n_pre)
    if post_major:
        order = np.lexsort((i, j))
        i, j = i[order], j[order]
    if without_self:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


def sums_into_source(model):
    """Whether a synapse model has a ``(summed)`` variable written into its
    presynaptic group (``X_pre = ... : 1 (summed)``).  Its synapses are best
    stored post-major (`all_to_all`): Brian2 adds each synapse's term into its
    target in synapse order, so in row-major order one presynaptic neuron
    takes n_post dependent additions in a row, while post-major order adds into
    a different neuron from one synapse to the next.  Either way every target
    sums its terms in the same order (i then j ascending), so the sums are
    equal to the last bit; SuperSpike's symmetric feedback ran 3.3 times
    faster (BENCHMARKS.md)."""
    return re.search(r"^\s*\w+_pre\s*=.*\(summed\)", model, flags=re.MULTILINE) is not None


def connect_pairs(S, i, j):
    """Connect ``S`` from explicit index arrays; returns them."""
    S.connect(i=i, j=j)
    return i, j
