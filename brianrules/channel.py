"""The communication channel: a population learns to pass on what another represents.

A 1-D signal x(t) = sin(2 pi f t) drives a population ``pre`` of LIF neurons
through their encoders, gains and biases (the Neural Engineering Framework's
representation; Eliasmith & Anderson 2003, "Neural Engineering", MIT Press,
ch. 2):

    I_ext,i = bias_i + gain_i * e_i * x(t)          e_i = +-1, currents in volts

A second population ``post`` has tuning of its own and receives nothing but
its bias and the plastic synapses from ``pre``, which start at zero.  What
``post`` represents is read out by fixed decoders d_j, solved by regularised
least squares from its closed-form tuning curves:

    x_hat(t) = sum_j d_j r_j(t)       r_j: post spikes through a lowpass (tau_readout)
    e(t) = x_hat(t) - y(t)            tau_readout dy/dt = x(t) - y(t)

The target y is the input through the readout's own lowpass: the channel is
asked to pass x on as a readout with that filter shows it, as Nengo's
learning examples compare two decoded signals that went through the same
synapse.  Against the raw input x the readout's filter alone would cost a
delay of about tau_readout, which no weights can undo (``ChannelSpec.
filtered_target`` False measures that error: 0.046 against 0.025 at the
defaults, seed 0).

``x_hat`` is a summed variable of a one-neuron ``readout`` group, and the
error returns to ``post`` through feedback synapses whose fixed weights are
the scaled encoders E_j = gain_j e_j / I_unit (I_unit = v_th - v_rest, the
current at threshold), so that post neuron j gets the learning signal
L_j = E_j e.  The plastic synapses follow the rule's three-factor model
(`ThreeFactorRule.synapse_model`), applied every time step, with
eta = `ThreeFactorRule.eta` (kappa / n_pre for `pes`): with the `pes` rule
this is Nengo's PES on a connection onto neurons (MacNeil & Eliasmith 2011,
PLoS ONE 6:e22885), and with ``dfa(post="none")`` and lr_hidden = kappa /
(tau_pre n_pre) it is "SRBP without the derivative, with the encoders as B".

Units follow Nengo (Bekolay et al. 2014, Front. Neuroinform. 7:48): the input
current J of a neuron is counted in units of I_unit, and a presynaptic spike
adds w exp(-t / tau_syn) / tau_syn to J (a unit-area lowpass), so a weight w
means the same as in Nengo and so does the learning rate kappa.  Gains and biases follow Nengo's
defaults: maximum rates uniform in [200, 400] Hz, intercepts uniform in
[-1, 1], solved with the closed-form LIF rate.  Everything is a Brian2
object, so the scenario runs in runtime mode or as a C++ standalone program.
"""

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
from brian2 import (
    Hz,
    Network,
    NeuronGroup,
    Quantity,
    StateMonitor,
    Synapses,
    TimedArray,
    ms,
    second,
    volt,
)

from . import feedback as fb
from .devices import StandaloneRunner
from .neurons import LIF, make_group
from .rules import ThreeFactorRule
from .surrogates import Surrogate
from .topology import connect_all

DEVICES = ("runtime", "cpp_standalone")
#: PES learning rate of the scenario: half Nengo's default 1e-4, so that the
#: first two seconds still show the untrained error (at 1e-4 most of the
#: learning is done within the first second)
KAPPA = 5e-5
#: rules whose learning signal the channel can deliver (B = the scaled encoders)
FEEDBACK = ("encoders", "direct")


def _default(value):
    return field(default_factory=lambda: value)


@dataclass(frozen=True)
class ChannelSpec:
    """Sizes, neurons, tuning and readout of the communication channel.

    ``pre_neuron`` has a 5 ms trace, PES's presynaptic filter in Nengo.
    ``post_neuron``'s ``tau_syn`` is the synapse of the learned connection:
    2 ms, shorter than Nengo's 5 ms default, because every filter on the way
    delays the output, and a delay delta costs a mean absolute error of about
    4 f delta on a sine of frequency f (0.004 per ms at 1 Hz) that no static
    weights can remove.  ``tau_readout`` (10 ms) filters the post spikes for
    the decoders, and the input for the target (``filtered_target``; False:
    the raw input is the target).  ``reg`` is the decoders' regularisation: the noise
    standard deviation relative to the largest rate (Nengo's ``LstsqL2``
    default 0.1).
    """

    n_pre: int = 100
    n_post: int = 100
    frequency: Quantity = _default(1 * Hz)
    dt: Quantity = _default(0.1 * ms)
    pre_neuron: LIF = _default(LIF(tau_trace=5 * ms))
    post_neuron: LIF = _default(LIF(tau_syn=2 * ms))
    surrogate: Surrogate = _default(Surrogate())
    max_rates: tuple = (200.0, 400.0)  # Hz
    intercepts: tuple = (-1.0, 1.0)
    tau_readout: Quantity = _default(10 * ms)
    reg: float = 0.1
    n_eval: int = 500  # points in [-1, 1] at which the decoders are solved
    record_dt: Quantity = _default(1 * ms)
    filtered_target: bool = True

    def __post_init__(self):
        for name in ("n_pre", "n_post", "n_eval"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("dt", "tau_readout", "record_dt"):
            q = Quantity(getattr(self, name))
            if not q.has_same_dimensions(second) or not (0 < float(q) < math.inf):
                raise ValueError(f"{name} must be a positive time, got {getattr(self, name)!r}")
        q = Quantity(self.frequency)
        if not q.has_same_dimensions(Hz) or not (0 < float(q) < math.inf):
            raise ValueError(f"frequency must be a positive rate, got {self.frequency!r}")
        lo, hi = self.max_rates
        for neuron in (self.pre_neuron, self.post_neuron):
            if not (0 < lo <= hi < 1.0 / float(neuron.t_ref)):
                raise ValueError(f"max_rates {self.max_rates} must lie in (0, 1/t_ref)")
        lo, hi = self.intercepts
        if not (-1.0 <= lo <= hi <= 1.0):
            raise ValueError(f"intercepts {self.intercepts} must lie in [-1, 1]")
        if not (isinstance(self.reg, (int, float)) and 0 <= self.reg < math.inf):
            raise ValueError(f"reg must be non-negative, got {self.reg!r}")
        steps = float(self.record_dt / self.dt)
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"record_dt ({self.record_dt}) must be a whole number of time steps dt ({self.dt})")


# -- tuning curves in closed form (floats in SI units) ------------------
def current_unit(neuron):
    """I_unit = v_th - v_rest: the constant input at which the neuron starts to fire."""
    return float((neuron.v_th - neuron.v_rest) / volt)


def lif_rate(current, neuron):
    """Rate (Hz) of the LIF for a constant input ``current`` (volts, array):
    1 / (t_ref + tau_m ln((v_rest + I - v_reset) / (v_rest + I - v_th))), 0 below threshold."""
    I = np.asarray(current, dtype=float)
    rest, reset, th = (float(q / volt) for q in (neuron.v_rest, neuron.v_reset, neuron.v_th))
    tau_m, t_ref = float(neuron.tau_m / second), float(neuron.t_ref / second)
    above = rest + I - th > 0
    rate = np.zeros(I.shape)
    Ia = I[above]
    rate[above] = 1.0 / (t_ref + tau_m * np.log((rest + Ia - reset) / (rest + Ia - th)))
    return rate


def lif_current(rate, neuron):
    """The constant input (volts) at which the LIF fires at ``rate`` (Hz): the
    inverse of `lif_rate`, with z = exp((1/rate - t_ref) / tau_m),
    I = (v_rest - v_reset - z (v_rest - v_th)) / (z - 1)."""
    r = np.asarray(rate, dtype=float)
    rest, reset, th = (float(q / volt) for q in (neuron.v_rest, neuron.v_reset, neuron.v_th))
    tau_m, t_ref = float(neuron.tau_m / second), float(neuron.t_ref / second)
    z = np.exp((1.0 / r - t_ref) / tau_m)
    return (rest - reset - z * (rest - th)) / (z - 1.0)


@dataclass
class Tuning:
    """Encoders (+-1), gains and biases (volts) of a 1-D population."""

    encoders: np.ndarray
    gains: np.ndarray
    biases: np.ndarray
    unit: float  # I_unit in volts

    def currents(self, x):
        """Input currents (volts), len(x) x n."""
        return self.biases + self.gains * self.encoders * np.asarray(x, dtype=float)[:, None]

    @property
    def scaled_encoders(self):
        """E_j = gain_j e_j / I_unit: encoders scaled by the gain in threshold units (radius 1)."""
        return self.encoders * self.gains / self.unit


def random_tuning(n, neuron, rng, max_rates=(200.0, 400.0), intercepts=(-1.0, 1.0)):
    """Nengo-style tuning: neuron j fires from e_j x = c_j (intercept) and at
    r_j (maximum rate) for e_j x = 1, so gain_j (1 - c_j) = I(r_j) - I_unit
    and bias_j = I_unit - gain_j c_j."""
    encoders = rng.choice([-1.0, 1.0], size=n)
    rates = rng.uniform(*max_rates, size=n)
    c = rng.uniform(*intercepts, size=n)
    c = np.minimum(c, 1.0 - 1e-6)  # an intercept of exactly 1 would need an infinite gain
    unit = current_unit(neuron)
    gains = (lif_current(rates, neuron) - unit) / (1.0 - c)
    biases = unit - gains * c
    return Tuning(encoders, gains, biases, unit)


def solve_decoders(rates, x, reg):
    """Decoders d minimising |A d - x|^2 + m sigma^2 |d|^2, sigma = reg * max(A):
    least squares with Tikhonov regularisation as if every rate carried noise
    of standard deviation sigma (Eliasmith & Anderson 2003, ch. 2; Nengo's
    ``LstsqL2``).  ``rates`` is m x n (Hz), the result is in seconds."""
    A = np.asarray(rates, dtype=float)
    m, n = A.shape
    sigma = reg * A.max()
    G = A.T @ A + m * sigma**2 * np.eye(n)
    return np.linalg.solve(G, A.T @ np.asarray(x, dtype=float))


# -- the Brian2 model ---------------------------------------------------
PRE_EQUATIONS = """
encoder : 1 (constant)
gain : volt (constant)
bias : volt (constant)
"""
POST_EQUATIONS = PRE_EQUATIONS + fb.HIDDEN_SIGNAL_EQUATIONS + """
dr/dt = -r / tau_readout : Hz
tau_readout : second (shared, constant)
"""
POST_RESET = "r += 1 / tau_readout"
READOUT_EQUATIONS = """
x_hat : 1
input = stimulus(t) : 1
err = x_hat - target : 1
"""
#: the readout's target: the input through the readout's lowpass, or the input itself
TARGET_EQUATIONS = {True: """
dtarget/dt = (input - target) / tau_readout : 1
tau_readout : second (shared, constant)
""", False: """
target = input : 1
"""}
DECODER_MODEL = """
d : second (constant)
x_hat_post = d * r_pre : 1 (summed)
"""


class ChannelModel:
    """The Brian2 objects of the channel for one rule and ``duration``.

    Order within a time step: the input current is set at the start; the
    plastic synapses update at order -5 of the groups slot (with L * phi that
    the post group computes at order -6 from the learning
    signal of the previous step, as in `brianrules.network`); then the
    decoders sum ``x_hat`` (the readout group has order -2, its sum -3) and
    the feedback synapses ``L`` (order -1), before the neurons integrate.
    """

    def __init__(self, spec: ChannelSpec, rule: ThreeFactorRule, duration, seed=0, stimulus=True):
        from brian2 import defaultclock

        check_rule(rule)
        self.spec, self.rule = spec, rule
        defaultclock.dt = spec.dt
        self.duration = duration
        # a compiled program gets the stimulus as a run value (``stimulus=False``: zeros until then)
        values = self.stimulus_values() if stimulus else np.zeros(channel_steps(spec, duration) + 1)
        self.stimulus = TimedArray(values, dt=spec.dt, name="stimulus")
        ns = {"stimulus": self.stimulus}
        self.tune(seed)

        self.pre = make_group(spec.pre_neuron, spec.surrogate, spec.n_pre, "pre",
                              extra_equations=PRE_EQUATIONS, namespace=ns)
        self.pre.run_regularly("I_ext = bias + gain * encoder * stimulus(t)", when="start", name="pre_input")
        self.post = make_group(spec.post_neuron, spec.surrogate, spec.n_post, "post",
                               extra_equations=POST_EQUATIONS + rule.neuron_factor_equations,
                               extra_reset=POST_RESET, namespace=ns)
        rule.add_neuron_factor(self.post)
        self.readout = NeuronGroup(1, READOUT_EQUATIONS + TARGET_EQUATIONS[spec.filtered_target], method="exact",
                                   namespace=ns, order=-2, name="readout")

        self.learned = Synapses(self.pre, self.post, model=rule.synapse_model(accumulate=False, output=False),
                                on_pre=rule.on_pre_code(accumulate=False, output=False), method="euler", namespace=ns, order=-5, name="learned")
        connect_all(self.learned)
        self.decode = Synapses(self.post, self.readout, model=DECODER_MODEL, namespace=ns, name="decoders")
        connect_all(self.decode)
        self.feedback = fb.random_feedback(self.readout, self.post, "err", "encoder_feedback", ns)

        self.record = StateMonitor(self.readout, ["input", "target", "x_hat", "err"], record=[0],
                                   dt=spec.record_dt, when="end", name="readout_record")
        # named, so that a program beside an earlier one's live objects is the same program
        self.network = Network(self.pre, self.post, self.readout, self.learned, self.decode,
                               self.feedback, self.record, name="network")

    def tune(self, seed):
        """Draw the populations' tuning and solve the decoders (numbers
        only: they reach the Brian2 objects through `values`)."""
        spec = self.spec
        rng = np.random.default_rng(seed)
        self.pre_tuning = random_tuning(spec.n_pre, spec.pre_neuron, rng, spec.max_rates, spec.intercepts)
        self.post_tuning = random_tuning(spec.n_post, spec.post_neuron, rng, spec.max_rates, spec.intercepts)
        xs = np.linspace(-1.0, 1.0, spec.n_eval)
        self.decoders = solve_decoders(lif_rate(self.post_tuning.currents(xs), spec.post_neuron), xs, spec.reg)

    def stimulus_values(self):
        """x(t) = sin(2 pi f t) at every step of the run and one past its end."""
        t = np.arange(channel_steps(self.spec, self.duration) + 1) * float(self.spec.dt / second)
        return np.sin(2 * np.pi * float(self.spec.frequency / Hz) * t)

    @property
    def eta(self):
        """The rule's rate onto the post population (`ThreeFactorRule.eta`:
        PES divides kappa by n_pre, as Nengo's builder does)."""
        return self.rule.eta(False, self.spec.n_pre) * self.rule.eta_unit

    @property
    def w_unit(self):
        """A presynaptic spike adds w / tau_syn to the input in units of I_unit."""
        neuron = self.spec.post_neuron
        return (neuron.v_th - neuron.v_rest) * second / neuron.tau_syn

    def values(self, weights=None):
        """(target, value) pairs: assigned before a run, or ``run_args`` of a
        compiled program.  ``weights`` (n_pre x n_post) default to zero."""
        spec = self.spec
        if weights is None:
            weights = np.zeros((spec.n_pre, spec.n_post))
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (spec.n_pre, spec.n_post):
            raise ValueError(f"weights have shape {weights.shape}, expected {(spec.n_pre, spec.n_post)}")
        pairs = []
        for group, tuning in ((self.pre, self.pre_tuning), (self.post, self.post_tuning)):
            pairs += [(group.encoder, tuning.encoders), (group.gain, tuning.gains * volt),
                      (group.bias, tuning.biases * volt)]
        pairs += [
            (self.post.I_ext, self.post_tuning.biases * volt),
            (self.post.tau_readout, spec.tau_readout),
            *([(self.readout.tau_readout, spec.tau_readout)] if spec.filtered_target else []),
            (self.learned.w, weights.reshape(-1)),
            (self.learned.eta, self.eta),
            (self.learned.w_unit, self.w_unit),
            (self.learned.plastic, 1.0),
            (self.decode.d, self.decoders * second),
            (self.feedback.B, self.post_tuning.scaled_encoders),
            (self.stimulus, self.stimulus_values()),
        ]
        return pairs

    def assign(self, weights=None):
        for target, value in self.values(weights):
            if not isinstance(target, TimedArray):  # set at construction
                target[:] = value

    def result(self, wall_s, monitors=()):
        """What the run recorded, as a `ChannelResult`."""
        rec = self.record
        t = np.asarray(rec.t[:] / second)
        return ChannelResult(t, np.asarray(rec.input[0]), np.asarray(rec.target[0]), np.asarray(rec.x_hat[0]),
                             np.abs(np.asarray(rec.err[0])), self.read_weights(), wall_s,
                             monitors=list(monitors), model=self)

    def read_weights(self):
        return np.asarray(self.learned.w[:], dtype=float).reshape(self.spec.n_pre, self.spec.n_post).copy()


@dataclass
class ChannelResult:
    t: np.ndarray  # s
    input: np.ndarray  # x(t)
    target: np.ndarray  # y(t): x through the readout's lowpass (or x)
    decoded: np.ndarray  # x_hat(t)
    abs_error: np.ndarray  # |x_hat - y|
    weights: np.ndarray  # n_pre x n_post after the run
    wall_s: float
    csv: str | None = None
    png: str | None = None
    monitors: list = field(default_factory=list)  # those ``monitors(model)`` returned
    model: "ChannelModel | None" = None
    reused: bool = False  # a compiled program that ran without being built

    def mean_abs_error(self, start, stop):
        """Mean |x_hat - y| over start <= t < stop (seconds)."""
        sel = (self.t >= start - 1e-9) & (self.t < stop - 1e-9)
        return float(np.mean(self.abs_error[sel]))


def check_rule(rule):
    """The channel feeds its rule through the post population's encoders."""
    if rule.feedback not in FEEDBACK:
        raise ValueError(
            f"the channel delivers the learning signal through the post population's encoders; "
            f"rule '{rule.name}' has '{rule.feedback}' feedback (use pes, or dfa with post='none')"
        )


def channel_steps(spec, duration):
    """Time steps of a run of ``duration``."""
    return int(round(float(duration / spec.dt)))


#: the fields of a `ChannelSpec` that shape the program; the others (frequency, tuning, readout
#: filter, decoders' regularisation) are run values
STRUCTURE = ("n_pre", "n_post", "dt", "record_dt", "pre_neuron", "post_neuron", "surrogate", "filtered_target")


def channel_key(spec, rule, duration, threads=1):
    """Name of the cache folder of the channel's C++ program: the spec's
    `STRUCTURE`, the rule's (its learning rates are run values), the number
    of steps and the package (`build.key.package_fingerprint`).  The build
    stamp holds the generated code's hash besides, so a value that did
    shape the code would be built again, never run wrongly."""
    import dataclasses

    from .build.key import digest

    structure = {f.name: getattr(rule, f.name) for f in dataclasses.fields(rule)
                 if f.name not in ("lr", "lr_hidden", "paper")}
    key = digest({"channel": repr([getattr(spec, name) for name in STRUCTURE]), "rule": repr(structure),
                  "steps": channel_steps(spec, duration)})
    return f"channel-{key}-t{int(threads)}"


class ChannelProgram(StandaloneRunner):
    """The channel as a C++ program from the build cache, shared with
    training (`devices.StandaloneRunner`): built once for a spec, rule
    structure and duration; every value (tuning, decoders, weights,
    learning rate, stimulus) is a run value, so a second run, in this
    process or another, compiles nothing."""

    def __init__(self, spec, rule, duration, threads=1, build_dir=None, monitors=None):
        check_rule(rule)  # before a build folder is claimed
        self.spec, self.rule, self.duration = spec, rule, duration
        self._compile(channel_key(spec, rule, duration, threads), threads, build_dir,
                      lambda: self._populate(monitors, progress=False))

    def _new_model(self):
        from brian2 import start_scope

        start_scope()
        return ChannelModel(self.spec, self.rule, self.duration, stimulus=False)

    @property
    def dtype(self):
        return "float64"

    def run(self, seed=0, weights=None):
        """One run with the tuning of ``seed`` and the initial ``weights``
        (n_pre x n_post, zero by default): a `ChannelResult`."""
        t0 = time.perf_counter()
        self.model.tune(seed)
        run_args = dict(self.model.values(weights))
        return self.execute(run_args, lambda: self.model.result(time.perf_counter() - t0, self.extra))


def run_channel(rule, duration=10 * second, seed=0, device="cpp_standalone", out_dir=None,
                spec=None, monitors=None, build_dir=None, threads=1):
    """Run the channel with ``rule`` and return a `ChannelResult`.

    With ``out_dir``, write ``channel.csv`` (t, input, target, decoded,
    abs_error) and ``channel.png``.  ``monitors(model)`` may return extra Brian2
    monitors, returned in ``result.monitors`` (a compiled program's results
    go with it: read the monitors of a standalone run through a
    `ChannelProgram` of your own, before its ``close()``).  ``device`` is "runtime"
    (NumPy target; minutes for 10 s) or "cpp_standalone": the program of
    `ChannelProgram`, from the build cache (or built in ``build_dir``).
    Every rule's updates are applied every time step (``apply_every`` is
    not used here).  ``result.wall_s`` is the whole call, building included.
    """
    from brian2 import prefs, set_device, start_scope

    if device not in DEVICES:
        raise ValueError(f"unknown device '{device}' for the channel (choose from {', '.join(DEVICES)})")
    spec = spec or ChannelSpec()
    t0 = time.perf_counter()
    if device == "runtime":
        set_device("runtime")
        prefs.codegen.target = "numpy"
        start_scope()
        model = ChannelModel(spec, rule, duration, seed=seed)
        model.assign()
        extra = monitors(model) if monitors else []
        model.network.add(*extra)
        model.network.run(duration, namespace={})
        result = model.result(time.perf_counter() - t0, extra)
    else:
        program = ChannelProgram(spec, rule, duration, threads=threads, build_dir=build_dir, monitors=monitors)
        try:
            result = program.run(seed)
        finally:
            program.close()
        result.wall_s = time.perf_counter() - t0
        result.reused = program.reused
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        result.csv = write_csv(result, os.path.join(out_dir, "channel.csv"))
        result.png = plot_channel(result, os.path.join(out_dir, "channel.png"), title=_title(rule))
    return result


def _title(rule):
    if rule.name == "pes":
        return f"PES, kappa = {rule.lr_hidden:g}"
    return f"{rule.name} (post factor: {rule.post}), encoders as B, lr = {rule.lr_hidden:g}"


def write_csv(result, path):
    data = np.column_stack([result.t, result.input, result.target, result.decoded, result.abs_error])
    np.savetxt(path, data, delimiter=",", header="t,input,target,decoded,abs_error", comments="", fmt="%.6g")
    return path


def plot_channel(result, path, title=""):
    """Input, decoded output and absolute error against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, constrained_layout=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    top.plot(result.t, result.input, lw=1.2, color="0.3", label="input x(t)")
    if not np.array_equal(result.target, result.input):
        top.plot(result.t, result.target, lw=1.0, ls="--", color="0.55", label="target: x through the readout's lowpass")
    top.plot(result.t, result.decoded, lw=0.8, color="C0", label="decoded output of post")
    top.set_ylabel("value")
    top.legend(loc="upper right", fontsize=8)
    top.grid(alpha=0.3)
    bottom.plot(result.t, result.abs_error, lw=0.6, color="C3")
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("|decoded - target|")
    bottom.grid(alpha=0.3)
    if title:
        top.set_title(title, fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
