"""The firing-rate regulariser of the hidden layers (`NetworkSpec.rate_reg`,
e-prop's c_reg): its rate estimate and its term of the learning signal
against their closed forms, and its pull of an overactive layer's weights."""

import dataclasses

import numpy as np
import pytest
from brian2 import Hz, SpikeMonitor, StateMonitor, ms, second

from brianrules.devices import RuntimeRunner
from conftest import small_inputs, small_spec

N = 4


def _run(spec, n=N):
    """A runtime run with the hidden layer's state recorded where its L * phi is computed."""
    def monitors(model):
        g = model.layers[0]
        names = ["L", "Lphi", "psi"] + (["r_reg", "L_reg"] if spec.regularised else [])
        return [StateMonitor(g, names, record=True, when="groups", order=-5, name="reg_state"),
                SpikeMonitor(g, name="reg_spikes")]

    runner = RuntimeRunner(spec, n)
    result = runner.run(*small_inputs(spec, n), noise_seed=3, monitors=monitors)
    return result, runner.last_monitors


def test_the_regulariser_is_its_closed_form():
    spec = small_spec(rate_reg=2.0, rate_target=20 * Hz, tau_rate=50 * ms)
    _, (state, spikes) = _run(spec)
    dt, tau = float(spec.dt), float(spec.tau_rate)
    steps = state.r_reg.shape[1]
    # r_reg: starts at the target, decays exactly by exp(-dt / tau) per step, +1/tau per spike (reset)
    i = np.asarray(spikes.i[:])
    n_spike = np.round(np.asarray(spikes.t[:]) / dt).astype(int)
    r = np.empty_like(state.r_reg[:] / Hz)
    value = np.full(state.r_reg.shape[0], float(spec.rate_target))
    # the monitor reads before the step's integration: the value after step n - 1's decay and reset
    for n in range(steps):
        if n > 0:
            value = value * np.exp(-dt / tau) + (1.0 / tau) * np.bincount(i[n_spike == n - 1], minlength=len(value))
        r[:, n] = value
    np.testing.assert_allclose(state.r_reg[:] / Hz, r, rtol=1e-10)
    assert len(i) > 20  # the layer spiked
    scale = float(spec.f_high - spec.f_low)
    np.testing.assert_allclose(state.L_reg[:], 2.0 * (state.r_reg[:] / Hz - 20.0) / scale, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(state.Lphi[:], (state.L[:] + state.L_reg[:]) * state.psi[:], rtol=1e-12, atol=1e-15)
    assert np.abs(state.L_reg[:]).max() > 1e-3


def test_without_the_regulariser_nothing_changes():
    plain = small_spec()
    assert not plain.regularised and "rate_regularised" not in plain.structure()
    assert small_spec(rate_reg=1.0).structure()["rate_regularised"] is True
    # the strength, target and filter are run values
    assert small_spec(rate_reg=1.0).structure() == small_spec(rate_reg=3.0, rate_target=5 * Hz).structure()


def test_an_overactive_layer_is_pulled_down():
    """Against a target of 1 Hz the regulariser makes the hidden layer's
    input weights fall where learning alone does not."""
    base = small_spec(lr_hidden=0.5)
    reg = dataclasses.replace(base, rate_reg=20.0, rate_target=1 * Hz)
    W0 = small_inputs(base, 8)[0][0]
    plain, _ = _run(base, 8)
    pulled, _ = _run(reg, 8)
    assert plain.hidden_rates[0] > 20  # far above the target
    assert pulled.weights[0].mean() < plain.weights[0].mean() - 1e-3
    assert pulled.weights[0].mean() < W0.mean()


def test_bad_regulariser_settings():
    from brianrules import rules

    with pytest.raises(ValueError, match="rate_reg must be a non-negative number"):
        small_spec(rate_reg=-1.0)
    with pytest.raises(ValueError, match="tau_rate must be a positive time"):
        small_spec(rate_reg=1.0, tau_rate=0 * second)
    with pytest.raises(ValueError, match="reads its signal on presynaptic spikes only"):
        small_spec(rule=rules.get("erbp"), rate_reg=1.0)
