"""Run a `Model` on a Brian2 device: build once, run many times.

- ``runtime``: Brian2's in-process code generation (NumPy target).  Nothing
  is compiled; each run builds the network afresh with the run's values.
- ``cpp_standalone``: a generated C++ program, compiled once.  Every later
  run is ``device.run(run_args=...)`` with new weights, stimulus, targets,
  learning gate, seeds and parameter values.

The build folder of a standalone program is keyed by a hash of the model's
structure (`network.structure_hash`), so a second command with a model of the
same structure finds the compiled program and compiles nothing.
"""

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")


def cache_dir():
    base = os.environ.get("BRIANRULES_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "brianrules"
    )
    return os.path.join(base, "build")


class BuildError(RuntimeError):
    """Generating or compiling a program failed."""


@dataclass
class RunResult:
    weights: list  # forward weight matrices after the run
    counts: np.ndarray  # output spike counts, samples x n_out
    hidden_rates: list  # mean rate per hidden layer (Hz)
    wall_s: float


def preflight(spec):
    """Build the model's Brian2 objects in runtime mode and let Brian2 check
    every equation (syntax, identifiers, units) without compiling anything.

    Raises ValueError with Brian2's own message and the object it concerns.
    """
    from brian2 import prefs, second, set_device, start_scope
    from brian2.core.base import BrianObjectException

    from .network import Model

    set_device("runtime")
    prefs.codegen.target = "numpy"
    start_scope()
    what = "the model's equations do not work"
    if spec.rule.post_expr is not None:
        what += f" (post_expr {spec.rule.post_expr!r})"
    try:
        model = Model(spec, 1)
        model.network.run(0 * second, namespace={})  # prepares every object, runs no step
    except BrianObjectException as e:
        import re

        cause = e.__cause__ or e
        found = re.search(r"object named '([^']+)'", str(e))
        where = f" in object '{found.group(1)}'" if found else ""
        raise ValueError(f"{what}{where}: {_one_line(cause)}") from None
    except Exception as e:  # SyntaxError, unknown identifiers, DimensionMismatchError, ...
        raise ValueError(f"{what}: {_one_line(e)}") from None


def _one_line(err):
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}"


def check_device(name):
    if name not in DEVICES:
        raise ValueError(f"unknown device '{name}' (choose from {', '.join(DEVICES)})")


def make_runner(device, spec, n_samples, threads=1, build_dir=None, log=print, progress=True,
                cuda_arch=None):
    check_device(device)
    if device == "runtime":
        return RuntimeRunner(spec, n_samples)
    if device == "cuda_standalone":
        from .cuda import CudaStandaloneRunner  # brian2cuda is optional

        return CudaStandaloneRunner(spec, n_samples, threads=threads, build_dir=build_dir, log=log,
                                    progress=progress, cuda_arch=cuda_arch)
    return StandaloneRunner(spec, n_samples, threads=threads, build_dir=build_dir, log=log,
                            progress=progress)


class RuntimeRunner:
    """Brian2 runtime mode; used for small checks and as a reference."""

    device = "runtime"
    compile_s = 0.0
    cached = False

    def __init__(self, spec, n_samples):
        self.spec = spec
        self.n_samples = n_samples

    def run(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0, monitors=None):
        from brian2 import TimedArray, prefs, set_device, start_scope

        from .network import Model

        set_device("runtime")
        prefs.codegen.target = "numpy"
        start_scope()
        t0 = time.perf_counter()
        model = Model(self.spec, self.n_samples, stim=stim, tgt=tgt, learn=learn)
        for target, value in model.values(weights, feedback, stim, tgt, learn, noise_seed, lr_scale):
            if not isinstance(target, TimedArray):  # those were set at construction
                target[:] = value
        extra = monitors(model) if monitors else []
        model.network.add(*extra)
        model.network.run(model.duration, namespace={})
        result = RunResult(model.read_weights(), model.output_counts(), model.hidden_rates(),
                           time.perf_counter() - t0)
        self.last_model = model
        self.last_monitors = extra
        return result

    def close(self):
        pass


class CompiledProgram:
    """What every compiled program shares: a build folder claimed from the
    cache, runs through ``run_args``, and the release of both.  Subclasses
    set ``spec``, ``n_samples``, ``model`` and ``_device`` and build."""

    _lock = None
    _private = None  # a temporary build folder, removed on close

    def _claim_build_dir(self, build_dir, key):
        """Use ``build_dir``, or the cache folder ``key`` if it is None; when
        another command holds that folder, build in a private one instead."""
        if build_dir is None:
            build_dir = os.path.join(cache_dir(), key)
            os.makedirs(build_dir, exist_ok=True)
            lock = open(os.path.join(build_dir, ".lock"), "w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock = lock
            except OSError:  # another command uses this build: build privately
                lock.close()
                build_dir = tempfile.mkdtemp(prefix=f"brianrules-{key}-")
                self._private = build_dir
        os.makedirs(build_dir, exist_ok=True)
        self.build_dir = build_dir
        self.cached = os.path.exists(os.path.join(build_dir, "main"))
        return build_dir

    def run(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0):
        from brian2.devices.device import get_device, reset_device, set_device

        t0 = time.perf_counter()
        run_args = dict(self.model.values(weights, feedback, stim, tgt, learn, noise_seed, lr_scale))
        # results are read through the current device: make it this program's
        switched = get_device() is not self._device
        if switched:
            set_device(self._device, build_on_run=False)
        try:
            sys.stdout.flush()
            self._device.run(run_args=run_args, with_output=True)
            return RunResult(self.model.read_weights(), self.model.output_counts(),
                             self.model.hidden_rates(), time.perf_counter() - t0)
        finally:
            if switched:
                reset_device()

    def close(self):
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None
        restore_runtime()
        forget_device(self._device)


class StandaloneRunner(CompiledProgram):
    """A C++ standalone program compiled once and run with ``run_args``."""

    device = "cpp_standalone"

    def __init__(self, spec, n_samples, threads=1, build_dir=None, log=print, progress=True,
                 monitors=None):
        from .network import Model, structure_hash

        self.spec = spec
        self.n_samples = n_samples
        build_dir = self._claim_build_dir(build_dir, structure_hash(spec, n_samples) + f"-t{threads}")
        self._device = activate_standalone(build_dir, threads)
        self.model = Model(spec, n_samples)
        self.extra = monitors(self.model) if monitors else []
        self.model.network.add(*self.extra)
        report = "text" if progress else None
        self.model.network.run(self.model.duration, report=report, report_period=5 * _second(), namespace={})
        t0 = time.perf_counter()
        sys.stdout.flush()
        try:
            with _quiet_fd(1, enabled=True):
                self._device.build(directory=build_dir, compile=True, run=False, with_output=False)
        except Exception as e:
            self.close()
            raise BuildError(f"building the C++ program in {build_dir} failed: {e}") from e
        self.compile_s = time.perf_counter() - t0
        restore_runtime()


def forget_device(dev):
    """Drop Brian2's reference to a finished device: its objects would
    otherwise stay alive, and the next program built in this process would
    get renamed code objects (``..._codeobject_1``) and recompile."""
    import brian2.devices.device  # noqa: F401  (the module, not the proxy of the same name)

    device_module = sys.modules["brian2.devices.device"]
    device_module.previous_devices[:] = [entry for entry in device_module.previous_devices
                                         if entry[0] is not dev]


def activate_standalone(directory, threads=1, build_on_run=False):
    """Make a new cpp_standalone device current and return it.

    Each program gets a device instance of its own (Brian2's
    ``set_device("cpp_standalone")`` would hand out one shared instance, and
    re-initialising it for a second program destroys the first), so several
    compiled programs can live side by side in one process.
    """
    from brian2 import prefs, set_device
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    dev = CPPStandaloneDevice()
    set_device(dev, directory=directory, build_on_run=build_on_run)
    # 0 means no OpenMP at all (1 would compile OpenMP code for one thread)
    prefs.devices.cpp_standalone.openmp_threads = int(threads) if threads > 1 else 0
    return dev


def restore_runtime():
    from brian2 import set_device

    set_device("runtime")


@contextlib.contextmanager
def cpp_standalone(directory, threads=1):
    """Run the enclosed Brian2 code as a C++ standalone program built on
    ``run()`` in ``directory``; back on the runtime device afterwards."""
    activate_standalone(directory, threads, build_on_run=True)
    try:
        yield
    finally:
        restore_runtime()


def _second():
    from brian2 import second

    return second


@contextlib.contextmanager
def _quiet_fd(fd, enabled=True):
    """Silence a file descriptor (the compiler's chatter) while building."""
    if not enabled:
        yield
        return
    saved = os.dup(fd)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def working_devices():
    """Which devices work on this machine, with the reason when one does not."""
    import shutil

    out = {"runtime": (True, "Brian2 runtime mode (NumPy target)")}
    cxx = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
    out["cpp_standalone"] = (cxx is not None, f"C++ compiler: {cxx}" if cxx else "no C++ compiler found (install g++)")
    from .cuda import status as cuda_status

    out["cuda_standalone"] = cuda_status()
    return out
