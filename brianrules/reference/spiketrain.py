"""The NumPy reference of a SuperSpike network (`model.spiketrain`): the oracle of the Brian2 program.

`simulate` runs ``n_steps`` steps of a `SuperSpikeNetwork` on a looping
input and target raster, from a carried state, learning as the module
`model.spiketrain` says; two runs of ``n`` steps give the numbers of one
run of ``2 n``.  The order of a step is the Brian2 program's
(`build.spiketrain`):

1. ``start``, every ``update_every`` steps of a run (runs begin on such a
   step): the normaliser applies the accumulated ``g`` (the weight only
   where the projection learns (``learn``: all, none, or the names of
   those that do); its state ``v`` always, as Auryn's does);
2. ``groups``: the input traces; the hidden feedback ``err_fb`` from the
   output errors of the step before (with the weights after 1.); the
   neurons' membrane, current, surrogate and traces;
3. ``thresholds``, ``synapses``, ``resets``: spikes, the currents' jumps,
   the reset and the traces' +1;
4. ``end``: the errors through the kernel, the van Rossum sum, then every
   synapse's eligibility and ``g``.
"""

import numpy as np

from ..model.spiketrain import NEURON_STATE, SYNAPSE_STATE


def zero_state(net):
    """The state of a network at rest: ``{"in": .., "h": .., "o": .., "W1":
    .., "W2": ..}`` (every neuron variable of `NEURON_STATE` and ``err``;
    every synapse variable of `SYNAPSE_STATE`)."""
    sizes = {"in": net.n_in, "o": net.n_out}
    if net.n_hidden:
        sizes["h"] = net.n_hidden
    state = {g: {k: np.zeros(n) for k in NEURON_STATE + ("err",)} for g, n in sizes.items()}
    for key, shape in net.layers.items():
        state[key] = {k: np.zeros(shape) for k in SYNAPSE_STATE}
    return state


def check_rasters(net, stim, target):
    """The looping input (P, n_in) and target (P, n_out) rasters as 0/1 floats."""
    stim, target = np.asarray(stim, dtype=float), np.asarray(target, dtype=float)
    if stim.ndim != 2 or stim.shape[1] != net.n_in:
        raise ValueError(f"the input raster must have shape (steps, {net.n_in}), got {stim.shape}")
    if target.shape != (stim.shape[0], net.n_out):
        raise ValueError(f"the target raster must have shape ({stim.shape[0]}, {net.n_out}), got {target.shape}")
    for name, r in (("input", stim), ("target", target)):
        if not np.all((r == 0) | (r == 1)):
            raise ValueError(f"the {name} raster must hold 0 or 1 spikes per step and channel")
    return stim, target


def simulate(net, params, state, stim, target, n0, n_steps, eta, learn=True, record_from=None):
    """Run ``n_steps`` steps from global step ``n0`` (a multiple of
    ``update_every``); the rasters loop (step ``n`` shows row ``n mod P``).
    Returns ``(params, state, record)``: the new weights and normaliser
    state, the new state, and ``record``: ``D`` (per output neuron, ``sum
    e^2 dt``), ``count_h``/``count_o`` (spikes per neuron) and the output
    spikes from step ``record_from`` of the run on (``spike_steps``
    global, ``spike_idx``)."""
    p = net.check_params(params)
    stim, target = check_rasters(net, stim, target)
    K = net.update_every
    if n0 % K:
        raise ValueError(f"a run must start on an update step (a multiple of {K}), got {n0}")
    c = net.constants
    P = stim.shape[0]
    s = {g: {k: v.copy() for k, v in d.items()} for g, d in state.items()}
    hidden = bool(net.n_hidden)
    groups = ("h", "o") if hidden else ("o",)
    pre_of = {"W1": "in", "W2": "h"} if hidden else {"W2": "in"}
    post_of = {"W1": "h", "W2": "o"}
    rho = {"W1": net.rho, "W2": 0.0}
    D = np.zeros(net.n_out)
    counts = {g: np.zeros(s[g]["v"].shape) for g in groups}
    rec_steps, rec_idx = [], []
    record_from = n_steps if record_from is None else record_from
    learning = net.learning(learn)
    for n in range(n_steps):
        row = (n0 + n) % P
        # 1. start: the normaliser
        if n % K == 0:
            for key in net.layers:
                gm = s[key]["g"] / K
                vk = "v" + key[1]
                p[vk] = np.maximum(gm * gm, net.gamma * p[vk])
                if learning[key]:
                    p[key] = np.clip(p[key] + eta * gm / (np.sqrt(p[vk]) + net.eps), -net.w_max, net.w_max)
                s[key]["g"] = np.zeros_like(gm)
        # 2. groups
        si = s["in"]
        si["x"] = c["d_syn"] * si["x"]
        si["psp"] = si["psp"] + c["c_m"] * (si["x"] - si["psp"])
        if hidden:
            F = p["W2"].T if net.feedback == "symmetric" else p["B"]  # (out, hidden)
            err_fb = s["o"]["err"] @ F
        sp = {}
        for g in groups:
            q = s[g]
            free = q["r"] < 0.5
            q["v"] = np.where(free, q["v"] + c["c_m"] * (q["I"] - q["v"]), 0.0)
            q["r"] = np.maximum(q["r"] - 1.0, 0.0)
            q["I"] = c["d_syn"] * q["I"]
            sp[g] = net.beta / (1.0 + net.beta * np.abs(q["v"] - net.v_th)) ** 2 * (q["v"] > net.v_floor)
            q["x"] = c["d_syn"] * q["x"]
            q["psp"] = q["psp"] + c["c_m"] * (q["x"] - q["psp"])
            q["z"] = c["d_hom"] * q["z"]
        # 3. thresholds, synapses, resets
        S = {"in": stim[row] > 0.5}
        for g in groups:
            S[g] = s[g]["v"] > net.v_th
        for key in net.layers:
            s[post_of[key]]["I"] = s[post_of[key]]["I"] + S[pre_of[key]].astype(float) @ p[key]
        si["x"] = si["x"] + S["in"]
        for g in groups:
            q = s[g]
            q["v"] = np.where(S[g], 0.0, q["v"])
            q["r"] = np.where(S[g], float(net.n_ref), q["r"])
            q["x"] = q["x"] + S[g]
            q["z"] = q["z"] + S[g]
            counts[g] += S[g]
        if n >= record_from:
            idx = np.flatnonzero(S["o"])
            rec_steps.append(np.full(len(idx), n0 + n))
            rec_idx.append(idx)
        # 4. end: errors, then eligibility
        o = s["o"]
        o["err"] = target[row] - S["o"]
        errors = {"o": o["err"]}
        if hidden:
            errors["h"] = err_fb
        for g in groups:
            q = s[g]
            q["ea"] = q["ea"] + c["c_r"] * (errors[g] - q["ea"])
            q["ef"] = q["ef"] + c["c_d"] * (q["ea"] - q["ef"])
        D += o["ef"] ** 2 * net.dt
        for key in net.layers:
            pre, post = s[pre_of[key]], s[post_of[key]]
            syn = s[key]
            syn["el"] = c["d_rise"] * syn["el"] + np.outer(pre["psp"], sp[post_of[key]])
            syn["elf"] = syn["elf"] + c["c_d"] * (syn["el"] - syn["elf"])
            syn["g"] = syn["g"] + syn["elf"] * post["ef"][None, :] - rho[key] * p[key] * (post["z"] ** 4)[None, :]
    record = {"D": D, "count_o": counts["o"], "count_h": counts.get("h", np.zeros(0)),
              "spike_steps": np.concatenate(rec_steps) if rec_steps else np.zeros(0, dtype=int),
              "spike_idx": np.concatenate(rec_idx) if rec_idx else np.zeros(0, dtype=int)}
    return p, s, record


def distance(net, D, seconds):
    """The van Rossum distance per output neuron and second, in unmatched
    spikes: ``sum e^2 dt`` over neurons, divided by one spike's
    (`SuperSpikeNetwork.kernel_energy`), by ``n_out`` and the seconds."""
    return float(np.sum(D) / net.kernel_energy() / net.n_out / seconds)


__all__ = ["check_rasters", "distance", "simulate", "zero_state"]
