"""What a training keeps for the figures of its run (`run_plots`).

After each epoch the training calls `record_epoch`, which keeps

- ``weight_history.npz``: one histogram of each projection's weights per
  recorded epoch (epoch 0: the initial weights).  Keys: ``epochs`` (R,),
  the recorded epochs in order; for projection K (1: the first of the
  spec's projections) ``edges_K`` (`N_BINS` + 1,), its bin edges, and
  ``counts_K`` (R, `N_BINS`), the number of matrix entries in each bin.
  Every epoch of a projection shares its bins, so epochs compare bin by
  bin, and no weight falls outside them: the bins span [-m, m], m = 1.5
  max |W| at the first recorded epoch, and where a later epoch's weights
  reach beyond m the range doubles (as often as needed) and the stored
  histograms are merged pairwise into the wider bins, which holds them
  exactly since the new edges include the old ones.  Each row of
  ``counts_K`` sums to the number of entries of W_K (of a recurrent
  projection without self-connections, its zero diagonal included).
- ``test_counts.npz``: the latest epoch's output spike counts on the test
  set, ``counts`` (test samples x outputs, int64), with ``labels`` (test
  samples,) and ``epoch``.
"""

import os

import numpy as np

from ..files import write_npz

WEIGHT_HISTORY = "weight_history.npz"
TEST_COUNTS = "test_counts.npz"

#: bins of each projection's histogram; even, so that a doubled range merges pairs of bins exactly
N_BINS = 80


# -- what the training records ------------------------------------------------
def record_epoch(out, epoch, weights, test_counts=None, test_labels=None):
    """Add epoch ``epoch``'s weight histograms to ``out/weight_history.npz``
    and, with ``test_counts`` (test samples x outputs) and ``test_labels``,
    write ``out/test_counts.npz``; both written atomically.

    The records of ``epoch`` and of later epochs are replaced (a resumed
    training repeats them; epoch 0 starts a new history)."""
    path = os.path.join(out, WEIGHT_HISTORY)
    history = _earlier_records(path, epoch, weights)
    epochs = [*([] if history is None else history["epochs"]), epoch]
    arrays = {"epochs": np.asarray(epochs, dtype=np.int64)}
    for k, W in enumerate(weights):
        W = np.asarray(W, dtype=float)
        big = float(np.abs(W).max()) if W.size else 0.0
        if history is None:
            m, counts = 1.5 * big or 1.0, np.zeros((0, N_BINS), dtype=np.int64)
        else:
            m, counts = float(history["edges"][k][-1]), history["counts"][k]
        while big > m:
            counts, m = _widened(counts), 2 * m
        edges = bin_edges(m)
        row = np.histogram(W, bins=edges)[0]
        arrays[f"edges_{k + 1}"] = edges
        arrays[f"counts_{k + 1}"] = np.vstack([counts, row]).astype(np.int64)
    write_npz(path, **arrays)
    if test_counts is not None:
        write_test_counts(out, epoch, test_counts, test_labels)


def _earlier_records(path, epoch, weights):
    """The history in ``path`` of the epochs before ``epoch``; None where
    there is none or it holds other projections (a new training)."""
    if not os.path.isfile(path):
        return None
    history = read_weight_history(path)
    keep = history["epochs"] < epoch
    counts = [c[keep] for c in history["counts"]]
    same = len(counts) == len(weights) and all(np.all(c.sum(axis=1) == np.size(W)) for c, W in zip(counts, weights))
    return {**history, "epochs": history["epochs"][keep], "counts": counts} if keep.any() and same else None


def bin_edges(m):
    """The `N_BINS` bins of [-m, m]."""
    return np.linspace(-m, m, N_BINS + 1)


def _widened(counts):
    """Histograms over [-m, m] re-binned onto the `N_BINS` bins of [-2m, 2m]."""
    out = np.zeros_like(counts)
    out[:, N_BINS // 4: 3 * N_BINS // 4] = counts.reshape(len(counts), N_BINS // 2, 2).sum(axis=2)
    return out


def read_weight_history(path):
    """``weight_history.npz`` as {"epochs": (R,), "edges": [per projection
    (N_BINS + 1,)], "counts": [per projection (R, N_BINS)]}."""
    with np.load(path) as z:
        n = sum(1 for name in z.files if name.startswith("counts_"))
        return {"epochs": z["epochs"], "edges": [z[f"edges_{k + 1}"] for k in range(n)],
                "counts": [z[f"counts_{k + 1}"] for k in range(n)]}


def write_test_counts(out, epoch, counts, labels):
    write_npz(os.path.join(out, TEST_COUNTS), counts=np.asarray(counts, dtype=np.int64),
              labels=np.asarray(labels, dtype=np.int64), epoch=int(epoch))


def read_test_counts(path):
    """(counts, labels, epoch) of ``test_counts.npz``."""
    with np.load(path) as z:
        return z["counts"], z["labels"], int(z["epoch"])
