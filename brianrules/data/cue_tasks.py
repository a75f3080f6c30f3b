"""Cue-driven memory tasks with spiking inputs, as `SequenceTask` objects.

Inputs are spikes (0 or 1 per step and channel) from groups of input
neurons that fire at random (Bernoulli per step) while their cue is on;
everything is drawn from ``seed``, nothing is downloaded.  Generators:

- `evidence_accumulation`: count left and right cues, answer after a delay
  (Bellec et al. 2020, Nat. Commun. 11:3625, Fig. 3; NEST's e-prop
  example);
- `store_recall`: keep the bit shown with the last "store" signal and give
  it at each "recall" signal (the LSNN store-recall tutorial).
"""

import numpy as np

from .sequences import SequenceTask, _check_trials, _steps


def _positive(**values):
    for name, value in values.items():
        if not (isinstance(value, (int, float, np.integer, np.floating)) and value > 0):
            raise ValueError(f"{name} must be positive, got {value!r}")


def _probability(dt, **rates):
    """Spike probability per step, ``rate * dt``, for each named rate (Hz)."""
    out = []
    for name, rate in rates.items():
        if not (isinstance(rate, (int, float, np.integer, np.floating)) and rate >= 0):
            raise ValueError(f"{name} must be 0 or a positive rate in Hz, got {rate!r}")
        if rate * dt > 1:
            raise ValueError(f"{name} = {rate} Hz is more than one spike per step of {dt} s")
        out.append(rate * dt)
    return out


def _group_size(group_size):
    if not (isinstance(group_size, (int, np.integer)) and group_size >= 1):
        raise ValueError(f"group_size must be a positive integer, got {group_size!r}")


def evidence_accumulation(n_trials, seed, dt=1e-3, n_cues=7, cue=0.1, spacing=0.05, delay=1.05, recall=0.15,
                          p_group=0.3, rate=40.0, noise_rate=10.0, group_size=10, dtype=np.float64):
    """The evidence-accumulation task of Bellec et al. (2020, Fig. 3) as
    NEST generates it (``eprop_supervised_classification_evidence-
    accumulation_bsshslm_2020.py``, after the paper's TensorFlow code,
    ``generate_click_task_data`` in IGITUGraz/eligibility_propagation).

    ``4 * group_size`` input channels (40 by default) in four groups: left
    cues, right cues, recall cue, noise.  ``n_cues`` cues (7) of ``cue``
    seconds (100 ms) each, every one preceded by ``spacing`` (50 ms) of
    silence; then ``delay`` (1050 ms) without cues and the ``recall``
    window (150 ms), 2250 steps in all.  Per trial one side, left or right
    with equal chance, gets cue probability ``1 - p_group`` (0.7) and
    the other ``p_group`` (0.3; NEST's ``prob_group``); each cue's side is
    drawn with these.
    During a cue its group fires at ``rate`` (40 Hz, 0.04 per 1 ms step);
    the recall group fires at ``rate`` in the recall window; the noise
    group at ``noise_rate`` (NEST: ``rate / 4``, 10 Hz) throughout.  As in
    NEST (and unlike the TensorFlow code), no input spikes in the first
    step of a trial.

    ``labels``: 0 when most cues were left, 1 when most were right (the
    cues drawn, not the favoured side; ``n_cues`` must be odd).  Two
    outputs; ``targets`` one-hot of the label and ``mask`` 1 in the
    recall window only (NEST's learning window; its target generator holds
    the one-hot value all trial, which the mask makes the same)."""
    _check_trials(n_trials)
    _positive(dt=dt, cue=cue, delay=delay, recall=recall)
    if not (isinstance(n_cues, (int, np.integer)) and n_cues >= 1 and n_cues % 2 == 1):
        raise ValueError(f"n_cues must be a positive odd integer (no ties), got {n_cues!r}")
    if not (isinstance(spacing, (int, float, np.integer, np.floating)) and spacing >= 0):
        raise ValueError(f"spacing must be 0 or positive, got {spacing!r}")
    if not (isinstance(p_group, (int, float, np.floating)) and 0 <= p_group <= 0.5):
        raise ValueError(f"p_group must lie in [0, 0.5], got {p_group!r}")
    _group_size(group_size)
    p_cue, p_noise = _probability(dt, rate=rate, noise_rate=noise_rate)
    n_cue = _steps(cue, dt, "cue")
    n_space = _steps(spacing, dt, "spacing") if spacing > 0 else 0
    n_recall = _steps(recall, dt, "recall")
    steps = n_cues * (n_space + n_cue) + _steps(delay, dt, "delay") + n_recall
    g = group_size

    rng = np.random.default_rng(seed)
    favoured = rng.integers(0, 2, size=n_trials)  # the side with probability 1 - p_group
    p_right = np.where(favoured == 1, 1 - p_group, p_group)
    sides = (rng.random((n_trials, n_cues)) < p_right[:, None]).astype(np.int64)  # 0 left, 1 right
    labels = (sides.sum(axis=1) > n_cues // 2).astype(np.int64)

    prob = np.zeros((steps, 4 * g))
    prob[steps - n_recall:, 2 * g:3 * g] = p_cue
    prob[:, 3 * g:] = p_noise
    inputs = np.zeros((n_trials, steps, 4 * g), dtype=dtype)
    for i in range(n_trials):
        p = prob.copy()
        for c, side in enumerate(sides[i]):
            start = c * (n_space + n_cue) + n_space
            p[start:start + n_cue, side * g:(side + 1) * g] = p_cue
        inputs[i] = rng.random((steps, 4 * g)) < p
    inputs[:, 0, :] = 0

    targets = np.zeros((n_trials, steps, 2), dtype=dtype)
    targets[np.arange(n_trials)[:, None], np.arange(steps - n_recall, steps)[None, :], labels[:, None]] = 1
    mask = np.zeros((n_trials, steps), dtype=dtype)
    mask[:, steps - n_recall:] = 1
    return SequenceTask("evidence", inputs, targets, mask, labels, dt,
                        f"evidence accumulation: {n_cues} cues of {cue * 1e3:g} ms (p {p_group:g}/"
                        f"{1 - p_group:g}), recall {(steps - n_recall) * dt * 1e3:g}-{steps * dt * 1e3:g} ms, "
                        f"{4 * g} inputs at {rate:g}/{noise_rate:g} Hz")


#: symbol kinds of `store_recall`
_DIGIT, _STORE, _RECALL = 0, 1, 2


def _store_recall_symbols(rng, n_symbols, p_store, p_recall, max_tries):
    """One valid symbol sequence: kinds (digit, store, recall) and a bit per
    symbol.  The LSNN rule: waiting for a store, each symbol becomes one with
    probability ``p_store``; after a store, a recall comes with probability
    ``p_recall``.  Sequences are drawn again until valid: at least one
    store; a digit (not a recall) right after each store; the last store
    followed by a recall."""
    for _ in range(max_tries):
        bits = rng.integers(0, 2, size=n_symbols)
        kinds = np.full(n_symbols, _DIGIT)
        waiting_for_store = True
        for t, u in enumerate(rng.random(n_symbols)):
            if waiting_for_store and u < p_store:
                kinds[t], waiting_for_store = _STORE, False
            elif not waiting_for_store and u < p_recall:
                kinds[t], waiting_for_store = _RECALL, True
        stores = np.flatnonzero(kinds == _STORE)
        if stores.size and waiting_for_store and not (kinds[stores + 1] == _RECALL).any():
            return kinds, bits
    raise ValueError(f"no valid store-recall sequence of {n_symbols} symbols in {max_tries} draws: "
                     f"raise n_symbols or change p_store, p_recall")


def store_recall(n_trials, seed, dt=1e-3, n_symbols=12, symbol=0.2, p_store=1 / 7, p_recall=1 / 7, rate=50.0,
                 group_size=25, dtype=np.float64, max_tries=10000):
    """The store-recall task of the LSNN tutorial
    (IGITUGraz/LSNN-official, ``bin/tutorial_storerecall_with_LSNN.py``
    with ``bin/tutorial_storerecall_utils.py``; Bellec et al. 2018, NeurIPS
    31): a trial is ``n_symbols`` symbols (12) of ``symbol`` seconds
    (200 ms) each; ``4 * group_size`` inputs (100) in four groups, value 0,
    value 1, store, recall, each firing at ``rate`` (50 Hz) while its
    signal is on.  A symbol is a digit (the group of its bit fires), a
    store (the store group and the group of the bit to keep fire) or a
    recall (the recall group alone).  Stores and recalls alternate, a store
    first: waiting for a store, each symbol is one with probability
    ``p_store``, after it each is a recall with probability ``p_recall``
    (both ``1 / (1 + seq_delay)`` = 1/7 in the tutorial); sequences are
    redrawn until at least one store is followed by a recall, a digit
    follows each store and the last store has its recall.

    The LSNN code makes the bit shown with the store that of the next digit
    and shows that digit inverted with probability 1/2; here the store
    shows its own random bit and the next digit another: the same
    distribution.  Two outputs; ``targets`` one-hot of the stored bit and
    ``mask`` 1 over the steps of each recall symbol, 0 elsewhere (the
    tutorial's loss is on the readout averaged over the recall symbol, the
    mask here counts each step of it).  ``labels`` is None: a trial may
    hold several recalls; the targets carry their answers."""
    _check_trials(n_trials)
    _positive(dt=dt, symbol=symbol)
    if not (isinstance(n_symbols, (int, np.integer)) and n_symbols >= 3):
        raise ValueError(f"n_symbols must be an integer of at least 3 (store, digit, recall), got {n_symbols!r}")
    for name, p in (("p_store", p_store), ("p_recall", p_recall)):
        if not (isinstance(p, (int, float, np.floating)) and 0 < p < 1):
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {p!r}")
    if not (isinstance(max_tries, (int, np.integer)) and max_tries >= 1):
        raise ValueError(f"max_tries must be a positive integer, got {max_tries!r}")
    _group_size(group_size)
    (p_spike,) = _probability(dt, rate=rate)
    n_sym = _steps(symbol, dt, "symbol")
    steps = n_symbols * n_sym
    g = group_size

    rng = np.random.default_rng(seed)
    inputs = np.zeros((n_trials, steps, 4 * g), dtype=dtype)
    targets = np.zeros((n_trials, steps, 2), dtype=dtype)
    mask = np.zeros((n_trials, steps), dtype=dtype)
    for i in range(n_trials):
        kinds, bits = _store_recall_symbols(rng, n_symbols, p_store, p_recall, max_tries)
        on = np.zeros((n_symbols, 4), dtype=bool)  # groups on per symbol: value 0, value 1, store, recall
        held = None
        for s, (kind, bit) in enumerate(zip(kinds, bits)):
            if kind == _RECALL:
                on[s, 3] = True
                rows = slice(s * n_sym, (s + 1) * n_sym)
                targets[i, rows, held] = 1
                mask[i, rows] = 1
            else:
                on[s, bit] = True
                if kind == _STORE:
                    on[s, 2] = True
                    held = bit
        p = np.repeat(np.repeat(on, n_sym, axis=0), g, axis=1) * p_spike
        inputs[i] = rng.random((steps, 4 * g)) < p
    return SequenceTask("store_recall", inputs, targets, mask, None, dt,
                        f"store-recall: {n_symbols} symbols of {symbol * 1e3:g} ms, p store/recall "
                        f"{p_store:.3g}/{p_recall:.3g}, {4 * g} inputs at {rate:g} Hz")


TASKS = {"evidence": evidence_accumulation, "store_recall": store_recall}

__all__ = ["TASKS", "evidence_accumulation", "store_recall"]
