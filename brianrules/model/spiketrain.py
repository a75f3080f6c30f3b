"""A feed-forward network that learns spike trains by SuperSpike, as Zenke & Ganguli (2018) define it.

Zenke & Ganguli (2018, Neural Comput. 30:1514) train current-based LIF
neurons to emit target spike trains; their simulations (Auryn,
``fzenke/pub2018superspike``: ``SuperSpikeConnection``, ``sim_symfb.cpp``,
``sim_rfb.cpp``) fix the details this declaration follows.  Voltages are in
volts relative to rest (Auryn's ``E_rest = -60 mV`` is 0 here); a weight is
the jump of the synaptic current in volts.  With ``c_m = dt/tau_mem``,
``c_r = dt/tau_rise``, ``c_d = dt/tau_decay`` and ``d_x = exp(-dt/tau_x)``,
one step ``n`` of a layer is

    v = v + c_m (I - v)            (v = 0 while refractory, for ``n_ref`` steps after a spike)
    I = d_syn I  (+ w of every presynaptic spike of this step, after the threshold)
    sigma' = beta / (1 + beta |v - v_th|)^2,  0 where v < v_floor
    S = [v > v_th]                 (then v = 0)

and its learning, per synapse ``j -> i`` (Auryn's order and scales):

    x_j    = d_syn x_j + S_j                 the presynaptic trace (+1 per spike)
    psp_j += c_m (x_j - psp_j)               followed by the membrane's filter
    el_ij  = d_rise el_ij + sigma'_i psp_j   the eligibility ...
    elf_ij += c_d (el_ij - elf_ij)           ... through the alpha kernel (5 ms rise, 10 ms decay)
    g_ij  += elf_ij e_i - rho w_ij z_i^4     (z_i: the post neuron's 100 ms spike-count trace)

where ``e_i`` is the van Rossum error: ``err_i = S*_i - S_i`` (+1 per
target spike, -1 per own spike) through the same kernel, ``a_i += c_r
(err_i - a_i)``, ``e_i += c_d (a_i - e_i)``.  A hidden neuron's ``err`` is
its feedback of the output errors of the step before: ``sum_o w_io err_o``
(symmetric: the output weights themselves) or ``sum_o B_oi err_o``
(random, ``B`` standard normal).  Every ``update_every`` steps (0.5 s)
SuperSpike's per-synapse normaliser applies the mean of ``g``:

    g_m = g / update_every;  v_rms = max(g_m^2, gamma v_rms);  w += eta g_m / (sqrt(v_rms) + eps)

with ``gamma = exp(-0.5 s / tau_rms)``, ``w`` clipped to ``[-w_max,
w_max]``, ``g = 0``: gradient ascent on the correlation with ``S* - S``.
`SuperSpikeNetwork` declares such a network; weights and optimizer state
are run values (`check_params`).  Builders: `reference.spiketrain` (NumPy,
the oracle) and `build.spiketrain` (the Brian2 program).

Where this differs from the Auryn simulations: ``dt`` is a setting (Auryn:
0.1 ms; the package's default 1 ms), the hidden error arrives one step
after the output's (Auryn delays ``sigma'`` and ``psp`` by 0.8 ms to line
them up instead), and the order of a step is the one above.
"""

from dataclasses import dataclass

import numpy as np

from .run_values import check_run_values, finite_number as _number, positive_int as _positive_int

FEEDBACK = ("symmetric", "random")
#: the run values: weights (pre, post), the random feedback (out, hidden) and the normaliser's state
PARAMS = ("W1", "W2", "B", "v1", "v2")



@dataclass(frozen=True)
class SuperSpikeNetwork:
    """``n_in`` input channels (spikes, 0 or 1 per step) -> ``n_hidden`` LIF
    neurons -> ``n_out`` LIF neurons that learn target spike trains;
    ``n_hidden = 0``: no hidden layer.  Times in seconds, voltages in volts
    above rest (Auryn's values: ``tau_mem`` 10 ms, ``tau_syn`` 5 ms,
    threshold 10 mV above rest, 5 ms refractory, ``beta`` 1000 /V, no
    surrogate below -20 mV; the kernel of error and eligibility rises with
    5 ms and decays with 10 ms; the normaliser every 0.5 s with ``tau_rms``
    30 s, ``eps`` 1e-12; weights clipped to 0.1).  ``rho``: the hidden
    weights' heterosynaptic regulariser (Auryn: 1 with random feedback, 0
    with symmetric)."""

    n_in: int = 200
    n_hidden: int = 256
    n_out: int = 200
    dt: float = 1e-3
    tau_mem: float = 10e-3
    tau_syn: float = 5e-3
    v_th: float = 10e-3
    v_floor: float = -20e-3
    t_ref: float = 5e-3
    beta: float = 1000.0
    tau_rise: float = 5e-3
    tau_decay: float = 10e-3
    tau_hom: float = 100e-3
    rho: float = 0.0
    feedback: str = "symmetric"
    update_interval: float = 0.5
    tau_rms: float = 30.0
    eps: float = 1e-12
    w_max: float = 0.1

    def __post_init__(self):
        for key in ("n_in", "n_out"):
            if not _positive_int(getattr(self, key)):
                raise ValueError(f"SuperSpike network: {key} must be a positive integer, got {getattr(self, key)!r}")
        if isinstance(self.n_hidden, bool) or not isinstance(self.n_hidden, (int, np.integer)) or self.n_hidden < 0:
            raise ValueError(f"SuperSpike network: n_hidden must be 0 (no hidden layer) or a positive integer, "
                             f"got {self.n_hidden!r}")
        for key in ("dt", "tau_mem", "tau_syn", "v_th", "beta", "tau_rise", "tau_decay", "tau_hom",
                    "update_interval", "tau_rms", "w_max"):
            value = getattr(self, key)
            if not (_number(value) and value > 0):
                raise ValueError(f"SuperSpike network: {key} must be a positive number, got {value!r}")
        for key in ("t_ref", "rho", "eps"):
            value = getattr(self, key)
            if not (_number(value) and value >= 0):
                raise ValueError(f"SuperSpike network: {key} must be a number >= 0, got {value!r}")
        if not (_number(self.v_floor) and self.v_floor < self.v_th):
            raise ValueError(f"SuperSpike network: v_floor must be a number below v_th, got {self.v_floor!r}")
        if self.feedback not in FEEDBACK:
            raise ValueError(f"SuperSpike network: feedback must be one of {', '.join(FEEDBACK)}, "
                             f"got {self.feedback!r}")
        for key in ("tau_mem", "tau_syn", "tau_rise", "tau_decay"):
            if getattr(self, key) < self.dt:
                raise ValueError(f"SuperSpike network: {key} ({getattr(self, key) * 1e3:g} ms) is shorter than "
                                 f"the step dt ({self.dt * 1e3:g} ms)")
        if self.update_every < 1 or abs(self.update_every * self.dt - self.update_interval) > 1e-9:
            raise ValueError(f"SuperSpike network: update_interval ({self.update_interval:g} s) must be a "
                             f"whole number of steps of dt ({self.dt * 1e3:g} ms)")

    # -- derived constants ------------------------------------------------------
    @property
    def n_ref(self):
        """Refractory steps."""
        return int(round(self.t_ref / self.dt))

    @property
    def update_every(self):
        """Steps between applications of the accumulated update."""
        return int(round(self.update_interval / self.dt))

    @property
    def gamma(self):
        """The normaliser's decay per application."""
        return float(np.exp(-self.update_interval / self.tau_rms))

    @property
    def constants(self):
        """The step's constants (see the module's docstring)."""
        dt = self.dt
        return {"c_m": dt / self.tau_mem, "d_syn": float(np.exp(-dt / self.tau_syn)),
                "c_r": dt / self.tau_rise, "c_d": dt / self.tau_decay,
                "d_rise": float(np.exp(-dt / self.tau_rise)), "d_hom": float(np.exp(-dt / self.tau_hom))}

    @property
    def layers(self):
        """(pre, post) sizes of the plastic projections: W1 and W2, or W2 alone."""
        if self.n_hidden:
            return {"W1": (self.n_in, self.n_hidden), "W2": (self.n_hidden, self.n_out)}
        return {"W2": (self.n_in, self.n_out)}

    @property
    def shapes(self):
        shapes = dict(self.layers)
        shapes.update({f"v{k[1]}": s for k, s in self.layers.items()})
        if self.n_hidden and self.feedback == "random":
            shapes["B"] = (self.n_out, self.n_hidden)
        return shapes

    def check_params(self, params):
        """``params`` as float64 arrays of `shapes`; ``v1``/``v2`` (the
        normaliser's state) default to zeros; an error names the first
        parameter that is unknown, missing, misshapen, not finite, or a
        weight outside ``[-w_max, w_max]``."""
        params = dict(params)
        for key, shape in self.shapes.items():
            if key.startswith("v") and key not in params:
                params[key] = np.zeros(shape)
        extra = [k for k in PARAMS if k in params and k not in self.shapes]
        if extra:
            why = "the network has no hidden layer" if not self.n_hidden else f"feedback is {self.feedback}"
            raise ValueError(f"parameter {extra[0]} is not one of this network's ({why})")
        out = check_run_values(params, self.shapes, PARAMS, "a SuperSpike network")
        for key in self.layers:
            if np.any(np.abs(out[key]) > self.w_max * (1 + 1e-12)):
                raise ValueError(f"parameter {key} has weights beyond w_max = {self.w_max:g}")
        for key in self.shapes:
            if key.startswith("v") and np.any(out[key] < 0):
                raise ValueError(f"parameter {key} (the normaliser's running maximum) has negative values")
        return out

    def initial_params(self, seed, w0=0.05):
        """Auryn's draw: every weight ``N(0, w0 / sqrt(n_pre))`` clipped to
        ``w_max``, ``B`` standard normal, the normaliser's state zero."""
        rng = np.random.default_rng(seed)
        params = {}
        for key, (n_pre, n_post) in self.layers.items():
            params[key] = np.clip(rng.normal(0.0, w0 / np.sqrt(n_pre), (n_pre, n_post)), -self.w_max, self.w_max)
        if "B" in self.shapes:
            params["B"] = rng.normal(0.0, 1.0, self.shapes["B"])
        return self.check_params(params)

    def learning(self, learn):
        """Which plastic projections learn: ``learn`` is True or False for
        all of them, or the names of those that do (e.g. ``("W2",)``: the
        hidden weights fixed)."""
        if isinstance(learn, (bool, np.bool_)):
            return {key: bool(learn) for key in self.layers}
        learn = set(learn)
        unknown = sorted(learn - set(self.layers))
        if unknown:
            raise ValueError(f"no plastic projection {unknown[0]} (this network has {', '.join(self.layers)})")
        return {key: key in learn for key in self.layers}

    def kernel_energy(self):
        """``sum_n e(n)^2 dt`` of the error that one unmatched spike leaves
        (the discrete kernel of the module's docstring): the unit of the
        van Rossum distance."""
        c = self.constants
        n = int(np.ceil(20 * self.tau_decay / self.dt)) + 10
        a = e = 0.0
        total = 0.0
        for k in range(n):
            a += c["c_r"] * ((1.0 if k == 0 else 0.0) - a)
            e += c["c_d"] * (a - e)
            total += e * e
        return total * self.dt


#: the per-step state a run carries into the next (group -> variables); see `reference.spiketrain`
NEURON_STATE = ("v", "I", "r", "x", "psp", "z", "ea", "ef")
SYNAPSE_STATE = ("el", "elf", "g")


__all__ = ["FEEDBACK", "NEURON_STATE", "PARAMS", "SYNAPSE_STATE", "SuperSpikeNetwork"]
