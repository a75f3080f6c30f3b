"""A NumPy reference simulator of the discretised model (dfa family).

The Brian2 model of `network.Model` is turned into C++ by Brian2's code
generation; this module writes the same discrete-time system by hand, as
pure functions of explicit state arrays, so that the generated program can
be checked against an independent implementation number for number, and so
that the model can be read without Brian2.

One time step ``n`` (``t = n * dt``) runs, in the order of Brian2's schedule
for the objects that `network.Model` creates:

``start`` slot
    1. every ``apply_every`` steps (accumulating rules): ``w += w_acc``,
       ``w_acc = 0`` (order -10);
    2. every ``t_sample`` steps: the per-sample reset of each group
       (``v = v_rest`` only where the neuron is not refractory,
       ``I_syn = x = 0``, output ``r = 0``; input ``x = 0``; a filtered
       eligibility's stages ``= 0``), then the learning gate
       ``plastic = learn[sample]``;
``groups`` slot
    3. plastic synapses (order -5): ``w_acc += dt * eta * plastic *
       (-L_j * phi_j * x_i)`` (forward Euler).  Hidden layers read the
       learning signal ``L`` stored by the feedback synapses one step
       earlier; the output layer computes its error from ``r`` now.  With
       a filtered eligibility (a cascade of N unit-area stages, e.g.
       ``lowpass`` N = 1, ``alpha`` N = 2; `rules.cascade`) the product is
       ``-L_j * e_N`` and, in the same Euler step (from the values before
       it), each stage moves towards its input:
       ``e_s += dt * (u_s - e_s) / tau_s`` with ``u_1 = phi_j x_i`` and
       ``u_s = e_(s-1)``, whether or not the gate is open;
    4. direct feedback (order -1): ``L_j = sum_k B_kj err_k``, for every
       hidden layer (it is used by step 3 of the *next* time step);
    5. neuron state updates (order 0), exact integration of the linear
       equations: refractoriness is ``(t - lastspike) >= t_ref`` counted in
       whole steps; ``v`` advances only when not refractory; ``I_syn``,
       ``x`` and ``r`` decay;
``thresholds``
    6. input: ``hash_uniform(seed, n, i) < dt * max_rate * stim[sample, i]``;
       LIF: ``v > v_th`` and not refractory, which records ``lastspike = t``;
``synapses``
    7. ``I_syn_j += w_unit * w_ij`` for each presynaptic spike, in order of
       the presynaptic index;
``resets``
    8. ``v = v_reset`` and ``x += 1`` (output: ``r += 1 / tau_err``); input
       ``x += 1``.

Arithmetic follows the generated code expression for expression (the same
loop-invariant constants, the same operand order); the C++ program is built
with ``-ffast-math``, so the results agree to rounding, not bit for bit.

The accumulated change of the last ``apply_every`` steps of a run is not
added to ``w`` within the run (the next apply would fall at the end time),
as in the generated program.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .randomness import hash_uniform_numpy
from .singularities import SWITCH

#: Brian2 stores the last spike time of a neuron that never fired as this (s)
NEVER_SPIKED = -10000.0


# ---------------------------------------------------------------------------
# parameters: plain floats derived once from a NetworkSpec
# ---------------------------------------------------------------------------


class LIFConstants(NamedTuple):
    """The loop-invariant constants of the exact LIF update (SI units)."""

    dt: float
    v_rest: float
    v_reset: float
    v_th: float
    ref_steps: int  # t_ref in whole time steps
    c_syn: float  # weight of I_syn(t) in v(t + dt)
    decay_m: float  # exp(-dt / tau_m)
    minus_v_rest: float  # 0 - v_rest
    decay_syn: float  # exp(-dt / tau_syn)
    decay_trace: float  # exp(-dt / tau_trace)


def _timestep(t, dt):
    """Brian2's conversion of a time to whole steps (truncating, with a
    tolerance of a thousandth of a step)."""
    return int((t + 1e-3 * dt) / dt)


def lif_constants(neuron, dt) -> LIFConstants:
    """Constants of one step of the LIF equations of `neurons.LIF`.

    Solution over one step of
        tau_m dv/dt = v_rest - v + I_syn,   tau_syn dI_syn/dt = -I_syn
    written as v(t+dt) = v_rest + c_syn I_syn + e_m (v - v_rest) with
    e_m = exp(-dt/tau_m) and
    c_syn = tau_syn e^{-dt/tau_syn} (e^{dt/tau_m} - e^{dt/tau_syn}) e^{-dt/tau_m} / (tau_syn - tau_m).

    That form is 0/0 at tau_m = tau_syn.  With y_m = dt/tau_m and the
    exponent difference w = dt/tau_syn - dt/tau_m it is also
        c_syn = y_m e^{-dt/tau_syn} (e^w - 1) / w,
    which is well conditioned everywhere (``expm1``) and gives the limit
    c_syn = (dt/tau) e^{-dt/tau} at w = 0 (the response I0 (t/tau) e^{-t/tau}
    of the degenerate system).  As in the generated code
    (`singularities.remove_singularities`), the generic form is kept, for
    agreement with the program to rounding, outside the band
    |w| < ``singularities.SWITCH["float64"]``, and the well-conditioned form
    is used inside it, where the generic one loses digits (its relative
    rounding error is about 1e-16/|w|).
    """
    tau_m = float(neuron.tau_m)
    tau_syn = float(neuron.tau_syn)
    tau_trace = float(neuron.tau_trace)
    v_rest = float(neuron.v_rest)
    w = dt * (tau_m - tau_syn) / (tau_m * tau_syn)
    if abs(w) < SWITCH["float64"]:
        c_syn = (dt / tau_m) * math.exp(-dt / tau_syn) * (math.expm1(w) / w if w != 0 else 1.0)
    else:
        a = tau_syn * math.exp(-dt / tau_syn)
        b = -math.exp(dt / tau_syn)
        c_syn = ((a * (b + math.exp(dt / tau_m))) * math.exp(-dt / tau_m)) / (-tau_m + tau_syn)
    return LIFConstants(
        dt=dt,
        v_rest=v_rest,
        v_reset=float(neuron.v_reset),
        v_th=float(neuron.v_th),
        ref_steps=_timestep(float(neuron.t_ref), dt),
        c_syn=c_syn,
        decay_m=math.exp(-dt / tau_m),
        minus_v_rest=0.0 - v_rest,
        decay_syn=math.exp(-dt / tau_syn),
        decay_trace=math.exp(-dt / tau_trace),
    )


def surrogate_function(surrogate):
    """``psi(d)`` of a `surrogates.Surrogate` as a NumPy function of the
    scaled distance to threshold ``d``, lambdified from its sympy form.

    The width enters as its reciprocal, as in the generated code."""
    import sympy

    from . import surrogates as sg

    inv_width = sympy.Symbol("inv_width", positive=True)
    expr = surrogate.expression.subs(sg.width, 1 / inv_width)
    f = sympy.lambdify((sg.x, inv_width, sg.height), expr, modules="numpy")
    iw = 1.0 / float(surrogate.width)
    h = float(surrogate.height)

    def psi(d):
        out = f(d, iw, h)
        return np.broadcast_to(np.asarray(out, dtype=float), np.shape(d))

    return psi


@dataclass(frozen=True)
class Params:
    """Everything a step needs besides the state, as plain numbers."""

    sizes: tuple
    dt: float
    steps_per_sample: int
    t_sample: float
    timed_k: int  # up-sampling factor of Brian2's TimedArray look-up
    accumulate: bool
    apply_every: int
    reset_between_samples: bool
    lif: LIFConstants
    input_decay: float  # exp(-dt / tau_trace) of the input traces
    max_rate: float
    f_low: float
    f_high: float
    decay_err: float  # exp(-dt / tau_err)
    inv_tau_err: float
    w_unit: float
    post: tuple  # postsynaptic factor name of each projection
    psi: object  # surrogate function of the scaled distance to threshold
    inv_th_span: float  # 1 / (v_th - v_reset)
    elig_taus: tuple = ()  # time constant (s) of each stage of a filtered eligibility's cascade, input first

    @property
    def filtered(self):
        return bool(self.elig_taus)

    @property
    def n_hidden_layers(self):
        return len(self.sizes) - 2


def check_supported(spec):
    """Raise ValueError when the reference does not model ``spec``."""
    rule = spec.rule
    if getattr(spec, "dtype", "float64") != "float64":
        raise ValueError(f"the reference simulator computes in float64 only, not {spec.dtype}")
    from .model.architecture import is_chain

    if not is_chain(spec.projections, len(spec.hidden)):
        raise ValueError("the reference simulator models the feed-forward stack only, not the declared "
                         "projections (recurrent or skipping layers)")
    if not spec.neuron.is_builtin_lif:
        raise ValueError(f"the reference simulator models the built-in LIF only, not neuron {spec.neuron.name} "
                         f"({spec.neuron.source})")
    if spec.neurons:
        raise ValueError("the reference simulator models one neuron in every population, not a neuron of its own for "
                         + ", ".join(spec.neurons))
    if any(p.rule for p in spec.projections):
        raise ValueError("the reference simulator models the model's rule on every projection, not a projection's "
                         "own factors")
    if rule.feedback != "direct":
        raise ValueError(f"the reference simulator models direct feedback (dfa) only, not '{rule.feedback}'")
    if rule.post_expr is not None:
        raise ValueError("the reference simulator does not evaluate post_expr; use post=surrogate, none or activity")
    if getattr(rule, "timing", "clock") != "clock":
        raise ValueError("the reference simulator models clock-driven updates only")
    if rule.eligibility != "trace" and not rule.filtered:
        raise ValueError(f"the reference simulator models the presynaptic trace and its filtered "
                         f"eligibilities (a cascade of any number of stages), not '{rule.eligibility}'")
    for kind in (rule.post, rule.post_output):
        if kind not in ("surrogate", "none", "activity"):
            raise ValueError(f"the reference simulator does not model the postsynaptic factor '{kind}'")


def make_params(spec) -> Params:
    check_supported(spec)
    dt = float(spec.dt)
    t_sample = float(spec.t_sample)
    n_proj = len(spec.sizes) - 1
    post = tuple([spec.rule.post] * (n_proj - 1) + [spec.rule.post_output])
    nrn = spec.neuron
    return Params(
        sizes=tuple(int(s) for s in spec.sizes),
        dt=dt,
        steps_per_sample=spec.steps_per_sample,
        t_sample=t_sample,
        timed_k=max(int(2 ** np.ceil(np.log2(8 / dt * t_sample))), 1),
        accumulate=spec.accumulate,
        apply_every=int(spec.apply_every),
        reset_between_samples=bool(spec.reset_between_samples),
        lif=lif_constants(nrn, dt),
        input_decay=math.exp(-dt / float(nrn.tau_trace)),
        max_rate=float(spec.max_rate),
        f_low=float(spec.f_low),
        f_high=float(spec.f_high),
        decay_err=math.exp(-dt / float(spec.tau_err)),
        inv_tau_err=1.0 / float(spec.tau_err),
        w_unit=float(spec.w_unit),
        post=post,
        psi=surrogate_function(spec.surrogate),
        inv_th_span=1.0 / (float(nrn.v_th) - float(nrn.v_reset)),
        elig_taus=tuple(float(tau) for tau in spec.rule.eligibility_values().values()),
    )


# ---------------------------------------------------------------------------
# state
# ---------------------------------------------------------------------------


class LIFState(NamedTuple):
    v: np.ndarray
    i_syn: np.ndarray
    x: np.ndarray  # spike trace
    not_refractory: np.ndarray  # bool
    lastspike: np.ndarray  # time of the last spike (s)


class SynapseState(NamedTuple):
    w: np.ndarray  # n_pre x n_post
    w_acc: np.ndarray  # accumulated change (zeros when updates apply every step)
    elig: tuple = ()  # the stages of a filtered eligibility (n_pre x n_post each), input first


class NetState(NamedTuple):
    input_x: np.ndarray
    hidden: tuple  # LIFState per hidden layer
    output: LIFState
    r: np.ndarray  # filtered output rate (Hz)
    signal: tuple  # learning signal L per hidden layer
    synapses: tuple  # SynapseState per projection
    plastic: float  # learning gate of the current sample


def lif_rest(n, c: LIFConstants) -> LIFState:
    return LIFState(
        v=np.full(n, c.v_rest),
        i_syn=np.zeros(n),
        x=np.zeros(n),
        not_refractory=np.ones(n, dtype=bool),
        lastspike=np.full(n, NEVER_SPIKED),
    )


def initial_state(p: Params, weights, feedback=None) -> NetState:
    sizes = p.sizes
    syn = []
    for k, W in enumerate(weights):
        W = np.array(W, dtype=float, copy=True)
        if W.shape != (sizes[k], sizes[k + 1]):
            raise ValueError(f"weights of projection {k + 1} have shape {W.shape}, expected {(sizes[k], sizes[k + 1])}")
        syn.append(SynapseState(W, np.zeros_like(W), tuple(np.zeros_like(W) for _ in p.elig_taus)))
    if len(syn) != len(sizes) - 1:
        raise ValueError(f"expected {len(sizes) - 1} weight matrices, got {len(syn)}")
    return NetState(
        input_x=np.zeros(sizes[0]),
        hidden=tuple(lif_rest(n, p.lif) for n in sizes[1:-1]),
        output=lif_rest(sizes[-1], p.lif),
        r=np.zeros(sizes[-1]),
        signal=tuple(np.zeros(n) for n in sizes[1:-1]),
        synapses=tuple(syn),
        plastic=0.0,
    )


# ---------------------------------------------------------------------------
# pure step functions
# ---------------------------------------------------------------------------


def timed_index(p: Params, t, n_rows):
    """Row of a per-sample TimedArray at time ``t``, as Brian2 looks it up."""
    eps = p.t_sample / p.timed_k
    i = int((t / eps + 0.5) / p.timed_k)
    return min(max(i, 0), n_rows - 1)


def lif_sample_reset(s: LIFState, c: LIFConstants) -> LIFState:
    """Start of a sample: rest, except ``v`` of refractory neurons."""
    return s._replace(v=np.where(s.not_refractory, c.v_rest, s.v), i_syn=np.zeros_like(s.i_syn),
                      x=np.zeros_like(s.x))


def lif_integrate(s: LIFState, c: LIFConstants, t) -> LIFState:
    """One step of the state update (before the threshold)."""
    since = ((t - s.lastspike) + 1e-3 * c.dt) / c.dt
    not_ref = since.astype(np.int64) >= c.ref_steps
    i_ext = 0.0
    v_new = c.v_rest + (((i_ext + (c.c_syn * s.i_syn)) + (c.decay_m * s.v)) + (c.decay_m * (c.minus_v_rest + (-i_ext))))
    return LIFState(
        v=np.where(not_ref, v_new, s.v),
        i_syn=c.decay_syn * s.i_syn,
        x=c.decay_trace * s.x,
        not_refractory=not_ref,
        lastspike=s.lastspike,
    )


def lif_threshold(s: LIFState, c: LIFConstants, t):
    """Spikes of this step and the state with refractoriness started."""
    spikes = (s.v > c.v_th) & s.not_refractory
    if not spikes.any():
        return spikes, s
    return spikes, s._replace(not_refractory=s.not_refractory & ~spikes,
                              lastspike=np.where(spikes, t, s.lastspike))


def lif_reset(s: LIFState, spikes, c: LIFConstants) -> LIFState:
    if not spikes.any():
        return s
    return s._replace(v=np.where(spikes, c.v_reset, s.v), x=s.x + spikes)


def input_spikes(p: Params, noise_seed, n, stim_row):
    """Poisson input spikes of step ``n`` from the counter-based hash."""
    rate = p.max_rate * stim_row
    u = hash_uniform_numpy(noise_seed, n, np.arange(len(stim_row)))
    return u < (p.dt * rate)


def output_error(p: Params, r, target):
    """err_k = (r_k - target_rate_k) / (f_high - f_low)."""
    span = p.f_high - p.f_low
    target_rate = p.f_low + (span * target)
    return (1.0 / span) * (r - target_rate)


def post_factor(p: Params, kind, s: LIFState):
    if kind == "surrogate":
        d = p.inv_th_span * ((0.0 - p.lif.v_th) + s.v)
        return p.psi(d)
    if kind == "activity":
        return s.x
    if kind == "none":
        return np.ones_like(s.v)
    raise ValueError(f"unknown postsynaptic factor '{kind}'")


def plastic_update(syn: SynapseState, x_pre, post_term, scale, accumulate) -> SynapseState:
    """Forward Euler step of dw/dt = -eta L phi x (``post_term`` = -L * phi,
    ``scale`` = dt * eta * plastic)."""
    if scale == 0.0:  # the gate is closed: the step adds exact zeros
        return syn
    delta = np.multiply.outer(x_pre, post_term)
    delta *= scale
    return add_change(syn, delta, accumulate)


def add_change(syn: SynapseState, delta, accumulate) -> SynapseState:
    """``delta`` (an array of the caller's, reused) added to ``w_acc``, or to
    ``w`` when updates apply every step."""
    if accumulate:
        delta += syn.w_acc
        return syn._replace(w_acc=delta)
    delta += syn.w
    return syn._replace(w=delta)


def filtered_update(syn: SynapseState, x_pre, phi, signal, scale, accumulate, dt, taus) -> SynapseState:
    """One forward Euler step of dw/dt = -eta L elig together with the
    filter's stages, all from the values before the step (``scale`` = dt *
    eta * plastic; the stages move even when it is 0)."""
    if scale != 0.0:
        delta = syn.elig[-1] * (-signal)[None, :]
        delta *= scale
        syn = add_change(syn, delta, accumulate)
    inputs = (np.multiply.outer(x_pre, phi), *syn.elig[:-1])
    return syn._replace(elig=tuple(e + dt * ((u - e) / tau) for e, u, tau in zip(syn.elig, inputs, taus)))


def apply_accumulated(syn: SynapseState) -> SynapseState:
    return syn._replace(w=syn.w + syn.w_acc, w_acc=np.zeros_like(syn.w_acc))


def propagate(i_syn, w, spikes, w_unit):
    """I_syn += w_unit * w_ij for each spiking i, added in order of i."""
    idx = np.flatnonzero(spikes)
    if idx.size == 0:
        return i_syn
    rows = w[idx] * w_unit
    return np.add.reduce(np.vstack([i_syn[None, :], rows]), axis=0)


def feedback_signal(B, err):
    """L_j = sum_k B_kj err_k, summed from zero in order of k."""
    terms = B * err[:, None]
    return np.add.reduce(np.vstack([np.zeros((1, B.shape[1])), terms]), axis=0)


class StepOutput(NamedTuple):
    spikes: tuple  # bool arrays: input, each hidden layer, output


def step(p: Params, s: NetState, n, lr, *, stim, tgt, learn, feedback, noise_seed):
    """Advance the network by one time step ``n``; returns (state, spikes).

    ``lr`` holds eta (1/s) per projection, ``stim``, ``tgt``, ``learn`` the
    per-sample arrays of the run and ``feedback`` the matrices B
    (n_out x n_hidden) of the hidden layers.
    """
    c = p.lif
    t = n * p.dt
    syn = s.synapses
    hidden = s.hidden
    output = s.output
    r = s.r
    input_x = s.input_x
    plastic = s.plastic

    # -- start slot ----------------------------------------------------
    if p.accumulate and n % p.apply_every == 0:
        syn = tuple(apply_accumulated(a) for a in syn)
    if n % p.steps_per_sample == 0:
        if p.reset_between_samples:
            hidden = tuple(lif_sample_reset(h, c) for h in hidden)
            input_x = np.zeros_like(input_x)
            output = lif_sample_reset(output, c)
            r = np.zeros_like(r)
            if p.filtered:
                syn = tuple(a._replace(elig=tuple(np.zeros_like(e) for e in a.elig)) for a in syn)
        plastic = float(learn[timed_index(p, t, len(learn))])

    # -- groups slot: plastic synapses (order -5) ----------------------
    target = tgt[timed_index(p, t, len(tgt))]
    err = output_error(p, r, target)
    pre_x = (input_x, *(h.x for h in hidden))
    posts = (*hidden, output)
    signals = (*s.signal, err)
    new_syn = []
    for k, a in enumerate(syn):
        scale = (p.dt * lr[k]) * plastic
        if p.filtered:
            phi = post_factor(p, p.post[k], posts[k])
            new_syn.append(filtered_update(a, pre_x[k], phi, signals[k], scale, p.accumulate, p.dt, p.elig_taus))
            continue
        if scale == 0.0:
            new_syn.append(a)
            continue
        phi = post_factor(p, p.post[k], posts[k])
        post_term = (-signals[k]) * phi
        new_syn.append(plastic_update(a, pre_x[k], post_term, scale, p.accumulate))
    syn = tuple(new_syn)

    # -- feedback (order -1): the hidden layers' learning signal -------
    signal = tuple(feedback_signal(B, err) for B in feedback)

    # -- neuron state updates (order 0) --------------------------------
    hidden = tuple(lif_integrate(h, c, t) for h in hidden)
    input_x = p.input_decay * input_x
    output = lif_integrate(output, c, t)
    r = p.decay_err * r

    # -- thresholds -------------------------------------------------------
    spikes_h = []
    new_hidden = []
    for h in hidden:
        z, h = lif_threshold(h, c, t)
        spikes_h.append(z)
        new_hidden.append(h)
    hidden = tuple(new_hidden)
    z_in = input_spikes(p, noise_seed, n, stim[timed_index(p, t, len(stim))])
    z_out, output = lif_threshold(output, c, t)

    # -- synaptic propagation (w_1, w_2, ...) ---------------------------
    pre_spikes = (z_in, *spikes_h)
    posts = [*hidden, output]
    for k, a in enumerate(syn):
        posts[k] = posts[k]._replace(i_syn=propagate(posts[k].i_syn, a.w, pre_spikes[k], p.w_unit))
    hidden = tuple(posts[:-1])
    output = posts[-1]

    # -- resets -----------------------------------------------------------
    hidden = tuple(lif_reset(h, z, c) for h, z in zip(hidden, spikes_h))
    if z_in.any():
        input_x = input_x + z_in
    output = lif_reset(output, z_out, c)
    if z_out.any():
        r = r + np.where(z_out, p.inv_tau_err, 0.0)

    state = NetState(input_x=input_x, hidden=hidden, output=output, r=r, signal=signal,
                     synapses=syn, plastic=plastic)
    return state, StepOutput((z_in, *spikes_h, z_out))


def learning_rates(spec, lr_scale=1.0):
    """eta of each projection (`ThreeFactorRule.eta`)."""
    n_proj = len(spec.sizes) - 1
    return [spec.rule.eta(k == n_proj - 1, spec.sizes[k], lr_scale) for k in range(n_proj)]


def simulate(p: Params, weights, feedback, stim, tgt, learn, noise_seed, lr):
    """Run ``len(stim)`` samples from rest; returns (final state, output
    spike counts per sample, spike count per hidden layer)."""
    n_samples = len(stim)
    S = p.steps_per_sample
    feedback = [np.asarray(B, dtype=float) for B in feedback]
    for B, n_hid in zip(feedback, p.sizes[1:-1]):
        if B.shape != (p.sizes[-1], n_hid):
            raise ValueError(f"feedback matrix has shape {B.shape}, expected {(p.sizes[-1], n_hid)}")
    if len(feedback) != p.n_hidden_layers:
        raise ValueError(f"expected {p.n_hidden_layers} feedback matrices, got {len(feedback)}")
    state = initial_state(p, weights)
    counts = np.zeros((n_samples, p.sizes[-1]), dtype=np.int64)
    hidden_counts = np.zeros(p.n_hidden_layers, dtype=np.int64)
    for n in range(n_samples * S):
        state, out = step(p, state, n, lr, stim=stim, tgt=tgt, learn=learn, feedback=feedback,
                          noise_seed=noise_seed)
        z_out = out.spikes[-1]
        if z_out.any():
            counts[n // S] += z_out
        for k, z in enumerate(out.spikes[1:-1]):
            hidden_counts[k] += int(np.count_nonzero(z))
    return state, counts, hidden_counts


class ReferenceRunner:
    """The NumPy reference with the interface of the Brian2 runners."""

    device = "reference"
    compile_s = 0.0
    cached = False

    def __init__(self, spec, n_samples):
        self.spec = spec
        self.n_samples = int(n_samples)
        self.params = make_params(spec)

    def run(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0):
        from .program import RunResult

        from .network import run_arrays

        spec = self.spec
        stim, tgt, learn = run_arrays(spec, self.n_samples, stim, tgt, learn)
        t0 = time.perf_counter()
        # the generated program stores the seed as a 32-bit integer
        seed = int(np.int64(int(noise_seed)).astype(np.int32))
        t_sim = time.perf_counter()
        state, counts, hidden_counts = simulate(
            self.params, weights, feedback, stim, tgt, learn, seed,
            learning_rates(spec, lr_scale))
        #: seconds spent in the time-step loop of the last run
        self.last_sim_s = time.perf_counter() - t_sim
        duration = self.n_samples * float(spec.t_sample)
        rates = [float(c / n / duration) for c, n in zip(hidden_counts, spec.hidden)]
        return RunResult([a.w.copy() for a in state.synapses], counts, rates, time.perf_counter() - t0)

    def close(self):
        pass
