"""The cue tasks: evidence accumulation and store-recall."""

import math

import numpy as np
import pytest

from brianrules.data.cue_tasks import evidence_accumulation, store_recall
from brianrules.data.sequences import SequenceTask


def _within(count, n, p, sigmas=5.0):
    """``count`` successes of ``n`` Bernoulli(p) draws lie within ``sigmas``
    binomial standard deviations of n p."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


# --- evidence accumulation ---------------------------------------------------

N_EV = 200


@pytest.fixture(scope="module")
def ev():
    return evidence_accumulation(N_EV, seed=3)


def _cue_windows(n_cues=7, cue=100, spacing=50):
    return [(c * (cue + spacing) + spacing, c * (cue + spacing) + spacing + cue) for c in range(n_cues)]


def test_evidence_shapes(ev):
    assert isinstance(ev, SequenceTask)
    assert ev.inputs.shape == (N_EV, 2250, 40)
    assert ev.targets.shape == (N_EV, 2250, 2)
    assert ev.mask.shape == (N_EV, 2250)
    assert ev.labels.shape == (N_EV,)
    assert ev.dt == 1e-3 and ev.steps == 2250
    assert set(np.unique(ev.inputs)) <= {0.0, 1.0}
    assert set(np.unique(ev.labels)) == {0, 1}


def test_evidence_label_is_majority_of_spiking_cues(ev):
    x = ev.inputs
    in_cue = np.zeros(2250, dtype=bool)
    right_counts = np.zeros(N_EV, dtype=int)
    for a, b in _cue_windows():
        in_cue[a:b] = True
        left = x[:, a:b, 0:10].sum(axis=(1, 2))
        right = x[:, a:b, 10:20].sum(axis=(1, 2))
        # exactly one of the two cue groups fires in each cue window
        assert np.all((left > 0) != (right > 0))
        right_counts += right > 0
    # the cue groups are silent outside the cue windows
    assert x[:, ~in_cue, 0:20].sum() == 0
    np.testing.assert_array_equal(ev.labels, (right_counts >= 4).astype(int))


def test_evidence_cue_sides_follow_p_group(ev):
    """Right cues per trial follow the mixture of Bin(7, 0.3) and Bin(7, 0.7)."""
    x = ev.inputs
    n_right = sum((x[:, a:b, 10:20].sum(axis=(1, 2)) > 0).astype(int) for a, b in _cue_windows())
    pmf = [0.5 * math.comb(7, k) * (0.3 ** k * 0.7 ** (7 - k) + 0.7 ** k * 0.3 ** (7 - k)) for k in range(8)]
    dev = np.abs(n_right - 3.5)
    mean = sum(p * abs(k - 3.5) for k, p in enumerate(pmf))
    sd = math.sqrt(sum(p * (abs(k - 3.5) - mean) ** 2 for k, p in enumerate(pmf)))
    assert abs(dev.mean() - mean) < 5 * sd / math.sqrt(N_EV)


def test_evidence_firing_probabilities(ev):
    x = ev.inputs
    on = 0
    for a, b in _cue_windows():
        on += int(x[:, a:b, 0:20].sum())
    # 7 cues x 100 steps x 10 neurons per trial fire at 0.04 (40 Hz)
    assert _within(on, N_EV * 7 * 100 * 10, 0.04)
    # recall group: 0.04 in the last 150 steps, silent before
    assert _within(x[:, -150:, 20:30].sum(), N_EV * 150 * 10, 0.04)
    assert x[:, :-150, 20:30].sum() == 0
    # noise group: 0.01 throughout (the first step is silent, as in NEST)
    assert _within(x[:, 1:, 30:40].sum(), N_EV * 2249 * 10, 0.01)
    assert x[:, 0, :].sum() == 0


def test_evidence_mask_and_targets(ev):
    assert np.all(ev.mask[:, :2100] == 0) and np.all(ev.mask[:, 2100:] == 1)
    assert np.all(ev.targets[:, :2100] == 0)
    onehot = np.eye(2)[ev.labels]
    np.testing.assert_array_equal(ev.targets[:, 2100:], np.broadcast_to(onehot[:, None, :], (N_EV, 150, 2)))


def test_evidence_seeds():
    a, b = evidence_accumulation(4, seed=7), evidence_accumulation(4, seed=7)
    c = evidence_accumulation(4, seed=8)
    for name in ("inputs", "targets", "mask", "labels"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.inputs, c.inputs)


def test_evidence_other_timing():
    t = evidence_accumulation(3, seed=0, n_cues=3, delay=0.2, recall=0.05, group_size=2)
    assert t.inputs.shape == (3, 3 * 150 + 200 + 50, 8)
    assert t.mask.sum() == 3 * 50


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_trials=0), "n_trials"),
    (dict(n_cues=6), "n_cues"),
    (dict(p_group=0.7), "p_group"),
    (dict(dt=0.0), "dt"),
    (dict(rate=2000.0), "rate"),
    (dict(noise_rate=-1.0), "noise_rate"),
    (dict(cue=0.1005), "cue"),
    (dict(group_size=0), "group_size"),
    (dict(spacing=-0.05), "spacing"),
])
def test_evidence_bad_arguments(kwargs, name):
    args = dict(n_trials=2, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        evidence_accumulation(**args)


# --- store-recall -------------------------------------------------------------

N_SR = 60


@pytest.fixture(scope="module")
def sr():
    return store_recall(N_SR, seed=5)


def _symbols(task, n_symbols=12, n_sym=200, g=25):
    """Groups that fire per symbol (trials x symbols x 4: value 0, value 1,
    store, recall), read back from the spikes."""
    x = task.inputs.reshape(task.inputs.shape[0], n_symbols, n_sym, 4, g)
    return x.sum(axis=(2, 4)) > 0


def test_store_recall_shapes(sr):
    assert isinstance(sr, SequenceTask)
    assert sr.inputs.shape == (N_SR, 2400, 100)
    assert sr.targets.shape == (N_SR, 2400, 2)
    assert sr.mask.shape == (N_SR, 2400)
    assert sr.labels is None
    assert set(np.unique(sr.inputs)) <= {0.0, 1.0}


def test_store_recall_structure_and_targets(sr):
    on = _symbols(sr)
    mask = sr.mask.reshape(N_SR, 12, 200)
    targets = sr.targets.reshape(N_SR, 12, 200, 2)
    n_recalls = 0
    for i in range(N_SR):
        held, last = None, "recall"
        for s in range(12):
            v0, v1, store, recall = on[i, s]
            if recall:
                # a recall shows nothing else, follows a store, and asks for the stored bit
                assert not (v0 or v1 or store)
                assert last == "store" and held is not None
                assert np.all(mask[i, s] == 1)
                np.testing.assert_array_equal(targets[i, s], np.broadcast_to(np.eye(2)[held], (200, 2)))
                last = "recall"
                n_recalls += 1
            else:
                assert v0 != v1  # one value group per digit or store
                assert np.all(mask[i, s] == 0) and np.all(targets[i, s] == 0)
                if store:
                    assert last == "recall"  # stores and recalls alternate, a store first
                    assert s + 1 < 12 and not on[i, s + 1, 3]  # a digit follows each store
                    held, last = int(v1), "store"
        assert last == "recall"  # the last store has its recall
    assert n_recalls >= N_SR


def test_store_recall_firing_probabilities(sr):
    on = np.repeat(np.repeat(_symbols(sr), 200, axis=1), 25, axis=2)
    x = sr.inputs.astype(bool)
    assert not (x & ~on).any()
    assert _within(x[on].sum(), int(on.sum()), 0.05)  # 50 Hz at 1 ms


def test_store_recall_seeds():
    a, b, c = store_recall(3, seed=1), store_recall(3, seed=1), store_recall(3, seed=2)
    for name in ("inputs", "targets", "mask"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.inputs, c.inputs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_trials=-1), "n_trials"),
    (dict(n_symbols=2), "n_symbols"),
    (dict(p_store=1.0), "p_store"),
    (dict(p_recall=0.0), "p_recall"),
    (dict(rate=5000.0), "rate"),
    (dict(symbol=0.0), "symbol"),
    (dict(group_size=2.5), "group_size"),
    (dict(p_store=1e-12, max_tries=3), "no valid store-recall sequence"),
])
def test_store_recall_bad_arguments(kwargs, name):
    args = dict(n_trials=2, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        store_recall(**args)
