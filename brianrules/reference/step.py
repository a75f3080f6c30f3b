"""One time step of the reference simulator, as pure functions of explicit
state arrays (the order of operations: the package's docstring)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..randomness import hash_uniform_numpy
from .params import NEVER_SPIKED, LIFConstants, Params

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
    opt: dict = None  # the optimizer's state {variable: n_pre x n_post}


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


def initial_state(p: Params, weights, feedback=None, optimizer_state=None) -> NetState:
    sizes = p.sizes
    syn = []
    for k, W in enumerate(weights):
        W = np.array(W, dtype=float, copy=True)
        if W.shape != (sizes[k], sizes[k + 1]):
            raise ValueError(f"weights of projection {k + 1} have shape {W.shape}, expected {(sizes[k], sizes[k + 1])}")
        given = optimizer_state[k] if optimizer_state else {}
        opt = {name: np.array(given[name], dtype=float) if name in given else np.zeros_like(W)
               for name in p.optimizer.state} if p.accumulate else {}
        syn.append(SynapseState(W, np.zeros_like(W), tuple(np.zeros_like(W) for _ in p.elig_taus), opt))
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


def apply_accumulated(syn: SynapseState, optimizer=None, alpha=None, plastic=1.0) -> SynapseState:
    """An application of the accumulated update ``g = w_acc`` by the
    optimizer (`rules.optimizers`), its state changed only where the
    synapse learned (``plastic``, the gate of the steps before)."""
    g, w, opt = syn.w_acc, syn.w, dict(syn.opt or {})
    name = "sgd" if optimizer is None else optimizer.name
    keep = 1.0 - plastic
    if name == "sgd":
        w = w + g
    elif name == "rmsmax":
        opt["opt_v"] = plastic * np.maximum(g ** 2, optimizer.gamma * opt["opt_v"]) + keep * opt["opt_v"]
        w = w + plastic * alpha * g / (np.sqrt(opt["opt_v"]) + optimizer.eps)
    elif name == "rmsprop":
        rho = optimizer.rho
        opt["opt_v"] = plastic * (rho * opt["opt_v"] + (1 - rho) * g ** 2) + keep * opt["opt_v"]
        w = w + plastic * alpha * g / (np.sqrt(opt["opt_v"]) + optimizer.eps)
    else:  # adam, bias-corrected
        b1, b2 = optimizer.beta1, optimizer.beta2
        opt["opt_m"] = plastic * (b1 * opt["opt_m"] + (1 - b1) * g) + keep * opt["opt_m"]
        opt["opt_v"] = plastic * (b2 * opt["opt_v"] + (1 - b2) * g ** 2) + keep * opt["opt_v"]
        opt["opt_n"] = opt["opt_n"] + plastic
        n = opt["opt_n"]
        w = w + plastic * alpha * np.sqrt(1 - b2 ** n) / (1 - b1 ** (n + keep)) * opt["opt_m"] / (
            np.sqrt(opt["opt_v"]) + optimizer.eps)
    if optimizer is not None and optimizer.clip is not None:
        w = np.clip(w, -optimizer.clip, optimizer.clip)
    return syn._replace(w=w, w_acc=np.zeros_like(g), opt=opt)


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


def step(p: Params, s: NetState, n, lr, *, stim, tgt, learn, feedback, noise_seed, alpha=None):
    """Advance the network by one time step ``n``; returns (state, spikes).

    ``lr`` holds eta (1/s) per projection (``alpha``: the optimizer's step
    per projection, for a normalising one), ``stim``, ``tgt``, ``learn`` the
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
        syn = tuple(apply_accumulated(a, p.optimizer, None if alpha is None else alpha[k], plastic)
                    for k, a in enumerate(syn))
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


def simulate(p: Params, weights, feedback, stim, tgt, learn, noise_seed, lr, alpha=None, optimizer_state=None):
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
    state = initial_state(p, weights, optimizer_state=optimizer_state)
    counts = np.zeros((n_samples, p.sizes[-1]), dtype=np.int64)
    hidden_counts = np.zeros(p.n_hidden_layers, dtype=np.int64)
    for n in range(n_samples * S):
        state, out = step(p, state, n, lr, stim=stim, tgt=tgt, learn=learn, feedback=feedback,
                          noise_seed=noise_seed, alpha=alpha)
        z_out = out.spikes[-1]
        if z_out.any():
            counts[n // S] += z_out
        for k, z in enumerate(out.spikes[1:-1]):
            hidden_counts[k] += int(np.count_nonzero(z))
    return state, counts, hidden_counts


