"""What every compiled program shares, on any standalone device: a build
folder from the cache, built under an exclusive lock and run under a shared
one, the build stamp that lets a later process run the finished program
without generating or compiling it, generated code that is the same text
in every process, and runs that an interruption discards.

`devices` builds C++ programs on it (`devices.StandaloneRunner`), `cuda`
the CUDA ones; neither is imported here.
"""

import contextlib
import fcntl
import functools
import json
import os
import re
import shlex
import shutil
import socket
import sys
import time
import types
from dataclasses import dataclass

import numpy as np

from .floats import state_check_quiet
from .paths import cache_dir
from .progress import REPORT_BODY, REPORT_PERIOD_S, follow

class BuildError(RuntimeError):
    """Generating or compiling a program failed."""


@dataclass
class RunResult:
    weights: list  # forward weight matrices after the run
    counts: np.ndarray  # output spike counts, samples x n_out
    hidden_rates: list  # mean rate per hidden layer (Hz)
    wall_s: float
    #: per plastic projection, {variable: matrix} of the optimizer's state after the run
    optimizer_state: list = None
    #: the feedback matrices after the run when the pathway learns them (kp); None: fixed
    feedback: list = None
    #: {metrics.csv column: value} of the per-layer diagnostics (`build.diagnostics`)
    diagnostics: dict = None


#: file of a finished C++ build: what the binary was built from and with
BUILD_STAMP = "brianrules-build.json"


def usable_cores():
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def openmp_threads(threads):
    """Brian2's OpenMP preference for ``threads`` threads: 0 means no OpenMP
    at all (1 would compile OpenMP code for one thread)."""
    return int(threads) if threads > 1 else 0


#: Brian2 names a code object ``<owner>_<template>_codeobject`` and an object's own clock
#: ``<owner>_clock``, with a suffix ``_1``, ``_2`` ... while an object of that name is still
#: alive in the process (an earlier program's); only the program's own code uses these names
_CODE_OBJECT_SUFFIX = re.compile(r"(_codeobject|_clock)_\d+(?![0-9])")


def _unsuffixed(text):
    """``text`` with `_CODE_OBJECT_SUFFIX`'s suffixes taken out."""
    return _CODE_OBJECT_SUFFIX.sub(r"\1", text)


def generated_code_hash(device):
    """Hash of the program a standalone device has generated so far: every
    code object's source and the main program's queue of operations (object
    names stand for the objects).  Code objects are rendered when the
    network runs on the device, before ``device.build`` writes them.  The
    suffix Brian2 gives the name of a code object or clock while an earlier
    program's namesake lives (`_CODE_OBJECT_SUFFIX`) does not enter: such
    a program is the same program, and one built in a fresh process serves
    it (its results are read by the names of groups, synapses and monitors,
    which this package gives explicitly)."""
    import hashlib

    def stable(x):
        if isinstance(x, (str, int, float, bool, type(None))):
            return repr(x)
        if isinstance(x, (tuple, list)):
            return "(" + ",".join(stable(v) for v in x) + ")"
        if isinstance(x, dict):
            return "{" + ",".join(f"{stable(k)}:{stable(v)}" for k, v in sorted(x.items(), key=str)) + "}"
        if isinstance(x, np.ndarray):
            return f"array{x.shape}{x.dtype}:" + hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
        return f"<{type(x).__name__} {getattr(x, 'name', '')}>"

    h = hashlib.sha256()
    for name in sorted(device.code_objects, key=_unsuffixed):
        code = device.code_objects[name].code
        h.update(_unsuffixed(name).encode())
        for part in sorted(code.keys()):
            h.update(_unsuffixed(f"\0{part}\0{code[part]}").encode())
    for kind, args in device.main_queue:
        h.update(_unsuffixed(f"\0{kind}\0{stable(args)}").encode())
    h.update(f"\0report\0{getattr(device, 'report_func', '')}".encode())
    return h.hexdigest()[:16]


def _read_stamp(build_dir):
    try:
        with open(os.path.join(build_dir, BUILD_STAMP)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _check_complete(stops, fraction):
    """Raise `interrupt.Interrupted` for a run during which a stop was
    requested, or that simulated less than all of its time (``fraction``:
    the part simulated, None if unknown)."""
    short = fraction is not None and fraction < 1 - 1e-9
    if stops.signum is not None or short:
        raise stops.interrupted(fraction=fraction)


class BuildLock:
    """Who may touch a build folder when.

    Building (generating code, compiling) takes the folder exclusively;
    running the program takes it shared, so any number of processes run one
    compiled program side by side, each with its own results folder.  A
    builder that waits closes a gate that new runs queue at: it is never
    starved by a stream of overlapping runs.  Locks are ``flock`` locks and
    vanish with the process that holds them.
    """

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self._gate = open(os.path.join(directory, ".gate"), "a")
        self._lock = open(os.path.join(directory, ".lock"), "a")

    @contextlib.contextmanager
    def exclusive(self):
        fcntl.flock(self._gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
        finally:
            fcntl.flock(self._gate, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def shared(self):
        fcntl.flock(self._gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_SH)
        finally:
            fcntl.flock(self._gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def try_exclusive(self):
        """Take the folder exclusively if nobody builds or runs in it now."""
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def release(self):
        fcntl.flock(self._lock, fcntl.LOCK_UN)

    def close(self):
        self._gate.close()
        self._lock.close()


#: What the generated network loop (Brian2's ``network.cpp``, brian2cuda's ``network.cu``) takes
#: as two clocks ticking together, and what it takes instead (`same_time_device`)
_SAME_TIME = (("double t = minclock->t[0];",
               "double t = minclock->t[0];\n"
               "    Clock *_minclock_dt = dynamic_cast<Clock*>(minclock);\n"
               "    const double _same_time = _minclock_dt ? 1e-4 * _minclock_dt->dt[0] : Clock_epsilon;"),
              ("fabs(s-t)<=Clock_epsilon", "fabs(s-t)<=_same_time"))


class _SameTimeNetwork:
    """A writer that writes the network loop with `_SAME_TIME`'s test."""

    def __init__(self, writer):
        self._writer = writer

    def __getattr__(self, name):
        return getattr(self._writer, name)

    def write(self, filename, contents):
        if filename == "network.*":
            source = "cu_file" if hasattr(contents, "cu_file") else "cpp_file"  # brian2cuda: network.cu
            code = getattr(contents, source)
            for old, new in _SAME_TIME:
                if old not in code:
                    raise BuildError(f"the generated network loop has no '{old}': this Brian2 version's template "
                                     "changed, and the clocks' same-time test (program.same_time_device) needs a look")
                code = code.replace(old, new)
            contents = types.SimpleNamespace(**{source: code, "h_file": contents.h_file})
        self._writer.write(filename, contents)


@functools.cache
def same_time_device(device_class):
    """``device_class`` whose network loop runs two clocks in the same step
    when their times differ by less than 1e-4 of the earlier one's dt, as
    Brian2's own loop does (`brian2.Clock.same_time`).  Brian2's C++ loop
    (and brian2cuda's) allows 1e-14 s, an absolute bound that one rounding
    unit of ``t`` exceeds from 64 s of simulated time on: with dt 0.5 ms and
    100 ms samples, 368 of the first 3000 sample starts (from sample 641 on)
    fell a rounding unit behind the step clock there, and what runs once per
    sample (the sample reset, the learning gate, the application of the
    accumulated updates) ran after the sample's first step instead of before
    it, in every epoch of a long enough run."""

    class SameTime(device_class):
        def generate_network_source(self, writer, *args, **kwargs):
            return super().generate_network_source(_SameTimeNetwork(writer), *args, **kwargs)

    SameTime.__name__ = SameTime.__qualname__ = device_class.__name__
    return SameTime


def canonical_clock_order(queue):
    """Brian2 queues the start of each clock in the order of a set of clock
    objects, which differs from process to process; sorted by name, the
    generated ``main.cpp`` is the same text every time, and a cached program
    is never recompiled (or relinked under a running one)."""
    def is_clock(entry):
        func, args = entry
        return (func == "set_by_single_value" and isinstance(args, tuple) and len(args) == 3
                and isinstance(args[0], str)
                and _unsuffixed(args[0]).endswith(("clock_timestep", "clock_t")))

    def key(entry):
        name = _unsuffixed(entry[1][0])
        return name.rsplit("_clock_", 1)[0], name

    return sort_runs(queue, is_clock, key=key)


def sort_runs(items, belongs, key=None):
    """A copy of ``items`` in which each run of consecutive items for which
    ``belongs`` is true is sorted (by ``key``); every other item keeps its
    place."""
    out, k = [], 0
    while k < len(items):
        if not belongs(items[k]):
            out.append(items[k])
            k += 1
            continue
        end = k
        while end < len(items) and belongs(items[end]):
            end += 1
        out += sorted(items[k:end], key=key)
        k = end
    return out


def _remove_dead_results(build_dir):
    """Results folders of processes of this machine that died without
    closing their program (killed, crashed)."""
    host = socket.gethostname()
    for name in os.listdir(build_dir):
        parts = name[len("results-"):].rsplit("-", 2) if name.startswith("results-") else []
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(build_dir, name), ignore_errors=True)
        except OSError:
            pass  # alive, another user's


class CompiledProgram:
    """What every compiled program shares: a build folder from the cache,
    built under an exclusive lock and run under a shared one with a results
    folder of its own, and the release of both.  Subclasses set ``spec``,
    ``n_samples``, ``model`` and ``_device`` and build inside `_building`."""

    _locks = None
    _results = None  # this process's results folder, relative to the build folder
    reused = False  # True when the finished program ran without code generation and make
    progress = False  # what `_populate` was given: progress reports built into the program

    @property
    def dtype(self):
        """The float type of the program's state."""
        return self.spec.dtype

    def _claim_build_dir(self, build_dir, key):
        """Use ``build_dir``, or the cache folder ``key`` if it is None."""
        if build_dir is None:
            build_dir = os.path.join(cache_dir(), key)
        os.makedirs(build_dir, exist_ok=True)
        self.build_dir = build_dir
        self._locks = BuildLock(build_dir)
        self._results = f"results-{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        _remove_dead_results(build_dir)
        self.cached = os.path.exists(os.path.join(build_dir, "main"))
        return build_dir

    def _new_model(self):
        """The program's Brian2 objects: a training's `network.Model`."""
        from .network import Model

        return Model(self.spec, self.n_samples)

    def _populate(self, monitors, progress):
        """Create the model's Brian2 objects (`_new_model`, with a ``network``
        and a ``duration``) and the caller's monitors on this program's
        device, and run the network once so that the device records every
        code object of the program."""
        self.model = self._new_model()
        self.extra = monitors(self.model) if monitors else []
        self.model.network.add(*self.extra)
        sort_recorded_variables(self.model.network.objects)
        self.progress = progress
        self.model.network.run(self.model.duration, **report_arguments(progress), namespace={})

    @contextlib.contextmanager
    def _building(self):
        """Generate and compile with the folder to oneself; no run is in
        progress meanwhile (the build rewrites files a starting run reads)."""
        with self._locks.exclusive():
            self.cached = os.path.exists(os.path.join(self.build_dir, "main"))
            self._device.main_queue[:] = canonical_clock_order(self._device.main_queue)
            yield

    def _build_unless_stamped(self, identity, build):
        """Run the finished program if the build folder's stamp is
        ``identity``; else ``build()`` with the folder to oneself, and stamp
        it (no stamp while the files change)."""
        if self.cached and _read_stamp(self.build_dir) == identity:
            self._reuse(self.build_dir)
            return
        with self._building():
            self._write_stamp(None)
            build()
            self._write_stamp(identity)

    def _reuse(self, build_dir):
        """Run the finished program without generating or compiling: set
        what ``device.build`` would have set for ``device.run``."""
        self._device.project_dir = build_dir
        self._device.results_dir = os.path.join(os.path.abspath(os.path.join(build_dir, "results")), "")
        self.reused = True

    def _write_stamp(self, identity):
        path = os.path.join(self.build_dir, BUILD_STAMP)
        if identity is None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
            return
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(identity, f, indent=1, sort_keys=True)
        os.replace(tmp, path)

    def run(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0, optimizer_state=None,
            on_progress=None):
        """Run the program once with these values and read its results.

        ``on_progress(fraction)`` is called, while the program runs, with
        the part of the run it has simulated, where the program was built
        with progress reports (``progress=True``).  The program's own output
        goes to its results folder, except with ``progress="text"``
        (Brian2's own progress lines, on standard output).

        A run that a signal cut short is never returned: Brian2's program
        stops at the first SIGINT (a terminal's Ctrl-C, or one forwarded by
        `interrupt`) and exits with success, having simulated only part of
        the time.  If a stop was requested in this process before or while
        the program ran, or the program reports that it simulated less than
        the whole run (``last_run_info.txt``: Brian2's completed fraction),
        `interrupt.Interrupted` is raised instead, and its results are
        dropped."""
        t0 = time.perf_counter()
        run_args = dict(self.model.values(weights, feedback, stim, tgt, learn, noise_seed, lr_scale,
                                          optimizer_state))

        def read():
            return RunResult(self.model.read_weights(), self.model.output_counts(),
                             self.model.hidden_rates(), time.perf_counter() - t0,
                             self.model.read_optimizer_state(), self.model.read_feedback(),
                             self.model.read_diagnostics())

        return self.execute(run_args, read, on_progress)

    def execute(self, run_args, read, on_progress=None):
        """Run the finished program with ``run_args`` (Brian2's: variables
        and TimedArrays to their values) and return ``read()``, called with
        this program's device current, so that Brian2 objects read the
        run's results.  A stop request, an unread value file and a run that
        ended early raise here (see `run`)."""
        from brian2.devices.device import get_device, reset_device, set_device

        from . import interrupt

        stops = interrupt.active()
        stops.check()  # a stop requested before the program starts: it does not start
        # results are read through the current device: make it this program's
        switched = get_device() is not self._device
        if switched:
            set_device(self._device, build_on_run=False)
        try:
            sys.stdout.flush()
            with self._locks.shared(), state_check_quiet(self.dtype):
                stops.check()  # (the lock may have waited for a build)
                self._forget_last_run()
                reports = on_progress is not None and self.progress is True
                stdout = os.path.join(self.build_dir, self._results, "stdout.txt")
                stderr = os.path.join(self.build_dir, self._results, "stderr.txt")
                try:
                    with follow(stdout, on_progress) if reports else contextlib.nullcontext(), \
                            stderr_to(stderr):
                        self._device.run(run_args=run_args, with_output=self.progress == "text",
                                         results_directory=self._results)
                except Exception:
                    if stops.signum is not None:  # the program was stopped or killed by the signal
                        raise stops.interrupted() from None
                    raise
                finally:
                    errors = pass_on_stderr(stderr)
                check_values_read(errors, self.device)
            _check_complete(stops, getattr(self._device, "_last_run_completed_fraction", None))
            result = read()
        finally:
            if switched:
                reset_device()
        self._clean_run_values()
        return result

    def _forget_last_run(self):
        """No completed fraction of an earlier run may stand for this one's."""
        self._device._last_run_completed_fraction = None
        path = os.path.join(self.build_dir, self._results, "last_run_info.txt")
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)

    def _clean_run_values(self):
        """Brian2 keeps every run's values (weights, stimulus) as files in the
        build folder; remove them when no other process runs the program."""
        if not self._locks.try_exclusive():
            return
        try:
            folder = os.path.join(self.build_dir, "static_arrays")
            for name in os.listdir(folder):
                if name.startswith("init_"):
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(folder, name))
        finally:
            self._locks.release()

    def close(self):
        if self._locks is not None:
            if self._results is not None:
                shutil.rmtree(os.path.join(self.build_dir, self._results), ignore_errors=True)
            if os.path.isdir(os.path.join(self.build_dir, "static_arrays")):
                self._clean_run_values()
            self._locks.close()
            self._locks = None
        restore_runtime()
        forget_device(self._device)


#: what a standalone program prints (on standard error) for a ``run_args``
#: value file that it could not read, and then runs on without the value:
#: ``set_variable_from_file`` in Brian2's ``objects.cpp`` and brian2cuda's
#: ``objects.cu`` templates
UNREAD_VALUES = ("Error reading '", "Could not read '")


@contextlib.contextmanager
def stderr_to(path):
    """While this is open, a standalone program that Brian2 starts writes its
    standard error to ``path`` (its folder must exist when the program
    starts).  Brian2 leaves the program's standard error on the terminal,
    where nothing reads it: `check_values_read` needs to."""
    from brian2 import prefs

    if os.name == "nt":
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    saved = prefs.devices.cpp_standalone.run_cmd_unix
    command = [saved] if isinstance(saved, str) else list(saved)
    prefs.devices.cpp_standalone.run_cmd_unix = (
        ["/bin/sh", "-c", 'exec "$@" 2>' + shlex.quote(os.path.abspath(path)), "sh"] + command)
    try:
        yield
    finally:
        prefs.devices.cpp_standalone.run_cmd_unix = saved


def pass_on_stderr(path):
    """The program's standard error (`stderr_to`), written to ours as it
    would have been, and returned; "" when there was none."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return ""
    if text:
        sys.stderr.write(text)
        sys.stderr.flush()
    return text


def check_values_read(stderr, device):
    """Raise if the program said it could not read a value file that it was
    given (`UNREAD_VALUES`): it then ran on without those values, weights or
    feedback say, and its results must not stand."""
    lines = [line.strip() for line in stderr.splitlines() if line.startswith(UNREAD_VALUES)]
    if lines:
        raise RuntimeError(f"the {device} program did not read every value it was given, so its run is "
                           f"not used: {'; '.join(lines[:3])}")


def build_interrupted(error):
    """The `interrupt.Interrupted` to raise for a build that failed because
    of a signal (see `_signal_of`), else None."""
    from . import interrupt

    signum = _signal_of(error)
    return None if signum is None else interrupt.active().interrupted(signum)


def _signal_of(error):
    """The signal that made a build fail with ``error``, or None.  A stop
    requested in this process is one; so is ``make`` ended by SIGINT or
    SIGTERM: while Brian2 runs it through ``os.system``, Python ignores
    SIGINT, and a terminal's Ctrl-C reaches only ``make`` and the compiler,
    which Brian2 then reports as "Project compilation failed (error code:
    STATUS)" (a wait status)."""
    import re
    import signal

    from . import interrupt

    if isinstance(error, interrupt.Interrupted):
        return error.signum
    stops = interrupt.active()
    if stops.signum is not None:
        return stops.signum
    found = re.search(r"compilation failed \(error code: (\d+)\)", str(error))
    if found:
        try:
            code = os.waitstatus_to_exitcode(int(found.group(1)))
        except ValueError:  # not the status of an ended process
            code = 0
        for sig in (signal.SIGINT, signal.SIGTERM):
            if code in (-sig, 128 + sig):
                return sig
    return None


@contextlib.contextmanager
def _held_stderr():
    """While building, file descriptor 2 goes to a temporary file, and what
    was written there (Brian2's warnings, the compiler's errors) goes to
    stderr afterwards, unless a signal stopped the build: then it holds only
    ``make``'s and the compiler's words about the signal ("Interrupt"),
    which Brian2 replays when the build fails, and is dropped."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    replay = True
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException as e:
            replay = _signal_of(e) is None
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if replay:
                held.seek(0)
                text = held.read()
                if text:
                    sys.stderr.write(text.decode(errors="replace"))
                    sys.stderr.flush()


def forget_device(dev):
    """Drop Brian2's reference to a finished device: its objects would
    otherwise stay alive, and the next program built in this process would
    get renamed code objects (``..._codeobject_1``) and recompile."""
    import brian2.devices.device  # noqa: F401  (the module, not the proxy of the same name)

    device_module = sys.modules["brian2.devices.device"]
    device_module.previous_devices[:] = [entry for entry in device_module.previous_devices
                                         if entry[0] is not dev]


def same_code_everywhere():
    """Before a program's objects are created: the same model generates the
    same program in every process and for every program of a process.
    Objects of earlier programs that only a reference cycle keeps alive would
    rename the new ones (``clock_1``), and the clock's current step would go
    into the program's first lines."""
    import gc

    from brian2 import defaultclock, ms

    gc.collect()
    defaultclock.dt = 0.1 * ms  # Brian2's default


def sort_recorded_variables(objects):
    """Before any code is generated: the variables that spike and event
    monitors record, in sorted order.  Brian2 keeps them (``i``, ``t``, ...)
    in a set; its C++ template sorts them, but brian2cuda's walks them in the
    set's order, which changes with Python's string hashing from process to
    process, so the CUDA program's code (and its build stamp) differed and
    a second start rebuilt it."""
    for obj in objects:
        kwds = getattr(obj, "template_kwds", None) or {}
        if isinstance(kwds.get("record_variables"), dict):
            kwds["record_variables"] = dict(sorted(kwds["record_variables"].items()))


def restore_runtime():
    from brian2 import set_device

    set_device("runtime")


def report_arguments(progress):
    """The ``report`` arguments of the program's run: `progress.REPORT_BODY`
    (True), Brian2's own text lines ("text") or none (False)."""
    from brian2 import second

    if not progress:
        return {"report": None}
    if progress == "text":
        return {"report": "text", "report_period": 5 * second}
    return {"report": REPORT_BODY, "report_period": REPORT_PERIOD_S * second}


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
