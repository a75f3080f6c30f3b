"""Runners of a recurrent e-prop network (`build.recurrent.EpropModel`).

A runner runs one batch of sequences with given weights and returns the
readouts and the batch's mean e-prop gradient:

- `EpropRuntime`: Brian2's runtime device, in this process (small checks);
- `EpropProgram`: the C++ standalone program from the build cache
  (`devices.StandaloneRunner`), compiled once for a network's structure and
  a batch's shape; weights, sequences and every numeric parameter are run
  values, so later batches, iterations and trainings compile nothing;
- `EpropReference`: the NumPy reference (`reference.recurrent.simulate`).

`make_runner` picks one by device name.
"""

import time

from ..devices import StandaloneRunner
from ..program import restore_runtime

DEVICES = ("cpp_standalone", "runtime", "reference")

#: the fields of `EpropNetwork` that shape the generated code (the others are run values)
STRUCTURE = ("n_in", "n_lif", "n_alif", "n_out", "dt", "loss", "self_connections")


def eprop_key(net, steps, n_seq, threads=1):
    """Name of the cache folder of the program: the network's `STRUCTURE`,
    the batch's shape and the package (`build.key.digest`)."""
    from ..build.key import digest

    structure = {name: getattr(net, name) for name in STRUCTURE}
    key = digest({"eprop": repr(sorted(structure.items())), "steps": int(steps), "n_seq": int(n_seq)})
    return f"eprop-{key}-t{int(threads)}"


def _result(read, n_seq, t0):
    grads = {k: g / n_seq for k, g in read["grads"].items()}  # (no synapse, no entry: the diagonal stays 0)
    return {"y": read["y"], "grads": grads, "rate_hz": read["rate_hz"], "wall_s": time.perf_counter() - t0}


class EpropRuntime:
    """Brian2's runtime device (NumPy target), a network built per batch."""

    device = "runtime"
    compile_s = 0.0

    def __init__(self, net, steps, n_seq):
        self.net, self.steps, self.n_seq = net, int(steps), int(n_seq)

    def run(self, params, inputs, targets, mask):
        from brian2 import TimedArray, prefs, set_device, start_scope

        from ..build.recurrent import EpropModel

        t0 = time.perf_counter()
        set_device("runtime")
        prefs.codegen.target = "numpy"
        start_scope()
        model = EpropModel(self.net, self.steps, self.n_seq, sequences=(inputs, targets, mask))
        for target, value in model.values(params, inputs, targets, mask):
            if not isinstance(target, TimedArray):  # those were set at construction
                target[:] = value
        model.network.run(model.duration, namespace={})
        return _result(model.read(), self.n_seq, t0)

    def close(self):
        pass


class EpropProgram(StandaloneRunner):
    """The network as a C++ program from the build cache."""

    def __init__(self, net, steps, n_seq, threads=1, build_dir=None):
        self.net, self.steps, self.n_seq = net, int(steps), int(n_seq)
        self._compile(eprop_key(net, steps, n_seq, threads), threads, build_dir,
                      lambda: self._populate(None, progress=False))

    def _new_model(self):
        from brian2 import start_scope

        from ..build.recurrent import EpropModel

        start_scope()
        return EpropModel(self.net, self.steps, self.n_seq)

    @property
    def dtype(self):
        return "float64"

    def run(self, params, inputs, targets, mask):
        t0 = time.perf_counter()
        run_args = dict(self.model.values(params, inputs, targets, mask))
        return self.execute(run_args, lambda: _result(self.model.read(), self.n_seq, t0))


class EpropReference:
    """The NumPy reference, as a runner."""

    device = "reference"
    compile_s = 0.0

    def __init__(self, net, steps, n_seq):
        self.net, self.steps, self.n_seq = net, int(steps), int(n_seq)

    def run(self, params, inputs, targets, mask):
        from ..reference.recurrent import simulate

        t0 = time.perf_counter()
        out = simulate(self.net, params, inputs, targets, mask)
        return {"y": out["y"], "grads": out["grads"], "rate_hz": float(out["rate_hz"].mean()),
                "wall_s": time.perf_counter() - t0}

    def close(self):
        pass


def make_runner(device, net, steps, n_seq, threads=1, build_dir=None):
    """The runner of ``net`` for batches of ``n_seq`` sequences of ``steps``
    steps on ``device`` (one of `DEVICES`)."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r} for an e-prop network (choose from {', '.join(DEVICES)})")
    if device == "runtime":
        return EpropRuntime(net, steps, n_seq)
    if device == "reference":
        return EpropReference(net, steps, n_seq)
    try:
        return EpropProgram(net, steps, n_seq, threads=threads, build_dir=build_dir)
    finally:
        restore_runtime()


__all__ = ["DEVICES", "EpropProgram", "EpropReference", "EpropRuntime", "eprop_key", "make_runner"]
