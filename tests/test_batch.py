"""Batched presentation (`build.batch`): B copies of the network that share
their weights.  One slot's update is the mean of the updates the same B
samples make one at a time from the same weights (sgd), and the optimizer
applies that mean once (adam); a sample draws the same input spikes
whichever copy shows it; the compiled program equals runtime mode; what
cannot be batched is refused before anything is built."""

import dataclasses

import numpy as np
import pytest

from brianrules.devices import RuntimeRunner, resolve_threads
from brianrules.rules.optimizers import Optimizer
from conftest import small_inputs, small_spec

B = 4


def _single_sample_updates(spec, W, Fb, stim, tgt):
    """The weight change each sample makes alone from ``W``: sample b shown
    at its place b of an unbatched run (so that it draws the input spikes it
    draws in the batch), the samples before it without input or learning
    (nothing fires, nothing carries over), one empty sample after it whose
    start applies its update."""
    out = []
    for b in range(len(stim)):
        s = np.zeros((b + 2, spec.n_in))
        t = np.zeros((b + 2, spec.n_out))
        s[b], t[b] = stim[b], tgt[b]
        learn = np.zeros(b + 2)
        learn[b] = 1
        r = RuntimeRunner(spec, b + 2).run(W, Fb, s, t, learn, noise_seed=11)
        out.append(([w1 - w0 for w1, w0 in zip(r.weights, W)], r.counts[b]))
    return out


def _batched(spec, W, Fb, stim, tgt):
    """One slot of B learning samples, then an empty slot whose start applies it."""
    n = len(stim)
    stim2 = np.concatenate([stim, np.zeros_like(stim)])
    tgt2 = np.concatenate([tgt, tgt])
    learn = np.r_[np.ones(n), np.zeros(n)]
    return RuntimeRunner(dataclasses.replace(spec, batch=n), 2 * n).run(W, Fb, stim2, tgt2, learn, noise_seed=11)


@pytest.mark.parametrize("rule,form,hidden", [
    ("dfa", "clock", (12,)), ("dfa", "event", (12,)), ("superspike", "clock", (12,)),  # direct feedback
    ("fa", "event", (6, 5)), ("symmetric", "event", (6, 5)), ("signsym", "event", (6, 5)),  # layer-wise
])
def test_a_batch_applies_the_mean_of_its_samples_updates(rule, form, hidden):
    from brianrules import rules

    spec = small_spec(rule=rules.get(rule, lr=5.0, lr_hidden=2.0), hidden=hidden)
    if form == "event":
        spec = dataclasses.replace(spec, rule=spec.rule.event_driven())
    W, Fb, stim, tgt, _ = small_inputs(spec, B)
    single = _single_sample_updates(spec, W, Fb, stim, tgt)
    got = _batched(spec, W, Fb, stim, tgt)
    for b, (_, counts) in enumerate(single):
        assert np.array_equal(got.counts[b], counts)  # the same input spikes, the same weights
    assert got.counts[:B].sum() > 10
    for k in range(len(W)):
        mean = np.mean([d[k] for d, _ in single], axis=0)
        assert np.abs(mean).max() > 1e-4  # learning happened (the agreement below is to 1e-12)
        assert np.abs(np.subtract(*[d[k] for d, _ in single[:2]])).max() > 1e-5  # and not the same
        np.testing.assert_allclose(got.weights[k] - W[k], mean, rtol=0, atol=1e-12)


def test_the_optimizer_applies_the_batch_mean_once():
    """adam with the batch: one application to the mean of the samples' raw
    products (sgd's change divided by its learning rate)."""
    sgd = small_spec()
    opt = Optimizer("adam")
    adam = dataclasses.replace(sgd, rule=dataclasses.replace(sgd.rule, optimizer=opt))
    W, Fb, stim, tgt, _ = small_inputs(sgd, B)
    single = _single_sample_updates(sgd, W, Fb, stim, tgt)
    got = _batched(adam, W, Fb, stim, tgt)
    for k, lr in enumerate((sgd.rule.lr_hidden, sgd.rule.lr)):
        g = np.mean([d[k] for d, _ in single], axis=0) / lr
        m, v = (1 - opt.beta1) * g, (1 - opt.beta2) * g ** 2
        step = lr * np.sqrt(1 - opt.beta2) / (1 - opt.beta1)
        np.testing.assert_allclose(got.weights[k], W[k] + step * m / (np.sqrt(v) + opt.eps), rtol=1e-9, atol=1e-12)
        state = got.optimizer_state[k]
        np.testing.assert_allclose(state["opt_m"], m, rtol=1e-9, atol=1e-15)
        assert np.all(state["opt_n"] == 1)


def test_samples_draw_their_spikes_wherever_they_sit():
    """Without learning and without refractoriness (nothing carries over from
    a copy's previous sample) a batch gives the unbatched counts, a last,
    partial slot included."""
    spec = small_spec()
    spec = dataclasses.replace(spec, neuron=spec.neuron.with_parameters(t_ref="0*ms"))
    W, Fb, stim, tgt, _ = small_inputs(spec, 7)
    off = np.zeros(7)
    one = RuntimeRunner(spec, 7).run(W, Fb, stim, tgt, off, noise_seed=5)
    three = RuntimeRunner(dataclasses.replace(spec, batch=3), 7).run(W, Fb, stim, tgt, off, noise_seed=5)
    assert one.counts.sum() > 20
    assert np.array_equal(one.counts, three.counts)
    for W0, W1 in zip(W, three.weights):
        assert np.array_equal(W0, W1)


def test_what_cannot_be_batched_is_refused():
    from brianrules import rules
    from brianrules.reference import ReferenceRunner
    from brianrules.training import TrainConfig

    with pytest.raises(ValueError, match="batch must be a positive"):
        small_spec(batch=0)
    with pytest.raises(ValueError, match="kolen_pollack|kp"):
        small_spec(rule=rules.get("kp"), hidden=(5, 5), batch=2)
    with pytest.raises(ValueError, match="once per batch"):
        small_spec(apply_every=5, batch=2)
    with pytest.raises(ValueError, match="alignment"):
        small_spec(alignment=True, batch=2)
    with pytest.raises(ValueError, match="--batch-size"):
        small_spec(rule=rules.get("bptt"), batch=2)
    spec = small_spec(batch=2)
    with pytest.raises(ValueError, match="one thread"):
        resolve_threads(2, spec)
    assert resolve_threads("auto", spec) == 1
    with pytest.raises(ValueError, match="one thread"):
        TrainConfig(batch=4, threads=2).validate()
    with pytest.raises(ValueError, match="not batches"):
        ReferenceRunner(spec, 4)


@pytest.mark.slow
def test_the_compiled_batch_equals_runtime(tmp_path):
    """cpp_standalone against runtime, with a partial last slot, learning
    and test samples in one slot, and adam."""
    from brianrules.devices import StandaloneRunner

    spec = small_spec(batch=3)
    spec = dataclasses.replace(spec, rule=dataclasses.replace(spec.rule.event_driven(), optimizer=Optimizer("adam"),
                                                              lr=0.01, lr_hidden=0.01))
    W, Fb, stim, tgt, learn = small_inputs(spec, 8)
    learn[5:] = 0
    cpp = StandaloneRunner(spec, 8, build_dir=str(tmp_path / "build"), log=lambda *a: None, progress=False)
    try:
        got = cpp.run(W, Fb, stim, tgt, learn, noise_seed=3)
    finally:
        cpp.close()
    rt = RuntimeRunner(spec, 8).run(W, Fb, stim, tgt, learn, noise_seed=3)
    assert got.counts.sum() > 10
    assert np.array_equal(got.counts, rt.counts)
    for W0, Wc, Wr in zip(W, got.weights, rt.weights):
        assert np.abs(Wc - W0).max() > 1e-4
        np.testing.assert_allclose(Wc, Wr, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_a_batched_training_learns_and_is_evaluated_again(tmp_path):
    """`brianrules train --batch 4` end to end: it learns digits, the run's
    evaluation gives its last test accuracy, and a recording of it is laid out
    as an unbatched network's (one sample after the other)."""
    import brianrules
    from brianrules.training import TrainConfig, train

    cfg = TrainConfig(rule="dfa", dataset="digits", epochs=2, hidden=[30], t_sample_ms=40.0, seed=1, batch=4,
                      lr_scale=2.0)
    train(cfg, str(tmp_path / "run"), log=lambda *a: None, progress=False)
    run = brianrules.load(tmp_path / "run")
    assert run.config.batch == 4
    assert run.final_metrics["test_acc"] > 0.4  # chance is 0.1 (0.59 when written)
    assert run.evaluate().accuracy == run.final_metrics["test_acc"]
    ev = run.evaluate(n_samples=3, record_spikes=True, layers=("hidden_1",))
    spikes = ev.spikes["hidden_1"]
    assert spikes.n == 30 and len(spikes.i) > 0
    assert spikes.i.max() < 30 and spikes.t.max() < 3 * 0.040
