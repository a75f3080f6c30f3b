"""Datasets and encoders.

A dataset is a `Dataset`: intensities in [0, 1] (samples x inputs), integer
labels, and a fixed train/test split.  Encoders turn samples into the arrays
that the compiled program reads through `TimedArray` objects.

Sequence tasks (`SequenceTask`: inputs, targets and a mask per step) come
from `sequences` (Huh & Sejnowski's tasks), `cue_tasks` (evidence
accumulation, store-recall) and `events` (the Spiking Heidelberg Digits and
N-MNIST files, from a path the user gives).
"""

from .base import Dataset
from .datasets import DATASETS, load, names
from .encoding import epoch_arrays, one_hot

__all__ = ["DATASETS", "Dataset", "load", "names", "epoch_arrays", "one_hot"]
