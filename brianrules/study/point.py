"""One point of a sweep in a process of its own: starting it, the child's
entry (``python -m brianrules.study POINT_DIR``), and stopping the
children on an interrupt."""

import json
import os
import signal
import subprocess
import sys
import time

from ..files import write_json
from ..training import TrainConfig
from .results import read_status


# -- one point -----------------------------------------------------------
def run_point(point_dir, cuda_arch=None, cores=None):
    """Run one point in a child process and return its status.  This is the
    task a local worker or a Dask worker executes; the child writes
    ``status.json`` itself, and a child that dies without one (a crash, a
    kill) is recorded as failed with its exit code.  ``cores``: the cores
    the point's program may take with ``threads="auto"`` (its share of the
    machine when points run side by side; `devices.CORES_VARIABLE`)."""
    from ..devices import CORES_VARIABLE

    cmd = [sys.executable, "-m", "brianrules.study", point_dir]
    if cuda_arch:
        cmd += ["--cuda-arch", str(cuda_arch)]
    env = None if cores is None else {**os.environ, CORES_VARIABLE: str(int(cores))}
    t0 = time.perf_counter()
    with open(os.path.join(point_dir, "log.txt"), "a") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        _CHILDREN.add(proc)
        try:
            code = proc.wait()
        finally:
            _CHILDREN.discard(proc)
    status = read_status(point_dir)
    if status is None:
        if code < 0:
            why = f"the point's process was killed by signal {-code}"
        else:
            why = f"the point's process exited with code {code} without a status"
        status = {"status": "failed", "error": why, "wall_s": time.perf_counter() - t0}
        if code in (-signal.SIGINT, -signal.SIGTERM):
            status["status"] = "interrupted"  # not written: a rerun runs it again
        else:
            write_json(os.path.join(point_dir, "status.json"), status)
    return status


#: child processes of this process's running points (stopped on interrupt)
_CHILDREN = set()


def _point_main(point_dir, cuda_arch=None):
    """In the child: train one point, resuming its checkpoint if any."""
    from ..program import BuildError
    from ..training import TrainingError, train

    with open(os.path.join(point_dir, "point.json")) as f:
        point = json.load(f)
    cfg = TrainConfig(**point["settings"])
    out = os.path.join(point_dir, "run")
    resume = os.path.exists(os.path.join(out, "weights.npz"))
    t0 = time.perf_counter()
    status = {"status": "done", "error": None}
    try:
        train(cfg, out, force=not resume, resume=resume, progress=False,
              log=lambda *x: print(*x, flush=True), cuda_arch=cuda_arch)
    except TrainingError as e:
        status = {"status": "diverged", "error": str(e)}
    except (BuildError, ValueError, RuntimeError, OSError) as e:
        status = {"status": "failed", "error": f"{type(e).__name__}: {' '.join(str(e).split())}"}
    status["wall_s"] = time.perf_counter() - t0
    write_json(os.path.join(point_dir, "status.json"), status)
    print(f"point {point['id']}: {status['status']}" + (f" ({status['error']})" if status["error"] else ""),
          flush=True)
    return 0 if status["status"] != "failed" else 1


def _stop_children():
    for proc in list(_CHILDREN):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            pass
    for proc in list(_CHILDREN):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(prog="python -m brianrules.study",
                                description="run one point of a sweep (used by `brianrules sweep`)")
    p.add_argument("point_dir")
    p.add_argument("--cuda-arch", default=None)
    a = p.parse_args(argv)
    return _point_main(a.point_dir, a.cuda_arch)
