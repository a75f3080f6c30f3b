"""Neurons as declarations: Brian2 equations, parameters with units, ports.

A neuron is the text a user would give Brian2's `NeuronGroup` (equations
with units, threshold, reset, refractory period) plus what training needs
to know about it:

- ``sample_reset``: the statements run at the start of every sample when
  samples are presented independently;
- ``parameters``: name -> default, each a Brian2 quantity.  Every parameter
  becomes a ``(shared, constant)`` variable of the group, set as a run
  value, so one compiled program serves every value;
- three ports, through which rules, pathways and projections refer to the
  neuron without knowing its equations:

  - ``input``: where a presynaptic spike's weight ``w`` goes.  A state
    variable ``X`` (a spike adds ``w * w_unit`` to ``X``, with ``w_unit`` the
    value of ``weight_unit``), or statements written from the neuron's side
    that use ``w``, e.g. ``g_e += w * g_unit * int(w > 0); g_i -= w * g_unit
    * int(w < 0)`` (conductances that only grow);
  - ``trace``: the neuron's spike trace, the presynaptic factor ``x_pre`` of
    the synapses it sends (and the activity ``x_post`` of the Hebbian
    factor).  A trace named other than ``x`` is given the alias ``x``;
  - ``surrogate_of``: the argument of the surrogate derivative, a
    dimensionless distance to threshold, 0 at threshold and -1 at reset.
    The group gets ``psi = surrogate(surrogate_of)``.

  A fourth, optional port, ``output``, names a state variable that the
  neuron sends continuously instead of spikes: a graded projection writes
  ``I_post = w * output_pre`` (summed) every step.  Huh & Sejnowski's gated
  neuron (``models/neurons/gated.toml``) sends its gated synaptic current
  this way (`model.graded`).

``weight_unit`` is an expression of the parameters; when it is not given and
the input is a voltage, it is the threshold distance ``v_th - v_reset`` (so
weights are in units of that distance, as for the built-in LIF).
``method`` names Brian2's integration method; without it, linear equations
are integrated exactly (`stateupdate.exact`) and others as Brian2 picks
(``euler``, then ``heun``).

`build.checks.check_neuron` lets Brian2 check every part (syntax,
identifiers, units) and says, in one line, which part of which declaration
is wrong.
"""

import math
import re
from dataclasses import dataclass, replace

#: the declaration of the built-in LIF neuron (``models/neurons/lif.toml``
#: holds the same).  Defaults: tau_m = 10 ms, tau_syn = 5 ms, rest and reset
#: at -60 mV and threshold at -50 mV follow SuperSpike (Zenke & Ganguli 2018,
#: Neural Comput. 30:1514); the 2 ms refractory period and 10 ms trace are ours.
#: ``I_ext`` is an external current (as a voltage across the membrane
#: resistance) that the communication channel drives.
LIF_DECLARATION = {
    "name": "lif",
    "equations": (
        "dv/dt = (v_rest - v + I_syn + I_ext) / tau_m : volt (unless refractory)\n"
        "dI_syn/dt = -I_syn / tau_syn : volt\n"
        "dx/dt = -x / tau_trace : 1\n"
        "I_ext : volt\n"
    ),
    "threshold": "v > v_th",
    "reset": "v = v_reset; x += 1",
    "refractory": "t_ref",
    "sample_reset": "v = v_rest; I_syn = 0*volt; x = 0",
    "surrogate_of": "(v - v_th) / (v_th - v_reset)",
    "input": "I_syn",
    "trace": "x",
    "initial": {"v": "v_rest"},
    "parameters": {
        "tau_m": "10*ms",
        "tau_syn": "5*ms",
        "tau_trace": "10*ms",
        "v_rest": "-60*mV",
        "v_reset": "-60*mV",
        "v_th": "-50*mV",
        "t_ref": "2*ms",
    },
}

#: a leaky integrate-and-fire neuron whose input jumps the membrane potential (delta synapses):
#: NIR's ``LIF`` node (`io.nir_graph`); ``models/neurons/lif_delta.toml`` holds the same.  The
#: parameters are the built-in LIF's without ``tau_syn``.
DELTA_LIF_DECLARATION = {
    "name": "lif_delta",
    "equations": (
        "dv/dt = (v_rest - v + I_ext) / tau_m : volt (unless refractory)\n"
        "dx/dt = -x / tau_trace : 1\n"
        "I_ext : volt\n"
    ),
    "threshold": "v > v_th",
    "reset": "v = v_reset; x += 1",
    "refractory": "t_ref",
    "sample_reset": "v = v_rest; x = 0",
    "surrogate_of": "(v - v_th) / (v_th - v_reset)",
    "input": "v",
    "trace": "x",
    "initial": {"v": "v_rest"},
    "parameters": {k: v for k, v in LIF_DECLARATION["parameters"].items() if k != "tau_syn"},
}

#: the keys of a neuron declaration (a ``[neuron]`` section)
KEYS = ("name", "equations", "threshold", "reset", "refractory", "sample_reset", "surrogate_of", "input", "trace",
        "weight_unit", "initial", "method", "output", "parameters")
#: keys a declaration must give
REQUIRED = ("equations", "threshold", "surrogate_of", "input")
#: parameters the package adds to every neuron (the surrogate's shape)
SURROGATE_PARAMETERS = ("sg_width", "sg_height")
#: names a declaration may not give its own variables: the package adds them
RESERVED = ("psi", "L", "Lphi", "phi", "delta", "err", "Y", "t0", "xs", "U", *SURROGATE_PARAMETERS)


class DeclarationError(ValueError):
    """A declaration that cannot work; the message names where and why."""


def _units():
    from brian2.core.namespace import DEFAULT_UNITS

    return DEFAULT_UNITS


def quantity(text, where):
    """A parameter's value from its text ("10*ms"): a Brian2 quantity, or a
    float for a dimensionless one.  A bare number is refused: it has no unit."""
    from brian2 import Quantity

    if isinstance(text, Quantity):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        raise DeclarationError(f"{where} = {text!r} has no unit: write it as a string with its unit, e.g. "
                               f"\"{text}*ms\" (a dimensionless parameter: \"{text}\")")
    if not isinstance(text, str) or not text.strip():
        raise DeclarationError(f"{where} must be a quantity written as a string, e.g. \"10*ms\", got {text!r}")
    try:
        value = eval(compile(text, "<parameter>", "eval"), {"__builtins__": {}}, dict(_units()))  # noqa: S307
    except Exception as e:  # noqa: BLE001 - an unknown unit, bad syntax
        raise DeclarationError(f"{where} = {text!r} is not a quantity ({type(e).__name__}: {e})") from None
    if isinstance(value, bool) or not isinstance(value, (int, float, Quantity)):
        raise DeclarationError(f"{where} = {text!r} is not a quantity")
    q = Quantity(value)
    if q.shape != () or not math.isfinite(float(q)):
        raise DeclarationError(f"{where} = {text!r} must be one finite value")
    return q if not q.is_dimensionless else float(q)


def _same_unit(key, old, new, source):
    """A new value of a parameter has the unit of its declared value."""
    from brian2 import get_dimensions

    try:
        same = get_dimensions(old) == get_dimensions(new)
    except TypeError:
        return  # not a quantity: the builder's checks name it
    if not same:
        from brian2 import get_unit

        dims = get_dimensions(old)
        unit = "1 (dimensionless)" if dims.is_dimensionless else str(get_unit(dims))
        raise DeclarationError(f"{source}: parameter {key} must be in units of {unit}, got {new!r} (its declared "
                               f"value: {old}; write the value with its unit)")


def unit_text(value):
    """The unit of a quantity as Brian2's equations write it ("volt", "1")."""
    from brian2 import get_dimensions
    from brian2.units.fundamentalunits import get_unit

    dims = get_dimensions(value)
    return "1" if dims.is_dimensionless else repr(get_unit(dims))


def quantity_text(value):
    """A quantity as text that `quantity` reads back to the same float."""
    from brian2 import Quantity

    q = Quantity(value)
    if q.is_dimensionless:
        return repr(float(q))
    unit = unit_text(q)
    return f"{float(q)!r}*{unit}"


def equations_source(eqs):
    """A Brian2 `Equations` as text that Brian2 reads back (``str`` of it
    writes units as "V", which its parser does not take)."""
    from brian2.units.fundamentalunits import get_unit

    lines = []
    for eq in eqs.ordered:
        if eq.var_type == "integer" or eq.var_type == "boolean":
            unit = eq.var_type
        else:
            unit = "1" if eq.dim.is_dimensionless else repr(get_unit(eq.dim))
        flags = f" ({', '.join(eq.flags)})" if eq.flags else ""
        if eq.type == "differential equation":
            lines.append(f"d{eq.varname}/dt = {eq.expr.code} : {unit}{flags}")
        elif eq.type == "subexpression":
            lines.append(f"{eq.varname} = {eq.expr.code} : {unit}{flags}")
        else:
            lines.append(f"{eq.varname} : {unit}{flags}")
    return "\n".join(lines) + "\n"


def _statements(code):
    """Lines of a statement block (``;`` or newlines)."""
    return [s.strip() for s in re.split(r"[;\n]", code or "") if s.strip()]


_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*([-+*/]?=)(?!=)\s*(.+)$")


@dataclass(frozen=True)
class NeuronModel:
    """A neuron declaration (see the module's docstring).  ``parameters``
    maps names to Brian2 quantities (floats when dimensionless);
    ``source`` says where it was declared, for messages."""

    name: str
    equations: str
    threshold: str
    reset: str
    parameters: dict
    input: str
    surrogate_of: str
    trace: str = "x"
    refractory: str | None = None
    sample_reset: str = ""
    weight_unit: str | None = None
    initial: dict | None = None
    method: str | None = None
    output: str | None = None
    source: str = "neuron"

    def __getattr__(self, name):
        # parameters read as attributes: neuron.tau_m, neuron.v_th
        if name.startswith("_") or name == "parameters":
            raise AttributeError(name)
        try:
            return self.parameters[name]
        except KeyError:
            raise AttributeError(f"neuron {self.name} has no parameter or attribute '{name}'") from None

    # -- reading ----------------------------------------------------------
    @classmethod
    def from_dict(cls, d, source="neuron", name=None):
        """A declaration from a mapping (a TOML section, or in Python with
        ``equations`` a string or a Brian2 `Equations` and parameters as
        quantities), checked for unknown and missing keys and for parameters
        without units; `build.checks.check_neuron` does the rest."""
        where = f"{source} [neuron]"
        if not isinstance(d, dict):
            raise DeclarationError(f"{where} must be a table of the keys {', '.join(KEYS)}")
        if type(d.get("equations")).__name__ == "Equations":  # the Python API: Brian2's own object
            d = {**d, "equations": equations_source(d["equations"])}
        unknown = sorted(set(d) - set(KEYS))
        if unknown:
            raise DeclarationError(f"{where}: unknown key '{unknown[0]}' (a neuron has {', '.join(KEYS)})")
        for key in REQUIRED:
            if key not in d or d[key] in (None, ""):
                what = {"threshold": "a neuron needs a threshold condition, e.g. threshold = \"v > v_th\"",
                        "equations": "a neuron needs its equations",
                        "surrogate_of": "the surrogate derivative needs its argument, e.g. "
                                        "surrogate_of = \"(v - v_th) / (v_th - v_reset)\"",
                        "input": "synaptic input needs a port, e.g. input = \"I_syn\""}[key]
                raise DeclarationError(f"{where}: no '{key}': {what}")
        for key in KEYS:
            if key in ("parameters", "initial"):
                continue
            if key in d and d[key] is not None and not isinstance(d[key], str):
                raise DeclarationError(f"{where}: '{key}' must be a string, got {d[key]!r}")
        params = d.get("parameters", {})
        if not isinstance(params, dict):
            raise DeclarationError(f"{where}: 'parameters' must be a table of name = \"value*unit\"")
        parameters = {k: quantity(v, f"{source} [neuron.parameters] {k}") for k, v in params.items()}
        initial = d.get("initial")
        if initial is not None and (not isinstance(initial, dict)
                                    or not all(isinstance(v, str) for v in initial.values())):
            raise DeclarationError(f"{where}: 'initial' must be a table of variable = \"expression\"")
        return cls(name=d.get("name") or name or "neuron", equations=d["equations"], threshold=d["threshold"],
                   reset=d.get("reset") or "", parameters=parameters, input=d["input"],
                   surrogate_of=d["surrogate_of"], trace=d.get("trace") or "x", refractory=d.get("refractory"),
                   sample_reset=d.get("sample_reset") or "", weight_unit=d.get("weight_unit"),
                   initial=dict(initial) if initial is not None else None, method=d.get("method"),
                   output=d.get("output"), source=source)

    def to_dict(self):
        """The declaration as a neuron file's ``[neuron]`` section (strings);
        `from_dict` reads it back to an equal declaration."""
        out = {"name": self.name, "equations": self.equations, "threshold": self.threshold}
        for key in ("reset", "refractory", "sample_reset", "surrogate_of", "input", "trace", "weight_unit",
                    "method", "output"):
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = value
        if self.initial is not None:
            out["initial"] = dict(self.initial)
        out["parameters"] = {k: quantity_text(v) for k, v in self.parameters.items()}
        return out

    def with_parameters(self, **values):
        """The same neuron with other parameter values (quantities or their
        text); an unknown name is an error that lists the known ones."""
        new = dict(self.parameters)
        for key, value in values.items():
            if key not in new:
                raise DeclarationError(f"{self.source}: neuron {self.name} has no parameter '{key}' "
                                       f"(its parameters: {', '.join(self.parameters)})")
            value = quantity(value, f"{self.source}: parameter {key}") if isinstance(value, str) else value
            _same_unit(key, self.parameters[key], value, self.source)
            new[key] = value
        return replace(self, parameters=new)

    # -- what the builders use -----------------------------------------------
    @property
    def input_variable(self):
        """The variable that input enters when the port names one, else None."""
        text = self.input.strip()
        return text if re.fullmatch(r"[A-Za-z_]\w*", text) else None

    def equations_text(self, surrogate, psi=True):
        """The group's equations: the declared ones, ``psi`` (unless not
        ``psi``), the trace alias and every parameter as a ``(shared,
        constant)`` variable."""
        lines = [self.equations.strip()]
        if psi:
            lines.append(f"psi = {surrogate.brian2(self.surrogate_of)} : 1")
        if self.trace != "x":
            lines.append(f"x = {self.trace} : 1")
        lines += [f"{k} : {unit_text(v)} (shared, constant)" for k, v in self.parameters.items()]
        lines += [f"{k} : 1 (shared, constant)" for k in SURROGATE_PARAMETERS]
        return "\n".join(lines) + "\n"

    def brian2_equations(self, surrogate):
        from brian2 import Equations

        return Equations(self.equations_text(surrogate))

    def values(self, surrogate):
        """Initial values of the group's shared constants."""
        out = dict(self.parameters)
        out["sg_width"] = surrogate.width
        out["sg_height"] = surrogate.height
        return out

    def _evaluate(self, expr, where):
        from brian2 import Quantity

        namespace = {**_units(), **{k: Quantity(v) for k, v in self.parameters.items()}}
        try:
            return eval(compile(expr, "<expression>", "eval"), {"__builtins__": {}}, namespace)  # noqa: S307
        except Exception as e:  # noqa: BLE001
            raise DeclarationError(f"{self.source} [neuron] {where}: {expr!r} is no expression of the "
                                   f"parameters ({type(e).__name__}: {e})") from None

    def initial_state(self):
        """Initial values of state variables: ``initial`` if declared, else
        the assignments of the per-sample reset whose right side is an
        expression of the parameters (``v = v_rest``)."""
        if self.initial is not None:
            return {k: self._evaluate(v, f"initial {k}") for k, v in self.initial.items()}
        out = {}
        for statement in _statements(self.sample_reset):
            m = _ASSIGN.match(statement)
            if m and m.group(2) == "=":
                try:
                    out[m.group(1)] = self._evaluate(m.group(3), "sample_reset")
                except DeclarationError:
                    pass  # not a constant: the reset at t = 0 sets it
        return out

    def weight_unit_value(self):
        """What one unit of weight adds to the input variable (a quantity)."""
        if self.weight_unit is not None:
            return self._evaluate(self.weight_unit, "weight_unit")
        return self._evaluate("v_th - v_reset", "weight_unit")

    def delivery(self):
        """The on_pre statement of a projection onto this neuron."""
        from brian2.utils.stringtools import get_identifiers, word_substitute

        if self.input_variable is not None:
            return f"{self.input_variable}_post += w * w_unit"
        own = set(self.variable_names()) | set(self.parameters)
        names = {n: f"{n}_post" for n in get_identifiers(self.input) if n in own}
        return "\n".join(word_substitute(s, names) for s in _statements(self.input))

    def variable_names(self):
        """Names the declared equations define (state variables and subexpressions)."""
        from brian2 import Equations

        return list(Equations(self.equations).names)

    @property
    def is_builtin_lif(self):
        """The built-in LIF with any parameter values: the NumPy reference
        simulator implements these equations."""
        return self.declares(LIF_DECLARATION)

    def declares(self, declaration):
        """Whether this is the neuron of ``declaration`` (a dict such as
        `LIF_DECLARATION`) with any parameter values."""
        base = NeuronModel.from_dict(declaration, source=self.source)
        return (replace(self, parameters=base.parameters) == base
                and set(self.parameters) == set(base.parameters))


def from_builtin(**parameters):
    """The built-in LIF (`LIF_DECLARATION`), with parameter values given as quantities."""
    neuron = NeuronModel.from_dict(LIF_DECLARATION, source="built-in lif")
    return neuron.with_parameters(**parameters) if parameters else neuron


def load(path, overrides=None):
    """A neuron file (``models/neurons/*.toml``): its keys at the top level or
    in a ``[neuron]`` section; ``overrides`` replaces parameter values."""
    import os
    import tomllib

    if not os.path.isfile(path):
        raise DeclarationError(f"neuron file {path} does not exist")
    try:
        with open(path, "rb") as f:
            d = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise DeclarationError(f"{path}: not valid TOML: {e}") from None
    d = d.get("neuron", d)
    name = os.path.splitext(os.path.basename(path))[0]
    neuron = NeuronModel.from_dict(d, source=path, name=name)
    if overrides:
        neuron = neuron.with_parameters(**overrides)
    return neuron


__all__ = ["NeuronModel", "DeclarationError", "LIF_DECLARATION", "from_builtin", "load", "quantity",
           "quantity_text", "unit_text"]
