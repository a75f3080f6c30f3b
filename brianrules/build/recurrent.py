"""A `model.recurrent.EpropNetwork` and its e-prop gradient as Brian2 objects.

One run is a batch of ``n_seq`` sequences of ``steps`` steps each, back to
back; every sequence starts from a zero state, and the synapses add up the
e-prop gradient over the whole batch (an optimizer applies it between runs).
The step of `model.recurrent` and the gradient of `reference.recurrent` are
written here as Brian2 abstract code (``STEP``, ``READOUT_STEP``,
``ERROR_CODE``, ``ELIGIBILITY_CODE``); Brian2 generates them into the C++
program.  The objects, in the order they run in a step:

``start``
    every ``steps`` steps: the sequence reset (``RESET``) of every state and
    trace; then the inputs that spike in this step (``x = stim(t, i)``,
    spike counts, a 2-D `TimedArray`) add ``w x`` to ``I_in``;
``groups``
    - ``inputs`` (order -5): their trace ``zbar = alpha zbar + p x``;
    - ``recurrent`` (order 0): the neuron step (``STEP``) with ``I_in`` and
      ``I_rec`` (``w`` of every recurrent spike of the step before, added
      in its ``synapses`` slot), which it then clears, and the traces of its
      spikes;
    - the summed ``I_out = sum W_out z``, then ``readout`` (order 2):
      ``y = kappa y + (1 - kappa) I_out``;
    - ``error`` (order 4, with ``norm = sum exp(y)`` summed before it for
      the cross-entropy): ``err = mask (y - y*)`` or ``mask (softmax(y) -
      pi*)``;
    - the summed learning signal ``L = sum B err`` into ``signal`` (order 6);
    - the plastic synapses (order 8): ``ELIGIBILITY_CODE`` (input and
      recurrent weights) and ``g += err zbar`` (readout weights).

Every numeric parameter is a run value; the structure (sizes, ``steps``,
``n_seq``, the loss, whether any neuron adapts) decides the code.
"""

import numpy as np

from ..topology import all_to_all, connect_pairs

#: the neuron step of one recurrent neuron (``z``: the spike of the step before, until it is replaced)
STEP = """
zbar = alpha * zbar + p_in * z
v = alpha * v + p_in * (I_in + I_rec) - v_th * z
a = rho * a + z
r = r - int(r > 0.5)
psi = int(r < 0.5) * height * clip(1 - abs(v - v_th - beta * a) / v_th, 0, inf)
z = int(v >= v_th + beta * a) * int(r < 0.5)
r = r + z * n_ref
count += z
n_spikes += z
zbar_out = kappa * zbar_out + (1 - kappa) * z
reg = c_reg * (count / steps - f_target * dt) / steps
I_in = 0
I_rec = 0
"""

READOUT_STEP = "y = kappa * y + (1 - kappa) * I_out"

ERROR_CODE = {
    "mse": "err = eprop_mask(t) * (y - eprop_target(t, i))",
    "cross_entropy": "err = eprop_mask(t) * (exp(y) / norm - eprop_target(t, i))",
}

#: a plastic input or recurrent synapse, every step; ``last``: 1 in a sequence's last step
ELIGIBILITY_CODE = """
e = psi_post * (zbar_pre - beta_post * eps)
eps = rho_post * eps + e
ebar = kappa_post * ebar + (1 - kappa_post) * e
g += L_post * ebar
sum_e += e
g += last * reg_post * sum_e
"""

#: the eligibility of a network without adaptive neurons (``beta = 0``: no ``eps``)
ELIGIBILITY_CODE_LIF = """
e = psi_post * zbar_pre
ebar = kappa_post * ebar + (1 - kappa_post) * e
g += L_post * ebar
sum_e += e
g += last * reg_post * sum_e
"""

RECURRENT_MODEL = """
v : 1
a : 1
z : 1
r : 1
psi : 1
count : 1
n_spikes : 1
zbar : 1
zbar_out : 1
reg : 1
L : 1 (linked)
I_in : 1
I_rec : 1
beta : 1 (constant)
alpha : 1 (shared, constant)
rho : 1 (shared, constant)
kappa : 1 (shared, constant)
p_in : 1 (shared, constant)
v_th : 1 (shared, constant)
height : 1 (shared, constant)
n_ref : 1 (shared, constant)
c_reg : 1 (shared, constant)
f_target : hertz (shared, constant)
"""

#: what the sequence reset zeroes: group -> variables
RESET = {"inputs": ("zbar",), "recurrent": ("v", "a", "z", "r", "count", "zbar", "zbar_out", "I_rec"),
         "readout": ("y",), "synapses": ("eps", "ebar", "sum_e")}


def sequence_reset(variables):
    return "\n".join(f"{v} = 0" for v in variables)


class EpropModel:
    """The Brian2 objects of one batch: ``n_seq`` sequences of ``steps``
    steps of ``net``; a ``network`` to run for ``duration``; `values` gives
    the run values, `read` the results.  ``sequences``: (inputs, targets,
    mask) for the `TimedArray` objects (Brian2's runtime device takes their
    values when they are made; a compiled program's are run values)."""

    def __init__(self, net, steps, n_seq, sequences=None):
        from brian2 import Network, NeuronGroup, StateMonitor, Synapses, TimedArray, linked_var, second

        self.net, self.steps, self.n_seq = net, int(steps), int(n_seq)
        total = self.steps * self.n_seq
        dt = net.dt * second
        self.duration = total * dt
        T = self.steps * dt
        if sequences is None:  # placeholders: a compiled program reads the values from run_args
            x, y, m = np.zeros((total, net.n_in)), np.zeros((total, net.n_out)), np.zeros(total)
        else:
            x, y, m = self._arrays(*sequences)
        self.stim = TimedArray(x, dt=dt, name="eprop_stim")
        self.target = TimedArray(y, dt=dt, name="eprop_target")
        self.mask = TimedArray(m, dt=dt, name="eprop_mask")
        ns = {"eprop_stim": self.stim, "eprop_target": self.target, "eprop_mask": self.mask,
              "steps": self.steps}
        adaptive = net.n_alif > 0

        self.inputs = NeuronGroup(net.n_in, "x = eprop_stim(t, i) : 1\nzbar : 1\n"
                                  "alpha : 1 (shared, constant)\np_in : 1 (shared, constant)",
                                  threshold="x > 0.5", dt=dt, namespace=ns, order=-5, name="inputs")
        # the inputs of step k reach I_in at the start of step k, before the neuron step
        self.inputs.thresholder["spike"].when = "start"
        self.inputs.thresholder["spike"].order = 0
        self.inputs.run_regularly("zbar = alpha * zbar + p_in * x", when="groups", order=-5, name="inputs_trace")
        rec = NeuronGroup(net.n_rec, RECURRENT_MODEL, threshold="z > 0.5", dt=dt, namespace=ns, order=0,
                          name="recurrent")
        rec.run_regularly(STEP, when="groups", order=0, name="recurrent_step")
        self.rec = rec
        readout = NeuronGroup(net.n_out, "y : 1\nI_out : 1\nerr : 1 (linked)\nkappa : 1 (shared, constant)",
                              dt=dt, order=2,
                              name="readout")
        readout.run_regularly(READOUT_STEP, when="groups", order=2, name="readout_step")
        self.readout = readout
        err_model = "err : 1\ny : 1 (linked)\n" + ("norm : 1\n" if net.loss == "cross_entropy" else "")
        error = NeuronGroup(net.n_out, err_model, dt=dt, namespace=ns, order=4, name="error")
        error.y = linked_var(readout, "y")
        error.run_regularly(ERROR_CODE[net.loss], when="groups", order=4, name="error_step")
        readout.err = linked_var(error, "err")  # for the readout weights' gradient
        self.error = error
        signal = NeuronGroup(net.n_rec, "L : 1", dt=dt, order=6, name="signal")
        rec.L = linked_var(signal, "L")
        self.signal = signal

        elig = ELIGIBILITY_CODE if adaptive else ELIGIBILITY_CODE_LIF
        syn_model = "w : 1\ng : 1\nebar : 1\nsum_e : 1\n" + ("eps : 1\n" if adaptive else "") + \
            "last = int((t_in_timesteps + 1) % steps == 0) : 1\n"
        # the input and recurrent currents as events: only spiking neurons' synapses add (a summed variable
        # over every synapse in every step took a third of the program's time); the neuron step uses and
        # clears them
        self.syn_in = Synapses(self.inputs, rec, syn_model, on_pre="I_in_post += w * x_pre", dt=dt,
                               namespace=ns, name="syn_in")
        self.syn_in.pre.when = "start"
        self.syn_in.pre.order = 1
        self.syn_rec = Synapses(rec, rec, syn_model, on_pre="I_rec_post += w", dt=dt, namespace=ns, name="syn_rec")
        self.syn_out = Synapses(rec, readout, "w : 1\ng : 1\nI_out_post = w * z_pre : 1 (summed)", dt=dt,
                                name="syn_out")
        self.pairs = {"W_in": connect_pairs(self.syn_in, *all_to_all(net.n_in, net.n_rec)),
                      "W_rec": connect_pairs(self.syn_rec, *all_to_all(net.n_rec, net.n_rec,
                                                                       without_self=not net.self_connections)),
                      "W_out": connect_pairs(self.syn_out, *all_to_all(net.n_rec, net.n_out))}
        for S in (self.syn_in, self.syn_rec):
            S.run_regularly(elig, when="groups", order=8, name=f"{S.name}_eligibility")
        self.syn_out.run_regularly("g += err_post * zbar_out_pre", when="groups", order=8,
                                   name="syn_out_gradient")
        self.feedback = Synapses(error, signal, "b : 1\nL_post = b * err_pre : 1 (summed)", dt=dt,
                                 name="feedback")
        self.pairs["B"] = connect_pairs(self.feedback, *all_to_all(net.n_out, net.n_rec))
        objects = [self.inputs, rec, readout, error, signal, self.syn_in, self.syn_rec, self.syn_out,
                   self.feedback]
        if net.loss == "cross_entropy":
            self.norm = Synapses(readout, error, "norm_post = exp(y_pre) : 1 (summed)", dt=dt, name="softmax")
            self.norm.connect()
            objects.append(self.norm)
        # the sequence reset, once per sequence before its first step
        for group in (self.inputs, rec, readout):
            group.run_regularly(sequence_reset(RESET[group.name]), dt=T, when="start", order=-10,
                                name=f"{group.name}_reset")
        syn_reset = [v for v in RESET["synapses"] if adaptive or v != "eps"]
        for S in (self.syn_in, self.syn_rec):
            S.run_regularly(sequence_reset(syn_reset), dt=T, when="start", order=-10, name=f"{S.name}_reset")
        self.record = StateMonitor(readout, "y", record=True, dt=dt, when="end", name="eprop_y")
        objects.append(self.record)
        self.network = Network(*objects, name="network")

    # -- run values -----------------------------------------------------------
    def values(self, params, inputs, targets, mask):
        """(target, value) pairs for one batch: ``params`` checked by the
        network; ``inputs`` (n_seq, steps, n_in), ``targets`` (n_seq, steps,
        n_out), ``mask`` (n_seq, steps)."""
        from brian2 import Hz

        net = self.net
        p = net.check_params(params)
        x, y, m = self._arrays(inputs, targets, mask)
        B = p["W_out"] if net.feedback == "symmetric" else p["B"]
        rec = self.rec
        pairs = [(self.stim, x), (self.target, y), (self.mask, m),
                 (self.inputs.alpha, net.alpha), (self.inputs.p_in, net.p_in),
                 (rec.beta, net.betas), (rec.alpha, net.alpha), (rec.rho, net.rho), (rec.kappa, net.kappa),
                 (rec.p_in, net.p_in), (rec.v_th, net.v_th), (rec.height, net.gamma / net.v_th),
                 (rec.n_ref, float(net.n_ref)), (rec.c_reg, net.c_reg), (rec.f_target, net.f_target * Hz),
                 (self.readout.kappa, net.kappa), (rec.n_spikes, np.zeros(net.n_rec))]
        for key, S in (("W_in", self.syn_in), ("W_rec", self.syn_rec), ("W_out", self.syn_out)):
            i, j = self.pairs[key]
            pairs += [(S.w, p[key][i, j]), (S.g, np.zeros(len(i)))]
        i, j = self.pairs["B"]
        pairs.append((self.feedback.b, B.T[i, j]))
        return pairs

    def _arrays(self, inputs, targets, mask):
        """The sequences as the TimedArrays' values (one row per step)."""
        net = self.net
        x, y, m = net.check_sequences(inputs, targets, mask)
        if x.shape[:2] != (self.n_seq, self.steps):
            raise ValueError(f"the program runs {self.n_seq} sequences of {self.steps} steps, "
                             f"got {x.shape[0]} of {x.shape[1]}")
        return x.reshape(-1, net.n_in), y.reshape(-1, net.n_out), m.reshape(-1)

    def read(self):
        """``y`` (n_seq, steps, n_out), the gradients summed over the batch
        (matrices, pre x post) and the recurrent neurons' mean rate (Hz)."""
        net = self.net
        y = np.asarray(self.record.y[:], dtype=float).T.reshape(self.n_seq, self.steps, net.n_out)
        grads = {}
        for key, S, shape in (("W_in", self.syn_in, (net.n_in, net.n_rec)),
                              ("W_rec", self.syn_rec, (net.n_rec, net.n_rec)),
                              ("W_out", self.syn_out, (net.n_rec, net.n_out))):
            G = np.zeros(shape)
            i, j = self.pairs[key]
            G[i, j] = np.asarray(S.g[:], dtype=float)
            grads[key] = G
        spikes = float(np.sum(np.asarray(self.rec.n_spikes[:], dtype=float)))
        return {"y": y, "grads": grads, "rate_hz": spikes / (net.n_rec * self.n_seq * self.steps * net.dt)}


__all__ = ["EpropModel", "STEP", "ELIGIBILITY_CODE"]
