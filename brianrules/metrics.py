"""The columns of a training's metrics.csv, one row per epoch, and the file
itself: the network-wide figures, the per-layer ones, and the collapse
conditions as text."""

import csv
import math

import numpy as np

from .files import atomic_write

METRIC_COLUMNS = ["epoch", "train_acc", "test_acc", "wall_s", "run_s", "samples_per_s",
                  "hidden_rate_hz", "output_rate_hz", "max_abs_w"]


#: the column of an epoch's collapse conditions (`health.Diagnosis.column`:
#: labels joined by "+", empty for a working network)
COLLAPSE_COLUMN = "collapse"
#: columns of metrics.csv that hold text
TEXT_COLUMNS = (COLLAPSE_COLUMN,)


#: the names of the per-layer columns: prefix + layer (or projection) number from 1
RATE_PREFIX, CHANGE_PREFIX = "rate_hz_h", "dw_rel_"


def layer_columns(n_hidden):
    """The per-layer columns of a network with ``n_hidden`` hidden layers:
    the mean rate of each hidden layer (Hz) and, per projection, the
    epoch's weight change relative to the weights before it,
    ||W_after - W_before||_F / ||W_before||_F.  They show which layer falls
    quiet and which stops learning, which the network-wide means hide."""
    return ([f"{RATE_PREFIX}{k + 1}" for k in range(n_hidden)]
            + [f"{CHANGE_PREFIX}{k + 1}" for k in range(n_hidden + 1)])


def numbered_columns(columns, prefix):
    """The columns ``prefix`` + a layer (or projection) number among ``columns``, in the order of the numbers."""
    return sorted((c for c in columns if c.startswith(prefix) and c[len(prefix):].isdigit()),
                  key=lambda c: int(c[len(prefix):]))


def layer_columns_in(columns):
    """The per-layer columns among ``columns``: (rates, weight changes), each
    in the order of the layers."""
    return numbered_columns(columns, RATE_PREFIX), numbered_columns(columns, CHANGE_PREFIX)


def columns_of(rows):
    """METRIC_COLUMNS, then every other column of ``rows`` in order of appearance."""
    extra = dict.fromkeys(k for r in rows for k in r if k not in METRIC_COLUMNS)
    return METRIC_COLUMNS + list(extra)


def relative_change(before, after):
    """||after - before||_F / ||before||_F per projection (the change itself where before is 0)."""
    out = []
    for a, b in zip(before, after):
        scale = float(np.linalg.norm(a))
        change = float(np.linalg.norm(b - a))
        out.append(change / scale if scale > 0 else change)
    return out


def write_metrics(path, rows):
    def w(tmp):
        with open(tmp, "w", newline="") as f:
            # restval: a run resumed from a file written before a column existed
            writer = csv.DictWriter(f, fieldnames=columns_of(rows), restval="")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, w)


def read_metrics(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        out.append({k: (int(v) if k == "epoch" else v if k in TEXT_COLUMNS else float(v) if v != "" else math.nan)
                    for k, v in r.items()})
    return out


#: the per-layer column of the angle between a feedback matrix and the forward weights it stands for
ANGLE_PREFIX = "angle_B_"


def matrix_angle_deg(A, B):
    """The angle between two matrices as vectors, arccos(<A, B>_F / (||A|| ||B||)), in degrees."""
    a, b = np.ravel(A), np.ravel(B)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0:
        return math.nan
    return math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b) / norm))))


def feedback_angles(weights, feedback):
    """For layer-wise feedback (B_k carries hidden layer k's signal from
    layer k + 1, as W_(k+1)^T would): the angle between B_k and W_(k+1)^T
    per hidden layer, in degrees (Lillicrap et al. 2016 follow it as the
    forward weights come to align with fixed B; Kolen-Pollack learning
    shrinks it)."""
    out = []
    for k, B in enumerate(feedback):
        W = weights[k + 1]
        out.append(matrix_angle_deg(B, W.T) if np.shape(B) == np.shape(W.T) else math.nan)
    return out
