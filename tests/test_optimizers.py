"""Optimizers (`rules.optimizers`): one application of each against its
formula, the state changing only where synapses learned, the NumPy
reference against runtime mode, and the compiled program against runtime."""

import dataclasses

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, Synapses, ms, start_scope

from brianrules import rules
from brianrules.devices import RuntimeRunner
from brianrules.reference import ReferenceRunner
from brianrules.reference.step import SynapseState, apply_accumulated
from brianrules.rules.optimizers import Optimizer
from conftest import assert_cpp_matches_runtime, small_inputs, small_spec

NAMES = ("rmsmax", "rmsprop", "adam")


def _formula(name, opt, w, g, state, alpha):
    """The optimizers as their papers write them (one learning application)."""
    state = dict(state)
    if name == "sgd":
        return w + g, state
    if name == "rmsmax":  # Zenke & Ganguli 2018
        state["opt_v"] = np.maximum(g ** 2, opt.gamma * state["opt_v"])
        return w + alpha * g / (np.sqrt(state["opt_v"]) + opt.eps), state
    if name == "rmsprop":
        state["opt_v"] = opt.rho * state["opt_v"] + (1 - opt.rho) * g ** 2
        return w + alpha * g / (np.sqrt(state["opt_v"]) + opt.eps), state
    # adam, TensorFlow's form: alpha_t = alpha sqrt(1 - beta2^t) / (1 - beta1^t)
    m = opt.beta1 * state["opt_m"] + (1 - opt.beta1) * g
    v = opt.beta2 * state["opt_v"] + (1 - opt.beta2) * g ** 2
    t = state["opt_n"] + 1
    alpha_t = alpha * np.sqrt(1 - opt.beta2 ** t) / (1 - opt.beta1 ** t)
    state.update(opt_m=m, opt_v=v, opt_n=t)
    return w + alpha_t * m / (np.sqrt(v) + opt.eps), state


def _brian2_application(opt, w, g, state, alpha, plastic):
    """One application of the optimizer's Brian2 code to 5 synapses."""
    start_scope()
    pre = NeuronGroup(1, "", name="opt_pre")
    post = NeuronGroup(len(w), "", name="opt_post")
    model = "\n".join(["w : 1", "w_acc : 1", "plastic : 1 (shared)", *opt.synapse_lines()])
    S = Synapses(pre, post, model, name="opt_syn")
    S.connect()
    S.w, S.w_acc, S.plastic = w, g, plastic
    for name, value in state.items():
        setattr(S, name, value)
    for name, value in opt.values(alpha).items():
        setattr(S, name, value)
    S.run_regularly(opt.apply_code(), dt=1 * ms, name="opt_apply")
    Network(pre, post, S).run(0.5 * ms, namespace={})  # one application, at t = 0
    return np.asarray(S.w[:]), {name: np.asarray(getattr(S, name)[:]) for name in state}, np.asarray(S.w_acc[:])


RNG = np.random.default_rng(4)
W0 = RNG.normal(0, 0.3, 5)
G = RNG.normal(0, 0.02, 5)


def _state(name):
    return {"opt_m": RNG.normal(0, 0.01, 5), "opt_v": RNG.uniform(1e-5, 1e-3, 5),
            "opt_n": np.full(5, 3.0)} if name == "adam" else {"opt_v": RNG.uniform(1e-5, 1e-3, 5)}


@pytest.mark.parametrize("name", NAMES)
def test_one_application_is_the_formula(name):
    opt = Optimizer(name)
    state = _state(name)
    expected_w, expected_state = _formula(name, opt, W0, G, state, 0.01)
    w, new_state, acc = _brian2_application(opt, W0, G, state, 0.01, plastic=1.0)
    np.testing.assert_allclose(w, expected_w, rtol=1e-12)
    for key in state:
        np.testing.assert_allclose(new_state[key], expected_state[key], rtol=1e-12)
    assert np.all(acc == 0)
    assert np.abs(w - W0).max() > 1e-4  # the step was taken
    # the reference simulator's application: the same formula
    ref = apply_accumulated(SynapseState(W0.copy(), G.copy(), (), dict(state)), opt, 0.01, 1.0)
    np.testing.assert_allclose(ref.w, expected_w, rtol=1e-12)
    for key in state:
        np.testing.assert_allclose(ref.opt[key], expected_state[key], rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_no_learning_no_change(name):
    """An application while learning is off (the test part) leaves the
    weights and the state as they were."""
    opt = Optimizer(name)
    state = _state(name)
    w, new_state, _ = _brian2_application(opt, W0, np.zeros(5), state, 0.01, plastic=0.0)
    assert np.array_equal(w, W0)
    for key in state:
        assert np.array_equal(new_state[key], state[key])


def test_clip_bounds_the_weights():
    opt = Optimizer("sgd", clip=0.2)
    w, _, _ = _brian2_application(opt, W0, G, {}, None, plastic=1.0)
    np.testing.assert_allclose(w, np.clip(W0 + G, -0.2, 0.2), rtol=1e-15)
    assert np.abs(W0 + G).max() > 0.2  # the bound bit


def test_bad_optimizer_settings():
    with pytest.raises(ValueError, match="unknown optimizer 'sgdm'"):
        Optimizer("sgdm")
    with pytest.raises(ValueError, match="beta2 must lie in"):
        Optimizer("adam", beta2=1.0)
    with pytest.raises(ValueError, match="clip must be a positive bound"):
        Optimizer("sgd", clip=-1.0)


# -- whole networks ---------------------------------------------------------------

N = 5


def _spec(name, **kw):
    rule = dataclasses.replace(rules.get("dfa", lr=0.01, lr_hidden=0.005), optimizer=Optimizer(name, **kw))
    return small_spec(rule=rule)


def _inputs(spec, n_learn):
    W, B, stim, tgt, learn = small_inputs(spec, N)
    learn = np.array([1.0] * n_learn + [0.0] * (N - n_learn))
    return W, B, stim, tgt, learn


@pytest.mark.parametrize("name, layer_scale", [*((n, None) for n in NAMES), ("adam", (0.5, 2.0)), ("sgd", (4.0, 2.0))])
def test_reference_matches_runtime(name, layer_scale):
    spec = dataclasses.replace(_spec(name), lr_layer_scale=layer_scale)
    inputs = _inputs(spec, 3)
    rt = RuntimeRunner(spec, N).run(*inputs, noise_seed=5)
    ref = ReferenceRunner(spec, N).run(*inputs, noise_seed=5)
    assert np.array_equal(rt.counts, ref.counts)
    for W0, a, b in zip(inputs[0], rt.weights, ref.weights):
        assert np.abs(a - W0).max() > 1e-4
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for a, b in zip(rt.optimizer_state, ref.optimizer_state):
        assert set(a) == set(b) == set(spec.rule.optimizer.state)
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-15)


def test_adam_counts_the_learning_applications_and_carries_its_state():
    """3 learning samples: every synapse has taken 3 Adam steps; the state
    passed to the next run is where it goes on from."""
    spec = _spec("adam")
    inputs = _inputs(spec, 3)
    first = RuntimeRunner(spec, N).run(*inputs, noise_seed=5)
    for state in first.optimizer_state:
        assert np.all(state["opt_n"] == 3)
        assert np.abs(state["opt_v"]).max() > 0
    again = RuntimeRunner(spec, N).run(first.weights, *inputs[1:], noise_seed=6,
                                       optimizer_state=first.optimizer_state)
    for state in again.optimizer_state:
        assert np.all(state["opt_n"] == 6)


def test_sgd_without_clip_is_todays_code():
    spec = small_spec()
    assert spec.rule.optimizer == Optimizer() and "opt_" not in spec.rule.synapse_model(True)
    assert "optimizer" not in spec.structure()
    assert _spec("adam").structure()["optimizer"] == "adam"
    assert _spec("adam", beta1=0.8).structure() == _spec("adam").structure()  # constants are run values


@pytest.fixture(scope="module")
def adam_program(build_root):
    from brianrules.devices import StandaloneRunner

    spec = _spec("adam", clip=1.0)
    runner = StandaloneRunner(spec, 6, build_dir=str(build_root / "adam"), progress=False)
    yield spec, runner
    runner.close()


@pytest.mark.slow
@pytest.mark.standalone
def test_cpp_standalone_matches_runtime_with_adam(adam_program):
    spec, runner = adam_program
    assert_cpp_matches_runtime(spec, runner, 6)


# -- per-layer learning-rate scaling ----------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_layer_scale_multiplies_each_projections_first_change(optimizer):
    """One learning sample, applied at the next sample's start: each
    projection's change is its factor times the change without factors (sgd:
    eta scaled; adam: its first step, alpha scaled)."""
    base = small_spec(hidden=(12, 10))
    base = dataclasses.replace(base, rule=optimizers_configured(base.rule, optimizer))
    scaled = dataclasses.replace(base, lr_layer_scale=(1.0, 0.5, 3.0))
    W, B, stim, tgt, _ = small_inputs(base, 2)
    learn = np.array([1.0, 0.0])
    ref = RuntimeRunner(base, 2).run(W, B, stim, tgt, learn, noise_seed=4)
    out = RuntimeRunner(scaled, 2).run(W, B, stim, tgt, learn, noise_seed=4)
    for k, s in enumerate((1.0, 0.5, 3.0)):
        d_ref, d_out = ref.weights[k] - W[k], out.weights[k] - W[k]
        assert np.abs(d_ref).max() > 1e-6
        np.testing.assert_allclose(d_out, s * d_ref, rtol=1e-9, atol=1e-15)


def optimizers_configured(rule, name):
    from brianrules.rules import optimizers

    return optimizers.configure(rule, name, None, False, False)


def test_layer_scale_needs_one_positive_factor_per_plastic_projection():
    with pytest.raises(ValueError, match="lr_layer_scale must be 2 positive numbers"):
        dataclasses.replace(small_spec(hidden=(12,)), lr_layer_scale=(1.0,))
    with pytest.raises(ValueError, match="lr_layer_scale must be 2 positive numbers"):
        dataclasses.replace(small_spec(hidden=(12,)), lr_layer_scale=(1.0, -1.0))
    spec = dataclasses.replace(small_spec(hidden=(12,)), lr_layer_scale=[1, 2])
    assert spec.lr_layer_scale == (1.0, 2.0) and spec.lr_scale_of(1) == 2.0
