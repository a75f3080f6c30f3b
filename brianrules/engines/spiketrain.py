"""Runners of a SuperSpike network (`build.spiketrain.SuperSpikeModel`).

A runner runs ``n_steps`` steps of the network from a carried state with
given weights, learning inside the run, and returns ``(params, state,
record)`` as `reference.spiketrain.simulate` does:

- `SuperSpikeRuntime`: Brian2's runtime device, in this process (small checks);
- `SuperSpikeProgram`: the C++ standalone program from the build cache,
  compiled once for a network's structure, a raster's length and a run's
  length; weights, state, rasters and every numeric parameter are run
  values;
- `SuperSpikeReference`: the NumPy reference.

`make_runner` picks one by device name.
"""

from ..devices import StandaloneRunner
from ..program import restore_runtime

DEVICES = ("cpp_standalone", "runtime", "reference")

#: the fields of `SuperSpikeNetwork` that shape the generated code (the others are run values)
STRUCTURE = ("n_in", "n_hidden", "n_out", "dt", "feedback", "update_interval")


def superspike_key(net, steps, n_steps, threads=1):
    """Name of the cache folder of the program (`build.key.digest`)."""
    from ..build.key import digest

    structure = {name: getattr(net, name) for name in STRUCTURE}
    key = digest({"superspike": repr(sorted(structure.items())), "steps": int(steps), "n_steps": int(n_steps)})
    return f"superspike-{key}-t{int(threads)}"


class SuperSpikeRuntime:
    """Brian2's runtime device (NumPy target), a network built per run."""

    device = "runtime"
    compile_s = 0.0

    def __init__(self, net, steps, n_steps):
        self.net, self.steps, self.n_steps = net, int(steps), int(n_steps)

    def run(self, params, state, stim, target, n0, eta, learn=True):
        from brian2 import TimedArray, prefs, set_device, start_scope

        from ..build.spiketrain import SuperSpikeModel

        set_device("runtime")
        prefs.codegen.target = "numpy"
        start_scope()
        model = SuperSpikeModel(self.net, self.steps, self.n_steps, rasters=(stim, target))
        for tgt, value in model.values(params, state, stim, target, n0, eta, learn):
            if not isinstance(tgt, TimedArray):  # those were set at construction
                tgt[:] = value
        model.network.run(model.duration, namespace={})
        return model.read(self.net.check_params(params), n0)

    def close(self):
        pass


class SuperSpikeProgram(StandaloneRunner):
    """The network as a C++ program from the build cache."""

    def __init__(self, net, steps, n_steps, threads=1, build_dir=None):
        self.net, self.steps, self.n_steps = net, int(steps), int(n_steps)
        self._compile(superspike_key(net, steps, n_steps, threads), threads, build_dir,
                      lambda: self._populate(None, progress=False))

    def _new_model(self):
        from brian2 import start_scope

        from ..build.spiketrain import SuperSpikeModel

        start_scope()
        return SuperSpikeModel(self.net, self.steps, self.n_steps)

    @property
    def dtype(self):
        return "float64"

    def run(self, params, state, stim, target, n0, eta, learn=True):
        run_args = dict(self.model.values(params, state, stim, target, n0, eta, learn))
        return self.execute(run_args, lambda: self.model.read(self.net.check_params(params), n0))


class SuperSpikeReference:
    """The NumPy reference, as a runner."""

    device = "reference"
    compile_s = 0.0

    def __init__(self, net, steps, n_steps):
        self.net, self.steps, self.n_steps = net, int(steps), int(n_steps)

    def run(self, params, state, stim, target, n0, eta, learn=True):
        from ..reference.spiketrain import simulate

        return simulate(self.net, params, state, stim, target, n0, self.n_steps, eta, learn=learn, record_from=0)

    def close(self):
        pass


def make_runner(device, net, steps, n_steps, threads=1, build_dir=None):
    """The runner of ``net`` on a raster of ``steps`` steps, for runs of
    ``n_steps`` steps on ``device`` (one of `DEVICES`)."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r} for a SuperSpike network (choose from {', '.join(DEVICES)})")
    if device == "runtime":
        return SuperSpikeRuntime(net, steps, n_steps)
    if device == "reference":
        return SuperSpikeReference(net, steps, n_steps)
    try:
        return SuperSpikeProgram(net, steps, n_steps, threads=threads, build_dir=build_dir)
    finally:
        restore_runtime()


__all__ = ["DEVICES", "SuperSpikeProgram", "SuperSpikeReference", "SuperSpikeRuntime", "make_runner",
           "superspike_key"]
