"""Neuron models as Brian2 equations.

A neuron description is frozen data (time constants, potentials) plus the
equations that use them.  Every numeric parameter is a ``(shared, constant)``
variable of the group, not a literal in the code: a compiled program can then
run with other values through ``run_args`` without being rebuilt.
"""

import math
from dataclasses import dataclass, field, fields

from brian2 import Equations, Quantity, mV, ms, second, volt

from .surrogates import Surrogate


def _default(value):
    """A dataclass default for a (mutable) Brian2 quantity."""
    return field(default_factory=lambda: value)


def _check_positive(name, value, unit):
    q = Quantity(value)
    if not q.has_same_dimensions(unit):
        raise ValueError(f"{name} must be in units of {unit!r}, got {value!r}")
    f = float(q)
    if not math.isfinite(f) or f <= 0:
        raise ValueError(f"{name} must be positive and finite, got {value!r}")


@dataclass(frozen=True)
class LIF:
    """Current-based leaky integrate-and-fire neuron.

        tau_m   dv/dt = v_rest - v + I_syn + I_ext     (unless refractory)
        tau_syn dI_syn/dt = -I_syn
        tau_tr  dx/dt = -x                              x += 1 at each spike
        psi = surrogate((v - v_th) / (v_th - v_reset))

    ``I_syn`` and ``I_ext`` are currents expressed as the voltage they would
    produce across the membrane resistance.  ``x`` is the neuron's spike trace:
    the presynaptic factor of the synapses it sends, and the postsynaptic
    activity of the Hebbian rule.  ``psi`` is the surrogate derivative.

    Defaults: tau_m = 10 ms, tau_syn = 5 ms, rest and reset at -60 mV and
    threshold at -50 mV follow SuperSpike (Zenke & Ganguli 2018, Neural Comput.
    30:1514); the 2 ms refractory period and 10 ms trace are ours.
    """

    tau_m: Quantity = _default(10 * ms)
    tau_syn: Quantity = _default(5 * ms)
    tau_trace: Quantity = _default(10 * ms)
    v_rest: Quantity = _default(-60 * mV)
    v_reset: Quantity = _default(-60 * mV)
    v_th: Quantity = _default(-50 * mV)
    t_ref: Quantity = _default(2 * ms)

    def __post_init__(self):
        for name in ("tau_m", "tau_syn", "tau_trace"):
            _check_positive(name, getattr(self, name), second)
        q = Quantity(self.t_ref)
        if not q.has_same_dimensions(second) or not (0 <= float(q) < math.inf):
            raise ValueError(f"t_ref must be a non-negative time, got {self.t_ref!r}")
        for name in ("v_rest", "v_reset", "v_th"):
            q = Quantity(getattr(self, name))
            if not q.has_same_dimensions(volt) or not math.isfinite(float(q)):
                raise ValueError(f"{name} must be a finite voltage, got {getattr(self, name)!r}")
        if not self.v_th > self.v_reset:
            raise ValueError(
                f"v_th ({self.v_th}) must lie above v_reset ({self.v_reset})"
            )

    def equations(self, surrogate: Surrogate):
        psi = surrogate.brian2("(v - v_th) / (v_th - v_reset)")
        return Equations(
            f"""
            dv/dt = (v_rest - v + I_syn + I_ext) / tau_m : volt (unless refractory)
            dI_syn/dt = -I_syn / tau_syn : volt
            dx/dt = -x / tau_trace : 1
            psi = {psi} : 1
            I_ext : volt
            tau_m : second (shared, constant)
            tau_syn : second (shared, constant)
            tau_trace : second (shared, constant)
            v_rest : volt (shared, constant)
            v_reset : volt (shared, constant)
            v_th : volt (shared, constant)
            t_ref : second (shared, constant)
            sg_width : 1 (shared, constant)
            sg_height : 1 (shared, constant)
            """
        )

    threshold = "v > v_th"
    reset = "v = v_reset; x += 1"
    refractory = "t_ref"
    #: run at the start of every sample when samples are presented independently
    sample_reset = "v = v_rest; I_syn = 0*volt; x = 0"

    def values(self, surrogate: Surrogate):
        """Initial values of the group's shared constants."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["sg_width"] = surrogate.width
        out["sg_height"] = surrogate.height
        return out

    def initial_state(self):
        return {"v": self.v_rest}


def make_group(neuron, surrogate, n, name, extra_equations=None, extra_reset="", method=None,
               set_values=True, **kwargs):
    """A Brian2 `NeuronGroup` of ``n`` neurons of this model.

    With ``set_values=False`` the parameters and the initial state are left
    to the caller (as ``run_args``): the generated code then does not depend
    on their values, and one compiled program serves every value."""
    from brian2 import NeuronGroup

    from .stateupdate import exact

    method = exact() if method is None else method
    eqs = neuron.equations(surrogate)
    if extra_equations is not None:
        eqs = eqs + Equations(extra_equations)
    reset = neuron.reset + (f"; {extra_reset}" if extra_reset else "")
    group = NeuronGroup(
        n,
        eqs,
        threshold=neuron.threshold,
        reset=reset,
        refractory=neuron.refractory,
        method=method,
        name=name,
        **kwargs,
    )
    if set_values:
        for key, value in neuron.values(surrogate).items():
            setattr(group, key, value)
        for key, value in neuron.initial_state().items():
            setattr(group, key, value)
    return group
