"""Checks of a declaration before anything is built for a device.

Each check says in one line which declaration (its file), which part of it
and what is wrong.  Names and ports are checked here; syntax, identifiers
and units by Brian2 itself, on a one-neuron group in runtime mode that runs
for 0 s (nothing is compiled), part by part so that the message can name
the part.  Brian2 lets a statement assign a name it does not know (a
temporary of the code block), so a reset that writes an undeclared
variable is caught here, not by Brian2.
"""

import re

from ..model.neuron import RESERVED, SURROGATE_PARAMETERS, DeclarationError, _statements

#: names every Brian2 group provides
GROUP_NAMES = {"t", "dt", "i", "N", "t_in_timesteps", "lastspike", "not_refractory", "xi", "True", "False"}


def _known_names():
    from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_FUNCTIONS, DEFAULT_UNITS

    return set(DEFAULT_UNITS) | set(DEFAULT_FUNCTIONS) | set(DEFAULT_CONSTANTS) | GROUP_NAMES


def _one_line(err):
    cause = err.__cause__ or err
    return " ".join(str(cause).split())


def check_neuron(neuron, surrogate=None):
    """Raise `DeclarationError` for the first problem of ``neuron``."""
    from brian2 import Equations

    from ..surrogates import Surrogate

    surrogate = Surrogate() if surrogate is None else surrogate
    where = f"{neuron.source} [neuron]"
    try:
        own = Equations(neuron.equations)
    except Exception as e:  # noqa: BLE001 - Brian2's parser: syntax, unknown units
        raise DeclarationError(f"{where} equations: {_one_line(e)}") from None
    state = [n for n, eq in own.items() if eq.type in ("differential equation", "parameter")]
    names = set(own.names)
    clash = sorted(names & set(neuron.parameters))
    if clash:
        raise DeclarationError(f"{where}: '{clash[0]}' is both a variable of the equations and a parameter")
    reserved = sorted((names | set(neuron.parameters)) & set(RESERVED))
    if reserved:
        raise DeclarationError(f"{where}: the name '{reserved[0]}' is the package's own (it adds "
                               f"{', '.join(RESERVED)} to every neuron): rename it")
    listing = f"variables: {', '.join(sorted(names))}; parameters: {', '.join(neuron.parameters) or 'none'}"

    # statements write declared state variables
    writable = set(state)
    for part in ("reset", "sample_reset") + (("input",) if neuron.input_variable is None else ()):
        for statement in _statements(getattr(neuron, part)):
            m = re.match(r"^\s*([A-Za-z_]\w*)\s*[-+*/]?=(?!=)", statement)
            if not m:
                raise DeclarationError(f"{where} {part}: {statement!r} is not an assignment (var = ..., var += ...)")
            if m.group(1) not in writable:
                what = ("a parameter (a run value the program does not change)" if m.group(1) in neuron.parameters
                        else "not a state variable of the neuron")
                raise DeclarationError(f"{where} {part}: '{statement}' writes '{m.group(1)}', {what} "
                                       f"(its state variables: {', '.join(state)})")

    # identifiers of every part
    known = _known_names() | names | set(neuron.parameters) | set(SURROGATE_PARAMETERS) | {"psi"}
    from brian2.utils.stringtools import get_identifiers

    for eq in own.values():
        expr = getattr(eq, "expr", None)
        if expr is not None:
            unknown = sorted(get_identifiers(str(expr.code)) - known)
            if unknown:
                raise DeclarationError(f"{where} equations: unknown identifier '{unknown[0]}' in the equation of "
                                       f"{eq.varname} ({listing})")
    parts = {"threshold": neuron.threshold, "reset": neuron.reset, "sample_reset": neuron.sample_reset,
             "surrogate_of": neuron.surrogate_of, "refractory": neuron.refractory or ""}
    if neuron.input_variable is None:
        parts["input"] = neuron.input
    for part, text in parts.items():
        extra = {"w"} if part == "input" else set()
        unknown = sorted(get_identifiers(text) - known - extra)
        if unknown:
            raise DeclarationError(f"{where} {part}: unknown identifier '{unknown[0]}' ({listing})")

    # ports
    if neuron.input_variable is not None and neuron.input_variable not in state:
        raise DeclarationError(f"{where} input: '{neuron.input}' names no state variable of the neuron "
                               f"(its state variables: {', '.join(state)}); give a variable or statements that "
                               "use w, e.g. \"g_e += w * g_unit\"")
    if neuron.input_variable is None and "w" not in get_identifiers(neuron.input):
        raise DeclarationError(f"{where} input: {neuron.input!r} does not use the weight w")
    if neuron.trace not in state:
        raise DeclarationError(f"{where} trace: '{neuron.trace}' names no state variable of the neuron "
                               f"(its state variables: {', '.join(state)})")
    if neuron.output is not None and neuron.output not in state:
        raise DeclarationError(f"{where} output: '{neuron.output}' names no state variable of the neuron "
                               f"(its state variables: {', '.join(state)})")

    # values the builder evaluates in Python
    for key, expr in (neuron.initial or {}).items():
        if key not in writable:
            raise DeclarationError(f"{where} initial: '{key}' is not a state variable of the neuron")
    neuron.initial_state()
    if neuron.input_variable is not None:
        _check_weight_unit(neuron, own, where)

    _brian2_parts(neuron, surrogate, where)


def _check_weight_unit(neuron, own, where):
    from brian2 import get_dimensions

    dims = own[neuron.input_variable].dim
    if neuron.weight_unit is None and not ({"v_th", "v_reset"} <= set(neuron.parameters)
                                           and get_dimensions(neuron.parameters["v_th"]) == dims):
        raise DeclarationError(f"{where} weight_unit: input {neuron.input_variable} is not a voltage next to "
                               "parameters v_th and v_reset: declare what one unit of weight adds to it, "
                               "e.g. weight_unit = \"1*nA\"")
    value = neuron.weight_unit_value()
    if get_dimensions(value) != dims:
        raise DeclarationError(f"{where} weight_unit: {neuron.weight_unit or 'v_th - v_reset'} is in "
                               f"{_unit(get_dimensions(value))}, the input {neuron.input_variable} in {_unit(dims)}")


def _unit(dims):
    from brian2.units.fundamentalunits import get_unit

    return "1" if dims.is_dimensionless else repr(get_unit(dims))


def _group(eqs, method, **kwargs):
    """A one-neuron group for checks only (no warning when it is deleted unrun)."""
    from brian2 import NeuronGroup

    return NeuronGroup(1, eqs, method=method, name="declaration_check", namespace={}, **kwargs)


def _ran(*objects):
    """Mark check objects as used: Brian2 warns at the deletion of an object
    that never was in a network run (a failed run leaves them so)."""
    for obj in objects:
        if obj._network is None:
            obj._network = "declaration_check"


def _brian2_parts(neuron, surrogate, where):
    """Brian2's own checks, part by part, on one neuron for 0 s."""
    from brian2 import Network, ms, prefs, set_device, start_scope
    from brian2.utils.logger import catch_logs
    from brian2.parsing.expressions import parse_expression_dimensions
    from brian2.utils.stringtools import get_identifiers

    from ..stateupdate import method_for

    set_device("runtime")
    prefs.codegen.target = "numpy"
    eqs = neuron.equations_text(surrogate)
    method = method_for(neuron.method)
    full = {"threshold": neuron.threshold, "refractory": neuron.refractory or False, "reset": neuron.reset}
    stages = [("equations", {}), ("threshold", {"threshold": neuron.threshold}),
              ("refractory", {"threshold": neuron.threshold, "refractory": neuron.refractory or False}),
              ("reset", full), ("sample_reset", full)]
    # the surrogate's argument first, on the equations without psi (psi would fail as "equations")
    start_scope()
    try:
        with catch_logs():
            group = _group(neuron.equations_text(surrogate, psi=False), method)
            _ran(group)
            dims = parse_expression_dimensions(neuron.surrogate_of, group.resolve_all(
                get_identifiers(neuron.surrogate_of), run_namespace={}))
    except Exception as e:  # noqa: BLE001
        raise DeclarationError(f"{where} surrogate_of: {_one_line(e)}") from None
    if not dims.is_dimensionless:
        raise DeclarationError(f"{where} surrogate_of: {neuron.surrogate_of!r} has unit {_unit(dims)}; "
                               "the surrogate's argument is a dimensionless distance to threshold, e.g. "
                               "(v - v_th) / (v_th - v_reset)")
    for part, kwargs in stages:
        if (part == "refractory" and not neuron.refractory) or (part == "sample_reset" and not neuron.sample_reset):
            continue
        start_scope()
        try:
            with catch_logs():  # a stage without reset or refractory period is no warning
                group = _group(eqs, method, **kwargs)
                if part == "sample_reset":
                    group.run_regularly(neuron.sample_reset, dt=1 * ms, name="declaration_check_reset")
                try:
                    Network(group).run(0 * ms, namespace={})
                finally:
                    _ran(group, *group.contained_objects)
        except Exception as e:  # noqa: BLE001 - Brian2's words, on one line
            raise DeclarationError(f"{where} {part}: {_one_line(e)}") from None
    if neuron.input_variable is None:
        try:
            from brian2 import SpikeGeneratorGroup, Synapses

            start_scope()
            with catch_logs():
                g = _group(eqs, method)
                source = SpikeGeneratorGroup(1, [], [] * ms, name="declaration_check_source")
                S = Synapses(source, g, model="w : 1", on_pre=neuron.delivery(), name="declaration_check_input",
                             namespace={})
                S.connect()
                try:
                    Network(g, source, S).run(0 * ms, namespace={})
                finally:
                    _ran(g, source, S, *S.contained_objects)
        except Exception as e:  # noqa: BLE001
            raise DeclarationError(f"{where} input: {_one_line(e)}") from None
    start_scope()
