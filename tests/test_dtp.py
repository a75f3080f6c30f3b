"""Difference target propagation: the target error sent down through learned
inverses, and the inverses' reconstruction learning, against their formulas
computed in NumPy from recorded runs; the inverse of a trained pair of
layers; the same numbers from the compiled program."""

import dataclasses

import numpy as np
import pytest
from brian2 import StateMonitor

from brianrules import rules
from brianrules.rules import optimizers
from brianrules.devices import RuntimeRunner
from conftest import small_inputs, small_spec

N_SAMPLES = 3
ETA_HAT = 0.3
LR_FB = 20.0


def G(x):  # the default inverse's nonlinearity, the softplus
    return np.log1p(np.exp(x))


def GP(x):
    return 1.0 / (1.0 + np.exp(-x))


def _sgd(**kw):
    """The dtp rule with plain SGD (its default is Adam): the tests of the
    pathway check the forward update in every step against ``-eta L phi x``."""
    return optimizers.configure(rules.get("dtp", **kw), "sgd", lr_given=True, lr_hidden_given=True)


def _spec(zero_mean=False, **kw):
    kw = {"lr": 5.0, "lr_hidden": 5.0, "lr_feedback": LR_FB, "target_step": ETA_HAT, **kw}
    return dataclasses.replace(small_spec(hidden=(12, 12)), rule=_sgd(**kw), zero_mean_error=zero_mean)


def _run(spec, inputs, noise_seed=4):
    """A run with every variable of the pathway recorded twice a step: after
    the step's start (its resets and gates) and before the inverse's update
    (what it reads), and in the groups slot before the summed variables
    (what they read)."""
    def monitors(model):
        h1, h2, out = model.layers
        mons = []
        for when, order in (("before_groups", -10), ("groups", -3)):
            mons += [StateMonitor(g, ["a_fb", "c_fb", "d_fb", "h", "L", "rec_slope"], record=True, when=when,
                                  order=order) for g in (h1, h2)]
            mons += [StateMonitor(out, ["h", "err"], record=True, when=when, order=order)]
            mons += [StateMonitor(S, "Q", record=True, when=when, order=order) for (S,) in model.feedback]
        return mons

    runner = RuntimeRunner(spec, len(inputs[2]))
    res = runner.run(*inputs, noise_seed=noise_seed, monitors=monitors)
    m = runner.last_monitors
    return runner, res, {"update": m[:5], "groups": m[5:]}


def _q_in_time(mon, n_up, n_low):
    """Recorded Q as steps x n_up x n_low (synapse order: up-major, `connect_all`)."""
    return mon.Q[:].T.reshape(-1, n_up, n_low)


@pytest.mark.parametrize("zero_mean", [False, True])
def test_target_error_follows_the_difference_correction(zero_mean):
    spec = _spec(zero_mean)
    inputs = small_inputs(spec, N_SAMPLES)
    assert [b.shape for b in inputs[1]] == [(13, 12), (4, 12)]  # Q and the bias row
    runner, res, mons = _run(spec, inputs)
    h1, h2, out, q1, q2 = mons["groups"]
    for low, up, signal, q in ((h1, h2, h2.L[:], q1), (h2, out, out.err[:], q2)):
        a, c, d, L = low.a_fb[:], low.c_fb[:], low.d_fb[:], low.L[:]
        # L = (G(a + d) - G(a - eta_hat c + d)) / eta_hat, the target error per target step
        expected = (G(a + d) - G(a - ETA_HAT * c + d)) / ETA_HAT
        np.testing.assert_allclose(L, expected, rtol=1e-12, atol=1e-14)
        assert np.abs(L).max() > 0.05
        # a = Q^T h_up and c = Q^T e_up, summed in the step before from the Q and the state recorded there
        Q = _q_in_time(q, up.h.shape[0], low.h.shape[0])
        for got, source in ((a, up.h[:]), (c, signal)):
            want = np.einsum("tul,ut->lt", Q[:-1], source[:, :-1])
            assert np.abs(want).max() > 1e-2
            np.testing.assert_allclose(got[:, 1:], want, rtol=1e-9, atol=1e-12)
    if zero_mean:  # the output sends down its zero-mean error
        np.testing.assert_allclose(out.err[:].mean(axis=0)[1:], 0.0, atol=1e-12)


def test_inverse_learns_by_its_reconstruction_loss_and_is_carried():
    spec = _spec()
    inputs = small_inputs(spec, N_SAMPLES)
    runner, res, mons = _run(spec, inputs)
    h1, h2, out, q1, q2 = mons["update"]
    dt = float(spec.dt)
    for k, (low, up, q) in enumerate(((h1, h2, q1), (h2, out, q2))):
        n_up, n_low = up.h.shape[0], low.h.shape[0]
        Q = _q_in_time(q, n_up, n_low)
        a, d = low.a_fb[:], low.d_fb[:]
        # in every step: dQ_kj = -eta_fb dt rec_slope_j h_k, dd_j = -eta_fb dt rec_slope_j, with
        # rec_slope = (G(a + d) - h) G'(a + d) from the state the step starts with
        slope = (G(a + d) - low.h[:]) * GP(a + d)
        n = Q.shape[0] - 1
        want = -LR_FB * dt * np.einsum("ut,lt->tul", up.h[:, :n], slope[:, :n])
        assert np.abs(want).max() > 1e-4
        np.testing.assert_allclose(np.diff(Q, axis=0), want, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(np.diff(d, axis=1), -LR_FB * dt * slope[:, :n], rtol=1e-9, atol=1e-15)
        # what the run returns is Q with d as its last row, after the last step's update
        last = -LR_FB * dt
        np.testing.assert_allclose(res.feedback[k][:-1], Q[-1] + last * np.outer(up.h[:, -1], slope[:, -1]),
                                   rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(res.feedback[k][-1], d[:, -1] + last * slope[:, -1], rtol=1e-9, atol=1e-15)
    # the next run starts from them, and a run without learning changes neither Q nor d
    W, B, stim, tgt, learn = inputs
    frozen = RuntimeRunner(spec, N_SAMPLES).run(res.weights, res.feedback, stim, tgt, np.zeros(N_SAMPLES), 4)
    for k in range(2):
        assert np.array_equal(frozen.feedback[k], res.feedback[k])
        assert not np.allclose(res.feedback[k], B[k])


def test_a_trained_inverse_reconstructs_the_layer_below():
    """Forward weights fixed (learning rates of 1e-9/s), the inverse from
    hidden layer 2 (20 neurons) back to hidden layer 1 (10) learns on 80
    samples.  Its reconstruction error at the samples' ends falls from over
    twice that of the best affine map fitted to the same rates by least
    squares (what an inverse of this form could do at best: the rates are
    noisy spike counts) in the first 5 samples to within 30% of it in the
    last 20 (2.7 and 1.03 times when written)."""
    from brian2 import ms

    spec = dataclasses.replace(small_spec(hidden=(10, 20), t_sample=40 * ms),
                               rule=_sgd(lr=1e-9, lr_hidden=1e-9, lr_feedback=5.0))
    n = 80
    W, B, stim, tgt, learn = small_inputs(spec, n, seed=3)

    def monitors(model):
        return [StateMonitor(g, ["h"] + (["rec"] if g is model.layers[0] else []), record=True, when="start",
                             order=-60) for g in model.layers[:2]]  # before the next sample's resets

    runner = RuntimeRunner(spec, n)
    runner.run(W, B, stim, tgt, learn, noise_seed=5, monitors=monitors)
    low, up = runner.last_monitors
    ends = np.arange(1, n) * spec.steps_per_sample  # the state each sample ended with, before the update
    rec, h, h_up = low.rec[:, ends], low.h[:, ends], up.h[:, ends]
    X = np.vstack([h_up, np.ones(len(ends))]).T
    coef, *_ = np.linalg.lstsq(X, h.T, rcond=None)
    best = np.sqrt(np.mean((X @ coef - h.T) ** 2))

    def rms(r):
        return np.sqrt(np.mean(r ** 2))

    assert rms(rec[:, :5]) > 2 * best
    assert rms(rec[:, -20:]) < 1.3 * best, (rms(rec[:, :5]), rms(rec[:, -20:]), best)


def test_dtp_refuses_bad_settings():
    with pytest.raises(ValueError, match="target_step"):
        rules.get("dtp", target_step=0.0)
    with pytest.raises(ValueError, match="lr_feedback"):
        rules.get("dtp", lr_feedback=-1.0)
    with pytest.raises(ValueError, match="may name only u"):
        rules.get("dtp", feedback_fn="tanh(v)")
    with pytest.raises(ValueError, match="derivative"):
        rules.get("dtp", feedback_fn="3.0")
    with pytest.raises(ValueError, match="not an expression"):
        rules.get("dtp", feedback_fn="tanh(u")
    with pytest.raises(ValueError, match="reference simulator .*'dtp'"):
        from brianrules.reference.params import check_supported

        check_supported(_spec())


def test_feedback_fn_is_any_expression_of_u():
    from brianrules.rules.dtp import feedback_function

    G, GP = feedback_function("u / (1 + abs(u))")
    assert "abs" in G("x") and "x" in GP("x")
    G, GP = feedback_function("u")  # linear inverses: L = sum_k Q_kj e_k exactly
    assert GP("x").strip("() ") in ("1", "1.0")


@pytest.mark.slow
@pytest.mark.standalone
def test_runtime_and_cpp_standalone_agree(build_root):
    """Spikes, forward weights and the learned inverses (Q and d) to rounding."""
    from conftest import assert_learned_feedback_matches_runtime

    assert_learned_feedback_matches_runtime(_spec(), build_root / "dtp")


@pytest.mark.parametrize("argv, message", [
    (["--rule", "dtp", "--target-step", "0"], "target_step must be a positive number"),
    (["--rule", "dtp", "--lr-feedback", "-2"], "lr_feedback must be a non-negative number"),
    (["--rule", "dtp", "--feedback-fn", "exp(v)"], "feedback_fn 'exp(v)' may name only u"),
    (["--rule", "fa", "--target-step", "0.2"], "rule fa does not take --target-step"),
])
def test_cli_refuses_bad_dtp_settings_before_building(capsys, tmp_path, argv, message):
    from brianrules.cli import main

    out = tmp_path / "run"
    code = main(["train", *argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert not out.exists()



def test_forward_update_is_the_three_factor_product_with_the_target_error():
    """With updates applied every step: dw_ij = -eta dt L_j psi_j x_i, L the
    target error per step (the output's: err), in every projection."""
    from brian2 import second

    spec = _spec(apply_every=1)
    W, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)
    syn = 5

    def monitors(model):
        mons = []
        for S in model.projections:
            i, j = divmod(syn, S.target.N)
            mons += [StateMonitor(S, "w", record=[syn], when="groups", order=-7),
                     StateMonitor(S.source, "x", record=[i], when="groups", order=-7),
                     StateMonitor(S.target, ["L", "psi"], record=[j], when="groups", order=-7)]
        return mons

    runner = RuntimeRunner(spec, N_SAMPLES)
    runner.run(W, B, stim, tgt, learn, noise_seed=7, monitors=monitors)
    m = runner.last_monitors
    dt = float(spec.dt / second)
    for layer in range(3):
        mw, mpre, mpost = m[3 * layer:3 * layer + 3]
        eta = spec.rule.lr if layer == 2 else spec.rule.lr_hidden
        expected = -eta * dt * mpost.L[0] * mpost.psi[0] * mpre.x[0]
        assert np.count_nonzero(np.abs(expected[:-1]) > 1e-9) > 20
        np.testing.assert_allclose(np.diff(mw.w[0]), expected[:-1], rtol=1e-9, atol=1e-14)


def test_the_inverse_s_nonlinearity_is_part_of_the_build_key():
    """G is written into the generated code: another feedback_fn is another
    program; the run values (target step, learning rates) are not."""
    from brianrules.build.key import structure_hash

    base = _spec()
    assert structure_hash(base, 4) != structure_hash(_spec(feedback_fn="tanh(u)"), 4)
    assert structure_hash(base, 4) == structure_hash(_spec(target_step=0.5, lr_feedback=3.0), 4)
    fa = dataclasses.replace(base, rule=rules.get("fa"))
    assert "pathway" not in fa.structure()  # the other pathways' keys are what they were


def test_defaults_are_adam_and_plain_sgd_takes_the_rules_own_rates():
    """dtp learns with Adam, step 3e-3 for every projection; ``--optimizer
    sgd`` without rates gives the SGD rates the rule declares (2 and 0.5 /s),
    a rate given wins, and another normalising optimizer keeps the steps."""
    from brianrules.rules.dtp import DEFAULT_STEP, SGD_LR, SGD_LR_HIDDEN
    from brianrules.training import TrainConfig

    rule = TrainConfig(rule="dtp").validate().make_rule()
    assert (rule.optimizer.name, rule.lr, rule.lr_hidden) == ("adam", DEFAULT_STEP, DEFAULT_STEP) == ("adam", 3e-3, 3e-3)
    sgd = TrainConfig(rule="dtp", optimizer="sgd").validate().make_rule()
    assert (sgd.optimizer.name, sgd.lr, sgd.lr_hidden) == ("sgd", SGD_LR, SGD_LR_HIDDEN) == ("sgd", 2.0, 0.5)
    given = TrainConfig(rule="dtp", optimizer="sgd", lr=1.0).validate().make_rule()
    assert (given.lr, given.lr_hidden) == (1.0, 0.5)
    rms = TrainConfig(rule="dtp", optimizer="rmsprop").validate().make_rule()
    assert (rms.optimizer.name, rms.lr, rms.lr_hidden) == ("rmsprop", 3e-3, 3e-3)
    # a rule that declares no SGD rates keeps its own (bptt's steps)
    bptt = TrainConfig(rule="bptt", optimizer="sgd").validate().make_rule()
    assert (bptt.lr, bptt.lr_hidden) == (rules.get("bptt").lr, rules.get("bptt").lr_hidden)
