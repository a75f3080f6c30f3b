"""Populations with neurons of their own: a model's neuron by default, a
declared neuron for single populations (``[network.populations.NAME]``,
`NetworkSpec.neurons`).  Each group gets its neuron's equations, each
projection delivers spikes through its postsynaptic neuron's input port
with that neuron's weight unit, runtime and cpp_standalone agree, and bad
population tables are one line before anything is built."""

import os
import sys

import numpy as np
import pytest
from brian2 import Network, SpikeGeneratorGroup, StateMonitor, Synapses, ms, start_scope

from brianrules.model.neuron import load
from brianrules.network import Model
from conftest import assert_cpp_matches_runtime, small_inputs, small_spec

MODELS_DIR = os.path.join(os.path.dirname(__file__), "..", "models")
NEURONS_DIR = os.path.join(MODELS_DIR, "neurons")


def _neuron(name):
    return load(os.path.join(NEURONS_DIR, f"{name}.toml"))


def _mixed_spec():
    """8-12-12-3: hidden_1 adaptive (ALIF), hidden_2 the model's LIF, the
    output conductance-based (COBA)."""
    return small_spec(hidden=(12, 12), neurons={"hidden_1": _neuron("alif"), "output": _neuron("coba_lif")})


def test_each_group_has_its_neuron_and_each_projection_its_input_port():
    start_scope()
    spec = _mixed_spec()
    model = Model(spec, 2)
    hidden_1, hidden_2, output = model.layers
    assert "a" in hidden_1.variables and "a" not in hidden_2.variables and "a" not in output.variables
    assert "g_e" in output.variables and "I_syn" not in output.variables and "I_syn" in hidden_2.variables
    into = {S.target.name: S for S in model.projections}
    # the projection onto the COBA output opens its conductances; the others add to I_syn
    assert "g_e_post" in into["output"].pre.code and "I_syn_post" not in into["output"].pre.code
    assert "I_syn_post" in into["hidden_2"].pre.code
    values = {(getattr(target, "group_name", None), getattr(target, "name", None)): value
              for target, value in model.values(*small_inputs(spec, 2), noise_seed=1)}
    coba, lif = _neuron("coba_lif"), spec.neuron
    # COBA's input port is statements with its own g_unit: no w_unit onto the output
    assert "w_unit" not in into["output"].variables and spec.w_unit_of("output") is None
    assert values[(into["hidden_1"].name, "w_unit")] == lif.weight_unit_value()
    # each group's parameters are its neuron's values
    assert values[("hidden_1", "tau_a")] == _neuron("alif").tau_a
    assert values[("output", "E_e")] == coba.E_e
    assert values[("hidden_2", "tau_syn")] == lif.tau_syn


def test_a_spike_into_a_population_enters_its_own_neuron():
    """One weight, delivered through the two input ports the builder picked:
    the LIF's I_syn jumps by w * (v_th - v_reset), the COBA's g_e by
    w * g_unit."""
    start_scope()
    spec = _mixed_spec()
    dt = spec.dt
    coba = _neuron("coba_lif")
    model = Model(spec, 1)
    ports = {S.target.name: S.pre.code for S in model.projections}
    start_scope()
    from brianrules.neurons import make_group
    from brianrules.surrogates import get

    lif_group = make_group(spec.neuron, get("fast_sigmoid"), 1, "lif_in", dt=dt)
    coba_group = make_group(coba, get("fast_sigmoid"), 1, "coba_in", dt=dt)
    source = SpikeGeneratorGroup(1, [0], [1 * ms], dt=dt)
    s1 = Synapses(source, lif_group, "w : 1\nw_unit : volt (shared, constant)", on_pre=ports["hidden_2"], dt=dt)
    s2 = Synapses(source, coba_group, "w : 1", on_pre=ports["output"], dt=dt)  # COBA's port has g_unit
    for S in (s1, s2):
        S.connect()
        S.w = 0.3
    s1.w_unit = spec.w_unit_of("hidden_2")
    m1 = StateMonitor(lif_group, "I_syn", record=True, dt=dt)
    m2 = StateMonitor(coba_group, "g_e", record=True, dt=dt)
    Network(lif_group, coba_group, source, s1, s2, m1, m2).run(3 * ms, namespace={})
    step = int(round(float(1 * ms / dt))) + 1  # delivered in the spike's step, seen in the next sample
    assert m1.I_syn[0][step] == pytest.approx(float(0.3 * (spec.neuron.v_th - spec.neuron.v_reset)), rel=1e-12)
    assert m2.g_e[0][step] == pytest.approx(0.3 * float(coba.g_unit), rel=1e-12)
    assert m1.I_syn[0][step - 1] == 0 and m2.g_e[0][step - 1] == 0


def test_the_structure_names_each_population_neuron():
    plain = small_spec(hidden=(12, 12))
    mixed = _mixed_spec()
    assert "neurons" not in plain.structure()
    assert mixed.structure()["neurons"]["hidden_1"]["threshold"] == _neuron("alif").threshold
    from brianrules.build.key import structure_hash

    assert structure_hash(plain, 4) != structure_hash(mixed, 4)


def test_bad_populations_in_a_spec():
    with pytest.raises(ValueError, match="'input' is no population with neurons"):
        small_spec(neurons={"input": _neuron("alif")})
    with pytest.raises(ValueError, match="'hidden_3' is no population"):
        small_spec(neurons={"hidden_3": _neuron("alif")})
    other = _neuron("lif").with_parameters(tau_trace="20*ms")
    from brianrules import rules

    with pytest.raises(ValueError, match="one tau_trace in every population"):
        small_spec(rule=rules.get("dfa").event_driven(), neurons={"output": other})


# -- model files ------------------------------------------------------------------

MIXED_MODEL = os.path.join(MODELS_DIR, "alif_lif_readout_digits.toml")


def test_model_file_gives_each_population_its_neuron():
    from brianrules.training import TrainConfig
    from brianrules.training.modelfile import load_model_file

    settings = load_model_file(MIXED_MODEL)
    cfg = TrainConfig.from_dict(settings).validate()
    spec = cfg.network_spec(64, 10)
    assert spec.neuron.name == "alif"
    assert set(spec.neurons) == {"output"} and spec.neurons["output"].name == "lif"
    assert "da/dt" in spec.neuron.equations and "da/dt" not in spec.neurons["output"].equations


def _builds():
    builds = os.path.join(os.environ["BRIANRULES_CACHE"], "build")
    return set(os.listdir(builds)) if os.path.exists(builds) else set()


BAD_POPULATIONS = [
    ('[network.populations.output]\nneuron = "neurons/lif.toml"',
     '[network.populations.input]\nneuron = "neurons/lif.toml"', ["populations.input", "Poisson"]),
    ('[network.populations.output]\nneuron = "neurons/lif.toml"',
     '[network.populations.hidden_2]\nneuron = "neurons/lif.toml"', ["populations.hidden_2 is no population"]),
    ('neuron = "neurons/lif.toml"', 'neuron = "neurons/none.toml"',
     ["[network.populations.output.neuron] file", "none.toml does not exist"]),
    ('neuron = "neurons/lif.toml"', 'neuron = "neurons/lif.toml"\nsize = 3',
     ["[network.populations.output]", "unknown key 'size'"]),
    ('neuron = "neurons/lif.toml"', 'neuron = "neurons/lif.toml"\nparameters = { tau_m = "20" }',
     ["[network.populations.output.neuron.parameters]", "tau_m must be in units of s, got 20.0"]),
]


@pytest.mark.parametrize("old,new,words", BAD_POPULATIONS)
def test_bad_population_table_is_one_line_and_exit_2(capfd, monkeypatch, tmp_path, old, new, words):
    from brian2.utils.logger import BrianLogger

    from brianrules.cli import main

    with open(MIXED_MODEL) as f:
        text = f.read()
    assert text.count(old) == 1
    os.symlink(NEURONS_DIR, tmp_path / "neurons")
    model = tmp_path / "model.toml"
    model.write_text(text.replace(old, new))
    capfd.readouterr()
    monkeypatch.setattr(BrianLogger.console_handler, "stream", sys.stderr)
    before = _builds()
    code = main(["train", "--model", str(model), "--out", str(tmp_path / "out"), "--epochs", "1"])
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert not (tmp_path / "out").exists() and _builds() == before
    assert err[0].startswith("brianrules: error: ") and str(model) in err[0], err[0]
    for w in words:
        assert w in err[0], (w, err[0])


# -- runtime and cpp_standalone agree ---------------------------------------------

N_SAMPLES = 6


@pytest.fixture(scope="module")
def mixed_program(build_root):
    from brianrules.devices import StandaloneRunner

    spec = _mixed_spec()
    runner = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / "populations"), progress=False)
    yield spec, runner
    runner.close()


@pytest.mark.slow
@pytest.mark.standalone
def test_runtime_and_cpp_standalone_agree_with_a_neuron_per_population(mixed_program):
    spec, runner = mixed_program
    assert_cpp_matches_runtime(spec, runner, N_SAMPLES)
    # and the populations' neurons made a difference: the same network of LIFs spikes otherwise
    from brianrules.devices import RuntimeRunner

    plain = small_spec(hidden=(12, 12))
    inputs = small_inputs(spec, N_SAMPLES)
    a = RuntimeRunner(spec, N_SAMPLES).run(*inputs, noise_seed=11)
    b = RuntimeRunner(plain, N_SAMPLES).run(*inputs, noise_seed=11)
    assert not np.array_equal(a.counts, b.counts)


# -- projections with factors of their own ------------------------------------------


def _chain(**rules):
    """The 8-12-3 stack's projections, ``rules`` giving a projection's own factors (w_1, w_2)."""
    pairs = (("input", "hidden_1"), ("hidden_1", "output"))
    return [{"pre": a, "post": b, **({"rule": rules[f"w_{k + 1}"]} if f"w_{k + 1}" in rules else {})}
            for k, (a, b) in enumerate(pairs)]


def _runtime_weights(spec, n=4):
    from brianrules.devices import RuntimeRunner

    return RuntimeRunner(spec, n).run(*small_inputs(spec, n), noise_seed=11).weights


def _assert_same_weights(a, b):
    wa, wb = _runtime_weights(a), _runtime_weights(b)
    W0 = small_inputs(a, 4)[0]
    for x, y, w0 in zip(wa, wb, W0):
        assert np.abs(x - w0).max() > 1e-4  # it learned
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


def test_a_projection_with_its_own_learning_rate():
    """input -> hidden_1 at lr 0.7 under a rule whose hidden rate is 2 learns
    as the rule whose hidden rate is 0.7."""
    from brianrules import rules

    own = small_spec(projections=_chain(w_1={"lr": 0.7}))
    same = small_spec(rule=rules.get("dfa", lr=5.0, lr_hidden=0.7))
    assert own.rule.lr_hidden == 2.0
    _assert_same_weights(own, same)
    # and the rate is a run value: another rate, the same structure
    other = small_spec(projections=_chain(w_1={"lr": 0.3}))
    assert other.structure() == own.structure()


def test_a_projection_with_its_own_postsynaptic_factor():
    """The Hebbian factor x_post on input -> hidden_1 alone, in a network whose
    rule has the surrogate: the weights of the rule with the Hebbian factor
    (in a one-hidden-layer network, the only hidden projection); the factor
    has a neuron variable of its own."""
    start_scope()
    own = small_spec(projections=_chain(w_1={"post_factor": "x_post"}))
    hebbian = small_spec(post="activity")
    assert own.own_factor_variable(0) == "Lphi_w1" and own.own_factor_variable(1) is None
    model = Model(own, 1)
    assert "Lphi_w1" in model.layers[0].variables and "Lphi_w1_post" in str(model.projections[0].equations)
    _assert_same_weights(own, hebbian)
    assert own.structure() != small_spec().structure()


def test_projections_with_their_own_eligibility():
    """The rate eligibility written as an expression on every projection
    learns as the rule with the named rate eligibility."""
    from brianrules import rules

    rate = {"eligibility": "x_pre / (tau_trace_pre * Hz)"}
    own = small_spec(projections=_chain(w_1=rate, w_2=rate))
    named = small_spec(rule=rules.get("dfa", lr=5.0, lr_hidden=2.0, eligibility="rate"))
    _assert_same_weights(own, named)


@pytest.mark.parametrize("rule,words", [
    ({"timing": "event"}, ["unknown key 'timing'", "the learning signal and the timing are the model's"]),
    ({"lr": -1.0}, ["lr must be a positive number"]),
    ({"post_factor": 3}, ["post_factor must be a Brian2 expression"]),
])
def test_bad_projection_rule_tables(rule, words):
    with pytest.raises(ValueError) as e:
        small_spec(projections=_chain(w_1=rule))
    for w in words:
        assert w in str(e.value)


def test_projection_rules_the_model_cannot_give():
    from brianrules import rules

    with pytest.raises(ValueError, match="a fixed projection"):
        small_spec(projections=[{"pre": "input", "post": "hidden_1", "plastic": False, "rule": {"lr": 1.0}},
                                {"pre": "hidden_1", "post": "output"}])
    with pytest.raises(ValueError, match="need a clock-driven rule"):
        small_spec(rule=rules.get("dfa").event_driven(), projections=_chain(w_1={"post_factor": "x_post"}))
    with pytest.raises(ValueError, match="the output layer's factor is one of"):
        small_spec(projections=_chain(w_2={"post_factor": "psi_post * x_post"}))
    with pytest.raises(ValueError, match="no variable of the postsynaptic neuron"):
        from brianrules.network import check_post_expr

        check_post_expr(small_spec(projections=_chain(w_1={"post_factor": "q_post"})))
