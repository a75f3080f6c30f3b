"""Behaviour: SIGINT and SIGTERM stop `brianrules train` cleanly at every
moment, and `--resume` then ends exactly where the uninterrupted run ends.

Each test starts a real `brianrules train` process in a session of its own
and signals it as a user would: SIGINT to the whole process group (a
terminal's Ctrl-C reaches the command and its C++ program), SIGTERM to the
Python process alone (as `kill PID` does; the program below it gets nothing
unless brianrules forwards it).  After the signal: the exit status is 128 +
the signal number, stderr is one line naming the moment and the epoch kept,
metrics.csv and weights.npz hold only whole epochs, equal to the
uninterrupted run's, and `--resume` ends with the uninterrupted run's
metrics and weights.

The moments are found from outside, without hooks in brianrules: the build
by its folder appearing (objects and code being generated) or by ``make``
and the compiler running below the command; an epoch's training or test part by the CPU time of the
epoch's C++ program, measured against that of epoch 1 of the same process (epoch 2's program runs
in short slices, stopped between them, so that the moment is not missed on a loaded machine).
The data are the digits split in half (900 training, 897 test samples, as
IDX files), so that each part of an epoch is half its run and the CPU time
lands well inside it; the network and the number of samples are those of
test_training, so both files run one compiled program.  Checkpoint writing
is found by wrapping `training.loop.write_weights` in the command's process
(metrics.csv is written, weights.npz not yet): that test shows that a
signal between the two files does not stop the training there, not what
happens inside one file's write (each is written to a temporary file and
renamed, so a file in place is always whole).  The last tests check the
module `brianrules.interrupt` itself, in this process, in milliseconds.
"""

import csv
import glob
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from brianrules import interrupt

EPOCHS = 2
N_TRAIN = 900  # of the 1797 digits: the rest is the test part


def _args(data):
    return ["train", "--rule", "dfa", "--dataset", f"idx:{data}", "--hidden", "100", "--t-sample", "50",
            "--device", "cpp_standalone", "--seed", "3", "--quiet", "--epochs", str(EPOCHS)]


def _metrics(path):
    with open(os.path.join(path, "metrics.csv")) as f:
        return list(csv.DictReader(f))


def _write_idx(folder, x, y, part):
    names = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}[part]
    pixels = np.round(np.asarray(x) * 255).astype(">u1").reshape(len(x), 8, 8)
    with open(os.path.join(folder, names[0]), "wb") as f:
        f.write((0x803).to_bytes(4, "big") + np.array(pixels.shape, ">u4").tobytes() + pixels.tobytes())
    with open(os.path.join(folder, names[1]), "wb") as f:
        f.write((0x801).to_bytes(4, "big") + np.array([len(y)], ">u4").tobytes()
                + np.asarray(y, ">u1").tobytes())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from brianrules import data as datamod

    d = datamod.load("digits")
    x, y = np.concatenate([d.x_train, d.x_test]), np.concatenate([d.y_train, d.y_test])
    folder = tmp_path_factory.mktemp("halves")
    _write_idx(folder, x[:N_TRAIN], y[:N_TRAIN], "train")
    _write_idx(folder, x[N_TRAIN:], y[N_TRAIN:], "test")
    return str(folder)


# -- a training process, seen from outside ---------------------------------
#: a command whose `training.loop.write_weights` waits (and says so in a file)
#: before it writes the weights of epoch 1, metrics.csv being written
PAUSED_CHECKPOINT = """
import sys, time
import brianrules.training.loop as loop  # where `train` looks the name up
marker, argv = sys.argv[1], sys.argv[2:]
write_weights = loop.write_weights
def paused(path, weights, feedback, epoch, *more):
    if epoch == 1:
        open(marker, "w").close()
        time.sleep(3)
    write_weights(path, weights, feedback, epoch, *more)
loop.write_weights = paused
from brianrules.cli import main
sys.exit(main(argv))
"""


class Training:
    """A `brianrules train` process in a session of its own."""

    def __init__(self, args, out, env=None, script=None, marker=None):
        self.out = str(out)
        self.log = open(self.out + ".log", "w")
        self.err_path = self.out + ".err"
        command = ([sys.executable, "-c", script, str(marker)] if script else
                   [sys.executable, "-m", "brianrules.cli"]) + args + ["--out", self.out]
        with open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(command, stdout=self.log, stderr=err, start_new_session=True,
                                         env=env)
        self.cpu = {}  # C++ programs below the command (one per epoch): pid -> CPU ticks last seen
        self.t0 = time.time()

    def below(self):
        """(pid, parent, name, CPU ticks) of every process below the command."""
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            for path in glob.glob(f"/proc/{pid}/task/*/children"):
                for kid in map(int, _read(path).split()):
                    text = _read(f"/proc/{kid}/stat")
                    if text:
                        fields = text[text.rindex(")") + 2:].split()
                        name = text[text.index("(") + 1:text.rindex(")")]
                        out.append((kid, int(fields[1]), name, int(fields[11]) + int(fields[12])))
                        todo.append(kid)
        return out

    def programs(self):
        """CPU ticks of the epochs' C++ programs so far, in the order they started."""
        for pid, parent, name, ticks in self.below():
            if name == "main" and parent == self.proc.pid:
                self.cpu[pid] = ticks
        return list(self.cpu.values())

    def wait_until(self, condition, what, timeout=300):
        while not condition():
            assert self.proc.poll() is None, f"the training ended before {what}: {self.stderr()}"
            assert time.time() - self.t0 < timeout, f"no {what} within {timeout} s"
            time.sleep(0.005)

    def hold_program_at(self, share, what, timeout=300):
        """Run epoch 2's C++ program in slices of 20 ms, stopped (SIGSTOP)
        between them, until it has used ``share`` of epoch 1's CPU time; it is
        left stopped, so that the moment cannot pass while this process waits
        for a core.  Returns its pid (`release` lets it go on)."""
        self.wait_until(lambda: len(self.programs()) >= 2, "epoch 2's program", timeout)
        pid = list(self.cpu)[-1]
        os.kill(pid, signal.SIGSTOP)
        while True:
            first, *_, last = self.programs()
            if last >= share * first:
                return pid
            assert self.proc.poll() is None and _read(f"/proc/{pid}/stat"), \
                f"the training ended before {what}: {self.stderr()}"
            assert time.time() - self.t0 < timeout, f"no {what} within {timeout} s"
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.02)
            os.kill(pid, signal.SIGSTOP)

    @staticmethod
    def release(pid):
        """Let a program held by `hold_program_at` go on (a signal sent while
        it was stopped reaches it now)."""
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass

    def send(self, sig):
        """SIGINT as a terminal sends it (the whole process group), SIGTERM
        as `kill PID` does (the Python process alone)."""
        if sig == signal.SIGINT:
            os.killpg(self.proc.pid, sig)
        else:
            os.kill(self.proc.pid, sig)

    def finish(self, timeout=600):
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self.log.close()
        return code, self.stderr()

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # the process is gone
        return ""


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The folder of the uninterrupted training (its metrics and final weights)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    run = Training(_args(data), out)
    code, err = run.finish()
    assert code == 0, err
    return out


def _check_stopped(run, sig, expect):
    """The command's exit status and its one-line message."""
    code, err = run.finish(timeout=120)
    assert code == 128 + sig, err
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"brianrules: interrupted ({signal.Signals(sig).name}) "), err
    for text in expect:
        assert text in err, err
    return err


def _check_kept(out, reference, kept):
    """metrics.csv holds epochs 1..kept, each equal to the reference's; weights.npz is epoch kept."""
    rows, ref = _metrics(out), _metrics(reference)
    assert [int(r["epoch"]) for r in rows] == list(range(1, kept + 1))
    for got, want in zip(rows, ref):
        for col in ("train_acc", "test_acc", "max_abs_w", "hidden_rate_hz"):
            assert got[col] == want[col], col
    with np.load(os.path.join(out, "weights.npz")) as z:
        assert int(z["epoch"]) == kept
    assert not glob.glob(os.path.join(out, "*.tmp-*"))


def _check_resumes(data, out, reference):
    """--resume ends with the reference's metrics and weights."""
    run = Training(_args(data) + ["--resume"], out)
    code, err = run.finish()
    assert code == 0, err
    rows, ref = _metrics(out), _metrics(reference)
    assert [int(r["epoch"]) for r in rows] == list(range(1, EPOCHS + 1))
    for got, want in zip(rows, ref):
        for col in ("epoch", "train_acc", "test_acc", "max_abs_w", "hidden_rate_hz", "output_rate_hz"):
            assert got[col] == want[col], col
    with np.load(os.path.join(reference, "weights.npz")) as a, np.load(os.path.join(out, "weights.npz")) as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key


@pytest.mark.slow
@pytest.mark.standalone
def test_reference_runs_both_parts(reference):
    """The reference learns: its test part ran (the bug this file is about
    recorded an epoch cut off in its training part, test accuracy 0)."""
    rows = _metrics(reference)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(float(r["test_acc"]) > 0.3 for r in rows)


@pytest.mark.slow
@pytest.mark.standalone
@pytest.mark.parametrize("sig, part, share", [(signal.SIGINT, "its training part", 0.25),
                                              (signal.SIGTERM, "its test part", 0.75)])
def test_signal_in_an_epoch_discards_it(data, reference, tmp_path, sig, part, share):
    """In epoch 2, once its program has used ``share`` of the CPU time of
    epoch 1's (both parts are half the run): the program stops, the epoch
    is discarded, epoch 1 stays; SIGTERM reaches the program only because
    brianrules forwards it."""
    out = tmp_path / "run"
    run = Training(_args(data), out)
    program = run.hold_program_at(share, f"epoch 2 at {share:.0%} of epoch 1's CPU time")
    run.send(sig)
    run.release(program)
    _check_stopped(run, sig, [f"during epoch 2 ({part}, at ", "; kept epoch 1 (resume with --resume)"])
    _check_kept(out, reference, 1)
    # the program's results folder went with the command (the build cache is this session's)
    assert not glob.glob(os.path.join(os.environ["BRIANRULES_CACHE"], "build", "*", f"results-*-{run.proc.pid}-*"))
    _check_resumes(data, out, reference)


@pytest.mark.slow
@pytest.mark.standalone
def test_signal_while_the_checkpoint_is_written_keeps_the_epoch(data, reference, tmp_path):
    """SIGINT after metrics.csv of epoch 1 is written and before weights.npz
    is: both are written, epoch 1 is kept, and the training stops there."""
    out, marker = tmp_path / "run", tmp_path / "writing"
    run = Training(_args(data), out, script=PAUSED_CHECKPOINT, marker=marker)
    run.wait_until(marker.exists, "the checkpoint of epoch 1")
    run.send(signal.SIGINT)
    _check_stopped(run, signal.SIGINT, ["while epoch 1 was saved; kept epoch 1 (resume with --resume)"])
    _check_kept(out, reference, 1)
    _check_resumes(data, out, reference)


@pytest.mark.slow
@pytest.mark.standalone
@pytest.mark.parametrize("sig, moment", [(signal.SIGINT, "code generation"), (signal.SIGTERM, "compiler"),
                                         (signal.SIGINT, "compiler")])
def test_signal_during_the_build_leaves_no_finished_program(data, reference, tmp_path, sig, moment):
    """In an empty build cache, while the program's Brian2 objects and code
    are generated (its build folder has just appeared) or while ``make``
    compiles it below the command (SIGINT: Python, which ignores SIGINT
    while ``os.system`` waits, sees only ``make`` fail; SIGTERM: brianrules
    forwards it to ``make`` and the compiler as SIGINT): the command stops
    with epoch 0 (the initial weights) saved, and the build folder has no
    stamp, so nothing will take it for a finished program.  Resumed with
    the cache that holds the finished program, it ends as the reference."""
    from brianrules import program

    cache = tmp_path / "cache"
    env = dict(os.environ, BRIANRULES_CACHE=str(cache))
    out = tmp_path / "run"
    run = Training(_args(data), out, env=env)
    if moment == "code generation":
        run.wait_until(lambda: glob.glob(str(cache / "build" / "*" / ".lock")), "a build folder")
    else:
        run.wait_until(lambda: {"make", "cc1plus"} <= {name for _, _, name, _ in run.below()},
                       "the compiler")
    run.send(sig)
    _check_stopped(run, sig, ["while the program was built; kept epoch 0, the initial weights (resume with --resume)"])
    assert _metrics(out) == []
    with np.load(out / "weights.npz") as z:
        assert int(z["epoch"]) == 0
    (folder,) = glob.glob(str(cache / "build" / "*"))
    assert not os.path.exists(os.path.join(folder, program.BUILD_STAMP))
    assert not glob.glob(os.path.join(folder, "results-*"))
    assert not glob.glob(os.path.join(folder, program.BUILD_STAMP + ".*"))
    shutil.rmtree(cache)
    _check_resumes(data, out, reference)


# -- the module itself, in this process (milliseconds) ----------------------
def test_a_deferred_stage_stops_at_the_next_safe_point():
    """In a deferred stage a signal is recorded, the code goes on, and the
    next stage change raises it with the words of the stage it came in."""
    with pytest.raises(interrupt.Interrupted) as caught:
        with interrupt.stop_on_signals() as stops:
            stops.at("during epoch 3", defer=True, parts=(("its training part", 0.5), ("its test part", 1.0)))
            stops.kept = 2
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler has run, and raised nothing
            assert stops.signum == signal.SIGTERM
            finished = True
            stops.at("after epoch 3")
    assert finished
    e = caught.value
    assert (e.signum, e.exit_status, e.kept) == (signal.SIGTERM, 143, 2)
    assert str(e) == "interrupted (SIGTERM) during epoch 3; kept epoch 2 (resume with --resume)"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the previous handler is back
    assert str(stops.interrupted(fraction=0.75)) == (
        "interrupted (SIGTERM) during epoch 3 (its test part, at 75%); kept epoch 2 (resume with --resume)")


def test_an_immediate_stage_raises_at_once_and_a_second_signal_forces_a_deferred_one():
    with pytest.raises(interrupt.Interrupted) as caught:
        with interrupt.stop_on_signals() as stops:
            stops.at("while the program was built", defer=False)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert caught.value.stage == "while the program was built" and caught.value.kept is None
    with pytest.raises(interrupt.Interrupted):
        with interrupt.stop_on_signals() as stops:
            stops.at("during epoch 1", defer=True)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)


def test_an_interruption_swallowed_by_a_finalizer_is_raised_again():
    """Python drops an exception raised in a finalizer ("Exception ignored");
    the signal is then delivered again, outside it, and nothing is printed."""
    seen = []

    class Finalized:
        def __del__(self):
            signal.raise_signal(signal.SIGTERM)  # the handler runs here, in the finalizer
            seen.append("finalizer done")

    hooks = []
    previous, sys.unraisablehook = sys.unraisablehook, hooks.append
    try:
        with pytest.raises(interrupt.Interrupted):
            with interrupt.stop_on_signals():
                obj = Finalized()
                del obj
                time.sleep(5)
    finally:
        sys.unraisablehook = previous
    assert seen == []  # the exception was raised in the finalizer
    assert hooks == []  # and not passed on to the hook that prints "Exception ignored"


def test_sigterm_is_forwarded_to_the_processes_below_as_sigint():
    """A SIGTERM sent to this process alone reaches a child started within
    the scope as SIGINT, at once, even while the main thread waits in a C
    call that does not return on signals (`os.system`); a process started
    before the scope is left alone."""
    before = subprocess.Popen(["sleep", "30"])
    try:
        t0 = time.time()
        with pytest.raises(interrupt.Interrupted):
            with interrupt.stop_on_signals() as stops:
                stops.at("while the program was built", defer=True)
                timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
                timer.start()
                status = os.system("sleep 30")
                assert time.time() - t0 < 10
                assert os.waitstatus_to_exitcode(status) in (-signal.SIGINT, 128 + signal.SIGINT)
        assert before.poll() is None
    finally:
        before.kill()
        before.wait()


def test_a_library_call_outside_any_scope_hands_the_signal_back():
    """`stoppable` outside any scope: once the call has cleaned up, the
    signal goes to the handler the caller had; here it returns, so the
    `Interrupted` follows."""
    got = []
    cleaned = []

    @interrupt.stoppable
    def work():
        try:
            interrupt.active().at("during epoch 1", defer=True)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            interrupt.active().at("after epoch 1")
        finally:
            cleaned.append(len(got))

    previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    try:
        with pytest.raises(interrupt.Interrupted):
            work()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert cleaned == [0] and got == [signal.SIGTERM]
