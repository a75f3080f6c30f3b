"""A `model.spiketrain.SuperSpikeNetwork` and its learning as Brian2 objects.

One run is ``n_steps`` steps of the network from a carried state, on an
input and a target raster that loop (a 2-D `TimedArray` each, read at row
``(t_in_timesteps + n0) mod P``); the weights learn inside the run (the
normaliser every ``update_every`` steps), so a training is a few long runs
of one compiled program.  The step of `model.spiketrain` is written here as
Brian2 abstract code; the objects, in the order they run in a step
(`reference.spiketrain` follows the same order):

``start`` (every ``update_every`` steps)
    ``NORMALISER`` on every plastic synapse;
``groups``
    ``inputs`` (order -5): their traces; the summed feedback ``err_fb`` of
    the hidden layer (symmetric: a summed variable of the output synapses
    onto their presynaptic neurons; random: of the feedback synapses), then
    ``NEURON_STEP`` of ``hidden`` (order 0) and ``output`` (order 1);
``thresholds``, ``synapses``, ``resets``
    ``v > v_th``; ``I_post += w`` on every presynaptic spike; ``RESET``;
``end``
    the errors through the kernel (``OUTPUT_ERROR``, ``HIDDEN_ERROR``),
    then ``ELIGIBILITY`` on every plastic synapse (order 10).

Every numeric parameter, the weights, the state and the rasters are run
values; the structure (sizes, ``P``, the feedback, ``update_every``)
decides the code.
"""

import numpy as np

from ..model.spiketrain import NEURON_STATE, SYNAPSE_STATE
from ..topology import all_to_all, connect_pairs, sums_into_source

NEURON_STEP = """
free = int(r < 0.5)
v = free * (v + c_m * (I - v))
r = clip(r - 1, 0, inf)
I = d_syn * I
sp = sg_beta / (1 + sg_beta * abs(v - v_th))**2 * int(v > v_floor)
x = d_syn * x
psp = psp + c_m * (x - psp)
z = d_hom * z
spk = 0
"""

RESET = "v = 0\nr = n_ref\nx += 1\nz += 1\ncount += 1\nspk = 1"

#: ``row``: the raster's row of this step
ROW = "dt * ((t_in_timesteps + n0) % steps)"

OUTPUT_ERROR = f"""
err = ss_target({ROW}, i) - spk
ea = ea + c_r * (err - ea)
ef = ef + c_d * (ea - ef)
D += ef**2
"""

HIDDEN_ERROR = """
ea = ea + c_r * (err_fb - ea)
ef = ef + c_d * (ea - ef)
"""

ELIGIBILITY = """
el = d_rise * el + sp_post * psp_pre
elf = elf + c_d_post * (el - elf)
g = g + elf * ef_post - rho * w * z_post**4
"""

NORMALISER = """
gm = g / n_update
vr = clip(gm * gm, rms_decay * vr, inf)
w = clip(w + learn * eta * gm / (sqrt(vr) + eps), -w_max, w_max)
g = 0
"""

NEURON_MODEL = """
v : 1
I : 1
r : 1
sp : 1
x : 1
psp : 1
z : 1
ea : 1
ef : 1
err : 1
spk : 1
count : 1
c_m : 1 (shared, constant)
d_syn : 1 (shared, constant)
d_hom : 1 (shared, constant)
c_r : 1 (shared, constant)
c_d : 1 (shared, constant)
sg_beta : 1 (shared, constant)
v_th : 1 (shared, constant)
v_floor : 1 (shared, constant)
n_ref : 1 (shared, constant)
"""

SYNAPSE_MODEL = """
w : 1
el : 1
elf : 1
g : 1
vr : 1
d_rise : 1 (shared, constant)
rho : 1 (shared, constant)
n_update : 1 (shared, constant)
rms_decay : 1 (shared, constant)
learn : 1 (shared, constant)
eta : 1 (shared, constant)
eps : 1 (shared, constant)
w_max : 1 (shared, constant)
"""

#: the neuron constants of `SuperSpikeNetwork.constants` a group takes
_NEURON_CONSTANTS = ("c_m", "d_syn", "d_hom", "c_r", "c_d")


class SuperSpikeModel:
    """The Brian2 objects of ``net`` learning a raster of ``steps`` steps
    for runs of ``n_steps`` steps: a ``network`` to run for ``duration``;
    `values` gives the run values, `read` the results.  ``rasters``:
    (stim, target) for the `TimedArray` objects (Brian2's runtime device
    takes their values when they are made; a compiled program's are run
    values)."""

    def __init__(self, net, steps, n_steps, rasters=None):
        from brian2 import Network, NeuronGroup, SpikeMonitor, Synapses, TimedArray, second

        self.net, self.steps, self.n_steps = net, int(steps), int(n_steps)
        if self.n_steps % net.update_every:
            raise ValueError(f"a run must last a whole number of updates ({net.update_every} steps), "
                             f"got {self.n_steps} steps")
        dt = net.dt * second
        self.duration = self.n_steps * dt
        if rasters is None:  # placeholders: a compiled program reads the values from run_args
            stim, target = np.zeros((self.steps, net.n_in)), np.zeros((self.steps, net.n_out))
        else:
            stim, target = self._rasters(*rasters)
        self.stim = TimedArray(stim, dt=dt, name="ss_stim")
        self.target = TimedArray(target, dt=dt, name="ss_target")
        ns = {"ss_stim": self.stim, "ss_target": self.target, "steps": self.steps}
        shared_n0 = "n0 : integer (shared, constant)\n"
        self.inputs = NeuronGroup(net.n_in, "x : 1\npsp : 1\nc_m : 1 (shared, constant)\n"
                                  "d_syn : 1 (shared, constant)\n" + shared_n0,
                                  threshold=f"ss_stim({ROW}, i) > 0.5", reset="x += 1", dt=dt, namespace=ns,
                                  order=-5, name="inputs")
        self.inputs.run_regularly("x = d_syn * x\npsp = psp + c_m * (x - psp)", when="groups", order=-5,
                                  name="inputs_traces")
        hidden = bool(net.n_hidden)
        objects = [self.inputs]
        self.hidden = None
        if hidden:
            self.hidden = NeuronGroup(net.n_hidden, NEURON_MODEL + "err_fb : 1\n", threshold="v > v_th",
                                      reset=RESET, dt=dt, order=0, name="hidden")
            self.hidden.run_regularly(NEURON_STEP, when="groups", order=0, name="hidden_step")
            self.hidden.run_regularly(HIDDEN_ERROR, when="end", order=1, name="hidden_error")
            objects.append(self.hidden)
        self.output = NeuronGroup(net.n_out, NEURON_MODEL + "D : 1\n" + shared_n0, threshold="v > v_th",
                                  reset=RESET, dt=dt, namespace=ns, order=1, name="output")
        self.output.run_regularly(NEURON_STEP, when="groups", order=1, name="output_step")
        self.output.run_regularly(OUTPUT_ERROR, when="end", order=0, name="output_error")
        objects.append(self.output)

        self.synapses, self.pairs = {}, {}
        chain = [("W1", self.inputs, self.hidden), ("W2", self.hidden, self.output)] if hidden else \
            [("W2", self.inputs, self.output)]
        for key, pre, post in chain:
            model = SYNAPSE_MODEL
            if hidden and key == "W2" and net.feedback == "symmetric":
                model += "err_fb_pre = w * err_post : 1 (summed)\n"
            S = Synapses(pre, post, model, on_pre="I_post += w", dt=dt, name=f"syn_{key}")
            # symmetric feedback sums into the hidden layer: post-major (3.3 times faster, Brian2's profiler)
            self.pairs[key] = connect_pairs(S, *all_to_all(pre.N, post.N, post_major=sums_into_source(model)))
            S.run_regularly(ELIGIBILITY, when="end", order=10, name=f"syn_{key}_eligibility")
            S.run_regularly(NORMALISER, dt=net.update_every * dt, when="start", order=0, name=f"syn_{key}_normaliser")
            self.synapses[key] = S
            objects.append(S)
        if hidden and net.feedback == "random":
            self.feedback = Synapses(self.output, self.hidden, "b : 1\nerr_fb_post = b * err_pre : 1 (summed)",
                                     dt=dt, name="feedback")
            self.pairs["B"] = connect_pairs(self.feedback, *all_to_all(net.n_out, net.n_hidden))
            objects.append(self.feedback)
        self.spikes = SpikeMonitor(self.output, record=True, name="ss_output_spikes")
        objects.append(self.spikes)
        self.network = Network(*objects, name="network")

    def _rasters(self, stim, target):
        from ..reference.spiketrain import check_rasters

        stim, target = check_rasters(self.net, stim, target)
        if stim.shape[0] != self.steps:
            raise ValueError(f"the program's rasters have {self.steps} steps, got {stim.shape[0]}")
        return stim, target

    def _groups(self):
        out = {"in": self.inputs, "o": self.output}
        if self.hidden is not None:
            out["h"] = self.hidden
        return out

    # -- run values ---------------------------------------------------------------
    def values(self, params, state, stim, target, n0, eta, learn=True):
        """(target, value) pairs of one run from global step ``n0``."""
        net = self.net
        p = net.check_params(params)
        stim, target = self._rasters(stim, target)
        if n0 % net.update_every:
            raise ValueError(f"a run must start on an update step (a multiple of {net.update_every}), got {n0}")
        c = net.constants
        learning = net.learning(learn)
        pairs = [(self.stim, stim), (self.target, target), (self.inputs.n0, int(n0)), (self.output.n0, int(n0)),
                 (self.inputs.c_m, c["c_m"]), (self.inputs.d_syn, c["d_syn"]),
                 (self.inputs.x, state["in"]["x"]), (self.inputs.psp, state["in"]["psp"])]
        for name, G in self._groups().items():
            if name == "in":
                continue
            for k in _NEURON_CONSTANTS:
                pairs.append((getattr(G, k), c[k]))
            pairs += [(G.sg_beta, net.beta), (G.v_th, net.v_th), (G.v_floor, net.v_floor),
                      (G.n_ref, float(net.n_ref)), (G.count, np.zeros(G.N)), (G.spk, np.zeros(G.N))]
            for k in NEURON_STATE + ("err",):
                pairs.append((getattr(G, k), state[name][k]))
        pairs.append((self.output.D, np.zeros(net.n_out)))
        for key, S in self.synapses.items():
            i, j = self.pairs[key]
            pairs += [(S.w, p[key][i, j]), (S.vr, p["v" + key[1]][i, j])]
            pairs += [(getattr(S, k), state[key][k][i, j]) for k in SYNAPSE_STATE]
            pairs += [(S.d_rise, c["d_rise"]), (S.rho, net.rho if key == "W1" else 0.0),
                      (S.n_update, float(net.update_every)), (S.rms_decay, net.gamma), (S.learn, float(learning[key])),
                      (S.eta, float(eta)), (S.eps, net.eps), (S.w_max, net.w_max)]
        if "B" in self.pairs:
            i, j = self.pairs["B"]
            pairs.append((self.feedback.b, p["B"][i, j]))
        return pairs

    def read(self, params, n0):
        """``(params, state, record)`` as `reference.spiketrain.simulate`
        returns them (``params``: the run's, for what does not change)."""
        net = self.net
        p = {k: np.array(v) for k, v in params.items()}
        state = {}
        for name, G in self._groups().items():
            keys = ("x", "psp") if name == "in" else NEURON_STATE + ("err",)
            state[name] = {k: np.asarray(getattr(G, k)[:], dtype=float).copy() for k in keys}
            if name == "in":
                state[name].update({k: np.zeros(net.n_in) for k in NEURON_STATE + ("err",) if k not in keys})
        for key, S in self.synapses.items():
            i, j = self.pairs[key]

            def matrix(var):  # a synaptic variable as a (pre, post) matrix
                M = np.zeros(net.layers[key])
                M[i, j] = np.asarray(getattr(S, var)[:], dtype=float)
                return M

            p[key], p["v" + key[1]] = matrix("w"), matrix("vr")
            state[key] = {k: matrix(k) for k in SYNAPSE_STATE}
        steps = np.round(np.asarray(self.spikes.t[:], dtype=float) / net.dt).astype(int) + int(n0)
        record = {"D": np.asarray(self.output.D[:], dtype=float) * net.dt,
                  "count_o": np.asarray(self.output.count[:], dtype=float),
                  "count_h": (np.asarray(self.hidden.count[:], dtype=float) if self.hidden is not None
                              else np.zeros(0)),
                  "spike_steps": steps, "spike_idx": np.asarray(self.spikes.i[:], dtype=int)}
        return p, state, record


__all__ = ["ELIGIBILITY", "NEURON_STEP", "NORMALISER", "SuperSpikeModel"]
