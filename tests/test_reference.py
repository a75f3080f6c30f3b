"""The NumPy reference simulator reproduces the generated C++ program."""

import os
import dataclasses

import numpy as np
import pytest
import sympy

from brianrules import rules, surrogates
from brianrules.devices import StandaloneRunner
from brianrules.reference import ReferenceRunner, surrogate_function
from conftest import small_inputs, small_spec

#: 30 samples of 40 steps: 1200 time steps per run
N_SAMPLES = 30

#: name -> keyword arguments of small_spec
CONFIGS = {
    # one hidden layer, surrogate factor, updates applied at the end of each sample
    "one_hidden": {},
    # two hidden layers, same rule
    "two_hidden": {"hidden": (12, 10)},
    # updates applied every step, Hebbian factor, another surrogate shape
    "every_step_activity": {"post": "activity", "apply_every": 1,
                            "surrogate": surrogates.get("arctan", 0.7, 1.3)},
    # accumulated over 7 steps (not a divisor of the sample), no hidden factor
    "every_7_none": {"hidden": (12, 10), "post": "none", "apply_every": 7,
                     "surrogate": surrogates.get("piecewise_linear", 1.5, 0.8)},
    # per-synapse eligibility traces: SuperSpike's two-stage filter, applied at sample ends
    "superspike": {"rule": rules.get("superspike", lr=5.0, lr_hidden=2.0)},
    # e-prop's one-stage filter, two hidden layers, every 7 steps, another time constant
    "eprop_every_7": {"hidden": (12, 10), "rule": dataclasses.replace(
        rules.get("eprop", lr=5.0, lr_hidden=2.0, apply_every=7), tau_elig=7.0),
        "surrogate": surrogates.get("piecewise_linear", 1.5, 0.8)},
}


def _inputs(spec, seed=1):
    W, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES, seed=seed)
    learn = learn.copy()
    learn[[4, 5, 17, N_SAMPLES - 1]] = 0.0  # gate closed for some samples
    return W, B, stim, tgt, learn


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def program(request, build_root):
    spec = small_spec(**CONFIGS[request.param])
    runner = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / f"reference-{request.param}"),
                              progress=False)
    yield spec, runner
    runner.close()


@pytest.mark.slow
@pytest.mark.standalone
@pytest.mark.parametrize("noise_seed", [11, 2024])
def test_reference_matches_generated_program(program, noise_seed):
    spec, cpp_runner = program
    assert N_SAMPLES * spec.steps_per_sample >= 1000
    inputs = _inputs(spec)
    cpp = cpp_runner.run(*inputs, noise_seed=noise_seed)
    ref = ReferenceRunner(spec, N_SAMPLES).run(*inputs, noise_seed=noise_seed)
    assert cpp.counts.sum() > 50  # the outputs are active: the comparison means something
    assert np.array_equal(cpp.counts, ref.counts)
    np.testing.assert_allclose(ref.hidden_rates, cpp.hidden_rates, rtol=1e-12)
    for W0, Wc, Wr in zip(inputs[0], cpp.weights, ref.weights):
        assert np.abs(Wc - W0).max() > 1e-3  # learning happened
        np.testing.assert_allclose(Wr, Wc, rtol=1e-9, atol=1e-12)


def test_closed_gate_leaves_weights_unchanged():
    spec = small_spec(hidden=(12, 10))
    W, B, stim, tgt, learn = small_inputs(spec, 3)
    out = ReferenceRunner(spec, 3).run(W, B, stim, tgt, np.zeros(3), noise_seed=3)
    assert out.counts.sum() > 0
    for W0, W1 in zip(W, out.weights):
        assert np.array_equal(W0, W1)


def test_reference_is_deterministic_and_seeded():
    spec = small_spec()
    inputs = small_inputs(spec, 4)
    runner = ReferenceRunner(spec, 4)
    a = runner.run(*inputs, noise_seed=1)
    b = runner.run(*inputs, noise_seed=1)
    c = runner.run(*inputs, noise_seed=2)
    assert np.array_equal(a.counts, b.counts)
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))
    assert not all(np.array_equal(x, y) for x, y in zip(a.weights, c.weights))


@pytest.mark.parametrize("name", surrogates.NAMES)
def test_surrogate_function_matches_sympy(name):
    sg = surrogates.get(name, 0.7, 1.3)
    psi = surrogate_function(sg)
    d = np.linspace(-3, 3, 41)
    expected = [float(sg.numeric().subs(surrogates.x, sympy.Float(v))) for v in d]
    np.testing.assert_allclose(psi(d), expected, rtol=1e-12, atol=1e-15)


ALIF_FILE = os.path.join(os.path.dirname(__file__), os.pardir, "models", "neurons", "alif.toml")


def test_unsupported_models_are_refused():
    from brianrules import rules
    from brianrules.network import NetworkSpec

    with_expr = NetworkSpec(n_in=4, hidden=(5,), n_out=2, rule=rules.get("dfa", post_expr="psi_post * x_post"))
    with pytest.raises(ValueError, match="post_expr"):
        ReferenceRunner(with_expr, 1)
    # direct feedback, clock-driven, trace or filtered eligibility (three_factor's defaults are dfa's)
    modelled = ("dfa", "superspike", "eprop", "three_factor")
    for name in sorted(rules.RULES):
        spec = NetworkSpec(n_in=4, hidden=(5,), n_out=2, rule=rules.get(name))
        if name in modelled:
            ReferenceRunner(spec, 1)
        else:  # other feedback pathways, eligibilities or event-driven updates
            with pytest.raises(ValueError, match="reference simulator"):
                ReferenceRunner(spec, 1)
    from brianrules.model.neuron import load

    alif = NetworkSpec(n_in=4, hidden=(5,), n_out=2, rule=rules.get("dfa"), neuron=load(ALIF_FILE))
    with pytest.raises(ValueError, match="built-in LIF only, not neuron alif"):
        ReferenceRunner(alif, 1)
    event = NetworkSpec(n_in=4, hidden=(5,), n_out=2, rule=rules.get("dfa").event_driven())
    with pytest.raises(ValueError, match="clock-driven updates only"):
        ReferenceRunner(event, 1)
