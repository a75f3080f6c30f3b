"""Event data loaders: SHD (HDF5) and N-MNIST (binary), on small files
written here in the data sets' formats."""

import h5py
import numpy as np
import pytest

from brianrules.data.events import EventDataset, load_nmnist, load_shd, read_nmnist_file
from brianrules.data.sequences import SequenceTask

# --- SHD ---------------------------------------------------------------------

# three samples: spike times (s), units, label; times sit away from 1 ms and 5 ms bin edges
SHD_SAMPLES = [
    ([0.0012, 0.0018, 0.0031, 0.0126], [5, 5, 699, 0], 3),
    ([0.0004], [10], 19),
    ([0.0072, 0.0073, 0.0074], [1, 1, 2], 0),
]


def _write_shd(path, samples=SHD_SAMPLES, drop=None, speakers=True):
    with h5py.File(path, "w") as f:
        if drop != "spikes/times":
            times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
            for i, (t, _, _) in enumerate(samples):
                times[i] = np.array(t, dtype=np.float32)
        if drop != "spikes/units":
            units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
            for i, (_, u, _) in enumerate(samples):
                units[i] = np.array(u, dtype=np.uint16)
        if drop != "labels":
            f.create_dataset("labels", data=np.array([s[2] for s in samples], dtype=np.uint16))
        if speakers:
            f.create_dataset("extra/speaker", data=np.arange(len(samples), dtype=np.uint16) + 4)
    return path


@pytest.fixture
def shd_file(tmp_path):
    return _write_shd(tmp_path / "shd_test.h5")


def test_shd_events_and_labels(shd_file):
    ds = load_shd(shd_file)
    assert isinstance(ds, EventDataset)
    assert len(ds) == 3 and ds.n_channels == 700 and ds.n_classes == 20
    np.testing.assert_array_equal(ds.labels, [3, 19, 0])
    np.testing.assert_array_equal(ds.speakers, [4, 5, 6])
    for (t, u, _), dt, du in zip(SHD_SAMPLES, ds.times, ds.units):
        np.testing.assert_allclose(dt, np.array(t, dtype=np.float32), rtol=0, atol=0)
        np.testing.assert_array_equal(du, u)
        assert dt.dtype == np.float64 and du.dtype == np.int64
    np.testing.assert_array_equal(ds.n_events, [4, 1, 3])


def test_shd_binned_counts(shd_file):
    ds = load_shd(shd_file)
    # default grid: 1 ms bins up to the latest event (12.6 ms -> 13 bins)
    x = ds.bin()
    assert x.shape == (3, 13, 700)
    expected = np.zeros((3, 13, 700))
    expected[0, 1, 5] = 2  # 1.2 and 1.8 ms
    expected[0, 3, 699] = 1
    expected[0, 12, 0] = 1
    expected[1, 0, 10] = 1
    expected[2, 7, 1] = 2  # 7.2 and 7.3 ms
    expected[2, 7, 2] = 1
    np.testing.assert_array_equal(x, expected)
    # 5 ms bins up to 10 ms: the event at 12.6 ms is left out
    y = ds.bin(dt=5e-3, t_max=1e-2)
    assert y.shape == (3, 2, 700)
    expected = np.zeros((3, 2, 700))
    expected[0, 0, 5] = 2
    expected[0, 0, 699] = 1
    expected[1, 0, 10] = 1
    expected[2, 1, 1] = 2
    expected[2, 1, 2] = 1
    np.testing.assert_array_equal(y, expected)
    assert y.sum() == sum(len(t) for t, _, _ in SHD_SAMPLES) - 1


def test_shd_n_bins_and_max_samples(shd_file):
    ds = load_shd(shd_file, n_bins=4, t_max=0.02, max_samples=2)
    assert len(ds) == 2 and ds.n_classes == 20  # classes from all the file's labels
    assert ds.dt == pytest.approx(0.005) and ds.t_max == pytest.approx(0.02)
    x = ds.bin()
    assert x.shape == (2, 4, 700)
    assert x[0, 0, 5] == 2 and x[0, 0, 699] == 1 and x[0, 2, 0] == 1 and x[1, 0, 10] == 1
    assert x.sum() == 5
    # n_bins without t_max: n_bins bins of dt
    assert load_shd(shd_file, n_bins=7, dt=2e-3).bin().shape == (3, 7, 700)


def test_shd_sequence_task(shd_file):
    ds = load_shd(shd_file, dt=2e-3, t_max=0.016)
    task = ds.to_task(window=0.004)
    assert isinstance(task, SequenceTask)
    assert task.inputs.shape == (3, 8, 700) and task.targets.shape == (3, 8, 20) and task.mask.shape == (3, 8)
    assert task.dt == pytest.approx(2e-3)
    np.testing.assert_array_equal(task.inputs, ds.bin())
    np.testing.assert_array_equal(task.mask, np.repeat([[0, 0, 0, 0, 0, 0, 1, 1]], 3, axis=0))
    np.testing.assert_array_equal(task.labels, [3, 19, 0])
    assert np.all(task.targets[:, :6] == 0)
    for i, label in enumerate(task.labels):
        assert np.all(task.targets[i, 6:, label] == 1) and task.targets[i, 6:].sum() == 2
    whole = ds.to_task()
    assert np.all(whole.mask == 1) and np.all(whole.targets.sum(axis=2) == 1)


def test_shd_subset(shd_file):
    ds = load_shd(shd_file)
    sub = ds.subset([2, 0])
    np.testing.assert_array_equal(sub.labels, [0, 3])
    np.testing.assert_array_equal(sub.speakers, [6, 4])
    np.testing.assert_array_equal(sub.bin(t_max=0.013), ds.bin()[[2, 0]])


def test_shd_errors(tmp_path, shd_file):
    missing = tmp_path / "nowhere.h5"
    with pytest.raises(FileNotFoundError, match="nowhere.h5"):
        load_shd(missing)
    for key in ("spikes/units", "spikes/times", "labels"):
        bad = _write_shd(tmp_path / f"no_{key.replace('/', '_')}.h5", drop=key)
        with pytest.raises(ValueError, match=key) as info:
            load_shd(bad)
        assert str(bad) in str(info.value)
    text = tmp_path / "not.h5"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not.h5"):
        load_shd(text)
    with pytest.raises(ValueError, match="dt"):
        load_shd(shd_file, dt=0)
    with pytest.raises(ValueError, match="n_bins"):
        load_shd(shd_file, n_bins=0)
    with pytest.raises(ValueError, match="max_samples"):
        load_shd(shd_file, max_samples=0)
    ds = load_shd(shd_file)
    with pytest.raises(ValueError, match="dt"):
        ds.bin(dt=-1e-3)
    with pytest.raises(ValueError, match="whole number of bins"):
        ds.bin(dt=3e-3, t_max=0.01)
    with pytest.raises(ValueError, match="window"):
        ds.to_task(window=1.0)
    wide = _write_shd(tmp_path / "wide.h5", samples=[([0.001], [700], 0)])
    with pytest.raises(ValueError, match="units outside"):
        load_shd(wide)


# --- N-MNIST -----------------------------------------------------------------

def _event(x, y, p, t_us):
    """One N-MNIST event packed by hand: x, y, then polarity in bit 7 of the
    third byte and the 23-bit time (us) over the low 7 bits and two bytes."""
    return bytes([x, y, (p << 7) | ((t_us >> 16) & 0x7F), (t_us >> 8) & 0xFF, t_us & 0xFF])


NM_FILES = {  # (split, digit, name): events (x, y, p, t_us)
    ("Train", 0, "00002.bin"): [(0, 0, 0, 10), (33, 33, 1, 1500), (5, 7, 1, 70000)],  # 70000 us > 2**16
    ("Train", 0, "00001.bin"): [(1, 2, 0, 400)],
    ("Train", 3, "00005.bin"): [(2, 0, 1, 2500), (2, 0, 1, 2600)],
    ("Test", 9, "00001.bin"): [(4, 4, 0, 100)],
}


@pytest.fixture
def nmnist_root(tmp_path):
    for (split, digit, name), events in NM_FILES.items():
        d = tmp_path / "N-MNIST" / split / str(digit)
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(b"".join(_event(*e) for e in events))
    return tmp_path / "N-MNIST"


def _channel(x, y, p):
    return p * 34 * 34 + y * 34 + x


def test_nmnist_byte_layout(tmp_path):
    path = tmp_path / "one.bin"
    path.write_bytes(_event(5, 7, 1, 70000) + _event(33, 0, 0, (1 << 23) - 1))
    x, y, p, t = read_nmnist_file(path)
    np.testing.assert_array_equal(x, [5, 33])
    np.testing.assert_array_equal(y, [7, 0])
    np.testing.assert_array_equal(p, [1, 0])
    np.testing.assert_array_equal(t, [70000, (1 << 23) - 1])
    assert path.read_bytes()[2] == 0x81  # polarity bit and time bit 16


def test_nmnist_overflow_marker(tmp_path):
    path = tmp_path / "overflow.bin"
    path.write_bytes(_event(1, 1, 0, 100) + _event(0, 240, 0, 0) + _event(2, 2, 1, 50))
    x, y, p, t = read_nmnist_file(path)
    np.testing.assert_array_equal(x, [1, 2])  # the marker (y = 240) is dropped
    np.testing.assert_array_equal(t, [100, 50 + 2 ** 13])  # later events move by 2**13 us


def test_nmnist_events_labels_and_bins(nmnist_root):
    ds = load_nmnist(nmnist_root, "Train")
    assert isinstance(ds, EventDataset)
    assert len(ds) == 3 and ds.n_channels == 2312 and ds.n_classes == 10
    np.testing.assert_array_equal(ds.labels, [0, 0, 3])
    # digit 0, files in name order: 00001 then 00002
    np.testing.assert_allclose(ds.times[0], [400e-6])
    np.testing.assert_array_equal(ds.units[0], [_channel(1, 2, 0)])
    np.testing.assert_allclose(ds.times[1], [10e-6, 1500e-6, 0.07])
    np.testing.assert_array_equal(ds.units[1], [_channel(0, 0, 0), _channel(33, 33, 1), _channel(5, 7, 1)])
    np.testing.assert_array_equal(ds.units[2], [_channel(2, 0, 1)] * 2)
    # 1 ms bins up to the latest event (70 ms -> 71 bins)
    x = ds.bin()
    assert x.shape == (3, 71, 2312)
    expected = np.zeros((3, 71, 2312))
    expected[0, 0, _channel(1, 2, 0)] = 1
    expected[1, 0, _channel(0, 0, 0)] = 1
    expected[1, 1, _channel(33, 33, 1)] = 1
    expected[1, 70, _channel(5, 7, 1)] = 1
    expected[2, 2, _channel(2, 0, 1)] = 2
    np.testing.assert_array_equal(x, expected)
    task = ds.to_task(window=0.01, t_max=0.08)
    assert task.inputs.shape == (3, 80, 2312) and task.targets.shape == (3, 80, 10)
    assert np.all(task.mask[:, :70] == 0) and np.all(task.mask[:, 70:] == 1)
    assert np.all(task.targets[[0, 1], 70:, 0] == 1) and np.all(task.targets[2, 70:, 3] == 1)


def test_nmnist_split_and_max_per_class(nmnist_root):
    test = load_nmnist(nmnist_root, "Test")
    np.testing.assert_array_equal(test.labels, [9])
    few = load_nmnist(nmnist_root, max_per_class=1)
    np.testing.assert_array_equal(few.labels, [0, 3])
    np.testing.assert_allclose(few.times[0], [400e-6])


def test_nmnist_errors(tmp_path, nmnist_root):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_nmnist(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="split"):
        load_nmnist(nmnist_root, "Validation")
    (tmp_path / "empty" / "Train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no .bin files"):
        load_nmnist(tmp_path / "empty")
    (nmnist_root / "Train" / "3" / "00009.bin").write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match="00009.bin"):
        load_nmnist(nmnist_root)
    with pytest.raises(ValueError, match="max_per_class"):
        load_nmnist(nmnist_root, max_per_class=0)
