"""Noise injected into the hidden neurons (`build.noise`) and the weight
mirror (`build.pathways.mirror`): the noise and its record against their
closed forms from the hash, one run's change of B against the sum of the
noise records at the upper neurons' spikes, the row scale, the refusals, the
compiled program against runtime, and B turning toward W^T in training."""

import dataclasses

import numpy as np
import pytest
from brian2 import SpikeMonitor, StateMonitor, second

from brianrules import rules
from brianrules.build.pathways.mirror import rescaled
from brianrules.devices import RuntimeRunner
from brianrules.randomness import hash_uniform_numpy, mix_seed
from conftest import small_inputs, small_spec

N_SAMPLES = 3
SEED = 4


def _spec(rule=None, **kw):
    rule = rule or rules.get("mirror", lr=5.0, lr_hidden=5.0, lr_feedback=0.05)
    kw.setdefault("noise", 0.5)
    return dataclasses.replace(small_spec(hidden=(12, 12)), rule=rule, **kw)


def _kicks(spec, k, n_steps, n):
    """Hidden layer k's kicks of steps 0 .. n_steps - 1 (steps x neurons), from the hash."""
    steps = np.arange(n_steps)[:, None]
    u = hash_uniform_numpy(mix_seed(SEED, 1009, k + 1), steps, np.arange(n)[None, :])
    return spec.noise * np.sqrt(12.0) * (u - 0.5)


def test_noise_and_its_record_follow_the_hash():
    """With no input spikes a hidden neuron's input variable and its record
    ``nt`` are the kicks alone, each filtered by its exact decay."""
    spec = _spec(rules.get("dfa", lr=5.0, lr_hidden=2.0), noise=0.3)
    W, B, stim, tgt, learn = small_inputs(spec, 1)
    stim[:] = 0.0

    def monitors(model):
        return [StateMonitor(model.layers[0], ["nt", "I_syn"], record=True)]

    runner = RuntimeRunner(spec, 1)
    runner.run(W, B, stim, tgt, learn, noise_seed=SEED, monitors=monitors)
    (mon,) = runner.last_monitors
    n_steps = spec.steps_per_sample
    kicks = _kicks(spec, 0, n_steps, 12)
    dt = float(spec.dt / second)
    for name, tau, unit in (("nt", float(spec.tau_noise / second), 1.0),
                            ("I_syn", float(spec.neuron.tau_syn / second), spec.w_unit_of("hidden_1"))):
        expected = np.zeros((n_steps, 12))
        for n in range(1, n_steps):  # recorded at the start of step n: after step n - 1's kick and decay
            expected[n] = (expected[n - 1] + kicks[n - 1]) * np.exp(-dt / tau)
        got = np.asarray(getattr(mon, name)[:] / unit).T
        assert np.abs(expected).max() > 0.1
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    # the kicks have the stated spread (uniform, unit variance times noise)
    assert np.std(_kicks(spec, 0, 20000, 12)) == pytest.approx(0.3, rel=0.02)


@pytest.mark.parametrize("timing", ["clock", "event"])
def test_mirror_learns_b_from_the_noise_record_at_upper_spikes(timing):
    """B_ji after a run = the rescaled start + lr_feedback * the sum of nt_i
    at every spike of j while learning; bsq tracks the rows' mean squares.
    The forward update's timing (the training's default is event) does not
    touch B."""
    rule = rules.get("mirror", lr=5.0, lr_hidden=5.0, lr_feedback=0.05)
    spec = _spec(rule.event_driven() if timing == "event" else rule)
    W, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)
    learn[1] = 0.0  # the second sample does not learn

    def monitors(model):
        mons = []
        for g in model.layers[:-1]:  # nt as the on_post code reads it: after the step's thresholds
            mons.append(StateMonitor(g, "nt", record=True, when="thresholds", order=10))
        mons += [SpikeMonitor(g) for g in model.layers[1:]]
        mons += [StateMonitor(g, "bsq", record=True, when="end") for g in model.layers[1:]]
        return mons

    runner = RuntimeRunner(spec, N_SAMPLES)
    res = runner.run(W, B, stim, tgt, learn, noise_seed=SEED, monitors=monitors)
    nt1, nt2, sp2, sp_out, bsq2, bsq_out = runner.last_monitors
    steps = spec.steps_per_sample
    dt = float(spec.dt / second)
    for k, (nt, spikes, bsq) in enumerate(((nt1, sp2, bsq2), (nt2, sp_out, bsq_out))):
        start = rescaled(B[k], _scale(spec, k + 1))
        expected = start.copy()
        t_steps = np.round(np.asarray(spikes.t[:] / second) / dt).astype(int)
        for j, n in zip(np.asarray(spikes.i[:]), t_steps):
            if learn[n // steps]:
                expected[j] += 0.05 * np.asarray(nt.nt[:, n])
        assert len(t_steps) > 20 and np.abs(expected - start).max() > 1e-3
        np.testing.assert_allclose(res.feedback[k], expected, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(np.asarray(bsq.bsq[:, -1]), np.mean(res.feedback[k] ** 2, axis=1), rtol=1e-9)
    # the input's projection carries no B
    assert "B" not in runner.last_model.projections[0].variables


def _scale(spec, k):
    from brianrules.build.pathways.signsym import fb_scale

    return fb_scale(spec, k)


def test_mirror_sends_each_row_at_the_stated_scale():
    """L_i = sum_j B_ji delta_j * fb_rms / rms(row j of B), one step late
    (the summed variable of step n is read in step n + 1)."""
    spec = _spec(rules.get("mirror", lr=5.0, lr_hidden=5.0, lr_feedback=0.0))
    W, B, stim, tgt, learn = small_inputs(spec, 1)

    def monitors(model):
        return [StateMonitor(g, ["L", "delta"], record=True, when="before_groups") for g in model.layers]

    runner = RuntimeRunner(spec, 1)
    res = runner.run(W, B, stim, tgt, learn, noise_seed=SEED, monitors=monitors)
    h1, h2, out = runner.last_monitors
    for k, (low, up) in enumerate(((h1, h2), (h2, out))):
        scale = _scale(spec, k + 1)
        Bk = rescaled(B[k], scale)
        np.testing.assert_allclose(res.feedback[k], Bk, rtol=1e-12)  # lr_feedback 0: B stays
        rows = Bk * (scale / np.sqrt(np.mean(Bk ** 2, axis=1)))[:, None]
        expected = rows.T @ np.asarray(up.delta[:])[:, :-1]
        assert np.abs(expected).max() > 1e-3
        np.testing.assert_allclose(np.asarray(low.L[:])[:, 1:], expected, rtol=1e-9, atol=1e-12)


def test_mirror_and_noise_refusals():
    with pytest.raises(ValueError, match="noise"):  # the mirror needs noise, said when the spec is made
        _spec(noise=0.0)
    with pytest.raises(ValueError, match="noise must be a non-negative number"):
        _spec(rules.get("dfa"), noise=-1.0)
    with pytest.raises(ValueError, match="tau_noise must be a positive time"):
        _spec(rules.get("dfa"), tau_noise=0 * second)
    # the engines that do not model the noise say so
    from brianrules.engines.bptt import check_trainable
    from brianrules.reference.params import check_supported

    with pytest.raises(ValueError, match="reference simulator does not model the hidden neurons' noise"):
        check_supported(_spec(rules.get("dfa", lr=5.0, lr_hidden=2.0), noise=0.2))
    with pytest.raises(ValueError, match="does not model the hidden neurons' noise"):
        check_trainable(_spec(rules.get("bptt"), noise=0.2))
    for bad in ({"lr_feedback": -1.0}, {"noise": 0.0}, {"fb_scale": 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            rules.get("mirror", **bad)
    from brianrules.training import TrainConfig

    # the training command: noise for the mirror by default, none for other rules, a given value wins
    assert TrainConfig(rule="mirror", hidden=[10, 10]).network_spec(64, 10).noise == 0.5
    assert TrainConfig(rule="fa", hidden=[10, 10]).network_spec(64, 10).noise == 0.0
    assert TrainConfig(rule="fa", hidden=[10, 10], noise=0.2).network_spec(64, 10).noise == 0.2
    assert rules.get("wm").name == "mirror"
    # `brianrules show` says what noise the network gets
    from brianrules import show

    assert "random input of std 0.5 (weight units)" in show.text(TrainConfig(rule="mirror", hidden=[10, 10]), "m")
    assert "noise:" not in show.text(TrainConfig(rule="fa", hidden=[10, 10]), "f")
    # written out as its factors (`brianrules rules --show mirror`), the rule trains the same network
    from brianrules.build.pathways.mirror import eta_mirror
    from brianrules.rules.three_factor import section

    preset = TrainConfig(rule="mirror", hidden=[10, 10]).network_spec(64, 10)
    written = TrainConfig.from_dict({**section(rules.get("mirror")), "hidden": [10, 10]}).network_spec(64, 10)
    assert written.rule.feedback == "mirror"
    assert (written.noise, eta_mirror(written)) == (preset.noise, eta_mirror(preset)) == (0.5, 0.003)


@pytest.mark.slow
@pytest.mark.standalone
def test_cpp_standalone_agrees_with_runtime(build_root):
    from brianrules.devices import StandaloneRunner
    from conftest import assert_cpp_matches_runtime

    spec = _spec()
    runner = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / "mirror"), progress=False)
    try:
        assert_cpp_matches_runtime(spec, runner, N_SAMPLES)
        inputs = small_inputs(spec, N_SAMPLES)
        cpp = runner.run(*inputs, noise_seed=11)
        rt = RuntimeRunner(spec, N_SAMPLES).run(*inputs, noise_seed=11)
        for Bc, Br, B0 in zip(cpp.feedback, rt.feedback, inputs[1]):
            assert np.abs(Bc - B0).max() > 1e-4
            np.testing.assert_allclose(Bc, Br, rtol=1e-9, atol=1e-12)
    finally:
        runner.close()


@pytest.mark.slow
@pytest.mark.standalone
def test_mirror_turns_b_toward_w_transposed(tmp_path):
    """Two epochs of digits (two hidden layers of 100): the learned B_1 ends
    much nearer W_2^T than its random start (feedback alignment's fixed B)."""
    from brianrules.metrics import read_metrics
    from brianrules.network import initial_weights
    from brianrules.training import TrainConfig, train

    cfg = TrainConfig(rule="mirror", hidden=[100, 100], epochs=2, t_sample_ms=50.0)
    rows = train(cfg, str(tmp_path), log=lambda *a: None, progress=False)
    assert rows[-1]["test_acc"] > 0.6, rows[-1]
    with np.load(tmp_path / "weights.npz") as z:
        W2, B1 = z["w_2"], z["B_1"]
    _, B0 = initial_weights(cfg.network_spec(64, 10), np.random.default_rng(mix_seed(0, 0, 0)))

    def angle(B, W):
        c = np.sum(B * W.T) / (np.linalg.norm(B) * np.linalg.norm(W))
        return float(np.degrees(np.arccos(c)))

    recorded = read_metrics(tmp_path / "metrics.csv")[-1]["angle_B_1"]
    assert recorded == pytest.approx(angle(B1, W2), abs=1e-6)
    assert recorded < 65 and angle(B0[0], W2) > 75, (recorded, angle(B0[0], W2))
