"""The per-layer diagnostics computed in the program (`build.diagnostics`):
the mean postsynaptic factor, silent neurons, and the alignment of each
hidden projection's update with the backprop-like one."""

import dataclasses
import os

import numpy as np
import pytest
from brian2 import SpikeMonitor, StateMonitor

from brianrules import rules
from brianrules.build import diagnostics
from brianrules.devices import RuntimeRunner
from conftest import small_inputs, small_spec

N_SAMPLES = 3


def _spec(rule, alignment=True, **kw):
    return dataclasses.replace(small_spec(hidden=(12, 10), **kw), rule=rule, alignment=alignment)


def _run(spec, learn=None, monitors=None, inputs=None):
    W, B, stim, tgt, ones = inputs or small_inputs(spec, N_SAMPLES)
    runner = RuntimeRunner(spec, N_SAMPLES)
    res = runner.run(W, B, stim, tgt, ones if learn is None else learn, noise_seed=4, monitors=monitors)
    return W, runner, res


def test_the_symmetric_rule_is_its_own_shadow():
    """With symmetric feedback the shadow signal is the rule's: both
    accumulated products are equal and the cosine is 1."""
    _, runner, res = _run(_spec(rules.get("symmetric", lr=5.0, lr_hidden=2.0)))
    model = runner.last_model
    for S in model.plastic_projections[:-1]:
        g = np.asarray(S.g_rule[:])
        assert np.abs(g).max() > 1e-4  # something was accumulated
        np.testing.assert_array_equal(g, np.asarray(S.g_bp[:]))
    assert [res.diagnostics[f"cos_bp_{k}"] for k in (1, 2)] == pytest.approx([1.0, 1.0], abs=1e-12)


def test_the_rules_product_is_its_weight_change():
    """g_rule sums what the rule adds: for sgd, -eta g_rule is the weight
    change of the run (the last sample does not learn, so every accumulated
    window has been applied)."""
    spec = _spec(rules.get("dfa", lr=5.0, lr_hidden=2.0))
    W, runner, res = _run(spec, learn=np.array([1.0, 1.0, 0.0]))
    model = runner.last_model
    for k, S in enumerate(model.plastic_projections[:-1]):
        i, j = model.pairs[k]
        dW = (res.weights[k] - W[k])[i, j]
        assert np.abs(dW).max() > 1e-4
        np.testing.assert_allclose(-2.0 * np.asarray(S.g_rule[:]), dW, rtol=1e-9, atol=1e-13)


def test_the_shadow_is_what_symmetric_feedback_would_accumulate():
    """dfa's shadow product equals the product the symmetric rule accumulates
    on the same network and input (learning rates so small that both runs
    keep the same weights and spikes), while dfa's own product differs."""
    tiny = dict(lr=1e-9, lr_hidden=1e-9)
    dfa_spec = _spec(rules.get("dfa", **tiny))
    inputs = small_inputs(dfa_spec, N_SAMPLES)
    _, dfa_runner, dfa = _run(dfa_spec, inputs=inputs)
    _, sym_runner, sym = _run(_spec(rules.get("symmetric", **tiny)), inputs=inputs[:1] + ([],) + inputs[2:])
    assert np.array_equal(dfa.counts, sym.counts) and dfa.counts.sum() > 5
    for S_dfa, S_sym in zip(dfa_runner.last_model.plastic_projections[:-1], sym_runner.last_model.plastic_projections):
        shadow, own = np.asarray(S_dfa.g_bp[:]), np.asarray(S_dfa.g_rule[:])
        np.testing.assert_allclose(shadow, np.asarray(S_sym.g_rule[:]), rtol=1e-6, atol=1e-12)
        assert np.abs(shadow).max() > 1e-4 and not np.allclose(own, shadow, rtol=1e-2)
    cos = [dfa.diagnostics[f"cos_bp_{k}"] for k in (1, 2)]
    assert all(-1 < c < 1 for c in cos)
    assert cos == pytest.approx([diagnostics.cosine(S.g_rule[:], S.g_bp[:])
                                 for S in dfa_runner.last_model.plastic_projections[:-1]], rel=1e-12)


def test_mean_postsynaptic_factor_and_silent_neurons_against_the_recorded_run():
    """phi_mean_hK is the mean over neurons and learning steps of the
    recorded surrogate; silent_neurons_hK the share of neurons a spike
    monitor saw no spike from."""
    spec = _spec(rules.get("dfa", lr=5.0, lr_hidden=2.0), alignment=False)

    def monitors(model):
        return ([StateMonitor(g, "psi", record=True, when="before_groups") for g in model.layers[:-1]]
                + [SpikeMonitor(g) for g in model.layers[:-1]])

    learn = np.array([1.0, 0.0, 1.0])
    _, runner, res = _run(spec, learn=learn, monitors=monitors)
    psi1, psi2, sp1, sp2 = runner.last_monitors
    steps = int(round(float(spec.t_sample / spec.dt)))
    gate = np.repeat(learn, steps).astype(bool)
    for k, (mon, sp) in enumerate(((psi1, sp1), (psi2, sp2)), 1):
        psi = np.asarray(mon.psi[:])
        assert psi.shape[1] == gate.size
        assert res.diagnostics[f"phi_mean_h{k}"] == pytest.approx(psi[:, gate].mean(), rel=1e-9)
        fired = np.bincount(np.asarray(sp.i[:]), minlength=sp.source.N) > 0
        assert res.diagnostics[f"silent_neurons_h{k}"] == pytest.approx(1 - fired.mean())
    assert 0 < res.diagnostics["phi_mean_h1"] < 1
    assert not any(c.startswith(diagnostics.COSINE_PREFIX) for c in res.diagnostics)


@pytest.mark.parametrize("change, words", [
    (dict(timing="event"), "clock-driven"),
    (dict(projections=({"pre": "input", "post": "hidden_1"}, {"pre": "hidden_1", "post": "hidden_2"},
                       {"pre": "hidden_2", "post": "output"}, {"pre": "input", "post": "output"})), "stack"),
])
def test_alignment_refuses_what_it_cannot_follow(change, words):
    rule = rules.get("dfa")
    if "timing" in change:
        rule = rule.event_driven()
    with pytest.raises(ValueError, match=f"alignment diagnostics .*{words}"):
        dataclasses.replace(small_spec(hidden=(12, 10)), rule=rule, alignment=True,
                            **{k: v for k, v in change.items() if k != "timing"})


def test_metrics_csv_records_the_diagnostics(tmp_path):
    from brianrules import data as datamod
    from brianrules.metrics import read_metrics
    from brianrules.training import TrainConfig, train
    from test_interrupt import _write_idx

    d = datamod.load("digits")
    _write_idx(tmp_path, d.x_train[:16], d.y_train[:16], "train")
    _write_idx(tmp_path, d.x_test[:6], d.y_test[:6], "test")
    cfg = TrainConfig(rule="dfa", dataset=f"idx:{tmp_path}", hidden=[12, 12], epochs=1, device="runtime",
                      t_sample_ms=20.0, alignment=True)
    out = str(tmp_path / "run")
    train(cfg, out, log=lambda *a: None, progress=False)
    row = read_metrics(os.path.join(out, "metrics.csv"))[-1]
    for k in (1, 2):
        assert -1 <= row[f"cos_bp_{k}"] <= 1
        assert 0 < row[f"phi_mean_h{k}"] <= 1
        assert 0 <= row[f"silent_neurons_h{k}"] <= 1
    assert os.path.exists(os.path.join(out, "learning_curve.png"))
