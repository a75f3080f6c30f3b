"""Running a sweep: checking its points, laying out and locking its folder,
running the points that have not ended (local processes or Dask) with
progress, and stopping cleanly on an interrupt."""

import contextlib
import fcntl
import json
import os
import signal
import threading
import time
from dataclasses import asdict

from ..files import write_json
from ..training import TrainConfig
from .point import _stop_children, run_point
from .results import read_status, write_results
from .spec import load_spec


def preflight_points(points, log=print):
    """Build every distinct model structure once in runtime mode (Brian2
    checks the equations) before anything is compiled or run."""
    from .. import data as datamod
    from ..devices import preflight
    from ..build.key import structure_hash

    shapes, checked, seen = {}, set(), set()
    for p in points:
        cfg = TrainConfig(**p.settings)
        if cfg.dataset not in shapes:
            ds = datamod.load(cfg.dataset)
            shapes[cfg.dataset] = (ds.n_inputs, ds.n_classes)
        spec = cfg.network_spec(*shapes[cfg.dataset])
        structure = json.dumps(spec.structure(), sort_keys=True, default=str)
        if structure in seen:
            continue
        try:
            preflight(spec)
        except ValueError as e:
            raise ValueError(f"point {p.id} {p.axes}: {e}") from None
        seen.add(structure)
        checked.add(structure_hash(spec, 1))
    log(f"{len(points)} points, {len(checked)} model structure(s)")
    return len(checked)


# -- the sweep -----------------------------------------------------------
def extends(old, points):
    """Whether ``points`` hold every point of the sweep recorded in ``old``
    (its sweep.json): a spec with more values on its axes, or another
    variant, extends a study; the ids are the points' settings, so an ended
    point stays what it was."""
    before = {p.get("id") for p in old.get("points") or []}
    return bool(before) and before <= {p.id for p in points}


def prepare(spec_path, out):
    """Load the spec, check every point, and lay out ``out``; nothing is
    compiled yet.  A folder that holds another spec's sweep is refused,
    unless the spec extends it (`extends`): then the study goes on there
    with the new spec, its ended points kept."""
    spec, points = load_spec(spec_path)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file, not a folder")
    record = os.path.join(out, "sweep.json")
    if os.path.exists(record):
        with open(record) as f:
            old = json.load(f)
        if old.get("spec") != spec and not extends(old, points):
            raise ValueError(f"--out {out} holds a sweep of another spec ({old.get('spec_path')}); "
                             "choose another folder (a spec that keeps every point of the folder's and adds "
                             "others goes on in it)")
    elif os.path.isdir(out) and os.listdir(out):
        raise ValueError(f"--out {out} is not empty and holds no sweep")
    return spec, points


def sweep(spec_path, out, jobs=1, executor="local", scheduler=None, retry_failed=False, cuda_arch=None,
          log=print, bar=False):
    """Run every point of the spec that has not ended; returns the rows of
    ``results.csv``.  ``bar``: a bar over the points on standard output
    where it is a terminal (the line of each ended point above it)."""
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs must be a positive integer, got {jobs!r}")
    if executor not in ("local", "dask"):
        raise ValueError(f"unknown executor '{executor}' (choose from local, dask)")
    if executor == "dask" and not scheduler:
        raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.1:8786)")
    spec, points = prepare(spec_path, out)
    if executor == "local":  # a Dask cluster's workers may have what this machine lacks
        from ..devices import check_runnable

        for device in sorted({TrainConfig(**p.settings).device for p in points}):
            check_runnable(device, cuda_arch)
    with _interrupts_raise():  # from the checks on: they take a while for a large study
        try:
            preflight_points(points, log=log)
        except KeyboardInterrupt:
            log(f"interrupted while checking the points: nothing was run or written in {out}")
            raise
        os.makedirs(os.path.join(out, "points"), exist_ok=True)
        with _only_sweep(out):
            return _sweep(spec_path, spec, points, out, jobs, executor, scheduler, retry_failed, cuda_arch, log,
                          bar)


@contextlib.contextmanager
def _only_sweep(out):
    """One sweep process per folder: a second would run the same points."""
    lock = open(os.path.join(out, ".sweep.lock"), "a")
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(f"another `brianrules sweep` is running in {out}; wait for it or stop it") from None
        yield
    finally:
        lock.close()


@contextlib.contextmanager
def _interrupts_raise():
    """SIGINT and SIGTERM stop the sweep cleanly (its points' processes
    too).  Brian2 replaces Python's SIGINT handler when imported, and a
    process started in the background may ignore SIGINT altogether."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    saved = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _sweep(spec_path, spec, points, out, jobs, executor, scheduler, retry_failed, cuda_arch, log, bar):
    write_json(os.path.join(out, "sweep.json"), {"spec": spec, "spec_path": os.path.abspath(spec_path),
                                                 "points": [asdict(p) for p in points]})
    todo = []
    for p in points:
        folder = os.path.join(out, "points", p.id)
        os.makedirs(folder, exist_ok=True)
        if not os.path.exists(os.path.join(folder, "point.json")):
            write_json(os.path.join(folder, "point.json"), asdict(p))
        status = read_status(folder)
        if status is None or (retry_failed and status["status"] == "failed"):
            if status is not None:
                os.remove(os.path.join(folder, "status.json"))
            todo.append(p)
    ended = len(points) - len(todo)
    log(f"sweep {out}: {len(points)} points, {ended} ended before, {len(todo)} to run "
        f"({jobs if executor == 'local' else 'Dask'} at a time)")
    write_results(out, points)
    if todo:
        progress = _Progress(len(todo), jobs, log, bar)
        runner = _run_local if executor == "local" else _run_dask
        try:
            runner(todo, out, jobs, scheduler, cuda_arch, progress,
                   lambda: write_results(out, points))
        except KeyboardInterrupt:
            progress.close()
            _stop_children()
            write_results(out, points)
            log(f"interrupted: finished points are kept in {out}; run the same command to finish the rest")
            raise
        progress.close()
    rows = write_results(out, points)
    counts = {}
    for p in points:
        s = (read_status(os.path.join(out, "points", p.id)) or {}).get("status", "pending")
        counts[s] = counts.get(s, 0) + 1
    log(f"results in {out}/results.csv: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return rows


class _Progress:
    """A line per ended point; on a terminal (``bar``), a bar below them."""

    def __init__(self, total, jobs, log, bar=False):
        from ..progress import Bar

        self.total, self.jobs, self.log = total, jobs, log
        self.bar = Bar(total, "points", "sweep", every_s=None) if bar else None
        if self.bar is not None and not self.bar.tty:
            self.bar = None  # the lines say it all
        self.done = self.failed = self.running = 0
        self.t0 = time.perf_counter()
        self.lock = threading.Lock()

    def started(self):
        with self.lock:
            self.running += 1
            if self.bar is not None:
                self.bar.update(self.done)

    def ended(self, point, status):
        with self.lock:
            self.running -= 1
            self.done += 1
            self.failed += status["status"] != "done"
            left = self.total - self.done - self.running
            elapsed = time.perf_counter() - self.t0
            # points end at about done/elapsed per second once the pipeline is full
            eta = elapsed / self.done * (left + self.running / 2)
            extra = f" [{status['error']}]" if status.get("error") else ""
            line = (f"[{self.done}/{self.total} ended ({self.failed} not done), {self.running} running, "
                    f"{left} left, ~{_duration(eta)} to go] {point.id} {point.axes}: {status['status']}{extra}")
            if self.bar is None:
                self.log(line)
                return
            self.bar.write(line)
            self.bar.update(self.done)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _duration(s):
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _run_local(todo, out, jobs, scheduler, cuda_arch, progress, update):
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from ..devices import available_cores

    cores = max(1, available_cores() // jobs)  # each point's share, for threads "auto"

    def task(p):
        progress.started()
        return run_point(os.path.join(out, "points", p.id), cuda_arch, cores)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {}
        try:
            futures = {pool.submit(task, p): p for p in todo}
            for fut in as_completed(futures):
                status = fut.result()
                progress.ended(futures[fut], status)
                update()
        except KeyboardInterrupt:
            for fut in futures:
                fut.cancel()
            _stop_children()  # the pool waits for its threads, which wait for these
            raise


def _run_dask(todo, out, jobs, scheduler, cuda_arch, progress, update):
    """Points as tasks of a Dask distributed cluster.  Workers need this
    package and a file system shared with this machine at ``out``; each
    builds or reuses the compiled program of a structure in its own cache."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ValueError("--executor dask needs Dask distributed: pip install 'brianrules[dask]'") from None
    folder = os.path.abspath(os.path.join(out, "points"))
    with Client(scheduler, timeout="30s") as client:
        futures = {}
        for p in todo:
            fut = client.submit(run_point, os.path.join(folder, p.id), cuda_arch, pure=False,
                                key=f"brianrules-point-{p.id}-{time.time_ns()}")
            futures[fut] = p
            progress.started()
        try:
            for fut in as_completed(futures):
                p = futures[fut]
                try:
                    status = fut.result()
                except Exception as e:  # the worker itself failed
                    status = {"status": "failed", "error": f"Dask worker: {type(e).__name__}: {e}"}
                    write_json(os.path.join(folder, p.id, "status.json"), status)
                progress.ended(p, status)
                update()
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise
