"""A recurrent network coupled through a graded output: Huh & Sejnowski's architecture.

Huh & Sejnowski (2018, NeurIPS 31, "Gradient descent for spiking neural
networks") couple their neurons through a synaptic current ``s`` that a gate
opens smoothly near the threshold (``models/neurons/gated.toml``), so that
the network is a smooth dynamical system with an exact gradient:

    I = W s + U i(t) + b          (each neuron's input)
    o = O s + b_out               (the linear readout)

`GradedNetwork` declares such a network: the neuron (a declaration with an
``output`` port, the variable it sends), the number of recurrent neurons,
input channels and readouts, and the time step.  Its weights are run values
(`GradedParams`), never part of the declaration.  Builders:
`build.graded` (a Brian2 network: summed variables carry ``W s`` into the
neuron's ``input`` variable and ``U i`` into ``I_ext``) and `engines.graded`
(the same discretised step as a JAX function, and its gradient).
"""

from dataclasses import dataclass

import numpy as np

from .neuron import NeuronModel
from .run_values import check_run_values

#: the variable of the neuron that the external input enters
EXTERNAL = "I_ext"
#: the neuron's per-neuron bias, when it declares one
BIAS = "I_bias"
#: the run values of a network, in the order `GradedParams` holds them
PARAMS = ("W", "U", "O", "bias", "bias_out")


@dataclass(frozen=True)
class GradedNetwork:
    """``n`` recurrent neurons of ``neuron``, ``n_in`` input channels,
    ``n_out`` linear readouts, time step ``dt`` (seconds);
    ``self_connections``: whether ``W`` has a diagonal."""

    neuron: NeuronModel
    n: int
    n_in: int
    n_out: int
    dt: float
    self_connections: bool = False

    def __post_init__(self):
        where = f"graded network of {self.neuron.name} ({self.neuron.source})"
        for key in ("n", "n_in", "n_out"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{where}: {key} must be a positive integer, got {value!r}")
        if not (isinstance(self.dt, (int, float)) and 0 < float(self.dt) < 1):
            raise ValueError(f"{where}: dt must be a time step in seconds (0 < dt < 1 s), got {self.dt!r}")
        if self.neuron.output is None:
            raise ValueError(f"{where}: the neuron sends spikes, not a graded output: declare its output port "
                             "(output = \"s\"), as models/neurons/gated.toml does")
        names = set(self.neuron.variable_names())
        if self.neuron.input_variable is None or self.neuron.input_variable not in names:
            raise ValueError(f"{where}: the recurrent input needs the neuron's input port to name a variable "
                             f"(input = \"I_syn\"), not {self.neuron.input!r}")
        if EXTERNAL not in names:
            raise ValueError(f"{where}: the external input enters the neuron's variable {EXTERNAL}, which it does "
                             "not declare (add \"I_ext : 1\" to its equations and use it in its input)")

    @property
    def has_bias(self):
        return BIAS in self.neuron.variable_names()

    @property
    def shapes(self):
        """name -> shape of each run value."""
        return {"W": (self.n, self.n), "U": (self.n_in, self.n), "O": (self.n, self.n_out),
                "bias": (self.n,), "bias_out": (self.n_out,)}

    def check_params(self, params):
        """The run values as a dict of float64 arrays of the right shapes;
        an error names the first that is missing, misshapen or not finite."""
        out = check_run_values(params, self.shapes, PARAMS, "a graded network",
                               no_diagonal=None if self.self_connections else "W")
        if not self.has_bias and np.any(out["bias"] != 0):
            raise ValueError(f"the neuron declares no {BIAS}: the bias must be zero")
        return out

    def check_inputs(self, inputs):
        """Input currents as (trials, steps, n_in) float64."""
        x = np.asarray(inputs, dtype=float)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[2] != self.n_in or x.shape[1] < 1:
            raise ValueError(f"inputs have shape {np.shape(inputs)}, expected (trials, steps, {self.n_in})")
        if not np.all(np.isfinite(x)):
            raise ValueError("inputs have values that are not finite")
        return x

    def initial_params(self, seed, gain=1.0, bias=(-1.0, 1.0), input_scale=1.0, rate=20.0):
        """Random run values: ``W`` normal with standard deviation ``gain /
        (sqrt(n) s_mean)``, where ``s_mean = rate * tau_s`` is the output of
        a neuron firing at ``rate`` Hz (so that ``W s`` has a standard
        deviation of about ``gain``); ``U`` normal with standard deviation
        ``input_scale``; biases uniform in ``bias``; ``O`` and ``bias_out``
        zero.  The same seed gives the same values."""
        rng = np.random.default_rng(seed)
        tau_s = float(self.neuron.parameters.get("tau_s", 0.01))
        s_mean = max(rate * tau_s, 1e-9)
        W = rng.normal(0.0, gain / (np.sqrt(self.n) * s_mean), (self.n, self.n))
        if not self.self_connections:
            np.fill_diagonal(W, 0.0)
        U = rng.normal(0.0, input_scale, (self.n_in, self.n))
        b = rng.uniform(bias[0], bias[1], self.n) if self.has_bias else np.zeros(self.n)
        return {"W": W, "U": U, "O": np.zeros((self.n, self.n_out)), "bias": b, "bias_out": np.zeros(self.n_out)}


__all__ = ["BIAS", "EXTERNAL", "GradedNetwork", "PARAMS"]
