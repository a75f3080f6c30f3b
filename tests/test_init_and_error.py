"""How deep networks start and what their error says: the fluctuation-driven
initialisation (`build.initial`) and the zero-mean output error."""

import dataclasses
import math

import numpy as np
import pytest
from brian2 import Hz, NeuronGroup, PoissonGroup, StateMonitor, Synapses, ms, run, second, start_scope

from brianrules.build import initial
from brianrules.devices import RuntimeRunner
from brianrules.neurons import LIF
from conftest import small_inputs, small_spec


# -- the fluctuation-driven initialisation --------------------------------------
def test_psp_integrals_of_the_lif_against_its_kernel_integrated():
    lif = LIF()
    ebar, ehat = initial.psp_integrals(lif)
    tm, ts = float(lif.parameters["tau_m"] / second), float(lif.parameters["tau_syn"] / second)
    dt = 1e-6
    t = np.arange(0, 0.3, dt)
    kernel = ts / (ts - tm) * (np.exp(-t / ts) - np.exp(-t / tm))
    # the kernel solves tau_m v' = -v + I with I = exp(-t / tau_syn), v(0) = 0
    dv = (-kernel + np.exp(-t / ts)) / tm
    np.testing.assert_allclose(np.gradient(kernel, dt)[1:-1], dv[1:-1], rtol=1e-4, atol=1e-2)
    assert ebar == pytest.approx(kernel.sum() * dt, rel=1e-4)
    assert ehat == pytest.approx((kernel ** 2).sum() * dt, rel=1e-4)


def test_fluctuation_init_puts_the_free_membrane_where_it_was_asked():
    """LIF neurons without threshold, driven by Poisson inputs at the assumed
    rate through weights drawn as the initialisation draws them: the
    potential's mean and fluctuations (in threshold distances from rest) are
    those asked for."""
    lif = LIF()
    n_pre, n_post, rate, mu_u, sigma_u = 200, 40, 20 * Hz, 0.3, 0.5
    mu_w, sigma_w = initial.fluctuation_parameters(lif, n_pre, rate, mu_u, sigma_u)
    W = np.random.default_rng(3).normal(mu_w, sigma_w, size=(n_pre, n_post))
    p = lif.parameters
    unit = p["v_th"] - p["v_reset"]
    start_scope()
    src = PoissonGroup(n_pre, rate)
    tgt = NeuronGroup(n_post, "dv/dt = (-v + I) / tau_m : volt\ndI/dt = -I / tau_syn : volt", method="exact",
                      namespace={"tau_m": p["tau_m"], "tau_syn": p["tau_syn"]}, dt=0.1 * ms)
    S = Synapses(src, tgt, "w : volt", on_pre="I_post += w", dt=0.1 * ms)
    S.connect()
    S.w = W.reshape(-1) * unit
    mon = StateMonitor(tgt, "v", record=True, dt=0.5 * ms)
    run(0.2 * second, namespace={})
    mon.active = True
    run(6 * second, namespace={})
    u = np.asarray(mon.v[:, 400:] / unit)  # after the first 200 ms
    assert u.mean() == pytest.approx(mu_u, abs=0.03)
    assert np.sqrt(u.var(axis=1).mean()) == pytest.approx(sigma_u * (1 - mu_u), rel=0.08)


def test_fluctuation_init_draws_from_the_closed_form_and_keeps_the_feedback():
    base = small_spec(hidden=(30, 30), w_init_mean=0.0)
    spec = dataclasses.replace(base, init="fluctuation", init_sigma_u=0.8, init_rate=15 * Hz)
    expected = initial.weight_parameters(spec, input_rate=40 * Hz)
    from brianrules.network import initial_weights

    W, B = initial_weights(spec, np.random.default_rng(0), input_rate=40 * Hz)
    W0, B0 = initial_weights(base, np.random.default_rng(0))
    for M, (mean, std), (n_pre, _) in zip(W, expected, spec.projection_shapes):
        assert mean == 0.0
        assert M.std() == pytest.approx(std, rel=0.1)
        ebar, ehat = initial.psp_integrals(spec.neuron)
        rate = 40.0 if M is W[0] else 15.0
        assert std == pytest.approx(0.8 / math.sqrt(n_pre * rate * ehat), rel=1e-12)
    for a, b in zip(B, B0):  # the same calls of the generator: the feedback matrices stay
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(W[0], W0[0])


def test_fluctuation_init_refuses_what_it_cannot_compute(tmp_path):
    from brianrules.model.neuron import load as load_neuron
    from brianrules.training import TrainConfig

    coba = load_neuron("models/neurons/coba_lif.toml")
    with pytest.raises(ValueError, match="fluctuation-driven initialisation needs a neuron whose spikes add"):
        initial.psp_integrals(coba)
    with pytest.raises(ValueError, match="no weights with mean potential"):
        initial.fluctuation_parameters(LIF(), 10, 20 * Hz, mu_u=0.99, sigma_u=1.0)
    with pytest.raises(ValueError, match="unknown initialisation 'xavier'"):
        TrainConfig(init="xavier").validate()
    with pytest.raises(ValueError, match="init_rate_hz"):
        TrainConfig(init="fluctuation", init_rate_hz=0.0).validate()


# -- the zero-mean output error -----------------------------------------------------
@pytest.mark.parametrize("rule", ["dfa", "symmetric"])
def test_zero_mean_error_is_what_feedback_carries_and_the_output_keeps_its_own(rule):
    """What the output sends down (err for direct feedback, delta = err * phi
    for layer-wise feedback) has zero mean over the outputs in every step;
    the output's own learning signal stays the rate error."""
    from brianrules import rules

    spec = dataclasses.replace(small_spec(hidden=(12,)), zero_mean_error=True,
                               rule=rules.get(rule, lr=5.0, lr_hidden=2.0))
    W, B, stim, tgt, learn = small_inputs(spec, 3)

    def monitors(model):
        return [StateMonitor(model.output, ["err", "err_raw", "L", "delta", "psi"], record=True, when="groups",
                             order=-6),
                StateMonitor(model.layers[0], "L", record=True, when="before_groups")]

    runner = RuntimeRunner(spec, 3)  # learning off: the forward weights that carry delta stay W
    res = runner.run(W, B, stim, tgt, np.zeros(3), noise_seed=4, monitors=monitors)
    out, hid = runner.last_monitors
    err, raw = np.asarray(out.err[:]), np.asarray(out.err_raw[:])
    assert res.counts.sum() > 10 and np.abs(raw.mean(axis=0)).max() > 0.1  # there is a common part to remove
    np.testing.assert_allclose(err, raw - raw.mean(axis=0), atol=1e-12)
    np.testing.assert_array_equal(np.asarray(out.L[:]), raw)
    np.testing.assert_allclose(np.asarray(out.delta[:]), err * np.asarray(out.psi[:]), atol=1e-12)
    # hidden L of step n is what the output sent in step n - 1 (a summed variable)
    down = B[0].T @ err[:, :-1] if rule == "dfa" else W[-1] @ np.asarray(out.delta[:])[:, :-1]
    np.testing.assert_allclose(np.asarray(hid.L[:])[:, 1:], down, atol=1e-9)


def test_zero_mean_error_is_a_structure_of_its_own_and_the_reference_refuses_it():
    from brianrules.reference import check_supported

    spec = small_spec(hidden=(12,))
    zero = dataclasses.replace(spec, zero_mean_error=True)
    assert zero.structure() != spec.structure()
    with pytest.raises(ValueError, match="zero-mean output error"):
        check_supported(zero)
