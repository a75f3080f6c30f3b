"""Pathways for deep networks: sign-symmetric feedback, Kolen-Pollack
learned feedback, and the scale of random feedback matrices."""

import dataclasses
import math
import os

import numpy as np
import pytest
from brian2 import StateMonitor

from brianrules import rules
from brianrules.build import pathways
from brianrules.devices import RuntimeRunner
from brianrules.rules import optimizers
from conftest import small_inputs, small_spec

N_SAMPLES = 3


def _spec(rule):
    return dataclasses.replace(small_spec(hidden=(12, 12)), rule=rule)


def _lagged(L_low, source, matrices):
    """L_low[:, n] = matrices[n - 1] @ source[:, n - 1] (the summed variable
    of step n - 1, read by the monitor in step n)."""
    expected = np.stack([M @ s for M, s in zip(matrices[:-1], source[:, :-1].T)], axis=1)
    assert np.abs(expected).max() > 1e-3  # the signal is not trivially zero
    np.testing.assert_allclose(L_low[:, 1:], expected, rtol=1e-9, atol=1e-12)


def _weights_in_time(mon, S, pairs):
    """The recorded w of a forward synapse group as one matrix n_pre x n_post per step."""
    i, j = pairs
    out = np.zeros((mon.w.shape[1], S.source.N, S.target.N))
    out[:, i, j] = mon.w[:].T
    return out


# -- sign-symmetric feedback ----------------------------------------------------
def _run_signsym(W=None, **kw):
    spec = _spec(rules.get("signsym", lr=5.0, lr_hidden=40.0, **kw))
    W0, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)
    W = W0 if W is None else W

    def monitors(model):
        return ([StateMonitor(g, ["L", "delta"], record=True, when="before_groups") for g in model.layers]
                + [StateMonitor(S, "w", record=True, when="before_groups") for S in model.projections[1:]])

    runner = RuntimeRunner(spec, N_SAMPLES)
    res = runner.run(W, B, stim, tgt, learn, noise_seed=4, monitors=monitors)
    return spec, W, B, runner, res


def test_signsym_sends_delta_through_the_signs_of_the_current_weights():
    spec, W, B, runner, res = _run_signsym()
    assert B == [] and res.feedback is None
    model = runner.last_model
    h1, h2, out, w2, w3 = runner.last_monitors
    for mon_low, mon_up, mon_w, k in ((h1, h2, w2, 1), (h2, out, w3, 2)):
        S = model.projections[k]
        scale = spec.w_init / math.sqrt(S.source.N)  # the std of the initial weights (uSF)
        assert float(S.fb_scale[:]) == pytest.approx(scale)
        Wt = _weights_in_time(mon_w, S, model.pairs[k])
        assert np.array_equal(Wt[0], W[k])
        _lagged(mon_low.L[:], mon_up.delta[:], scale * np.sign(Wt))


def test_signsym_scale_is_the_std_of_the_fluctuation_start_too():
    """uSF's scale is the std of the initial weights, whichever start drew them."""
    from brianrules.build.initial import weight_parameters
    from brianrules.build.pathways.signsym import fb_scale
    from brianrules.network import initial_weights

    spec = dataclasses.replace(_spec(rules.get("signsym")), init="fluctuation")
    W, _ = initial_weights(spec, np.random.default_rng(3))
    for k in (1, 2):
        sigma = weight_parameters(spec)[k][1]
        assert fb_scale(spec, k) == sigma and sigma > 2 * spec.w_init / math.sqrt(12)
        assert np.std(W[k]) == pytest.approx(sigma, rel=0.25)  # 144 draws


def test_signsym_feedback_follows_a_weight_whose_sign_learning_changes():
    # weights of hidden_1 -> hidden_2 close to zero: learning flips some of their signs
    spec = _spec(rules.get("signsym"))
    W, *_ = small_inputs(spec, N_SAMPLES)
    W = [w.copy() for w in W]
    rng = np.random.default_rng(5)
    W[1] = rng.choice([-1.0, 1.0], size=W[1].shape) * 1e-5
    spec, W, B, runner, res = _run_signsym(W)
    h1, h2, out, w2, w3 = runner.last_monitors
    model = runner.last_model
    Wt = _weights_in_time(w2, model.projections[1], model.pairs[1])
    flipped = np.sign(Wt[-1]) != np.sign(Wt[0])
    assert flipped.any(), "no weight changed its sign"
    # in the last sample the feedback uses the new signs
    steps = spec.steps_per_sample
    scale = spec.w_init / math.sqrt(12)
    L, delta = h1.L[:, -steps:], h2.delta[:, -steps:]
    new = scale * np.sign(Wt[-1]) @ delta[:, :-1]
    np.testing.assert_allclose(L[:, 1:], new, rtol=1e-9, atol=1e-12)
    old = scale * np.sign(Wt[0]) @ delta[:, :-1]
    assert np.abs(old - new).max() > 1e-3  # and the old signs would give another signal


def test_signsym_takes_a_scale_of_its_own():
    spec, W, B, runner, res = _run_signsym(fb_scale=0.37)
    h1, h2, out, w2, w3 = runner.last_monitors
    model = runner.last_model
    assert float(model.projections[1].fb_scale[:]) == 0.37
    Wt = _weights_in_time(w2, model.projections[1], model.pairs[1])
    _lagged(h1.L[:], h2.delta[:], 0.37 * np.sign(Wt))
    with pytest.raises(ValueError, match="fb_scale"):
        rules.get("signsym", fb_scale=-1.0)


# -- Kolen-Pollack ------------------------------------------------------------------
def _kp_spec(timing="clock", **kw):
    rule = rules.get("kp", lr=5.0, lr_hidden=5.0, **kw)
    return _spec(rule.event_driven() if timing == "event" else rule)


def _run_kp(spec, W, B, stim, tgt, learn, record=False):
    def monitors(model):
        return [StateMonitor(g, ["L", "delta"], record=True, when="before_groups") for g in model.layers]

    runner = RuntimeRunner(spec, len(stim))
    res = runner.run(W, B, stim, tgt, learn, noise_seed=4, monitors=monitors if record else None)
    return runner, res


@pytest.mark.parametrize("timing", ["clock", "event"])
def test_kp_feedback_learns_the_transposed_forward_update(timing):
    spec = _kp_spec(timing)
    W, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)
    assert [b.shape for b in B] == [(12, 12), (3, 12)]
    runner, res = _run_kp(spec, W, B, stim, tgt, learn)
    assert len(res.feedback) == 2
    for k in range(2):
        dW = res.weights[k + 1] - W[k + 1]  # projection k + 2: hidden_(k+1) -> the layer above
        dB = res.feedback[k] - B[k]
        assert np.abs(dW).max() > 1e-4  # learning happened
        np.testing.assert_allclose(dB, dW.T, rtol=0, atol=1e-12)
    # the projection from the input carries no feedback
    assert "B" not in runner.last_model.projections[0].variables


def test_kp_sends_delta_through_b_and_carries_it_to_the_next_run():
    spec = _kp_spec()
    W, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)
    _, first = _run_kp(spec, W, B, stim, tgt, learn)
    runner, second = _run_kp(spec, first.weights, first.feedback, stim, tgt, learn, record=True)
    h1, h2, out = runner.last_monitors
    steps = spec.steps_per_sample  # B changes at sample ends: the first sample uses the first run's B
    for low, up, Bk in ((h1, h2, first.feedback[0]), (h2, out, first.feedback[1])):
        _lagged(low.L[:, :steps], up.delta[:, :steps], [Bk.T] * steps)
    for k in range(2):
        dW = second.weights[k + 1] - first.weights[k + 1]
        np.testing.assert_allclose(second.feedback[k] - first.feedback[k], dW.T, rtol=0, atol=1e-12)
        assert not np.allclose(second.feedback[k], B[k])


def test_kp_decay_shrinks_the_difference_of_b_and_w_transposed():
    decay = 0.1
    spec = _kp_spec(kp_decay=decay)
    W, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)
    runner, res = _run_kp(spec, W, B, stim, tgt, learn)
    applications = N_SAMPLES - 1  # at the starts of samples 2 and 3 (the last one's comes after the run)
    for k in range(2):
        before = B[k] - W[k + 1].T
        after = res.feedback[k] - res.weights[k + 1].T
        np.testing.assert_allclose(after, (1 - decay) ** applications * before, rtol=1e-9, atol=1e-12)
        assert np.linalg.norm(after) < 0.85 * np.linalg.norm(before)
    # the decay acts only while learning: a run without learning changes neither
    frozen = RuntimeRunner(spec, N_SAMPLES).run(res.weights, res.feedback, stim, tgt, np.zeros(N_SAMPLES), 4)
    for k in range(2):
        assert np.array_equal(frozen.feedback[k], res.feedback[k])
        assert np.array_equal(frozen.weights[k + 1], res.weights[k + 1])


def test_kp_refuses_what_b_could_not_follow():
    base = rules.get("kp")
    for rule, match in ((optimizers.configure(base, "adam"), "optimizer adam"),
                        (dataclasses.replace(base, apply_every=1), "apply_every 1")):
        with pytest.raises(ValueError, match=match):  # when the spec is made, before anything is built
            _spec(rule)
    with pytest.raises(ValueError, match="kp_decay"):
        rules.get("kp", kp_decay=1.5)


# -- the reference simulator ------------------------------------------------------
@pytest.mark.parametrize("rule", ["signsym", "kp"])
def test_reference_refuses_the_deep_pathways(rule):
    from brianrules.reference.params import check_supported

    with pytest.raises(ValueError, match=f"reference simulator .*'{rule}'"):
        check_supported(_spec(rules.get(rule)))


# -- the scale of random feedback matrices ----------------------------------------
def test_default_feedback_draw_is_unchanged():
    """fan_in: N(0, 1 / n_from), the same calls of the generator as ever."""
    from brianrules.network import initial_weights

    spec = dataclasses.replace(small_spec(hidden=(12, 10)), rule=rules.get("fa"))
    W, B = initial_weights(spec, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    for n_pre, n_post in spec.projection_shapes:
        rng.normal(spec.w_init_mean / n_pre, spec.w_init / math.sqrt(n_pre), size=(n_pre, n_post))
    legacy = [rng.normal(0.0, 1.0 / math.sqrt(n_up), size=(n_up, n_low)) for n_up, n_low in [(10, 12), (3, 10)]]
    for b, old in zip(B, legacy):
        assert np.array_equal(b, old)


@pytest.mark.parametrize("name", ["direct", "layerwise", "kp"])
def test_launay_scale_divides_by_the_width_of_the_layer_reached(name):
    spec = dataclasses.replace(small_spec(hidden=(12, 10)), rule=rules.get("fa"))
    pathway = pathways.get(name)
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    fan_in = pathway.matrices(spec, a)
    launay = pathway.matrices(spec, b, scale="launay")
    assert a.random() == b.random()  # the same draws: what follows is unchanged
    for M, L in zip(fan_in, launay):
        n_from, n_to = M.shape
        np.testing.assert_allclose(L, M / math.sqrt(n_to), rtol=1e-12)  # N(0, 1 / (n_from n_to))
    if name == "direct":  # Launay et al.: B_l ~ N(0, 1 / (n_l C)), C the number of outputs
        assert all(M.shape[0] == spec.n_out for M in launay)
    # a spec's own feedback_scale (a field the spec may have) is the default
    own = dataclasses.make_dataclass("S", [("feedback_scale", str)])("launay")
    assert pathways.base.spec_scale(own) == "launay"
    with pytest.raises(ValueError, match="unknown feedback scale"):
        pathway.matrices(spec, a, scale="huge")


# -- the compiled program ---------------------------------------------------------
@pytest.mark.slow
@pytest.mark.standalone
@pytest.mark.parametrize("rule", ["signsym", "kp"])
def test_cpp_standalone_agrees_with_runtime(rule, build_root):
    from brianrules.devices import StandaloneRunner
    from conftest import assert_cpp_matches_runtime

    spec = _spec(rules.get(rule, lr=5.0, lr_hidden=2.0, **({"kp_decay": 0.05} if rule == "kp" else {})))
    runner = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / f"deep-{rule}"), progress=False)
    try:
        assert_cpp_matches_runtime(spec, runner, N_SAMPLES)
        inputs = small_inputs(spec, N_SAMPLES)
        cpp = runner.run(*inputs, noise_seed=11)
        rt = RuntimeRunner(spec, N_SAMPLES).run(*inputs, noise_seed=11)
        if rule == "signsym":
            assert cpp.feedback is None and rt.feedback is None
        else:  # B is read back from the program
            for Bc, Br, B0 in zip(cpp.feedback, rt.feedback, inputs[1]):
                assert np.abs(Bc - B0).max() > 1e-4
                np.testing.assert_allclose(Bc, Br, rtol=1e-9, atol=1e-12)
    finally:
        runner.close()


# -- training on digits -----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.standalone
@pytest.mark.parametrize("rule", ["signsym", "kp"])
def test_deep_pathways_learn_digits(rule, tmp_path, capsys):
    import csv

    from brianrules.cli import main

    out = tmp_path / rule
    args = ["train", "--rule", rule, "--dataset", "digits", "--hidden", "100", "100", "--epochs", "2",
            "--t-sample", "50", "--device", "cpp_standalone", "--seed", "0", "--quiet", "--out", str(out)]
    assert main(args) == 0
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and float(rows[-1]["test_acc"]) > 0.5, rows
    with np.load(out / "weights.npz") as z:
        saved = {k: z[k] for k in z.files}
    if rule == "kp":  # B was carried from epoch to epoch: it has every epoch's updates of W, transposed
        from brianrules.network import initial_weights
        from brianrules.randomness import mix_seed
        from brianrules.training import TrainConfig

        cfg = TrainConfig(rule="kp", hidden=[100, 100], t_sample_ms=50.0)
        spec = cfg.network_spec(64, 10)
        W0, B0 = initial_weights(spec, np.random.default_rng(mix_seed(0, 0, 0)))
        for k in range(2):
            dW = saved[f"w_{k + 2}"] - W0[k + 1]
            dB = saved[f"B_{k + 1}"] - B0[k]
            assert np.abs(dB).max() > 1e-3
            np.testing.assert_allclose(dB, dW.T, rtol=0, atol=1e-9)
    else:
        assert not [k for k in saved if k.startswith("B_")]


# -- the alignment of feedback with the forward weights, per epoch ------------------
@pytest.mark.parametrize("rule", ["fa", "kp"])
def test_metrics_record_the_angle_of_feedback_and_forward_weights(tmp_path, rule):
    """metrics.csv's angle_B_K is angle(B_K, W_(K+1)^T) of the epoch's saved
    matrices (kp's B learned, fa's fixed)."""
    from brianrules import data as datamod
    from brianrules.metrics import feedback_angles, read_metrics
    from brianrules.training import TrainConfig, train
    from brianrules.training.checkpoints import read_weights
    from test_interrupt import _write_idx

    d = datamod.load("digits")
    _write_idx(tmp_path, d.x_train[:24], d.y_train[:24], "train")
    _write_idx(tmp_path, d.x_test[:8], d.y_test[:8], "test")
    cfg = TrainConfig(rule=rule, dataset=f"idx:{tmp_path}", hidden=[12, 12], epochs=2, device="runtime",
                      t_sample_ms=20.0, lr_hidden=2.0)
    out = str(tmp_path / "run")
    train(cfg, out, log=lambda *a: None, progress=False)
    rows = read_metrics(os.path.join(out, "metrics.csv"))
    weights, feedback, epoch = read_weights(os.path.join(out, "weights.npz"))
    assert epoch == 2
    expected = feedback_angles(weights, feedback)
    assert [rows[-1][f"angle_B_{k + 1}"] for k in range(2)] == pytest.approx(expected, rel=1e-9)
    assert all(0 < a < 180 for a in expected)


def test_forward_synapses_that_sum_into_their_source_are_stored_post_major():
    """The layer-wise pathways' forward synapses are stored by postsynaptic
    neuron first (their summed signal then adds into a different neuron from
    one synapse to the next); direct feedback's stay row-major."""
    from brianrules.build.model import Model
    from brianrules.topology import all_to_all, sums_into_source

    i, j = all_to_all(3, 4, post_major=True)
    assert sorted(zip(i, j)) == [(a, b) for a in range(3) for b in range(4)]
    assert list(j) == sorted(j) and all(list(i[j == b]) == [0, 1, 2] for b in range(4))
    i, j = all_to_all(3, 3, without_self=True, post_major=True)
    assert list(zip(i, j)) == [(1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (1, 2)]
    assert sums_into_source("w : 1\nL_pre = w * delta_post : 1 (summed)")
    assert not sums_into_source("L_post = B * err_pre : 1 (summed)")
    for rule, post_major in (("symmetric", True), ("kp", True), ("signsym", True), ("dfa", False)):
        model = Model(_spec(rules.get(rule)), N_SAMPLES)
        for k, (i, j) in enumerate(model.pairs):
            by_post = list(j) == sorted(j) and not list(i) == sorted(i)
            assert by_post == (post_major and k > 0), (rule, k)
