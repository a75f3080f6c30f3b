"""What the benchmark measures: its networks (workloads) and rules, and the
synaptic updates that an event-driven run executes."""

from dataclasses import dataclass

import numpy as np


#: the measured rules: dfa clock-driven (``--timing clock``), its event-driven
#: form (a training's default timing) and the event-driven eRBP
RULES = ("dfa", "dfa-event", "erbp")
#: rules measured only when `--rules` names them: dfa's product with a
#: per-synapse eligibility trace of two stages (SuperSpike) and one (e-prop),
#: and surrogate-gradient BPTT (the JAX engine, mini-batches of 1 and 32)
EXTRA_RULES = ("superspike", "eprop", "bptt")
BENCH_RULES = RULES + EXTRA_RULES


# -- workloads ---------------------------------------------------------------
@dataclass
class Workload:
    name: str
    spec: object
    source: str  # what the input is
    x: np.ndarray  # a pool of samples (intensities) to draw from
    labels: np.ndarray
    rule_key: str | None = None  # an entry of RULES (default: the spec's rule)

    @property
    def rule(self):
        return self.rule_key or self.spec.rule.name

    @property
    def event_driven(self):
        return self.spec.rule.timing == "event"

    @property
    def sizes_text(self):
        return "-".join(map(str, self.spec.sizes))

    @property
    def plastic_synapses(self):
        s = self.spec.sizes
        return sum(a * b for a, b in zip(s[:-1], s[1:]))

    def inputs(self, n, seed=0):
        """Initial weights, feedback and the arrays of an n-sample run."""
        from ..network import initial_weights

        rng = np.random.default_rng(seed)
        W, B = initial_weights(self.spec, rng)
        idx = np.arange(n) % len(self.x)
        stim = self.x[idx]
        tgt = np.eye(self.spec.n_out)[self.labels[idx]]
        return W, B, stim, tgt, np.ones(n)


WORKLOADS = ("small", "large")
#: measured only when ``--networks`` names them: the large network on
#: mnist5k's training images, whose mean intensity (0.13) gives about a
#: quarter of the input spikes of the large workload's U[0, 1]
EXTRA_WORKLOADS = ("mnist",)
ALL_WORKLOADS = WORKLOADS + EXTRA_WORKLOADS


def workload(name, rule="dfa", hidden=1000):
    """The ``name``d workload with ``rule`` (a name, or "dfa-event" for the
    event-driven form); ``hidden``: the hidden layer of the large network
    (784-hidden-10), 1000 in the benchmark."""
    from .. import rules
    from ..training import TrainConfig

    base, _, timing = rule.partition("-")
    # "dfa" is the clock-driven program (a training's default is the event-driven form)
    timing = timing or ("clock" if rules.get(base).timing == "clock" else None)
    if name == "small":
        from ..data import load

        d = load("digits")
        spec = TrainConfig(rule=base, timing=timing, hidden=[100]).network_spec(d.n_inputs, d.n_classes)
        x = np.concatenate([d.x_train, d.x_test])
        y = np.concatenate([d.y_train, d.y_test])
        return Workload("small", spec, "digits (8x8)", x, y, rule)
    if name == "large":
        rng = np.random.default_rng(0)
        n_pool = 1000
        spec = TrainConfig(rule=base, timing=timing, hidden=[hidden]).network_spec(784, 10)
        return Workload("large", spec, "MNIST-shaped random input, intensities U[0, 1]",
                        rng.uniform(0.0, 1.0, size=(n_pool, 784)), rng.integers(0, 10, size=n_pool), rule)
    if name == "mnist":
        from ..data import load

        d = load("mnist5k")
        spec = TrainConfig(rule=base, timing=timing, hidden=[hidden]).network_spec(d.n_inputs, d.n_classes)
        return Workload("mnist", spec, f"mnist5k's {len(d.x_train)} training images (mean intensity "
                        f"{float(d.x_train.mean()):.2f})", d.x_train, d.y_train, rule)
    raise ValueError(f"unknown workload '{name}'")


def workloads(rule="dfa"):
    return [workload(name, rule) for name in WORKLOADS]


def event_driven_rules():
    """Names of the registered rules whose updates are event-driven."""
    from .. import rules

    names = []
    for name in sorted(rules.RULES):
        try:
            rule = rules.get(name)
        except Exception:  # a rule that needs parameters: not ours to guess
            continue
        if getattr(rule, "timing", "clock") == "event":
            names.append(name)
    return names


# -- counting event-driven updates -------------------------------------------
def input_spike_count(spec, stim, noise_seed):
    """Spikes of the input layer in a run of ``stim`` (samples x inputs).

    The input spikes of every engine come from the counter-based
    ``hash_uniform(noise_seed, step, i) < rate * dt`` (`randomness`), so they
    are recomputed here exactly, without a monitor in the program (which
    would change the cached program of the model)."""
    from ..randomness import hash_uniform_numpy

    steps = spec.steps_per_sample
    dt = float(spec.dt)
    max_rate = float(spec.max_rate)
    index = np.arange(spec.n_in)[None, :]
    total = 0
    for s, row in enumerate(np.asarray(stim, dtype=float)):
        n = (s * steps + np.arange(steps))[:, None]
        u = hash_uniform_numpy(noise_seed, n, index)
        total += int(np.count_nonzero(u < (max_rate * row) * dt))
    return total


def presynaptic_spikes(spec, stim, noise_seed, hidden_rates, n_samples):
    """Spikes of the presynaptic group of each plastic projection in a run:
    the input layer's (recomputed), then each hidden layer's (from the mean
    rates its monitor counted)."""
    duration = n_samples * float(spec.t_sample)
    hidden = [int(round(rate * duration * n)) for rate, n in zip(hidden_rates, spec.hidden)]
    return [input_spike_count(spec, stim, noise_seed), *hidden]


def catch_ups(spec, n_samples):
    """Catch-ups of every plastic synapse in a run of the event-driven form
    of a trace rule (one per application of the accumulated updates and one
    per re-base, `NetworkSpec.rebase_every`); 0 for other rules."""
    if not spec.rule.deferred:
        return 0
    s = spec.sizes
    steps = n_samples * spec.steps_per_sample
    passes = -(-steps // spec.apply_every)
    if spec.rebase_every is not None:
        passes += -(-steps // spec.rebase_every)
    return int(sum(a * b for a, b in zip(s[:-1], s[1:])) * passes)


def event_updates(spec, pre_spikes, n_samples=0):
    """Weight updates an event-driven rule executes in a run: one per
    presynaptic spike per outgoing plastic synapse (all-to-all projections:
    the postsynaptic layer's size), and the catch-ups of `catch_ups`."""
    return int(sum(k * n_post for k, n_post in zip(pre_spikes, spec.sizes[1:]))) + catch_ups(spec, n_samples)
