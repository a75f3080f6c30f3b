"""The eligibility's filter as a declared cascade of unit-area stages
(`brianrules.rules.cascade`): its response in Brian2 against closed forms,
the NumPy reference against the runtime device, the named cascades against
the same cascades written out, and the settings that declare one."""

import dataclasses
import math

import numpy as np
import pytest

from brianrules import rules
from brianrules.devices import RuntimeRunner
from brianrules.reference import ReferenceRunner
from brianrules.rules import cascade
from brianrules.rules.three_factor import same_factors, section, three_factor
from brianrules.training import TrainConfig, override
from conftest import small_inputs, small_spec

DT_MS = 0.05


def _cascade_rule(taus):
    return rules.ThreeFactorRule(name="cascade", eligibility_filter=tuple(taus))


def _respond(rule, x, steps, first=0.0):
    """The stages of ``rule``'s filter in Brian2 (runtime, forward Euler as
    in a plastic projection) for the constant input ``phi_post * x_pre = x``
    over ``steps`` steps, the first stage starting at ``first``: an array
    (stage, step), where step n holds the state after n updates."""
    from brian2 import Network, NeuronGroup, StateMonitor, Synapses, ms, start_scope

    start_scope()
    pre, post = NeuronGroup(1, "x : 1", dt=DT_MS * ms), NeuronGroup(1, "phi : 1", dt=DT_MS * ms)
    pre.x, post.phi = x, 1.0
    S = Synapses(pre, post, model="\n".join(rule.eligibility_equations), method="euler", dt=DT_MS * ms)
    S.connect()
    for name, value in rule.eligibility_values().items():
        setattr(S, name, value)
    names = [v for v, _, _ in rule.eligibility_stages]
    setattr(S, names[0], first)
    monitor = StateMonitor(S, names, record=0)  # at the start of each step, before the update
    Network(pre, post, S, monitor).run(steps * DT_MS * ms)
    return np.array([getattr(monitor, v)[0] for v in names])


def _euler(taus, u, steps, first=0.0):
    """The same cascade as a NumPy recursion, every stage from the values before the step."""
    e = np.zeros(len(taus))
    e[0] = first
    out = [e.copy()]
    for _ in range(steps - 1):
        inputs = np.concatenate([[u], e[:-1]])
        e = e + DT_MS * ((inputs - e) / np.asarray(taus))
        out.append(e.copy())
    return np.array(out).T


def test_stage_names_and_lines():
    rule = _cascade_rule((2.0, 5.0, 10.0))
    assert rule.eligibility == "cascade3" and rule.filtered and rule.eligibility_factor == "elig"
    assert [v for v, _, _ in rule.eligibility_stages] == ["elig_rise1", "elig_rise2", "elig"]
    assert rule.eligibility_equations[:3] == [
        "delig_rise1/dt = (phi_post * x_pre - elig_rise1) / tau_elig_rise1 : 1 (clock-driven)",
        "delig_rise2/dt = (elig_rise1 - elig_rise2) / tau_elig_rise2 : 1 (clock-driven)",
        "delig/dt = (elig_rise2 - elig) / tau_elig : 1 (clock-driven)"]
    assert all(line.endswith(": second (shared, constant)") for line in rule.eligibility_equations[3:])
    assert rule.eligibility_sample_reset == "elig_rise1 = 0; elig_rise2 = 0; elig = 0"
    # the named cascades keep the names of their stages
    assert [v for v, _, _ in rules.get("superspike").eligibility_stages] == ["elig_rise", "elig"]
    assert [v for v, _, _ in rules.get("eprop").eligibility_stages] == ["elig"]


def test_constant_input_follows_the_recursion_and_settles_at_the_input():
    """Unit area: a constant phi_j x_i = u gives eps = u in the steady state."""
    taus, u, steps = (2.0, 5.0, 10.0), 0.7, 4000  # 200 ms
    stages = _respond(_cascade_rule(taus), u, steps)
    np.testing.assert_allclose(stages, _euler(taus, u, steps), rtol=1e-12, atol=1e-15)
    assert abs(stages[-1, -1] - u) < 1e-6
    assert np.all(np.diff(stages[-1]) >= 0)  # a step response of low-pass stages rises monotonically


@pytest.mark.parametrize("n", [1, 3])
def test_step_and_impulse_responses_of_equal_stages(n):
    """N equal stages: the step response of the discrete system is
    P(Binomial(k, b) >= N) and its impulse response C(k, N-1) b^(N-1)
    a^(k-N+1) (a = 1 - b, b = dt / tau), both exactly; the continuous ones,
    1 - exp(-t/tau) sum_{m<N} (t/tau)^m / m! and the gamma kernel
    t^(N-1) exp(-t/tau) / ((N-1)! tau^N), to within the Euler error."""
    tau, steps = 5.0, 2000  # 100 ms
    rule = _cascade_rule([tau] * n)
    b = DT_MS / tau
    k = np.arange(steps)
    t = k * DT_MS

    def binomial(m):  # C(k, m) b^m (1 - b)^(k - m) for every step k
        return np.array([math.comb(int(j), m) * b ** m * (1 - b) ** (int(j) - m) for j in k])

    step = _respond(rule, 1.0, steps)[-1]
    discrete_step = 1 - sum(binomial(m) for m in range(n))
    np.testing.assert_allclose(step, discrete_step, rtol=1e-10, atol=1e-13)
    continuous_step = 1 - np.exp(-t / tau) * sum((t / tau) ** m / math.factorial(m) for m in range(n))
    assert np.abs(step - continuous_step).max() < 0.01  # the Euler error, O(dt / tau) = 1%

    # a unit impulse into the first stage at t = 0: e_1(0+) = 1 / tau
    impulse = _respond(rule, 0.0, steps, first=1.0 / tau)[-1]
    np.testing.assert_allclose(impulse, binomial(n - 1) / tau, rtol=1e-10, atol=1e-15)
    gamma = t ** (n - 1) * np.exp(-t / tau) / (math.factorial(n - 1) * tau ** n)
    assert np.abs(impulse - gamma).max() < 0.01 * gamma.max()
    assert abs(impulse.sum() * DT_MS - 1) < 1e-3  # unit area


N_SAMPLES = 6


def test_reference_matches_runtime_with_three_stages():
    rule = dataclasses.replace(rules.get("dfa", lr=5.0, lr_hidden=2.0, apply_every=7),
                               eligibility_filter=(2.0, 5.0, 10.0))
    spec = small_spec(rule=rule)
    inputs = small_inputs(spec, N_SAMPLES)
    rt = RuntimeRunner(spec, N_SAMPLES).run(*inputs, noise_seed=11)
    ref = ReferenceRunner(spec, N_SAMPLES).run(*inputs, noise_seed=11)
    assert rt.counts.sum() > 10 and np.array_equal(rt.counts, ref.counts)
    for W0, Wr, Wp in zip(inputs[0], rt.weights, ref.weights):
        assert np.abs(Wr - W0).max() > 1e-4  # it learned
        np.testing.assert_allclose(Wp, Wr, rtol=1e-9, atol=1e-12)


def test_alpha_is_its_two_stage_cascade():
    named = three_factor(eligibility="alpha")
    written = three_factor(eligibility="x_pre", eligibility_filter=[5.0, 10.0])
    assert named == written and written.eligibility == "alpha"
    assert same_factors(written, rules.get("superspike"))
    assert named.synapse_model(True) == written.synapse_model(True)
    dfa_written = dataclasses.replace(rules.get("dfa"), eligibility_filter=(5.0, 10.0))
    spec_named, spec_written = (small_spec(rule=dataclasses.replace(r, lr=5.0, lr_hidden=2.0))
                                for r in (rules.get("dfa", eligibility="alpha"), dfa_written))
    assert spec_named.structure() == spec_written.structure()
    inputs = small_inputs(spec_named, 3)
    a, b = (RuntimeRunner(spec, 3).run(*inputs, noise_seed=5) for spec in (spec_named, spec_written))
    for W0, Wa, Wb in zip(inputs[0], a.weights, b.weights):
        assert np.abs(Wa - W0).max() > 1e-6
        assert np.array_equal(Wa, Wb)


def test_the_number_of_stages_is_the_structure_and_the_times_are_run_values():
    def structure(taus):
        return small_spec(rule=dataclasses.replace(rules.get("dfa"), eligibility_filter=taus)).structure()

    assert structure((2.0, 5.0, 10.0)) == structure((1.0, 3.0, 30.0))
    assert structure((2.0, 5.0, 10.0)) != structure((2.0, 5.0, 5.0, 10.0))
    assert structure((5.0, 10.0)) != structure((10.0,))


def test_shorthand_settings_and_commands_are_the_cascade():
    declared = TrainConfig(rule="dfa", eligibility_filter_ms=[5.0, 10.0]).validate().make_rule()
    for settings in ({"eligibility": "alpha"}, {"eligibility": "alpha", "tau_elig_ms": 10.0, "tau_elig_rise_ms": 5.0}):
        assert TrainConfig(rule="dfa", **settings).validate().make_rule() == declared
    # a preset's own filter takes other time constants, not another number of stages
    assert TrainConfig(rule="superspike", eligibility_filter_ms=[3.0, 8.0]).make_rule().eligibility_filter == (3.0, 8.0)
    assert TrainConfig(rule="eprop", tau_elig_ms=7.0).make_rule().eligibility_filter == (7.0,)
    assert dataclasses.replace(rules.get("eprop"), tau_elig=7.0).eligibility_filter == (7.0,)
    three = TrainConfig(rule="dfa", eligibility_filter_ms=[2.0, 5.0, 10.0], tau_elig_ms=20.0).make_rule()
    assert three.eligibility_filter == (2.0, 5.0, 20.0) and three.eligibility == "cascade3"
    # the stages given later replace a model file's named cascade and its single time constants
    assert override({"eligibility": "alpha", "tau_elig_ms": 12.0}, {"eligibility_filter_ms": [1.0, 2.0, 3.0]}) == {
        "eligibility_filter_ms": [1.0, 2.0, 3.0]}
    assert override({"eligibility_filter_ms": [1.0, 2.0]}, {"eligibility": "lowpass"}) == {"eligibility": "lowpass"}
    assert override({"eligibility_filter_ms": [1.0, 2.0]}, {"tau_elig_ms": 4.0}) == {
        "eligibility_filter_ms": [1.0, 2.0], "tau_elig_ms": 4.0}
    # a section of a 3-stage cascade reads back as the same rule
    cfg = TrainConfig.from_dict(section(three), source="section").validate()
    assert cfg.eligibility_filter_ms == [2.0, 5.0, 20.0] and same_factors(cfg.make_rule(), three)


@pytest.mark.parametrize("settings,message", [
    ({"eligibility_filter_ms": []}, "eligibility_filter_ms must list the time constant"),
    ({"eligibility_filter_ms": [5.0, 0.0]}, "eligibility_filter_ms: the time constant of stage 2 must be a positive"),
    ({"eligibility_filter_ms": [-1.0]}, "eligibility_filter_ms: the time constant of stage 1 must be a positive"),
    ({"eligibility_filter_ms": [float("nan")]}, "eligibility_filter_ms: .* finite"),
    ({"eligibility_filter_ms": [float("inf")]}, "eligibility_filter_ms: .* finite"),
    ({"eligibility_filter_ms": [5.0], "timing": "event"}, "eligibility_filter_ms: .* no event-driven form"),
    ({"rule": "erbp", "eligibility_filter_ms": [5.0]}, "rule erbp does not take --eligibility-filter"),
    ({"rule": "superspike", "eligibility_filter_ms": [5.0]}, "rule superspike does not take --eligibility-filter "
                                                            "with 1 stage"),
    ({"eligibility": "alpha", "eligibility_filter_ms": [1.0, 2.0, 3.0]}, "eligibility_filter_ms gives 3 stage"),
    ({"rule": "three_factor", "eligibility": "1", "eligibility_filter_ms": [5.0]}, "eligibility_filter_ms: .* "
                                                                                  "no event-driven form"),
    ({"rule": "three_factor", "eligibility": "x_pre * x_pre", "eligibility_filter_ms": [5.0]},
     "eligibility_filter_ms filters phi_j x_pre"),
    ({"eligibility_filter_ms": [2.0, 5.0, 10.0], "tau_elig_rise_ms": 1.0}, "tau_elig_rise_ms sets a filter .* "
                                                                          "has only tau_elig"),
])
def test_bad_filters_are_refused_at_validation(settings, message):
    settings = {"rule": "dfa", **settings}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        TrainConfig(**settings).validate()


def test_cascade_checks_and_names():
    assert cascade.name(1) == "lowpass" and cascade.name(2) == "alpha" and cascade.name(4) == "cascade4"
    assert [cascade.stage_count(n) for n in ("lowpass", "alpha", "cascade3", "cascade2", "trace")] == [1, 2, 3, 0, 0]
    with pytest.raises(ValueError, match="eligibility 'alpha' is a filter of 2 stage"):
        rules.ThreeFactorRule(name="x", eligibility="alpha", eligibility_filter=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="goes with the eligibility 'trace', not 'rate'"):
        rules.ThreeFactorRule(name="x", eligibility="rate", eligibility_filter=(1.0,))
    with pytest.raises(ValueError, match="eligibility_filter must list"):
        three_factor(eligibility_filter=[])
