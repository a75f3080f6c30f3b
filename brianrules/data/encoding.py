"""Encoders: samples -> the arrays behind the stimulus and target TimedArrays.

Rate coding: the intensity of input i in sample n sets the Poisson rate
``max_rate * stim[n, i]`` for the sample's presentation (the network draws
the spikes).  Targets are one-hot rows: ``tgt[n, k] = 1`` for the label.
"""

import numpy as np


def one_hot(labels, n_classes):
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def epoch_arrays(dataset, order, n_out, shift=0, seed=None):
    """Arrays of one epoch: the training samples in ``order`` (learning on),
    then every test sample (learning off).  With ``shift`` K the training
    samples are moved by random whole pixels in -K..K along each axis, drawn
    from ``seed`` (`brianrules.data.augment`); the test samples never are.

    Returns (stim, tgt, learn, labels), each with one row per sample.
    """
    x_train = dataset.x_train[order]
    if shift:
        from .augment import check_shift, random_shifts, shifted

        check_shift(shift, dataset)
        dy, dx = random_shifts(len(order), shift, np.random.default_rng(seed))
        x_train = shifted(x_train, dataset.image_shape, dy, dx)
    x = np.concatenate([x_train, dataset.x_test])
    labels = np.concatenate([dataset.y_train[order], dataset.y_test])
    learn = np.concatenate([np.ones(len(order)), np.zeros(len(dataset.y_test))])
    return x, one_hot(labels, n_out), learn, labels
