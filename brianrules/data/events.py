"""Event data sets read from files the user already has (nothing is downloaded).

An `EventDataset` keeps each sample as a list of events: spike ``times``
(seconds, float64) and the ``units`` (input channels, int64) that fired,
with one integer label per sample.  `EventDataset.bin` turns the events
into dense spike counts (samples x steps x channels) and
`EventDataset.to_task` into a `SequenceTask` that a recurrent network can
be trained on.  Loaders:

- `load_shd`: the Spiking Heidelberg Digits (Cramer et al. 2020), one HDF5
  file per split, 700 channels, 20 classes;
- `load_nmnist`: N-MNIST (Orchard et al. 2015), one binary file per sample
  under ``<folder>/{Train,Test}/<digit>/``, 34 x 34 pixels x 2 polarities.

Binning.  A bin grid is a width ``dt`` (seconds) and an end ``t_max``;
``n_bins`` may replace one of them: with ``t_max`` the bins are
``t_max / n_bins`` wide (``dt`` is then not used), without it the grid
ends at ``n_bins * dt``.  ``t_max`` None means "up to the latest event of
the data set".  An event at time t falls in bin ``floor(t / dt)``; events
at or after ``t_max`` are left out.
"""

import os
from dataclasses import dataclass

import numpy as np

from .sequences import SequenceTask

#: SHD's input channels (the 700 fibres of the cochlea model; Cramer et al. 2020)
SHD_CHANNELS = 700
#: N-MNIST's sensor: 34 x 34 pixels (ATIS camera crop), 2 polarities (Orchard et al. 2015)
NMNIST_SIZE = 34
NMNIST_CHANNELS = 2 * NMNIST_SIZE * NMNIST_SIZE
NMNIST_SPLITS = ("Train", "Test")


def _check_grid(dt, t_max, n_bins):
    if not (isinstance(dt, (int, float, np.floating, np.integer)) and dt > 0):
        raise ValueError(f"dt (the bin width) must be a positive number of seconds, got {dt!r}")
    if t_max is not None and not (isinstance(t_max, (int, float, np.floating, np.integer)) and t_max > 0):
        raise ValueError(f"t_max must be None or a positive number of seconds, got {t_max!r}")
    if n_bins is not None and not (isinstance(n_bins, (int, np.integer)) and n_bins >= 1):
        raise ValueError(f"n_bins must be None or a positive integer, got {n_bins!r}")


def _resolve_grid(dt, t_max, n_bins):
    """(dt, t_max) from the three ways of giving a grid (see the module's
    docstring); t_max may stay None."""
    _check_grid(dt, t_max, n_bins)
    if n_bins is not None:
        if t_max is not None:
            return float(t_max) / n_bins, float(t_max)
        return float(dt), float(dt) * n_bins
    return float(dt), None if t_max is None else float(t_max)


@dataclass(frozen=True, eq=False)
class EventDataset:
    """Samples as event lists: ``times[i]`` (seconds) and ``units[i]``
    (channels 0..n_channels-1) of sample i, ``labels[i]`` its class.
    ``dt`` and ``t_max`` are the default bin grid of `bin` and `to_task`
    (``t_max`` None: up to the latest event).  ``speakers``: SHD's
    ``extra/speaker`` when the file has it, else None."""

    name: str
    times: tuple
    units: tuple
    labels: np.ndarray
    n_channels: int
    n_classes: int
    dt: float = 1e-3
    t_max: float | None = None
    speakers: np.ndarray | None = None
    description: str = ""

    def __len__(self):
        return len(self.labels)

    @property
    def n_events(self):
        """Events per sample (int64 array)."""
        return np.array([len(t) for t in self.times], dtype=np.int64)

    def last_time(self):
        """The latest event time over all samples, in seconds (0 when there
        are no events)."""
        return max((float(np.max(t)) for t in self.times if len(t)), default=0.0)

    def subset(self, indices):
        """A new data set with the samples ``indices`` (in that order), the
        same grid and counts of channels and classes."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise ValueError(f"indices must lie in 0..{len(self) - 1}")
        return EventDataset(self.name, tuple(self.times[i] for i in idx), tuple(self.units[i] for i in idx),
                            self.labels[idx], self.n_channels, self.n_classes, self.dt, self.t_max,
                            None if self.speakers is None else self.speakers[idx], self.description)

    def grid(self, dt=None, t_max=None, n_bins=None):
        """(bin width, number of bins) used by `bin` for these arguments:
        arguments left None take the data set's ``dt`` and ``t_max``."""
        dt, t_max = _resolve_grid(self.dt if dt is None else dt, self.t_max if t_max is None else t_max, n_bins)
        if t_max is None:
            return dt, int(np.floor(self.last_time() / dt + 1e-9)) + 1
        steps = int(round(t_max / dt))
        if steps < 1 or abs(steps * dt - t_max) > 1e-6 * dt:
            raise ValueError(f"t_max = {t_max} s is not a whole number of bins of dt = {dt} s")
        return dt, steps

    def bin(self, dt=None, t_max=None, n_bins=None, dtype=np.float32):
        """Dense spike counts, samples x steps x channels: entry [i, k, c]
        counts sample i's events of channel c with ``k*dt <= t < (k+1)*dt``.
        The grid: see the module's docstring (arguments left None take the
        data set's ``dt`` and ``t_max``).  Memory: samples x steps x
        channels x 4 bytes for float32 (SHD's whole training split at 1 ms
        is tens of GB: use `subset` or coarser bins)."""
        dt, steps = self.grid(dt, t_max, n_bins)
        out = np.zeros((len(self), steps, self.n_channels), dtype=dtype)
        for i, (t, u) in enumerate(zip(self.times, self.units)):
            k = np.floor(np.asarray(t) / dt + 1e-9).astype(np.int64)
            keep = (k >= 0) & (k < steps)
            np.add.at(out[i], (k[keep], np.asarray(u)[keep]), 1)
        return out

    def to_task(self, window=None, dt=None, t_max=None, n_bins=None, dtype=np.float32):
        """A `SequenceTask` for classification: ``inputs`` are the binned
        spike counts (`bin`), ``targets`` one-hot over ``n_classes`` outputs
        and ``mask`` 1 during the last ``window`` seconds of each trial
        (None: the whole trial), 0 before; ``labels`` the samples' labels.
        The loss and readout window is the choice of the caller: SpyTorch's
        SHD tutorial reads the maximum over the whole trial, the NEST e-prop
        N-MNIST example a window at the end."""
        dt, steps = self.grid(dt, t_max, n_bins)
        if window is None:
            n_win = steps
        else:
            if not (isinstance(window, (int, float, np.floating, np.integer)) and window > 0):
                raise ValueError(f"window must be None or a positive number of seconds, got {window!r}")
            n_win = int(round(window / dt))
            if n_win < 1 or n_win > steps:
                raise ValueError(f"window = {window} s is {n_win} bins of {dt} s; it must be 1 to {steps} bins")
        inputs = self.bin(dt, steps * dt, None, dtype=dtype)
        targets = np.zeros((len(self), steps, self.n_classes), dtype=dtype)
        targets[np.arange(len(self))[:, None], np.arange(steps - n_win, steps)[None, :],
                self.labels[:, None]] = 1
        mask = np.zeros((len(self), steps), dtype=dtype)
        mask[:, steps - n_win:] = 1
        return SequenceTask(self.name, inputs, targets, mask, self.labels.copy(), dt,
                            f"{self.description or self.name}: {len(self)} samples, {steps} bins of "
                            f"{dt * 1e3:g} ms, loss over the last {n_win} bins")


def _shd_read(f, path, key, n):
    if key not in f:
        raise ValueError(f"{path} is not an SHD file: it has no dataset {key!r} "
                         f"(expected spikes/times, spikes/units and labels)")
    return f[key][:n] if n is not None else f[key][:]


def load_shd(path, n_bins=None, dt=1e-3, t_max=None, max_samples=None):
    """The Spiking Heidelberg Digits from one of its HDF5 files
    (``shd_train.h5`` or ``shd_test.h5`` of Cramer et al. 2020, IEEE TNNLS
    33:2744; zenkelab.org/datasets), read with h5py.  The keys, as tonic's
    SHD reader (neuromorphs/tonic, ``tonic/datasets/hsd.py``) reads them:
    ``spikes/times`` (one variable-length array of spike times in seconds
    per sample), ``spikes/units`` (the matching channels, 0..699) and
    ``labels`` (0..19: ten English and ten German digits); optional, from
    the data set's description, ``extra/speaker``.

    ``max_samples``: read only the first samples of the file.
    ``n_classes`` is taken from all the file's labels (max + 1, 20 for SHD)
    so that a truncated read keeps the full output size.  ``n_bins``,
    ``dt`` and ``t_max`` set the default bin grid (module docstring);
    SpyTorch's SHD tutorial uses 100 bins over 1.4 s."""
    _check_grid(dt, t_max, n_bins)
    if max_samples is not None and not (isinstance(max_samples, (int, np.integer)) and max_samples >= 1):
        raise ValueError(f"max_samples must be None or a positive integer, got {max_samples!r}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"SHD file {path} does not exist")
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is installed with the package's environment
        raise ImportError("load_shd needs h5py (pip install h5py)") from e
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path} is not a readable HDF5 file: {e}") from e
    with f:
        labels_all = np.asarray(_shd_read(f, path, "labels", None))
        times = _shd_read(f, path, "spikes/times", max_samples)
        units = _shd_read(f, path, "spikes/units", max_samples)
        speakers = np.asarray(f["extra/speaker"][:max_samples], dtype=np.int64) if "extra/speaker" in f else None
    n = len(labels_all) if max_samples is None else min(max_samples, len(labels_all))
    if len(times) != n or len(units) != n:
        raise ValueError(f"{path}: spikes/times ({len(times)}), spikes/units ({len(units)}) and labels "
                         f"({n}) differ in length")
    if labels_all.ndim != 1 or not np.issubdtype(labels_all.dtype, np.integer) or (labels_all < 0).any():
        raise ValueError(f"{path}: labels must be non-negative integers, one per sample")
    times = tuple(np.asarray(t, dtype=np.float64) for t in times)
    units = tuple(np.asarray(u, dtype=np.int64) for u in units)
    for i, (t, u) in enumerate(zip(times, units)):
        if t.shape != u.shape:
            raise ValueError(f"{path}: sample {i} has {t.size} spike times but {u.size} units")
        if u.size and (u.min() < 0 or u.max() >= SHD_CHANNELS):
            raise ValueError(f"{path}: sample {i} has units outside 0..{SHD_CHANNELS - 1}")
    dt, t_max = _resolve_grid(dt, t_max, n_bins)
    return EventDataset("shd", times, units, labels_all[:n].astype(np.int64), SHD_CHANNELS,
                        int(labels_all.max()) + 1 if labels_all.size else 0, dt, t_max, speakers,
                        f"SHD ({os.path.basename(path)})")


def read_nmnist_file(path):
    """Events of one N-MNIST ``.bin`` file as (x, y, p, t in microseconds),
    int64 arrays.  Each event is 5 bytes b0..b4: x = b0, y = b1, polarity
    p = b2 >> 7, t = (b2 & 127) << 16 | b3 << 8 | b4 (Orchard et al. 2015,
    the data set's description).  An event with y = 240 is a timestamp
    overflow marker, not a spike: it is dropped and 2**13 us is added to the
    times of all events after it, as tonic's ``read_mnist_file``
    (neuromorphs/tonic, ``tonic/io.py``) does, after Orchard's original
    reader."""
    path = os.fspath(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(f"{path}: {raw.size} bytes is not a whole number of 5-byte N-MNIST events")
    ev = raw.reshape(-1, 5).astype(np.int64)
    x, y = ev[:, 0], ev[:, 1]
    p = ev[:, 2] >> 7
    t = ((ev[:, 2] & 127) << 16) | (ev[:, 3] << 8) | ev[:, 4]
    overflow = y == 240
    t = t + (2 ** 13) * np.cumsum(overflow)  # an overflow event shifts itself and all after it
    keep = ~overflow
    return x[keep], y[keep], p[keep], t[keep]


def load_nmnist(folder, split="Train", max_per_class=None):
    """N-MNIST (Orchard et al. 2015, Front. Neurosci. 9:437) from its
    unpacked binary files: ``<folder>/<split>/<digit>/*.bin``, split
    ``"Train"`` or ``"Test"``, digit folders ``0``..``9`` (the label).
    Events are decoded by `read_nmnist_file`; a pixel event (x, y, p)
    becomes channel ``p*34*34 + y*34 + x`` of 2*34*34 = 2312, times are in
    seconds.  Samples are ordered by digit, then file name;
    ``max_per_class`` keeps the first files of each digit.  The default
    grid is 1 ms bins up to the latest event (each sample's three saccades
    last about 300 ms; the NEST e-prop N-MNIST example cuts at 336 ms)."""
    if split not in NMNIST_SPLITS:
        raise ValueError(f"split must be one of {NMNIST_SPLITS}, got {split!r}")
    if max_per_class is not None and not (isinstance(max_per_class, (int, np.integer)) and max_per_class >= 1):
        raise ValueError(f"max_per_class must be None or a positive integer, got {max_per_class!r}")
    folder = os.fspath(folder)
    root = os.path.join(folder, split)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"N-MNIST folder {root} does not exist (expected {folder}/{split}/<digit>/*.bin)")
    times, units, labels = [], [], []
    for digit in range(10):
        d = os.path.join(root, str(digit))
        if not os.path.isdir(d):
            continue
        files = sorted(name for name in os.listdir(d) if name.endswith(".bin"))
        for name in files[:max_per_class]:
            path = os.path.join(d, name)
            x, y, p, t = read_nmnist_file(path)
            if x.size and (x.max() >= NMNIST_SIZE or y.max() >= NMNIST_SIZE):
                raise ValueError(f"{path}: pixel outside the {NMNIST_SIZE} x {NMNIST_SIZE} sensor")
            times.append(t * 1e-6)
            units.append(p * NMNIST_SIZE * NMNIST_SIZE + y * NMNIST_SIZE + x)
            labels.append(digit)
    if not labels:
        raise FileNotFoundError(f"no .bin files in {root}/<digit>/ (digit folders 0..9)")
    return EventDataset("nmnist", tuple(times), tuple(units), np.array(labels, dtype=np.int64), NMNIST_CHANNELS,
                        10, 1e-3, None, None, f"N-MNIST {split}")


__all__ = ["EventDataset", "NMNIST_CHANNELS", "SHD_CHANNELS", "load_nmnist", "load_shd", "read_nmnist_file"]
