"""Brian2's exact integration, safe at removable singularities and remembered on disk.

Brian2 solves linear equations exactly with sympy (a matrix exponential
through a Jordan form), which takes seconds for an LIF neuron, and caches
the result only for the life of the process.  Every training, sweep point
and test starts a process, so the same few solutions were computed again
and again.  `exact()` gives a state updater that returns Brian2's abstract
code, rewritten by `remove_singularities`, stored under the build cache and
keyed by the Brian2 version, the equations, the properties of the variables
they use and `CODE_VERSION` (with `TAYLOR_ORDER` and `SWITCH`).

The rewriting, and why it is exact outside a narrow band and accurate inside
it, is `brianrules.singularities`.
"""

import hashlib
import os

from brian2.stateupdaters.base import StateUpdateMethod

from .paths import cache_dir
from .singularities import SWITCH, TAYLOR_ORDER, float_type, remove_singularities

_INSTANCES = {}

#: part of the disk cache's key: bumped whenever the code this module writes changes
CODE_VERSION = "removable-singularities-1"


def _describe(variables, names):
    """What the exact solver may depend on: each variable's kind, unit,
    constancy, scalarity and type (and dt's value, for constant-over-dt checks)."""
    out = []
    for name in sorted(names):
        var = (variables or {}).get(name)
        if var is None:
            out.append((name, None))
            continue
        desc = [name, type(var).__name__, str(getattr(var, "dim", "")), getattr(var, "constant", None),
                getattr(var, "scalar", None), getattr(var, "read_only", None), str(getattr(var, "dtype", ""))]
        if name == "dt":
            try:
                desc.append(repr(float(var.get_value()[0])))
            except Exception:  # noqa: BLE001 - no value yet: leave it out of the key
                pass
        out.append(tuple(desc))
    return out


class DiskCachedStateUpdater(StateUpdateMethod):
    """A registered Brian2 state updater whose results are made safe at
    removable singularities (`remove_singularities`) and kept on disk."""

    def __init__(self, name):
        self.name = name
        self.__name__ = name
        self.inner = StateUpdateMethod.stateupdaters[name]

    def can_integrate(self, equations, variables, method_options=None):
        return self.inner.can_integrate(equations, variables, method_options)

    def _key(self, equations, variables, method_options):
        import brian2

        names = set(equations.identifiers) | set(equations.names) | {"dt", "t"}
        text = repr((self.name, CODE_VERSION, TAYLOR_ORDER, SWITCH, brian2.__version__, str(equations),
                     _describe(variables, names), sorted((method_options or {}).items())))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def __call__(self, equations, variables=None, method_options=None):
        folder = os.path.join(os.path.dirname(cache_dir()), "stateupdaters")
        path = os.path.join(folder, f"{self.name}-{self._key(equations, variables, method_options)}.txt")
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            pass
        code = self.inner(equations, variables, method_options)
        code = remove_singularities(code, equations, variables, SWITCH[float_type(equations, variables)])
        try:
            os.makedirs(folder, exist_ok=True)
            tmp = f"{path}.tmp-{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(code)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs time
        return code

    def __repr__(self):
        return f"{self.name} (cached on disk)"


def exact():
    """Brian2's ``exact`` method, safe at removable singularities, remembered on disk."""
    if "exact" not in _INSTANCES:
        _INSTANCES["exact"] = DiskCachedStateUpdater("exact")
    return _INSTANCES["exact"]


class ExactOrBrian2s(StateUpdateMethod):
    """`exact` for linear equations, else the first of Brian2's fallbacks
    (euler, heun) that integrates them: Brian2's own choice, without its
    log line for every group."""

    __name__ = "exact, else euler or heun"
    FALLBACKS = ("euler", "heun")

    def can_integrate(self, equations, variables, method_options=None):
        return True

    def __call__(self, equations, variables=None, method_options=None):
        from brian2.stateupdaters.base import UnsupportedEquationsException

        try:
            return exact()(equations, variables, method_options)
        except UnsupportedEquationsException:
            pass
        for name in self.FALLBACKS:
            try:
                return StateUpdateMethod.stateupdaters[name](equations, variables, method_options)
            except UnsupportedEquationsException:
                continue
        raise UnsupportedEquationsException("no integration method of exact, euler and heun integrates these "
                                            "equations: name one in the neuron's declaration (method = ...)")


def method_for(name=None):
    """The state updater of a neuron that names ``name`` (None: exact if
    linear, else Brian2's choice); ``"exact"`` is the singularity-safe one."""
    if name is None:
        if "auto" not in _INSTANCES:
            _INSTANCES["auto"] = ExactOrBrian2s()
        return _INSTANCES["auto"]
    return exact() if name == "exact" else name
