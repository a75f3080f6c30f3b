"""Random translations of image samples: the training set's augmentation.

With ``shift`` K, every training sample of an epoch is moved by a whole
number of pixels drawn uniformly from -K..K along each axis (rows and
columns independently), anew every epoch; the pixels moved in from outside
the image are zero, those moved out are lost.  The test samples are never
moved.  Small translations are a classic augmentation of handwritten
digits (Simard, Steinkraus & Platt 2003 used them with elastic
distortions); they let a network that fits its
few thousand training samples learn what does not move with the pen.
"""

import numpy as np


def check_shift(shift, dataset):
    """A ValueError naming the problem when ``dataset`` cannot be shifted by
    ``shift`` pixels: it has no image shape, or the shift leaves nothing."""
    if not shift:
        return
    shape = getattr(dataset, "image_shape", None)
    if shape is None:
        raise ValueError(f"shift: dataset {dataset.name} has no image shape (its samples are not images), "
                         "so its samples cannot be shifted; leave shift at 0")
    if shift >= min(shape):
        raise ValueError(f"shift: {shift} pixels would move whole {shape[0]}x{shape[1]} images of "
                         f"{dataset.name} out of view; give at most {min(shape) - 1}")


def describe(shift):
    """What a shift of ``shift`` pixels does, for a run's first line and `brianrules show`."""
    return (f"the training images shifted by up to {shift} pixel{'s' if shift > 1 else ''} along each axis, "
            "anew every epoch")


def shifted(x, shape, dy, dx):
    """``x`` (samples x rows*cols) with sample n moved by ``dy[n]`` rows
    (down for positive) and ``dx[n]`` columns (right for positive), zeros
    moved in."""
    rows, cols = shape
    img = np.asarray(x).reshape(len(x), rows, cols)
    out = np.zeros_like(img)
    for a in np.unique(dy):
        for b in np.unique(dx):
            n = (dy == a) & (dx == b)
            if not n.any():
                continue
            src = img[n][:, max(0, -a):rows - max(0, a), max(0, -b):cols - max(0, b)]
            block = np.zeros((int(n.sum()), rows, cols), dtype=img.dtype)
            block[:, max(0, a):rows - max(0, -a), max(0, b):cols - max(0, -b)] = src
            out[n] = block
    return out.reshape(len(x), rows * cols)


def random_shifts(n, shift, rng):
    """Row and column offsets of ``n`` samples, each uniform in -shift..shift."""
    return rng.integers(-shift, shift + 1, n), rng.integers(-shift, shift + 1, n)
