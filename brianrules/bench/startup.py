"""The start-up of ``brianrules train``: seconds from launching the command
to the compiled program's first simulated step, twice in a row."""

import os
import signal
import subprocess
import sys
import tempfile
import time


#: the command whose start-up is timed: the small network's training defaults
START_ARGS = ("train", "--rule", "dfa", "--dataset", "digits", "--hidden", "100", "--epochs", "1")
#: what the compiled program prints when its first step begins (Brian2's text report, which
#: ``--verbose`` asks for in place of the progress bar)
FIRST_STEP = "Starting simulation at t=0"


def time_to_first_step(args, timeout=900):
    """Launch ``python -m brianrules.cli ARGS`` and return the seconds until
    the compiled program reports its first simulated step, with the
    command's ``build:`` line.  The command is stopped there."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if args and args[0] == "train" and "--verbose" not in args:
        args = (*args, "--verbose")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "brianrules.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    seconds, build, lines = None, None, []
    try:
        deadline = t0 + timeout
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("build:"):
                build = line.split(" (/")[0].strip()
            if FIRST_STEP in line:
                seconds = time.perf_counter() - t0
                break
            if time.perf_counter() > deadline:
                break
    finally:
        # the program is a child of the command: stop the whole group
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.stdout.close()
        proc.wait(timeout=60)
    if seconds is None:
        tail = "\n".join(lines[-10:])
        raise RuntimeError(f"`brianrules {' '.join(args)}` never reported its first step:\n{tail}")
    return seconds, build


def measure_start(log=print, args=START_ARGS):
    """Two launches of the same training command, one after the other: the
    first may compile; the second starts the finished program."""
    out = {"command": "brianrules " + " ".join(args)}
    with tempfile.TemporaryDirectory(prefix="brianrules-start-") as tmp:
        full = [*args, "--out", os.path.join(tmp, "run"), "--force"]
        for which in ("first", "second"):
            seconds, build = time_to_first_step(full)
            out[which] = {"seconds": seconds, "build": build}
            log(f"  {which} launch: {seconds:.2f} s to the first simulated step ({build})")
    return out
