"""Brian2's exact integration, remembered on disk.

Brian2 solves linear equations exactly with sympy (a matrix exponential
through a Jordan form), which takes seconds for an LIF neuron, and caches
the result only for the life of the process.  Every training, sweep point
and test starts a process, so the same few solutions were computed again
and again.  `exact()` gives a state updater that returns Brian2's own
abstract code, stored under the build cache keyed by the Brian2 version,
the equations and the properties of the variables they use.
"""

import hashlib
import os

from brian2.stateupdaters.base import StateUpdateMethod

_INSTANCES = {}


def _describe(variables, names):
    """What the exact solver may depend on: each variable's kind, unit,
    constancy and scalarity (and dt's value, for constant-over-dt checks)."""
    out = []
    for name in sorted(names):
        var = (variables or {}).get(name)
        if var is None:
            out.append((name, None))
            continue
        desc = [name, type(var).__name__, str(getattr(var, "dim", "")), getattr(var, "constant", None),
                getattr(var, "scalar", None), getattr(var, "read_only", None)]
        if name == "dt":
            try:
                desc.append(repr(float(var.get_value()[0])))
            except Exception:  # noqa: BLE001 - no value yet: leave it out of the key
                pass
        out.append(tuple(desc))
    return out


class DiskCachedStateUpdater(StateUpdateMethod):
    """A registered Brian2 state updater whose results are kept on disk."""

    def __init__(self, name):
        self.name = name
        self.__name__ = name
        self.inner = StateUpdateMethod.stateupdaters[name]

    def can_integrate(self, equations, variables, method_options=None):
        return self.inner.can_integrate(equations, variables, method_options)

    def _key(self, equations, variables, method_options):
        import brian2

        names = set(equations.identifiers) | set(equations.names) | {"dt", "t"}
        text = repr((self.name, brian2.__version__, str(equations), _describe(variables, names),
                     sorted((method_options or {}).items())))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def __call__(self, equations, variables=None, method_options=None):
        from .devices import cache_dir

        folder = os.path.join(os.path.dirname(cache_dir()), "stateupdaters")
        path = os.path.join(folder, f"{self.name}-{self._key(equations, variables, method_options)}.txt")
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            pass
        code = self.inner(equations, variables, method_options)
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
    """Brian2's ``exact`` method, remembered on disk."""
    if "exact" not in _INSTANCES:
        _INSTANCES["exact"] = DiskCachedStateUpdater("exact")
    return _INSTANCES["exact"]
