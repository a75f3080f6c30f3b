"""Target spike rasters drawn from a picture, and frozen Poisson input, for spike-train learning.

Zenke & Ganguli (2018) teach 200 output neurons a raster drawn from an
image (their ``themes/mktarget.py``: one row of pixels per neuron, one
column per 10 ms, each dark pixel a spike at its column's time plus a
uniform jitter in [0, 10) ms), driven by 200 frozen Poisson inputs at
about 5 Hz; input and target loop.  `text_picture` renders a picture of a
text with matplotlib (offline, no file needed), `picture_from_file`
reads one from an image file, `picture_raster` turns a picture into spike
times, `poisson_raster` draws the frozen input and
`to_grid` puts spikes on a simulation's time grid.
"""

import numpy as np


def text_picture(text="SPIKE", rows=200, columns=120, fontsize=None):
    """A boolean picture (rows, columns) of ``text`` in sans-serif,
    stretched to fill it: True where ink is."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not isinstance(text, str) or not text.strip():
        raise ValueError("the picture's text must be a non-empty string")
    dpi = 100
    fig = plt.figure(figsize=(4 * len(text), 6), dpi=dpi)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=fontsize or 200, fontweight="normal",
             family="DejaVu Sans")
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[:, :, 0] < 128
    plt.close(fig)
    return fit_picture(img, rows, columns)


def picture_from_file(path, rows=200, columns=120):
    """A boolean picture (rows, columns) from an image file that matplotlib
    reads (PNG): dark pixels are ink (grey level under one half, a
    transparent pixel white), cropped to the ink's bounding box and
    stretched to fill the grid."""
    import matplotlib.image

    try:
        img = np.asarray(matplotlib.image.imread(path), dtype=float)
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"cannot read the picture {path}: {e}") from None
    if img.ndim == 3:
        grey = img[:, :, :3].mean(axis=2) if img.shape[2] >= 3 else img[:, :, 0]
        if img.shape[2] == 4:  # transparent is white
            grey = grey * img[:, :, 3] + (1 - img[:, :, 3])
        img = grey
    if img.max() > 1:  # 8-bit values
        img = img / 255.0
    ink = img < 0.5
    if not ink.any():
        raise ValueError(f"the picture {path} has no dark pixels (ink: grey level under one half)")
    return fit_picture(ink, rows, columns)


def fit_picture(img, rows, columns):
    """A boolean image cropped to its ink's bounding box and put on a grid
    of (rows, columns) with a margin of one cell, each cell inked where
    most of it is."""
    for name, value in (("rows", rows), ("columns", columns)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 8:
            raise ValueError(f"the picture's {name} must be an integer of at least 8, got {value!r}")
    ys, xs = np.nonzero(img)
    img = np.asarray(img, dtype=float)[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = img.shape
    inner_r, inner_c = rows - 2, columns - 2
    out = np.zeros((rows, columns), dtype=bool)
    r_edges = np.linspace(0, h, inner_r + 1)
    c_edges = np.linspace(0, w, inner_c + 1)
    for a in range(inner_r):
        r0, r1 = int(r_edges[a]), max(int(r_edges[a + 1]), int(r_edges[a]) + 1)
        row = img[r0:r1].mean(axis=0)
        for b in range(inner_c):
            c0, c1 = int(c_edges[b]), max(int(c_edges[b + 1]), int(c_edges[b]) + 1)
            out[1 + a, 1 + b] = row[c0:c1].mean() > 0.5
    return out


def picture_raster(picture, column_s=10e-3, jitter_s=10e-3, seed=0):
    """Spike times of a picture: row ``r`` is neuron ``r`` (top row first),
    every inked pixel of column ``c`` a spike at ``c column_s + U[0,
    jitter_s)``.  Returns ``(indices, times, duration)`` with ``duration =
    columns * column_s``."""
    picture = np.asarray(picture, dtype=bool)
    if picture.ndim != 2:
        raise ValueError(f"a picture must be 2-D (rows, columns), got shape {picture.shape}")
    if not (column_s > 0 and 0 <= jitter_s <= column_s):
        raise ValueError(f"need column_s > 0 and 0 <= jitter_s <= column_s, got {column_s}, {jitter_s}")
    rng = np.random.default_rng(seed)
    rows, cols = np.nonzero(picture)
    times = cols * column_s + rng.uniform(0.0, jitter_s, len(cols))
    order = np.argsort(times, kind="stable")
    return rows[order], times[order], picture.shape[1] * column_s


def poisson_raster(n, rate_hz, duration, seed=0):
    """Frozen Poisson spike trains: ``(indices, times)`` of ``n`` neurons at
    ``rate_hz`` over ``duration`` seconds."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate_hz * duration, n)
    idx = np.repeat(np.arange(n), counts)
    times = rng.uniform(0.0, duration, len(idx))
    order = np.argsort(times, kind="stable")
    return idx[order], times[order]


def to_grid(indices, times, n, duration, dt):
    """Spikes on the grid of ``dt``: a (steps, n) array of 0/1 (at most one
    spike per step and neuron; a second in the same step is dropped) and
    how many were dropped."""
    steps = int(round(duration / dt))
    if abs(steps * dt - duration) > 1e-9:
        raise ValueError(f"the raster's duration ({duration:g} s) is not a whole number of steps of {dt:g} s")
    grid = np.zeros((steps, n))
    k = np.minimum((np.asarray(times) / dt + 1e-9).astype(int), steps - 1)
    np.add.at(grid, (k, np.asarray(indices)), 1.0)
    dropped = int(np.sum(np.maximum(grid - 1, 0)))
    return np.minimum(grid, 1.0), dropped


__all__ = ["fit_picture", "picture_from_file", "picture_raster", "poisson_raster", "text_picture", "to_grid"]
