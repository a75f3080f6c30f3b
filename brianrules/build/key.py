"""The build-cache key, computed from the generated model.

A compiled program is reused when the model Brian2 generates it from is the
same.  The key hashes what code generation reads: every object of the
network built in runtime mode (its class, name, schedule, clock, template
and the abstract code of each of its code blocks, after Brian2 has applied
the state updater) and every variable (name, kind, unit, dtype, size,
scalar, constant, read-only), with the model's structure (`NetworkSpec.structure`),
the number of samples (the stimulus arrays' length), Brian2's version and
the source of `program` (how every program is generated, run and stamped).
Values are run values and do not enter.  So two neurons, two rules or two
versions of the package that generate different code never share a build,
and an edit that changes no generated code keeps the cache.

Computing the key builds the network once in runtime mode (as the equation
check does, seconds); it is remembered for the life of the process.
"""

import hashlib
import json
import os

_MEMO = {}


def _variables(obj):
    out = []
    for name, var in sorted(getattr(obj, "variables", {}).items()):
        out.append([name, type(var).__name__, str(getattr(var, "dim", "")), str(getattr(var, "dtype", "")),
                    getattr(var, "size", None), getattr(var, "scalar", None), getattr(var, "constant", None),
                    getattr(var, "read_only", None)])
    return out


def _describe(obj):
    from brian2 import Quantity

    code = getattr(obj, "abstract_code", None)
    if isinstance(code, dict):
        code = {str(k): v for k, v in sorted(code.items(), key=lambda kv: str(kv[0]))}
    dt = getattr(getattr(obj, "clock", None), "dt_", None)
    return {"class": type(obj).__name__, "name": obj.name, "when": getattr(obj, "when", None),
            "order": getattr(obj, "order", None), "dt": None if dt is None else repr(float(Quantity(dt))),
            "template": getattr(obj, "template", None), "code": code, "variables": _variables(obj)}


def generated_model(spec):
    """The model Brian2 generates code from, as JSON text (see the module's docstring)."""
    from brian2 import prefs, second, set_device, start_scope

    from ..floats import float_dtype, state_check_quiet
    from .model import Model

    # as the equation check does: the runtime device, left active (a standalone
    # runner activates a device of its own; re-activating an earlier device
    # would re-apply its build options and preferences)
    set_device("runtime")
    target = prefs.codegen.target
    prefs.codegen.target = "numpy"
    try:
        start_scope()
        with float_dtype(spec.dtype), state_check_quiet(spec.dtype):
            model = Model(spec, 1)
            model.network.run(0 * second, namespace={})  # prepares every code object, runs no step
            objects = sorted(model.network.sorted_objects, key=lambda o: o.name)
            text = json.dumps([_describe(o) for o in objects], sort_keys=True, default=str)
    finally:
        prefs.codegen.target = target
    return text


def _engine_source():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(here, "program.py"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def structure_hash(spec, n_samples):
    """Key of the compiled program of ``spec`` for runs of ``n_samples``."""
    import brian2

    structure = json.dumps(spec.structure(), sort_keys=True, default=str)
    memo = (structure, int(n_samples))
    if memo not in _MEMO:
        key = json.dumps({"structure": structure, "n_samples": int(n_samples), "brian2": brian2.__version__,
                          "engine": _engine_source(), "model": generated_model(spec)}, sort_keys=True)
        _MEMO[memo] = hashlib.sha256(key.encode()).hexdigest()[:16]
    return _MEMO[memo]
