"""Neuron groups from neuron declarations (`model.neuron.NeuronModel`).

A neuron is frozen data: its equations, parameters and ports.  Every numeric parameter is a ``(shared, constant)``
variable of the group, not a literal in the code: a compiled program can then
run with other values through ``run_args`` without being rebuilt.
"""

import math

from brian2 import Equations, Quantity, second, volt

from .model.neuron import from_builtin


def _check_positive(name, value, unit):
    q = Quantity(value)
    if not q.has_same_dimensions(unit):
        raise ValueError(f"{name} must be in units of {unit!r}, got {value!r}")
    f = float(q)
    if not math.isfinite(f) or f <= 0:
        raise ValueError(f"{name} must be positive and finite, got {value!r}")


#: the parameters of `LIF` that are checked as times and voltages
_TIMES = ("tau_m", "tau_syn", "tau_trace")
_VOLTAGES = ("v_rest", "v_reset", "v_th")


def LIF(**parameters):
    """The built-in current-based leaky integrate-and-fire neuron
    (`model.neuron.LIF_DECLARATION`) with the given parameter values:

        tau_m   dv/dt = v_rest - v + I_syn + I_ext     (unless refractory)
        tau_syn dI_syn/dt = -I_syn
        tau_tr  dx/dt = -x                              x += 1 at each spike
        psi = surrogate((v - v_th) / (v_th - v_reset))

    ``I_syn`` and ``I_ext`` are currents expressed as the voltage they would
    produce across the membrane resistance.  ``x`` is the neuron's spike trace:
    the presynaptic factor of the synapses it sends, and the postsynaptic
    activity of the Hebbian rule.  ``psi`` is the surrogate derivative.
    """
    neuron = from_builtin(**parameters)
    for name in _TIMES:
        _check_positive(name, neuron.parameters[name], second)
    q = Quantity(neuron.t_ref)
    if not q.has_same_dimensions(second) or not (0 <= float(q) < math.inf):
        raise ValueError(f"t_ref must be a non-negative time, got {neuron.t_ref!r}")
    for name in _VOLTAGES:
        q = Quantity(neuron.parameters[name])
        if not q.has_same_dimensions(volt) or not math.isfinite(float(q)):
            raise ValueError(f"{name} must be a finite voltage, got {neuron.parameters[name]!r}")
    if not neuron.v_th > neuron.v_reset:
        raise ValueError(f"v_th ({neuron.v_th}) must lie above v_reset ({neuron.v_reset})")
    return neuron


def make_group(neuron, surrogate, n, name, extra_equations=None, extra_reset="", method=None,
               set_values=True, **kwargs):
    """A Brian2 `NeuronGroup` of ``n`` neurons of this model.

    With ``set_values=False`` the parameters and the initial state are left
    to the caller (as ``run_args``): the generated code then does not depend
    on their values, and one compiled program serves every value."""
    from brian2 import NeuronGroup

    from .stateupdate import method_for

    if method is None:
        method = method_for(neuron.method)
    eqs = neuron.brian2_equations(surrogate)
    if extra_equations is not None:
        eqs = eqs + Equations(extra_equations)
    reset = "; ".join(code for code in (neuron.reset, extra_reset) if code)
    group = NeuronGroup(
        n,
        eqs,
        threshold=neuron.threshold,
        reset=reset,
        refractory=neuron.refractory or False,
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
