"""Run a `Model` on a Brian2 device: build once, run many times.

- ``runtime``: Brian2's in-process code generation (NumPy target).  Nothing
  is compiled; each run builds the network afresh with the run's values.
- ``cpp_standalone``: a generated C++ program, compiled once.  Every later
  run is ``device.run(run_args=...)`` with new weights, stimulus, targets,
  learning gate, seeds and parameter values.

The build folder of a standalone program is keyed by a hash of the model's
structure (`build.key.structure_hash`), so a second command with a model of the
same structure finds the compiled program and compiles nothing.  A finished
C++ build leaves a stamp (`program.BUILD_STAMP`: the key, Brian2's version, the
compiler and its flags, and a hash of the generated code); a later process whose program has the same stamp
skips code generation and ``make`` altogether.
"""

import contextlib
import os
import sys
import time

from .floats import float_dtype, state_check_quiet
from .paths import cache_dir
from .progress import REPORT_PERIOD_S
from .program import (BuildError, CompiledProgram, RunResult, _check_complete,
                      _held_stderr, _quiet_fd, _read_stamp, build_interrupted, canonical_clock_order,
                      generated_code_hash, openmp_threads, restore_runtime, same_code_everywhere, same_time_device,
                      usable_cores)

DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")


def preflight(spec):
    """Build the model's Brian2 objects in runtime mode and let Brian2 check
    every equation (syntax, identifiers, units) without compiling anything.

    Raises ValueError with Brian2's own message and the object it concerns.
    """
    from brian2 import prefs, second, set_device, start_scope
    from brian2.core.base import BrianObjectException

    from .network import Model, check_post_expr

    from .build.checks import check_neuron

    for neuron in spec.all_neurons():
        check_neuron(neuron, spec.surrogate)  # each part of the declaration, named in the message
    set_device("runtime")
    prefs.codegen.target = "numpy"
    start_scope()
    with float_dtype(spec.dtype):
        check_post_expr(spec)
    start_scope()
    what = "the model's equations do not work"
    if spec.rule.post_expr is not None:
        what += f" (post_expr {spec.rule.post_expr!r})"
    try:
        with float_dtype(spec.dtype), state_check_quiet(spec.dtype):
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


def check_runnable(device, cuda_arch=None):
    """Refuse, before anything is written or compiled, a device whose
    program could not run on this machine (cuda_standalone: no toolkit,
    brian2cuda or cuRAND, or no GPU)."""
    check_device(device)
    if device == "cuda_standalone":
        from . import cuda

        if cuda_arch is not None:
            cuda.parse_arch(cuda_arch)
        cuda.check_tools()
        if not cuda.gpus():
            raise ValueError("device cuda_standalone: this machine has no NVIDIA GPU to run the CUDA program "
                             "(no GPU from nvidia-smi, no /dev/nvidia0)")


#: synapses of a network (every projection's n_pre x n_post) from which
#: ``threads="auto"`` runs the C++ program on 2 threads, by the rule's
#: timing; None: never.  Brian2's OpenMP code opens a parallel region in every
#: code object of every time step, so a small network spends its step waking
#: threads.  Samples/s on 1 and 2 threads on this project's 2-core machine
#: (dfa; `scripts/thread_crossover.py`, BENCHMARKS.md, "Threads"; the
#: 784-H-10 rows measured after the event-driven form's per-step cuts):
#:
#:     network        synapses   clock-driven   event-driven
#:     64-100-10         7,400     738 / 307     1403 / 115
#:     784-30-10        23,820     241 / 196      651 / 217
#:     784-100-10       79,400      80 / 106      377 / 206
#:     784-400-10      317,600      21 / 26       114 / 75
#:     784-1000-10     794,000     7.7 / 13.5      36 / 35
#:
#: The event-driven form touches a synapse only on presynaptic spikes: no
#: network measured ran it faster on 2 threads, so ``auto`` gives it 1.
AUTO_THREADS_SYNAPSES = {"clock": 50_000, "event": None}
#: the most threads ``threads="auto"`` uses: more were not measured
AUTO_THREADS_MAX = 2


#: environment variable: the cores a program may take with ``threads="auto"``
#: (a sweep that runs J points at a time gives each its share)
CORES_VARIABLE = "BRIANRULES_CORES"


def available_cores():
    """The cores this process's programs may run on: `CORES_VARIABLE` where
    it is set, else those the process may run on less those that other
    processes keep busy now (`busy_cores`), at least 1.  OpenMP threads
    that wait for a core at every step's barriers are far slower than one
    thread: a training of 784-1000-10 clock-driven on 2 threads, beside two
    running trainings on this project's 2 cores, ran at about 0.25
    samples/s (12.8 on the quiet machine)."""
    given = os.environ.get(CORES_VARIABLE)
    if given:
        try:
            return max(1, int(given))
        except ValueError:
            raise ValueError(f"{CORES_VARIABLE} must be a number of cores, got {given!r}") from None
    return max(1, usable_cores() - busy_cores())


def busy_cores(path="/proc/loadavg", reads=5, pause_s=0.01):
    """Cores that other processes keep busy at this moment: the tasks the
    kernel has runnable (the numerator of ``path``'s fourth field), less
    the one reading it, the fewest of ``reads`` reads ``pause_s`` apart (a
    CPU-bound process is runnable in every read, a passing one in few);
    0 where ``path`` cannot be read (not Linux)."""
    fewest = None
    for k in range(reads):
        try:
            with open(path) as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return 0
        fewest = running - 1 if fewest is None else min(fewest, running - 1)
        if k + 1 < reads:
            time.sleep(pause_s)
    return max(0, fewest)


def resolve_threads(threads, spec, device="cpp_standalone"):
    """The OpenMP threads of ``spec``'s program: ``threads`` itself, or for
    "auto" 1 below the `AUTO_THREADS_SYNAPSES` of the rule's timing, where it
    is None, and off cpp_standalone, else as many as there are cores, up to
    `AUTO_THREADS_MAX`."""
    if threads != "auto":
        from .build.batch import threads_refusal

        why = threads_refusal(spec.batch, int(threads))
        if why:
            raise ValueError(why)
        return int(threads)
    if device != "cpp_standalone" or spec.batch > 1:  # a batch's copies add into shared weights serially
        return 1
    synapses = sum(a * b for a, b in spec.projection_shapes)
    crossover = AUTO_THREADS_SYNAPSES["event" if spec.rule.timing == "event" else "clock"]
    if crossover is None:
        return 1
    return min(available_cores(), AUTO_THREADS_MAX) if synapses >= crossover else 1


def program_key(spec, n_samples, threads=1):
    """Name of the cache folder of the C++ program of ``spec``."""
    from .build.key import structure_hash

    return structure_hash(spec, n_samples) + f"-t{int(threads)}"


def program_identity(key, threads=1):
    """Everything besides the key that decides the C++ binary."""
    from brian2 import __version__ as brian2_version
    from brian2 import prefs
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    compiler, args = get_compiler_and_args()
    return {"key": key, "brian2": brian2_version, "compiler": compiler, "compile_args": list(args),
            "link_args": list(prefs["codegen.cpp.extra_link_args"]),
            "define_macros": [list(m) for m in prefs["codegen.cpp.define_macros"]],
            "include_dirs": list(prefs["codegen.cpp.include_dirs"]),
            "libraries": list(prefs["codegen.cpp.libraries"]),
            "openmp_threads": openmp_threads(threads), "CXX": os.environ.get("CXX")}


def is_built(spec, n_samples, threads=1, build_dir=None):
    """Whether the cache holds the finished C++ program of ``spec`` (then
    its equations have been checked and compiled before)."""
    try:
        key = program_key(spec, n_samples, threads)
    except Exception:  # noqa: BLE001 - a model Brian2 cannot build: the check (preflight) says why
        return False
    build_dir = build_dir or os.path.join(cache_dir(), key)
    stamp = _read_stamp(build_dir) or {}
    stamp.pop("code", None)  # monitors and progress reports change the code, not the equations
    return os.path.exists(os.path.join(build_dir, "main")) and stamp == program_identity(key, threads)


def make_runner(device, spec, n_samples, threads=1, build_dir=None, log=print, progress=True,
                cuda_arch=None, batch_size=None):
    """The runner of ``spec`` on ``device``; a rule that learns by a
    gradient (`rules.bptt`) runs on the JAX engine (`engines.bptt`)
    whatever the device."""
    check_device(device)
    if spec.rule.gradient == "bptt":
        from .engines.bptt import BpttRunner

        return BpttRunner(spec, n_samples, batch_size=batch_size, log=log)
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

    def run(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0, monitors=None,
            optimizer_state=None, on_progress=None):
        """Run the model once in this process; a run cut short by a stop
        request raises `interrupt.Interrupted` (see `CompiledProgram.run`).
        ``on_progress(fraction)``: called as the run goes on (Brian2's
        report hook, with a Python function)."""
        from brian2 import TimedArray, prefs, second, set_device, start_scope

        from . import interrupt
        from .network import Model

        set_device("runtime")
        prefs.codegen.target = "numpy"
        start_scope()
        t0 = time.perf_counter()
        with float_dtype(self.spec.dtype):
            model = Model(self.spec, self.n_samples, stim=stim, tgt=tgt, learn=learn)
            for target, value in model.values(weights, feedback, stim, tgt, learn, noise_seed, lr_scale,
                                              optimizer_state):
                if not isinstance(target, TimedArray):  # those were set at construction
                    target[:] = value
            extra = monitors(model) if monitors else []
            model.network.add(*extra)
            stops = interrupt.active()
            stops.check()
            with state_check_quiet(self.spec.dtype):
                reports = {} if on_progress is None else {
                    "report": lambda elapsed, completed, start, duration: on_progress(float(completed)),
                    "report_period": REPORT_PERIOD_S * second}
                model.network.run(model.duration, namespace={}, **reports)  # stops early on a stop request
            _check_complete(stops, float(model.network.t / model.duration))
        result = RunResult(model.read_weights(), model.output_counts(), model.hidden_rates(),
                           time.perf_counter() - t0, model.read_optimizer_state(), model.read_feedback(),
                           model.read_diagnostics())
        self.last_model = model
        self.last_monitors = extra
        return result

    def close(self):
        pass


class StandaloneRunner(CompiledProgram):
    """A C++ standalone program compiled once and run with ``run_args``."""

    device = "cpp_standalone"

    def __init__(self, spec, n_samples, threads=1, build_dir=None, log=print, progress=True,
                 monitors=None):
        self.spec = spec
        self.n_samples = n_samples
        self._compile(program_key(spec, n_samples, threads), threads, build_dir,
                      lambda: self._populate(monitors, progress))

    def _compile(self, key, threads, build_dir, populate):
        """Claim the build folder ``key`` of the cache (or ``build_dir``),
        create the program's objects on a device of its own (``populate()``)
        and build them, unless the folder holds that program already."""
        build_dir = self._claim_build_dir(build_dir, key)
        self._device = activate_standalone(build_dir, threads)
        try:
            with float_dtype(self.dtype):  # variables are created here, code written at the build
                populate()
                t0 = time.perf_counter()
                sys.stdout.flush()
                self._device.main_queue[:] = canonical_clock_order(self._device.main_queue)
                identity = {**program_identity(key, threads), "code": generated_code_hash(self._device)}

                def build():
                    with _quiet_fd(1, enabled=True), _held_stderr():
                        self._device.build(directory=build_dir, compile=True, run=False, with_output=False)

                try:
                    self._build_unless_stamped(identity, build)
                except Exception as e:
                    stopped = build_interrupted(e)
                    if stopped is not None:
                        raise stopped from None
                    raise BuildError(f"building the C++ program in {build_dir} failed: {e}") from e
        except BaseException:  # an interruption too: the folder's locks and results go
            self.close()
            raise
        self.compile_s = time.perf_counter() - t0
        restore_runtime()


def activate_standalone(directory, threads=1, build_on_run=False):
    """Make a new cpp_standalone device current and return it.

    Each program gets a device instance of its own (Brian2's
    ``set_device("cpp_standalone")`` would hand out one shared instance, and
    re-initialising it for a second program destroys the first), so several
    compiled programs can live side by side in one process.
    """
    from brian2 import prefs, set_device
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    same_code_everywhere()
    dev = same_time_device(CPPStandaloneDevice)()
    set_device(dev, directory=directory, build_on_run=build_on_run)
    prefs.devices.cpp_standalone.openmp_threads = openmp_threads(threads)
    return dev


@contextlib.contextmanager
def cpp_standalone(directory, threads=1):
    """Run the enclosed Brian2 code as a C++ standalone program built on
    ``run()`` in ``directory``; back on the runtime device afterwards."""
    activate_standalone(directory, threads, build_on_run=True)
    try:
        yield
    finally:
        restore_runtime()


def working_devices():
    """Which devices work on this machine, with the reason when one does not."""
    import shutil

    out = {"runtime": (True, "Brian2 runtime mode (NumPy target)")}
    cxx = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
    out["cpp_standalone"] = (cxx is not None, f"C++ compiler: {cxx}" if cxx else "no C++ compiler found (install g++)")
    from .cuda import status as cuda_status

    out["cuda_standalone"] = cuda_status()
    return out
