"""The JAX engine (`brianrules.engines.jax_step`): the step generated from the
neurons' declarations gives Brian2's spike trains and membrane potentials on
the same input spikes, its gradients match finite differences, and what it
does not model is refused with a message that names it."""

import dataclasses
import os

import numpy as np
import pytest
from brian2 import SpikeMonitor, StateMonitor

from conftest import small_inputs, small_spec

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from brianrules.engines import jax_step  # noqa: E402
from brianrules.model.neuron import load  # noqa: E402
from brianrules.neurons import LIF  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEURON_FILES = {"alif": "models/neurons/alif.toml", "coba_lif": "models/neurons/coba_lif.toml"}
#: 4 samples of t_sample = 20 ms at dt = 0.5 ms: 160 steps, three per-sample resets inside the run
N_SAMPLES = 4
NOISE_SEED = 11
#: membrane potentials of the JAX engine and Brian2 agree to this relative error
V_RTOL = 1e-9
#: jax.grad and central differences (step FD_STEP) agree to this relative error
GRAD_RTOL = 1e-6
FD_STEP = 1e-4
#: width of the sigmoid that replaces the spike in the smooth model
SMOOTH = 0.2


def _neuron(name, **parameters):
    neuron = LIF() if name == "lif" else load(os.path.join(ROOT, NEURON_FILES[name]))
    return neuron.with_parameters(**parameters) if parameters else neuron


def _spec(name, **parameters):
    return small_spec(neuron=_neuron(name, **parameters))


def _monitors(model):
    """Spikes of every population, and v of the neurons at the end of each step."""
    out = [SpikeMonitor(g, name=f"jaxcmp_spikes_{name}") for name, g in model.groups.items()]
    return out + [StateMonitor(g, "v", record=True, when="end", name=f"jaxcmp_v_{g.name}") for g in model.layers]


def _recorded(monitors, spec):
    """Brian2's rasters (steps x n, bool) and v (steps x n) by population."""
    steps = N_SAMPLES * spec.steps_per_sample
    rasters, v = {}, {}
    names = ["input", *(f"hidden_{k + 1}" for k in range(len(spec.hidden))), "output"]
    for name, m in zip(names, monitors[:len(names)]):
        raster = np.zeros((steps, m.source.N), dtype=bool)
        raster[np.round(np.asarray(m.t_[:]) / float(spec.dt)).astype(int), np.asarray(m.i[:])] = True
        rasters[name] = raster
    for name, m in zip(names[1:], monitors[len(names):]):
        v[name] = np.asarray(m.v_).T
    return rasters, v


def _compare(spec, W, stim, monitors):
    rasters, v = _recorded(monitors, spec)
    spikes_in = jax_step.input_spikes(spec, stim, NOISE_SEED)
    assert np.array_equal(spikes_in, rasters["input"])  # the same input spikes as Brian2's hash
    out = jax_step.simulate(spec, W, spikes_in)
    for name, raster in rasters.items():
        assert raster.sum() > 40, f"{name} is nearly silent: the comparison would mean little"
        ours = np.asarray(out["spikes"][name])
        assert set(np.unique(ours)) <= {0.0, 1.0}
        assert np.array_equal(ours > 0.5, raster), f"spike trains of {name} differ"
    for name, values in v.items():
        np.testing.assert_allclose(np.asarray(out["recorded"][name]["v"]), values, rtol=V_RTOL, atol=0)


#: a reset below rest: the per-sample reset (v = v_rest), which Brian2 skips
#: for refractory neurons, then differs from the reset after a spike
V_RESET = "-63*mV"


def _forward_spec(name):
    if name == "mixed":  # two hidden layers of other neurons than the output's
        return small_spec(hidden=(12, 10), neuron=_neuron("alif", v_reset=V_RESET),
                          neurons={"hidden_2": _neuron("coba_lif", v_reset=V_RESET), "output": _neuron("lif")})
    return _spec(name, v_reset=V_RESET)


@pytest.mark.parametrize("name", ["lif", "alif", "coba_lif", "mixed"])
def test_forward_pass_matches_brian2_runtime(name):
    from brianrules.devices import RuntimeRunner

    spec = _forward_spec(name)
    W, B, stim, tgt, _ = small_inputs(spec, N_SAMPLES)
    runner = RuntimeRunner(spec, N_SAMPLES)
    res = runner.run(W, B, stim, tgt, np.zeros(N_SAMPLES), noise_seed=NOISE_SEED, monitors=_monitors)
    for W0, W1 in zip(W, res.weights):
        assert np.array_equal(W0, W1)  # learning off: fixed weights
    _compare(spec, W, stim, runner.last_monitors)


@pytest.fixture(scope="module")
def alif_program(build_root):
    from brianrules.devices import StandaloneRunner

    spec = _spec("alif", v_reset=V_RESET)
    runner = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / "jax-engine-alif"), progress=False,
                              monitors=_monitors)
    yield spec, runner
    runner.close()


@pytest.mark.slow
@pytest.mark.standalone
def test_forward_pass_matches_cpp_standalone(alif_program):
    spec, runner = alif_program
    W, B, stim, tgt, _ = small_inputs(spec, N_SAMPLES)
    runner.run(W, B, stim, tgt, np.zeros(N_SAMPLES), noise_seed=NOISE_SEED)
    _compare(spec, W, stim, runner.extra)


@pytest.mark.parametrize("name", ["lif", "alif", "coba_lif"])
def test_gradient_of_the_smooth_network_matches_finite_differences(name):
    """Spikes as sigmoid(surrogate_of / SMOOTH) and no refractory period: the
    loss is a smooth function of the weights, through the integration, the
    delivery and the reset."""
    spec = _spec(name, t_ref="0*ms")
    W, _, stim, _, _ = small_inputs(spec, 2)
    spikes_in = jax_step.input_spikes(spec, stim, 3)
    net = jax_step.JaxNetwork(spec, smooth=SMOOTH)
    with jax_step.float64():
        def loss(weights):
            out = net.simulate(weights, spikes_in, record=("v",))
            return jnp.sum(out["spikes"]["output"]) + 10.0 * jnp.mean(out["recorded"]["hidden_1"]["v"])

        weights = tuple(jnp.asarray(w) for w in W)
        grad = jax.jit(jax.grad(loss))(weights)
        value = jax.jit(loss)
        for k, i, j in [(0, 0, 0), (0, 3, 5), (0, 7, 11), (1, 0, 0), (1, 5, 1), (1, 11, 2)]:
            e = np.zeros_like(W[k])
            e[i, j] = FD_STEP
            up = tuple(w + e if m == k else w for m, w in enumerate(weights))
            down = tuple(w - e if m == k else w for m, w in enumerate(weights))
            fd = (float(value(up)) - float(value(down))) / (2 * FD_STEP)
            assert abs(fd) > 1e-3, f"w_{k + 1}[{i}, {j}] hardly changes the loss"
            assert abs(float(grad[k][i, j]) - fd) <= GRAD_RTOL * abs(fd), (k, i, j, float(grad[k][i, j]), fd)


@pytest.mark.parametrize("shape", ["boxcar", "fast_sigmoid", "piecewise_linear", "exponential", "arctan"])
def test_spike_is_a_step_whose_derivative_is_the_declared_surrogate(shape):
    from brianrules.reference import surrogate_function
    from brianrules.surrogates import Surrogate

    surrogate = Surrogate(shape, width=0.7, height=1.3)
    spike = jax_step.spike_function(surrogate)
    d = np.linspace(-2.95, 3.05, 61)
    with jax_step.float64():
        cond = jnp.asarray(d > 0, dtype=jnp.float64)
        assert np.array_equal(np.asarray(spike(jnp.asarray(d), cond, jnp.ones_like(cond))), d > 0)
        slope = jax.vmap(jax.grad(lambda x: spike(x, 1.0, 1.0)))(jnp.asarray(d))
        gated = jax.vmap(jax.grad(lambda x: spike(x, 1.0, 0.0)))(jnp.asarray(d))
    np.testing.assert_allclose(np.asarray(slope), surrogate_function(surrogate)(d), rtol=1e-12, atol=1e-15)
    assert np.asarray(slope).max() > 0 and not np.asarray(gated).any()


@pytest.mark.parametrize("name", ["lif", "alif", "coba_lif"])
def test_surrogate_gradient_of_the_spiking_network_is_finite_and_nonzero(name):
    """With refractoriness; the conductance-based neuron's exponential Euler
    step divides 0 by 0 while refractory, which must not reach the gradient."""
    spec = _spec(name)
    W, _, stim, _, _ = small_inputs(spec, 2)
    spikes_in = jax_step.input_spikes(spec, stim, 3)
    net = jax_step.JaxNetwork(spec)
    forward = net.simulate(W, spikes_in)
    with jax_step.float64():
        def loss(weights):
            return jnp.sum(net.simulate(weights, spikes_in, record=())["spikes"]["output"])

        value, grad = jax.value_and_grad(loss)(tuple(jnp.asarray(w) for w in W))
    assert float(value) == float(np.sum(forward["spikes"]["output"])) > 0
    for g in grad:
        assert np.all(np.isfinite(np.asarray(g))) and np.abs(np.asarray(g)).max() > 0


def test_projections_other_than_the_feed_forward_stack_are_refused():
    recurrent = small_spec(projections=[{"pre": "input", "post": "hidden_1"}, {"pre": "hidden_1", "post": "hidden_1"},
                                        {"pre": "hidden_1", "post": "output"}])
    with pytest.raises(ValueError, match=r"not supported: hidden_1 -> hidden_1 \(recurrent\)"):
        jax_step.JaxNetwork(recurrent)
    skipping = small_spec(projections=[{"pre": "input", "post": "hidden_1"}, {"pre": "hidden_1", "post": "output"},
                                       {"pre": "input", "post": "output"}])
    with pytest.raises(ValueError, match="not supported: input -> output"):
        jax_step.simulate(skipping, [], np.zeros((1, 8)))


def test_a_port_that_names_no_variable_is_refused():
    missing_input = small_spec(neuron=dataclasses.replace(LIF(), input="I_missing"))
    with pytest.raises(ValueError, match="input port 'I_missing': I_missing is no state variable"):
        jax_step.JaxNetwork(missing_input)
    bad_surrogate = small_spec(neuron=dataclasses.replace(LIF(), surrogate_of="(u - v_th) / (v_th - v_reset)"))
    with pytest.raises(ValueError, match="surrogate_of: unknown identifier 'u'"):
        jax_step.JaxNetwork(bad_surrogate)
    onto_parameter = small_spec(neuron=dataclasses.replace(LIF(), input="v_th += w * 1*mV"))
    with pytest.raises(ValueError, match="only state variables of the neuron"):
        jax_step.JaxNetwork(onto_parameter)
    assigned = small_spec(neuron=dataclasses.replace(LIF(), input="I_syn = w * 1*mV"))
    with pytest.raises(ValueError, match=r"only \+= and -= are supported for synaptic input, not I_syn_post ="):
        jax_step.JaxNetwork(assigned)


def test_float32_is_refused():
    with pytest.raises(ValueError, match="float64 only"):
        jax_step.JaxNetwork(small_spec(dtype="float32"))
    spec = small_spec()
    W, _, stim, _, _ = small_inputs(spec, 1)
    net = jax_step.JaxNetwork(spec)
    spikes_in = jax_step.input_spikes(spec, stim, 1)
    with pytest.raises(ValueError, match="weights of projection 1 are float32"):
        net.simulate([w.astype(np.float32) for w in W], spikes_in)
    with pytest.raises(ValueError, match=r"weights of projection 2 have shape \(3, 12\)"):
        net.simulate([W[0], W[1].T], spikes_in)
    out = net.simulate(W, spikes_in)
    assert isinstance(out["recorded"]["output"]["v"], np.ndarray) and out["recorded"]["output"]["v"].dtype == np.float64
    assert not jax.config.jax_enable_x64  # float64 inside the engine only: other JAX code keeps its mode
