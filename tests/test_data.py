"""Datasets and encoding."""

import os

import numpy as np
import pytest

from brianrules import data


def test_digits_split_is_fixed_stratified_80_20():
    a, b = data.load("digits"), data.load("digits")
    assert a.x_train.shape == (1437, 64) and a.x_test.shape == (360, 64)
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_train, b.y_train)
    assert a.x_train.min() == 0.0 and a.x_train.max() == 1.0
    full = np.bincount(np.concatenate([a.y_train, a.y_test]), minlength=10) / 1797
    test = np.bincount(a.y_test, minlength=10) / 360
    assert np.abs(full - test).max() < 0.01  # every class in proportion
    # no test sample is also a training sample
    train_rows = {row.tobytes() for row in a.x_train}
    assert sum(row.tobytes() in train_rows for row in a.x_test) < 5  # digits has a few duplicates


def test_epoch_arrays_train_then_frozen_test():
    ds = data.load("digits")
    order = np.random.default_rng(0).permutation(len(ds.y_train))
    stim, tgt, learn, labels = data.epoch_arrays(ds, order, 10)
    n = len(ds.y_train)
    assert stim.shape == (n + 360, 64) and tgt.shape == (n + 360, 10)
    assert np.array_equal(stim[:n], ds.x_train[order]) and np.array_equal(stim[n:], ds.x_test)
    assert np.array_equal(tgt.argmax(1), labels) and np.all(tgt.sum(1) == 1)
    assert learn[:n].min() == 1 and learn[n:].max() == 0


def test_bad_dataset_arrays_name_the_problem():
    x = np.zeros((4, 3))
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="x_train contains NaN"):
        data.Dataset("t", np.full((4, 3), np.nan), y, x, y, 2)
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        data.Dataset("t", x, np.array([0, 1, 2, 1]), x, y, 2)
    with pytest.raises(ValueError, match="y_test has shape"):
        data.Dataset("t", x, y, x, y[:3], 2)
    with pytest.raises(ValueError, match="intensities must lie in"):
        data.Dataset("t", x + 2, y, x, y, 2)
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        data.load("mnist")


def test_builtin_dataset_cache_returns_the_loaders_arrays(tmp_path, monkeypatch):
    from brianrules.data import datasets

    monkeypatch.setenv("BRIANRULES_CACHE", str(tmp_path))
    fresh = datasets.digits()
    first = datasets.cached("digits")  # loads and writes the cache
    path = datasets._cache_path("digits")
    assert os.path.isfile(path) and path.startswith(str(tmp_path))
    monkeypatch.setitem(datasets.DATASETS, "digits", lambda: pytest.fail("the cache was not used"))
    again = datasets.cached("digits")
    for d in (first, again):
        for part in ("x_train", "y_train", "x_test", "y_test"):
            assert np.array_equal(getattr(d, part), getattr(fresh, part))
            assert getattr(d, part).dtype == getattr(fresh, part).dtype
        assert d.n_classes == 10 and d.name == "digits"
    # a damaged cache file is replaced by a fresh load
    with open(path, "wb") as f:
        f.write(b"not an npz file")
    monkeypatch.setitem(datasets.DATASETS, "digits", datasets.digits)
    assert np.array_equal(datasets.cached("digits").x_test, fresh.x_test)
    with np.load(path) as z:
        assert np.array_equal(z["x_test"], fresh.x_test)
