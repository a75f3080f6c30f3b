"""Datasets and encoders.

A dataset is a `Dataset`: intensities in [0, 1] (samples x inputs), integer
labels, and a fixed train/test split.  Encoders turn samples into the arrays
that the compiled program reads through `TimedArray` objects.
"""

from .base import Dataset
from .datasets import DATASETS, load, names
from .encoding import epoch_arrays, one_hot

__all__ = ["DATASETS", "Dataset", "load", "names", "epoch_arrays", "one_hot"]
