"""Stopping a training on SIGINT or SIGTERM without recording a cut-off epoch.

A training runs a compiled program once per epoch and saves a checkpoint
after each (metrics.csv, then weights.npz).  A signal can arrive at any
moment, and by itself each moment goes wrong in its own way: the C++
program that Brian2 generates catches the first SIGINT, stops the
simulation after the current time step and exits with success, so its
results look like those of a whole epoch; a SIGTERM sent to the Python
process only never reaches the program; and during ``make`` Python does
not see a terminal's Ctrl-C at all (``os.system`` ignores SIGINT while it
waits), it only sees the compiler fail.

`stop_on_signals` turns SIGINT and SIGTERM into a recorded stop request.
What a request does depends on the stage that the training has declared
with `StopRequests.at`:

- a stage that may be abandoned at any moment (preparing, building the
  program: nothing of it is kept unless it is finished, and a build stamp
  is written only after the build) raises `Interrupted` at once.  Where
  the handler's exception lands in a finalizer or a weakref callback,
  which Python prints as "Exception ignored" and drops (Brian2's code
  generation runs many), it is not printed and the signal is delivered to
  the main thread again `RETRY_S` later;
- a deferred stage (an epoch's run, writing its checkpoint, writing the
  final results) is never broken off from Python: the request is recorded,
  the running program is asked to stop (see below), and `Interrupted` is
  raised at the next safe point: when the run returns (the epoch is then
  discarded, whether the program stopped early or not) or when the
  checkpoint is written (the epoch is then kept).  A second signal within a
  deferred stage raises at once: every file is written atomically and
  metrics.csv before weights.npz, so a resume still starts from a whole
  epoch.

Forwarding: the processes below this one (the C++ program, ``make`` and
the compiler), started after `stop_on_signals` was entered, are sent
SIGINT, on which the C++ program stops after its current time step and
``make`` deletes the half-written target.  A thread does it, woken by
Python's signal wakeup file descriptor, so that it happens even while the
main thread waits in a C call that does not return on signals
(``os.system`` running ``make``).  For SIGTERM the processes are sent
SIGINT at once: a SIGTERM sent to this process reaches nothing else.  For
SIGINT they are sent SIGINT after `SIGINT_GRACE_S` if they still run: a
terminal's Ctrl-C reaches the whole foreground process group, and a second
SIGINT would make the C++ program abort instead of stopping (and reporting
how far it got).  The processes are found through
``/proc/PID/task/*/children`` (or the parent ids in ``/proc/*/stat``); where
there is no /proc nothing is forwarded.  A network that Brian2 runs in this
process (the runtime device) is asked to stop after its current time step,
as Brian2's own SIGINT handler does.

A ``make`` that a terminal's Ctrl-C ended is recognised by its wait
status in Brian2's error (`program.build_interrupted`), since Python never
saw that SIGINT.

`Interrupted` carries the signal number, the stage and the last epoch kept;
``brianrules train`` prints it as one line and exits with 128 + the signal
number (130 for SIGINT, 143 for SIGTERM).  A library call decorated with
`stoppable` and not inside another `stop_on_signals` hands the signal back
to the caller's own handlers once everything is cleaned up (see
`stoppable`): a sweep's point process then ends by the signal, as it did
before, and the sweep records the point as interrupted, to be resumed.
"""

import contextlib
import functools
import glob
import os
import signal
import socket
import sys
import threading
import time

#: the signals that stop a training
SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: seconds a SIGINT's processes below this one are given to stop by themselves
SIGINT_GRACE_S = 1.0
#: seconds after which a swallowed `Interrupted` is raised again
RETRY_S = 0.01


class Interrupted(KeyboardInterrupt):
    """A signal stopped the training; what was saved before it stays.

    A KeyboardInterrupt, so that ``except Exception`` clauses on the way up
    (which record a failed build or point) let it through, and code that
    stops on Ctrl-C stops on it.

    ``signum``: the signal; ``stage``: what was going on ("during epoch
    3"); ``kept``: the last epoch whose checkpoint is on disk (0: the
    initial weights, None: nothing was written); ``fraction``: how much of
    the epoch's run the program had simulated when it stopped, if known;
    ``part``: the part of the epoch that fraction falls in ("test part")."""

    def __init__(self, signum, stage="", kept=None, fraction=None, part=None, unit="epoch"):
        self.signum, self.stage, self.kept, self.fraction, self.part = signum, stage, kept, fraction, part
        self.unit = unit  # what a checkpoint holds: "epoch", or a command's own ("block", "iteration")
        super().__init__(self.describe())

    @property
    def exit_status(self):
        """The shell's convention for a command ended by a signal: 128 + its number."""
        return 128 + int(self.signum)

    def describe(self):
        where = f" {self.stage}" if self.stage else ""
        if self.fraction is not None:
            at = f"at {100 * self.fraction:.0f}%"
            where += f" ({self.part}, {at})" if self.part else f" ({at})"
        if self.kept is None:
            kept = "nothing was written"
        elif self.kept == 0:
            kept = f"kept {self.unit} 0, the initial weights (resume with --resume)"
        else:
            kept = f"kept {self.unit} {self.kept} (resume with --resume)"
        return f"interrupted ({signal.Signals(self.signum).name}){where}; {kept}"


class StopRequests:
    """The stop requests of one `stop_on_signals` scope and the stage the
    training is in.  The training declares its stages from the main thread;
    the watcher thread only records a signal and forwards it."""

    def __init__(self):
        self.signum = None  # the first signal received
        self.count = 0  # signals seen by the Python-level handler
        self.raised = False
        self.stage, self.kept, self.defer, self.parts = "before the training started", None, False, None
        self.unit = "epoch"  # what `saved` counts
        self._known = set()  # processes below this one before the scope began: never signalled
        self._closed = False
        self._writer = None  # the wakeup socket's writing end, while the watcher runs
        self._previous_hook = sys.unraisablehook
        self._resent = self._echoes = 0  # deliveries of ours, for the handler and for the watcher

    # -- what the training declares ------------------------------------
    def at(self, stage, defer=None, parts=None):
        """Raise a stop requested in the stage so far (described by it),
        then enter ``stage``: ``defer`` True for a stage that is never
        broken off from Python, False for one that a signal ends at once,
        None to keep the current mode.  ``parts``: ((name, end fraction),
        ...) of the stage's run, to say in which part a program stopped."""
        self.check()
        self.stage, self.parts = stage, parts
        if defer is not None:
            self.defer = defer

    def saved(self, epoch, stage):
        """The checkpoint of ``epoch`` is on disk: a stop requested while it
        was computed or written (``stage``) raises now, keeping it."""
        self.kept = epoch
        self.stage, self.parts = stage, None
        self.check()
        self.stage = f"after {self.unit} {epoch}"

    def counting(self, unit, kept):
        """Declare what this command's checkpoints hold (``unit``: "block",
        "iteration") and the last one on disk (None: nothing written yet)."""
        self.unit, self.kept = unit, kept
        return self

    def check(self):
        if self.signum is not None:
            raise self.interrupted()

    def interrupted(self, signum=None, fraction=None):
        """The `Interrupted` of the current stage: by ``signum`` (default:
        the signal received), with the fraction of a run that was done."""
        self.raised = True
        part = None
        if fraction is not None and self.parts:
            part = next((name for name, end in self.parts if fraction < end), self.parts[-1][0])
        return Interrupted(signum or self.signum or signal.SIGINT, self.stage, self.kept, fraction, part, self.unit)

    # -- the handlers --------------------------------------------------
    def _on_signal(self, signum, frame):
        """Python-level handler (main thread): record, ask a network that
        Brian2 runs in this process to stop, and raise unless deferred."""
        again = self._resent > 0  # our own delivery of a swallowed one (see _unraisable)
        if again:
            self._resent -= 1
        else:
            self.count += 1
        if self.signum is None:
            self.signum = signum
        network = sys.modules.get("brian2.core.network")
        if network is not None and network.Network._globally_running:
            network.Network._globally_stopped = True
        if self.raised:
            return  # already stopping: the cleanup is not broken off
        if again or not self.defer or self.count >= 2:
            raise self.interrupted(signum)

    def _unraisable(self, info):
        """``sys.unraisablehook``: an `Interrupted` raised by the handler
        inside a finalizer or a weakref callback (code generation runs many)
        is printed as "Exception ignored" and dropped by Python.  Instead it
        is not printed, and the watcher delivers the signal to the main
        thread again a moment later, when it is out of the callback."""
        if isinstance(info.exc_value, Interrupted) and not self._closed and self._writer is not None:
            self.raised = False
            with contextlib.suppress(OSError):
                self._writer.send(b"\0")
            return
        self._previous_hook(info)

    def _watch(self, reader):
        """Forwarding thread: reads the signal numbers that Python's C-level
        handler writes to the wakeup file descriptor (0: deliver again)."""
        with reader:
            while True:
                try:
                    data = reader.recv(64)
                except OSError:
                    return
                if not data:
                    return
                self._received(data)

    def _received(self, data):
        for byte in data:
            if byte == 0 and self.signum is not None and not self._closed:
                time.sleep(RETRY_S)
                self._echoes += 1
                self._resent += 1
                signal.pthread_kill(threading.main_thread().ident, self.signum)
            elif byte in SIGNALS:
                if self._echoes:  # the wakeup byte of a delivery of ours
                    self._echoes -= 1
                    continue
                if self.signum is None:
                    self.signum = byte
                if byte == signal.SIGINT:  # the terminal's SIGINT reached them too: give them time
                    targets = self._targets()
                    timer = threading.Timer(SIGINT_GRACE_S, self._forward, (targets,))
                    timer.daemon = True
                    timer.start()
                else:
                    self._forward(self._targets())

    def _targets(self):
        return [p for p in descendants() if p not in self._known]

    def _forward(self, targets):
        """SIGINT to those of ``targets`` that still run."""
        if self._closed:
            return
        alive = set(descendants())  # (pid, start time): not a process that took a dead one's pid
        for target in targets:
            if target in alive:
                with contextlib.suppress(OSError):
                    os.kill(target[0], signal.SIGINT)


#: the StopRequests of the main thread's innermost scope, None outside
_active = None


def active():
    """The stop requests in force for the calling code: those of the
    enclosing `stop_on_signals` in the main thread, else a set that no
    signal ever reaches (code run in other threads, or without a scope)."""
    if _active is not None and threading.current_thread() is threading.main_thread():
        return _active
    return StopRequests()


@contextlib.contextmanager
def stop_on_signals():
    """Within: SIGINT and SIGTERM are stop requests (see the module's
    docstring); on leaving, the previous handlers are back, and a request
    that has not raised yet raises `Interrupted` (whatever finished within
    is kept).  A nested scope shares the outer one's requests and puts its
    handlers back on top (importing Brian2 installs Brian2's own SIGINT
    handler, which would swallow a SIGINT while a program runs).  Outside
    the main thread, where Python allows no handlers, it does nothing."""
    global _active
    if threading.current_thread() is not threading.main_thread():
        yield StopRequests()
        return
    outer = _active
    stops = outer or StopRequests()
    saved = {sig: signal.signal(sig, stops._on_signal) for sig in SIGNALS}
    watcher = None
    if outer is None:
        stops._known = set(descendants())
        watcher = _start_watcher(stops)
        stops._previous_hook, sys.unraisablehook = sys.unraisablehook, stops._unraisable
    _active = stops
    mode = stops.defer
    try:
        yield stops
        if outer is None:
            stops.check()
    finally:
        if outer is None:
            stops._closed = True
            sys.unraisablehook = stops._previous_hook
            stops._writer = None
            _stop_watcher(watcher)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        _active = outer
        stops.defer = mode


def stoppable(func):
    """Run ``func`` within `stop_on_signals`.  Inside another scope (the
    command line's), its `Interrupted` goes up as it is.  Outside any, once
    ``func`` has cleaned up, the signal is raised again under the handlers
    the caller had: Python's default SIGINT handler turns it into an
    ordinary KeyboardInterrupt, SIGTERM's default disposition ends the
    process as the signal would have (a caller that waits for the process
    sees it killed by the signal); a handler that returns leaves the
    `Interrupted` to be raised."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        outermost = _active is None and threading.current_thread() is threading.main_thread()
        try:
            with stop_on_signals():
                return func(*args, **kwargs)
        except Interrupted as e:
            if not outermost:
                raise
            stopped = e
        signal.raise_signal(stopped.signum)
        raise stopped

    return wrapper


def quiet_leftovers():
    """Silence Brian2's warning about objects "never included in a
    network", for the rest of the process.  Objects built for a run that an
    interruption cancelled are deleted with the exception's traceback, and
    Brian2 would warn about each: noise after a deliberate stop.  For a
    process that ends after the interruption (the command line)."""
    logger = sys.modules.get("brian2.utils.logger")
    if logger is not None:
        logger.BrianLogger.suppress_name("unused_brian_object")


def _start_watcher(stops):
    try:
        reader, writer = socket.socketpair()
    except OSError:
        return None
    writer.setblocking(False)
    try:
        old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except (ValueError, OSError):
        reader.close()
        writer.close()
        return None
    thread = threading.Thread(target=stops._watch, args=(reader,), name="brianrules-stop", daemon=True)
    thread.start()
    stops._writer = writer
    return thread, writer, old_fd


def _stop_watcher(watcher):
    if watcher is None:
        return
    thread, writer, old_fd = watcher
    signal.set_wakeup_fd(old_fd)
    with contextlib.suppress(OSError):
        writer.shutdown(socket.SHUT_RDWR)  # the reader sees the end
    thread.join(timeout=0.1)  # a daemon: it may be delivering a signal again (RETRY_S)
    writer.close()


def descendants(pid=None):
    """(pid, start time) of every process below ``pid`` (default: this
    one), children before grandchildren; empty where /proc is missing."""
    root = os.getpid() if pid is None else pid
    children = _children_via_task_files
    if not glob.glob(f"/proc/{root}/task/*/children"):
        children = _children_via_stat(root)
    out, todo = [], [root]
    while todo:
        for child in children(todo.pop(0)):
            start = _start_time(child)
            if start is not None:
                out.append((child, start))
                todo.append(child)
    return out


def _children_via_task_files(pid):
    kids = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        with contextlib.suppress(OSError):
            with open(path) as f:
                kids += [int(k) for k in f.read().split()]
    return kids


def _children_via_stat(root):
    """Where the kernel has no children files: the parent ids of all processes."""
    parents = {}
    for path in glob.glob("/proc/[0-9]*/stat"):
        fields = _stat_fields(path)
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(path.split("/")[2]))
    return lambda pid: parents.get(pid, [])


def _stat_fields(path):
    """The fields of a /proc/PID/stat file after the command name (state,
    ppid, ...), or None if the process is gone."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _start_time(pid):
    fields = _stat_fields(f"/proc/{pid}/stat")
    return None if fields is None or len(fields) < 20 else int(fields[19])
