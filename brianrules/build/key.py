"""The build-cache key of a compiled program.

The key hashes the model's structure (`NetworkSpec.structure`: the sizes and
projections, the neuron's declaration without its parameter values, the
surrogate, the rule's factors, the timing, the float type), the number of
samples (the stimulus arrays' length), Brian2's version and the source of
every module of the package.  Values are run values and do not enter.  Two
neurons or two rules never share a build, since their declarations differ,
and a changed package never reuses a program an older one built.

Hashing the whole package, not a list of the modules that shape generated
code, costs a rebuild after an edit anywhere; it cannot miss a module that
starts shaping the code.  A key from the generated model itself (Brian2's
abstract code of every object) would keep the cache across edits that
change no code.
"""

import hashlib
import json
import os

_FINGERPRINT = []


def package_fingerprint():
    """A hash of Brian2's version and every module of the package."""
    if not _FINGERPRINT:
        import brian2

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        h = hashlib.sha256(brian2.__version__.encode())
        for folder, dirs, files in sorted(os.walk(root)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    with open(path, "rb") as f:
                        h.update(os.path.relpath(path, root).encode() + f.read())
        _FINGERPRINT.append(h.hexdigest())
    return _FINGERPRINT[0]


def digest(parts):
    """A build key from ``parts`` (a JSON-able mapping) and the package
    (`package_fingerprint`)."""
    key = json.dumps({**parts, "code": package_fingerprint()}, sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def structure_hash(spec, n_samples):
    """Key of the compiled program of ``spec`` for runs of ``n_samples``."""
    return digest({"structure": spec.structure(), "n_samples": int(n_samples)})
