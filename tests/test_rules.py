"""One recorded weight update against the three-factor product computed in NumPy."""

import numpy as np
import pytest
from brian2 import StateMonitor, ms, second

from brianrules import rules
from brianrules.devices import RuntimeRunner
from conftest import small_inputs, small_spec

N_SAMPLES = 3


def _record(spec, syn_index=5, synapse=("w",), post=("L", "psi", "x")):
    """Run a small network in runtime mode, recording one synapse of each
    projection (its variables ``synapse``), the presynaptic trace and the
    postsynaptic variables ``post`` it multiplies, before each step's
    updates; one (synapse, pre, post) trio of monitors per projection."""
    W, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)

    def monitors(model):
        mons = []
        for S in model.projections:
            i, j = divmod(syn_index, S.target.N)
            mons.append((
                StateMonitor(S, list(synapse), record=[syn_index], when="before_groups"),
                StateMonitor(S.source, "x", record=[i], when="before_groups"),
                StateMonitor(S.target, list(post), record=[j], when="before_groups"),
            ))
        return [m for trio in mons for m in trio]

    runner = RuntimeRunner(spec, N_SAMPLES)
    runner.run(W, B, stim, tgt, learn, noise_seed=7, monitors=monitors)
    m = runner.last_monitors
    return [m[k:k + 3] for k in range(0, len(m), 3)]


@pytest.mark.parametrize("post,post_output", [("surrogate", "surrogate"), ("none", "none"),
                                               ("activity", "surrogate"), ("activity", "activity")])
def test_one_update_equals_product_of_factors(post, post_output):
    spec = small_spec(post=post, post_output=post_output, apply_every=1)
    dt = float(spec.dt / second)
    for layer, (mw, mpre, mpost) in enumerate(_record(spec)):
        w = mw.w[0]
        eta = spec.rule.lr if layer == len(spec.hidden) else spec.rule.lr_hidden
        L, x_pre = mpost.L[0], mpre.x[0]
        factor = post if layer < len(spec.hidden) else spec.rule.post_output
        phi = {"surrogate": mpost.psi[0], "none": np.ones_like(L), "activity": mpost.x[0]}[factor]
        expected = -eta * dt * L * phi * x_pre
        dw = np.diff(w)
        assert np.count_nonzero(np.abs(expected[:-1]) > 1e-9) > 20  # the check is not vacuous
        assert np.allclose(dw, expected[:-1], rtol=1e-9, atol=1e-14)


def test_accumulated_update_is_applied_at_sample_end():
    """With the default (apply at the end of each sample), w stays constant
    within a sample and jumps by the sum of the per-step products."""
    spec = small_spec(post="surrogate")
    dt = float(spec.dt / second)
    steps = spec.steps_per_sample
    (mw, mpre, mpost), _ = _record(spec)
    w = mw.w[0]
    expected = -spec.rule.lr_hidden * dt * mpost.L[0] * mpost.psi[0] * mpre.x[0]
    for n in range(N_SAMPLES - 1):
        inside = w[n * steps + 1:(n + 1) * steps]
        assert np.all(inside == inside[0])
        jump = w[(n + 1) * steps] - w[n * steps]
        assert jump != 0
        assert np.isclose(jump, expected[n * steps:(n + 1) * steps].sum(), rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("name,post", [("superspike", "surrogate"), ("eprop", "surrogate"), ("superspike", "activity")])
def test_filtered_eligibility_follows_its_filter(name, post):
    """A per-synapse eligibility trace: each step's update is -eta dt L_j
    elig_ij, and each stage of the filter takes one forward Euler step
    towards its input (phi_j x_i for the first, the stage before for the
    next), both from the values before the step; the stages restart at 0
    with each sample."""
    import dataclasses

    rule = rules.get(name, post=post, lr=5.0, lr_hidden=2.0, apply_every=1)
    spec = dataclasses.replace(small_spec(), rule=rule)
    stages = rules.FILTERED_ELIGIBILITIES[rule.eligibility]
    recorded = _record(spec, synapse=["w", *(v for v, _ in stages)], post=["L", "psi", "x", "Lphi", "phi"])
    dt = float(spec.dt / second)
    steps = spec.steps_per_sample
    for layer, (mw, mpre, mpost) in enumerate(recorded):
        output = layer == len(spec.hidden)
        eta = rule.lr if output else rule.lr_hidden
        factor = rule.post_output if output else post
        phi = {"surrogate": mpost.psi[0], "activity": mpost.x[0]}[factor]
        # the neuron's phi and Lphi (= L) of a step are those the synapses used: recorded
        # before the step's groups, they show the previous step's
        assert np.array_equal(mpost.phi[0][1:], phi[:-1]) and np.array_equal(mpost.Lphi[0][1:], mpost.L[0][:-1])
        elig = [getattr(mw, v)[0] for v, _ in stages]
        dw = np.diff(mw.w[0])
        expected = -eta * dt * mpost.L[0] * elig[-1]
        assert np.count_nonzero(np.abs(expected[:-1]) > 1e-9) > 20  # the check is not vacuous
        np.testing.assert_allclose(dw, expected[:-1], rtol=1e-9, atol=1e-14)
        inputs = [phi * mpre.x[0], *elig[:-1]]
        for e, u, (_, tau) in zip(elig, inputs, stages):
            tau = float(getattr(rule, tau)) * 1e-3
            step = e[:-1] + dt * (u[:-1] - e[:-1]) / tau
            within = np.arange(1, len(e)) % steps != 0  # the steps after a sample's start are resets
            assert np.all(e[np.arange(len(e)) % steps == 0] == 0)
            assert np.count_nonzero(e) > len(e) // 4  # the trace moved
            np.testing.assert_allclose(e[1:][within], step[within], rtol=1e-9, atol=1e-15)


def test_rule_registry_and_equations():
    assert rules.get("srbp") == rules.get("dfa")
    text = rules.get("dfa", post="none").describe()
    assert "dw_acc/dt = plastic * (-eta * Lphi_post * (x_pre))" in text
    assert "Lphi_j = L_j phi_j" in text
    assert rules.get("dfa", post="none").neuron_factor() == "L * (1)"
    assert rules.get("dfa", post_expr="psi_post * x_post").neuron_factor() == "L * (psi * x)"
    with pytest.raises(ValueError, match="unknown rule 'bp'"):
        rules.get("bp")
    with pytest.raises(ValueError, match="unknown postsynaptic factor 'dendrite'"):
        rules.get("dfa", post="dendrite")
    with pytest.raises(ValueError, match="learning rate .* positive"):
        rules.get("dfa", lr=0.0)


def test_erbp_updates_on_presynaptic_spikes_only():
    """eRBP: w_ij changes only in steps where neuron i spiked, by
    -eta * U_j * boxcar(I_syn,j) as they stand when the spike arrives."""
    import dataclasses

    from brian2 import SpikeMonitor

    spec = dataclasses.replace(small_spec(), rule=rules.get("erbp", lr=0.5, lr_hidden=0.2, apply_every=1))
    W, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)

    def monitors(model):
        mons = []
        for S in model.projections:
            mons += [StateMonitor(S, "w", record=True, when="before_groups"),
                     StateMonitor(S.target, ["U", "boxcar"], record=True, when="after_thresholds"),
                     SpikeMonitor(S.source, record=True)]
        return mons

    runner = RuntimeRunner(spec, N_SAMPLES)
    runner.run(W, B, stim, tgt, learn, noise_seed=7, monitors=monitors)
    m = runner.last_monitors
    dt = float(spec.dt / second)
    for layer, (n_pre, n_post) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:])):
        mw, mpost, spikes = m[3 * layer: 3 * layer + 3]
        n_steps = len(mw.t)
        spiked = np.zeros((n_pre, n_steps))
        spiked[np.asarray(spikes.i), np.round(spikes.t / second / dt).astype(int)] = 1
        eta = spec.rule.lr if layer == len(spec.hidden) else spec.rule.lr_hidden
        factor = -eta * mpost.U[:] * mpost.boxcar[:]  # n_post x steps
        expected = (spiked[:, None, :] * factor[None, :, :]).reshape(n_pre * n_post, n_steps)
        dw = np.diff(mw.w[:], axis=1)
        assert np.count_nonzero(np.abs(expected[:, :-1]) > 1e-12) >= 10  # updates happened
        assert np.all(dw[spiked.repeat(n_post, axis=0)[:, :-1] == 0] == 0)  # none without a spike
        np.testing.assert_allclose(dw, expected[:, :-1], rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("name,apply_every,hidden", [("dfa", None, (12,)), ("dfa", 7, (12,)),
                                                      ("fa", None, (12, 10)), ("symmetric", 5, (12, 10))])
def test_event_driven_form_gives_the_clock_driven_weights(name, apply_every, hidden):
    """The event-driven form regroups the clock-driven sum: after samples
    with learning on and off, the weights agree to rounding, while the
    synapses were only touched on presynaptic spikes and applications."""
    import dataclasses

    spec = small_spec(hidden=hidden, t_sample=20 * ms)
    spec = dataclasses.replace(spec, rule=rules.get(name, lr=5.0, lr_hidden=2.0, apply_every=apply_every))
    event = dataclasses.replace(spec, rule=spec.rule.event_driven())
    assert (event.rule.timing, event.rule.eligibility, event.rule.deferred) == ("event", "trace", True)
    W0, B, stim, tgt, _ = small_inputs(spec, 4)
    learn = np.array([1.0, 1.0, 0.0, 1.0])
    clock = RuntimeRunner(spec, 4).run(W0, B, stim, tgt, learn, noise_seed=5)
    ev = RuntimeRunner(event, 4).run(W0, B, stim, tgt, learn, noise_seed=5)
    assert np.array_equal(clock.counts, ev.counts)
    for W, Wc, We in zip(W0, clock.weights, ev.weights):
        assert np.abs(Wc - W).max() > 1e-4  # learning happened
        np.testing.assert_allclose(We, Wc, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("t_sample_ms,dtype,apply_every,rtol", [(400, "float64", None, 1e-9),
                                                              (200, "float32", 70, 1e-5)])
def test_event_driven_form_stays_exact_over_long_samples(monkeypatch, t_sample_ms, dtype, apply_every, rtol):
    """Over 40 tau_trace in float64 (20 in float32), Y_j's late terms fall
    below its rounding; the re-bases keep the weights those of the
    clock-driven rule, and without them they are not."""
    import dataclasses

    from brianrules.rules import ThreeFactorRule

    spec = small_spec(hidden=(12,), t_sample=t_sample_ms * ms, dtype=dtype,
                      rule=rules.get("dfa", lr=5.0, lr_hidden=2.0, apply_every=apply_every))
    event = dataclasses.replace(spec, rule=spec.rule.event_driven())
    assert event.rebase_every == int(ThreeFactorRule.REBASE_TAUS[dtype] * 20)  # tau_trace 10 ms, dt 0.5 ms
    assert event.structure()["rebase_every"] == event.rebase_every and "rebase_every" not in spec.structure()
    W0, B, stim, tgt, learn = small_inputs(spec, 2)
    clock = RuntimeRunner(spec, 2).run(W0, B, stim, tgt, learn, noise_seed=5)
    ev = RuntimeRunner(event, 2).run(W0, B, stim, tgt, learn, noise_seed=5)
    monkeypatch.setitem(ThreeFactorRule.REBASE_TAUS, dtype, 1e6)  # the sample's start only
    assert event.rebase_every is None
    once = RuntimeRunner(event, 2).run(W0, B, stim, tgt, learn, noise_seed=5)
    for W, Wc, We, W1 in zip(W0, clock.weights, ev.weights, once.weights):
        change = np.abs(Wc - W).max()
        assert change > 0.1
        assert np.abs(We - Wc).max() <= rtol * change
        assert np.abs(W1 - Wc).max() > 0.02 * change  # lost to rounding


def test_timing_settings_name_the_rule_that_cannot_follow_them():
    with pytest.raises(ValueError, match="pes has no event-driven form"):
        rules.get("pes").event_driven()
    erbp = rules.get("erbp")
    assert erbp.event_driven() is erbp
    from brianrules.training import TrainConfig

    with pytest.raises(ValueError, match="erbp updates on presynaptic spikes only"):
        TrainConfig(rule="erbp", timing="clock").validate()
    with pytest.raises(ValueError, match="unknown timing 'sometimes'"):
        TrainConfig(timing="sometimes").validate()
    spec = TrainConfig(timing="event").network_spec(64, 10)
    assert spec.rule.deferred and spec.structure()["eligibility"] == "trace"
    with pytest.raises(ValueError, match="apply_every 1 would touch every synapse"):
        TrainConfig(timing="event", apply_every=1).validate()
