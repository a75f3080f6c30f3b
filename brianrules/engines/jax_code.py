"""A neuron's discretised update as JAX functions, from its declaration.

Brian2 generates a group's code from *abstract code*: the statements of its
state updater (the integration method applied to the equations, with the
refractory mechanism), the threshold condition, the reset, and, for the
synapses onto it, the ``on_pre`` statements.  `neuron_code` obtains these
from a probe group that `neurons.make_group` builds exactly as the network's
groups are built, so that the integration method is the one of the
generated C++ (`stateupdate.method_for`: exact integration, rewritten by
`singularities.remove_singularities`, for linear equations; the declared
method, or Brian2's fallbacks, otherwise).  Each expression is parsed with
Brian2's ``str_to_sympy`` and printed for ``jax.numpy`` by sympy's
``lambdify``; nothing is written by hand per neuron.

Semantics kept from Brian2:

- a variable of an ``(unless refractory)`` equation is written only where
  ``not_refractory`` holds, by every code that writes it (state update,
  per-sample reset, synaptic delivery), except the reset after a spike
  (Brian2's ``override_conditional_write``);
- statements run in order, each reading the values the previous ones wrote;
  subexpressions are substituted where they are used.
"""

import contextlib
from dataclasses import dataclass

import numpy as np
import sympy
from sympy.printing.numpy import JaxPrinter

#: variables of a group that are no state of its neurons
_NOT_STATE = ("N", "i", "t", "dt", "t_in_timesteps")


class _Printer(JaxPrinter):
    """sympy's JAX printer, with ``and``/``or`` as element-wise calls (its
    own form stacks the operands, which fails for operands of other shapes)."""

    def _chain(self, name, args):
        fn = self._module_format(f"{self._module}.{name}")
        out = self._print(args[0])
        for arg in args[1:]:
            out = f"{fn}({out}, {self._print(arg)})"
        return out

    def _print_And(self, expr):
        return self._chain("logical_and", expr.args)

    def _print_Or(self, expr):
        return self._chain("logical_or", expr.args)


def printer(functions=None):
    """A `_Printer` as ``lambdify`` makes one, knowing ``functions`` by name."""
    return _Printer({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True,
                     "user_functions": {k: k for k in (functions or {})}})


def _functions():
    """JAX forms of Brian2's functions that sympy does not know."""
    import jax.numpy as jnp

    def int_(x):
        x = jnp.asarray(x)
        if x.dtype == jnp.bool_ or jnp.issubdtype(x.dtype, jnp.integer):
            return x.astype(jnp.float64)
        return jnp.trunc(x)

    def timestep(t, dt):  # Brian2's: (int64_t)((t + 1e-3*dt)/dt)
        return jnp.asarray((t + 1e-3 * dt) / dt).astype(jnp.int64)

    def exprel(x):
        safe = jnp.where(x == 0, 1.0, x)
        return jnp.where(x == 0, 1.0, jnp.expm1(safe) / safe)

    return {"int_": int_, "timestep": timestep, "clip": jnp.clip, "exprel": exprel}


def _constant(name, where):
    """The SI value of a unit or constant named in an expression."""
    from brian2.core.functions import DEFAULT_CONSTANTS
    from brian2.core.namespace import DEFAULT_UNITS

    if name in DEFAULT_UNITS:
        return float(DEFAULT_UNITS[name])
    if name in DEFAULT_CONSTANTS:
        return float(DEFAULT_CONSTANTS[name].value)
    raise ValueError(f"{where}: '{name}' is no variable, parameter, unit or constant")


class JaxExpression:
    """A sympy expression as a function of an environment (name -> value);
    names that are no variable (``known``) are units or constants."""

    def __init__(self, expr, known, where):
        symbols = sorted(expr.free_symbols, key=lambda s: s.name)
        self.expr = expr
        self.names = tuple(s.name for s in symbols)
        self.constants = {n: _constant(n, where) for n in self.names if n not in known}
        functions = _functions()
        self._fn = sympy.lambdify(symbols, expr, modules=[functions, "jax"], printer=printer(functions))

    def __call__(self, env):
        return self._fn(*[self.constants[n] if n in self.constants else env[n] for n in self.names])

    def __repr__(self):
        return f"JaxExpression({self.expr})"


@dataclass(frozen=True)
class Statement:
    """``var op expr``: ``value(env)`` is the new value of ``var``."""

    var: str
    op: str
    expr: JaxExpression

    def value(self, env):
        new = self.expr(env)
        if self.op == "=":
            return new
        old = env[self.var]
        return {"+=": lambda: old + new, "-=": lambda: old - new, "*=": lambda: old * new,
                "/=": lambda: old / new}[self.op]()


def _substitute(expr, subexpressions):
    """``expr`` with the subexpressions it names replaced, recursively."""
    for _ in range(len(subexpressions) + 1):
        hits = {s: subexpressions[s.name] for s in expr.free_symbols if s.name in subexpressions}
        if not hits:
            return expr
        expr = expr.xreplace(hits)
    raise ValueError(f"subexpressions refer to each other in a cycle: {', '.join(sorted(subexpressions))}")


def parse(text, variables, subexpressions, known, where):
    """One Brian2 expression as a `JaxExpression`."""
    from brian2.parsing.sympytools import str_to_sympy

    try:
        expr = str_to_sympy(text, variables)
    except Exception as e:  # noqa: BLE001 - Brian2's syntax errors, in one line
        raise ValueError(f"{where}: cannot parse {text!r} ({type(e).__name__}: {' '.join(str(e).split())})") from None
    return JaxExpression(_substitute(expr, subexpressions), known, where)


def statements(code, variables, subexpressions, known, where):
    """Brian2 statements (lines or ``;``-separated) as `Statement` objects;
    the names they assign become known to the statements after them."""
    from brian2.parsing.statements import parse_statement

    out = []
    known = set(known)
    for line in (s.strip() for part in (code or "").split("\n") for s in part.split(";")):
        if not line:
            continue
        var, op, expr, _ = parse_statement(line)
        if op not in ("=", "+=", "-=", "*=", "/="):
            raise ValueError(f"{where}: the operation {op!r} of {line!r} is not supported")
        out.append(Statement(var, op, parse(expr, variables, subexpressions, known, where)))
        known.add(var)
    return tuple(out)


@dataclass(frozen=True)
class NeuronCode:
    """The compiled parts of one neuron declaration (values in SI units)."""

    name: str
    state: dict  # state variable -> numpy dtype
    conditional: dict  # state variable -> the boolean that gates its writes
    parameters: dict  # parameter -> float
    initial: dict  # state variable -> initial value
    update: tuple  # the state updater's statements (refractoriness first)
    threshold: JaxExpression  # Brian2's ``_cond``, refractoriness included
    reset: tuple
    sample_reset: tuple
    surrogate_of: JaxExpression
    delivery: tuple  # statements of a synapse onto this neuron: X_post op f(w, w_unit, Y_post)
    abstract_code: str  # the state updater's abstract code, as Brian2 wrote it
    refractory: bool


@contextlib.contextmanager
def runtime_device():
    """Brian2's runtime device while the probe is built (a standalone
    device would record the probe's arrays in its program)."""
    from brian2.devices.device import RuntimeDevice, get_device, reset_device, set_device

    if isinstance(get_device(), RuntimeDevice):
        yield
        return
    set_device("runtime")
    try:
        yield
    finally:
        reset_device()


def _probe(neuron, surrogate):
    """(abstract code of the state updater, threshold, group variables,
    equations) of a group of this neuron built as the network builds it."""
    from ..neurons import make_group

    with runtime_device():
        group = make_group(neuron, surrogate, 1, "jax_probe*", set_values=False, namespace={})
        try:
            updater = group.state_updater
            updater.update_abstract_code(run_namespace={})
            thresholder = group.thresholder["spike"]
            thresholder.update_abstract_code(run_namespace={})
            return updater.abstract_code, thresholder.abstract_code, dict(group.variables), group.equations
        finally:
            group._network = "jax_probe"  # built for its code only: no "never run" warning
            del group


def neuron_code(neuron, surrogate):
    """Compile a `NeuronModel` with the `Surrogate` of its network (``psi``
    is part of its equations) into a `NeuronCode`."""
    from brian2.parsing.sympytools import str_to_sympy

    where = f"neuron {neuron.name} ({neuron.source})"
    try:
        update_code, threshold_code, variables, equations = _probe(neuron, surrogate)
    except Exception as e:  # noqa: BLE001 - Brian2 cannot build the group: the package's check names the part
        from ..build.checks import check_neuron

        check_neuron(neuron, surrogate)
        raise ValueError(f"{where}: Brian2 cannot build its group ({type(e).__name__}: "
                         f"{' '.join(str(e).split())})") from None
    values = {k: float(v) for k, v in neuron.values(surrogate).items()}
    subexpressions = {eq.varname: str_to_sympy(eq.expr.code, variables)
                      for eq in equations.ordered if eq.type == "subexpression"}
    state, conditional = {}, {}
    for name, var in variables.items():
        if name.startswith("_") or name in _NOT_STATE or name in values or name in subexpressions:
            continue
        if not hasattr(var, "dtype") or getattr(var, "scalar", False):
            continue
        state[name] = np.dtype(var.dtype)
        gate = getattr(var, "conditional_write", None)
        if gate is not None:
            conditional[name] = gate.name
    known = set(state) | set(values) | set(_NOT_STATE)
    var, _, cond = threshold_code.partition(" = ")
    if var.strip() != "_cond":
        raise ValueError(f"{where}: unexpected threshold code {threshold_code!r}")
    initial = {k: float(v) for k, v in neuron.initial_state().items()}
    return NeuronCode(
        name=neuron.name, state=state, conditional=conditional, parameters=values, initial=initial,
        update=statements(update_code, variables, subexpressions, known, f"{where} state update"),
        threshold=parse(cond, variables, subexpressions, known, f"{where} threshold"),
        reset=statements(neuron.reset, variables, subexpressions, known, f"{where} reset"),
        sample_reset=statements(neuron.sample_reset, variables, subexpressions, known, f"{where} sample_reset"),
        surrogate_of=parse(neuron.surrogate_of, variables, subexpressions, known, f"{where} surrogate_of"),
        delivery=_delivery(neuron, state, values, variables, subexpressions, where),
        abstract_code=update_code, refractory="not_refractory" in state)


def _delivery(neuron, state, values, variables, subexpressions, where):
    """The on_pre statements of a projection onto the neuron (`NeuronModel.delivery`),
    checked: they write state variables of the neuron (``X_post``) with
    ``+=`` or ``-=`` and read the weight ``w``, ``w_unit`` and variables of
    the neuron that none of them writes."""
    from brian2.utils.stringtools import get_identifiers

    port = f"{where} input port {neuron.input!r}"
    if neuron.input_variable is not None and neuron.input_variable not in state:
        raise ValueError(f"{port}: {neuron.input_variable} is no state variable of the neuron "
                         f"(its state variables: {', '.join(sorted(state))})")
    own = set(state) | set(values) | set(subexpressions)
    post_subs = {f"{k}_post": e.xreplace({s: sympy.Symbol(f"{s.name}_post", real=True)
                                           for s in e.free_symbols if s.name in own})
                 for k, e in subexpressions.items()}
    post_vars = {f"{k}_post": v for k, v in variables.items() if k in own}
    code = neuron.delivery()
    known = {"w", "w_unit"} | {f"{k}_post" for k in own}
    out = statements(code, post_vars, post_subs, known, port)
    written = {s.var for s in out}
    for s in out:
        if not (s.var.endswith("_post") and s.var[:-len("_post")] in state):
            raise ValueError(f"{port}: a spike may change only state variables of the neuron (X_post), "
                             f"not {s.var}")
        if s.op not in ("+=", "-="):
            raise ValueError(f"{port}: only += and -= are supported for synaptic input, not {s.var} {s.op} ...")
        read = set(get_identifiers(str(s.expr.expr))) & written
        if read:
            raise ValueError(f"{port}: {s.var} depends on {', '.join(sorted(read))}, which a spike changes too")
        if any(n.endswith("_pre") for n in s.expr.names):
            raise ValueError(f"{port}: presynaptic variables in the synaptic input are not supported")
    if not out:
        raise ValueError(f"{port}: no statement delivers a spike")
    return out
