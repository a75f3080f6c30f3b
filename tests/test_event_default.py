"""The default timing of a training: a trace rule's event-driven form where
the network takes it (`network.event_form_of`), the clock-driven program
otherwise; with the default, the weights are the clock-driven ones to
rounding for every rule and setting that takes the form."""

import numpy as np
import pytest
from brian2 import ms

from brianrules.devices import RuntimeRunner
from brianrules.neurons import LIF
from brianrules.training import TrainConfig

from conftest import small_inputs

N_IN, N_OUT, N_SAMPLES = 8, 3, 4
# the plain start and signals (two hidden layers would take the deep-network defaults, `training.deep`)
SMALL = dict(t_sample_ms=20.0, max_rate_hz=300.0, w_init_mean=8.0, lr=5.0, lr_hidden=2.0,
             init="fan_in", zero_mean_error=False, rate_reg=0.0)
DEEP = dict(hidden=[12, 10], zero_mean_error=True, rate_reg=0.3, rate_target_hz=50.0, optimizer="adam",
            lr=1e-2, lr_hidden=1e-2, lr_layer_scale=[1.0, 0.5, 0.25])

CASES = {
    "dfa": dict(rule="dfa"),
    "srbp without the derivative": dict(rule="srbp", post="none"),
    "fa": dict(rule="fa", hidden=[12, 10]),
    "symmetric, apply every 7 steps": dict(rule="symmetric", hidden=[12, 10], apply_every=7),
    "kp": dict(rule="kp", hidden=[12, 10], kp_decay=0.01),
    "signsym": dict(rule="signsym", hidden=[12, 10]),
    "three_factor, Hebbian factor": dict(rule="three_factor", post_factor="x_post"),
    "dfa, the deep settings": dict(rule="dfa", **DEEP),
    "dfa, recurrent hidden layer": dict(rule="dfa", projections=[
        {"pre": "input", "post": "hidden_1"}, {"pre": "hidden_1", "post": "hidden_1"},
        {"pre": "hidden_1", "post": "output"}]),
}


def _spec(**kw):
    return TrainConfig(**{**SMALL, "hidden": [12], **kw}).validate().network_spec(N_IN, N_OUT)


@pytest.mark.parametrize("name", list(CASES))
def test_the_default_timing_gives_the_clock_driven_weights(name):
    """Learning on, off and on again: equal counts, the weights (and kp's
    feedback) of the clock-driven program to rounding."""
    default, clock = _spec(**CASES[name]), _spec(**CASES[name], timing="clock")
    assert default.rule.deferred and not clock.rule.deferred
    assert default.structure() != clock.structure()  # two programs
    W0, B, stim, tgt, _ = small_inputs(clock, N_SAMPLES)
    learn = np.array([1.0, 1.0, 0.0, 1.0])
    c = RuntimeRunner(clock, N_SAMPLES).run(W0, B, stim, tgt, learn, noise_seed=5)
    e = RuntimeRunner(default, N_SAMPLES).run(W0, B, stim, tgt, learn, noise_seed=5)
    assert c.counts.sum() > 10 and np.array_equal(c.counts, e.counts)
    for W, Wc, We in zip(W0, c.weights, e.weights):
        assert np.abs(Wc - W).max() > 1e-4  # learning happened
        np.testing.assert_allclose(We, Wc, rtol=1e-9, atol=1e-12 * np.abs(Wc - W).max())
    for Bc, Be in zip(c.feedback or [], e.feedback or []):
        np.testing.assert_allclose(Be, Bc, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("settings,why", [
    (dict(alignment=True), "alignment"),
    (dict(apply_every=1), "apply_every 1"),
    (dict(populations={"output": {"neuron": LIF(tau_trace=20 * ms).to_dict()}}), "one tau_trace"),
    (dict(rule="superspike"), "eligibility 'alpha'"),
    (dict(rule="pes"), "eligibility 'rate'"),
    (dict(rule="bptt"), "gradient"),
])
def test_what_the_event_form_cannot_run_trains_clock_driven(settings, why):
    """The fallback is the clock-driven rule, and `event_form_of` names why."""
    from brianrules.network import event_form_of

    cfg = TrainConfig(**{**SMALL, "hidden": [12], **settings})
    spec = cfg.network_spec(N_IN, N_OUT)
    assert spec.rule.timing == "clock" and not spec.rule.deferred
    event, reason = event_form_of(spec)
    assert event is None and why in reason


def test_asking_for_the_event_form_where_it_cannot_run_is_an_error():
    with pytest.raises(ValueError, match="alignment"):
        TrainConfig(**SMALL, alignment=True, timing="event").validate().network_spec(N_IN, N_OUT)
